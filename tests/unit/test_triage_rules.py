"""The triage rules: every legal and illegal status transition, which way protection
goes, incident date intervals."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report.errors import ExitCode, InvalidInput
from reprisal_report.model import triage as rules
from reprisal_report.model.triage import Status

LEGAL = {
    (Status.RECEIVED, Status.UNDER_REVIEW),
    (Status.UNDER_REVIEW, Status.VERIFIED),
    (Status.VERIFIED, Status.SUBMITTED_TO_UN),
    (Status.SUBMITTED_TO_UN, Status.CLOSED),
    (Status.RECEIVED, Status.REJECTED),
    (Status.UNDER_REVIEW, Status.REJECTED),
    (Status.VERIFIED, Status.REJECTED),
    (Status.SUBMITTED_TO_UN, Status.REJECTED),
}
PAIRS = list(itertools.product(Status, Status))


@pytest.mark.parametrize(("old", "new"), sorted(LEGAL))
def test_legal_transitions(old: Status, new: Status) -> None:
    rules.check_transition(old, new)
    assert new in rules.allowed_next(old)


@pytest.mark.parametrize(("old", "new"), [p for p in PAIRS if p not in LEGAL])
def test_illegal_transitions_are_exit_2_naming_the_allowed(old: Status, new: Status) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.check_transition(old, new)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    message = str(caught.value)
    if old == new:
        assert message == f"the case is already {old.value}"
    elif old in rules.FINAL:
        assert "final" in message
    else:
        assert message.endswith("allowed: " + " or ".join(s.value for s in rules.allowed_next(old)))


def test_final_statuses_allow_nothing() -> None:
    assert rules.allowed_next(Status.CLOSED) == rules.allowed_next(Status.REJECTED) == []


@pytest.mark.parametrize(
    ("field", "old", "new", "lowers"),
    [
        ("risk", "critical", "high", True),
        ("risk", "medium", "low", True),
        ("risk", "low", "critical", False),
        ("consent", "internal_only", "publish_named", True),
        ("consent", "publish_named", "none", False),
        ("consent", "share_un_confidential", "share_un_confidential", False),
        # An unknown stored value counts as the most protective level.
        ("consent", "someday", "internal_only", True),
    ],
)
def test_which_way_protection_goes(field: str, old: str, new: str, lowers: bool) -> None:
    assert rules.lowers_protection(field, old, new) is lowers


@given(st.sampled_from(rules.CONSENT_LEVELS), st.sampled_from(rules.CONSENT_LEVELS))
def test_more_protective_never_lowers(a: str, b: str) -> None:
    chosen = rules.more_protective("consent", a, b)
    assert chosen in (a, b)
    assert not rules.lowers_protection("consent", a, chosen)
    assert not rules.lowers_protection("consent", b, chosen)


@pytest.mark.parametrize(
    ("value", "interval"),
    [
        ("2026", ("2026-01-01", "2026-12-31")),
        ("2024-02", ("2024-02-01", "2024-02-29")),
        ("2026-03-05", ("2026-03-05", "2026-03-05")),
        ("2026-13", ("", "")),
        ("2026-02-30", ("", "")),
        ("", ("", "")),
        ("March", ("", "")),
    ],
)
def test_incident_interval(value: str, interval: tuple[str, str]) -> None:
    assert rules.incident_interval(value) == interval


@given(st.text(max_size=12))
def test_incident_interval_never_raises(value: str) -> None:
    start, end = rules.incident_interval(value)
    assert (start == "") == (end == "")
    assert start <= end
