"""PADMÉ: the bucket function and the leakage/overhead bounds docs/bundle-format.md states."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report.bundle.padding import padme


@pytest.mark.parametrize(
    ("length", "padded"),
    [(0, 0), (1, 1), (2, 2), (7, 7), (8, 8), (9, 10), (129, 144), (1000, 1024), (65537, 67584)],
)
def test_known_values(length: int, padded: int) -> None:
    assert padme(length) == padded


def test_negative_lengths_are_refused() -> None:
    with pytest.raises(ValueError):
        padme(-1)


@given(st.integers(min_value=0, max_value=2**60))
def test_padme_is_a_rounding(length: int) -> None:
    padded = padme(length)
    assert padded >= length
    assert padme(padded) == padded
    if length >= 2:
        assert (padded - length) / length < 0.12


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=2**40))
def test_padme_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert padme(low) <= padme(high)


def test_few_buckets() -> None:
    # O(log log M) bits of leakage: 301 buckets below 1 MiB, under 9 bits.
    assert len({padme(n) for n in range(1 << 20)}) == 301
