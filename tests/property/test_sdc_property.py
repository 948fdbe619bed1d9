"""Disclosure control of the stats tables, checked against an LP written here.

``feasible_ranges`` knows nothing of ``redact.sdc``: from the published rows alone it
rebuilds the additive system (every ``*`` row is the sum of its cells along each
dimension it leaves open, tables of one unit share the rows they have in common) and
asks HiGHS for the least and greatest value of every suppressed row.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog  # type: ignore[import-untyped]

from reprisal_report.errors import DisclosureRisk
from reprisal_report.redact.sdc import Cell, ProtectedTable, Table, audit, protect

K = 5
Ref = tuple[str, frozenset[tuple[str, str]]]  # (unit, the dimension values it fixes)


def ref(table: ProtectedTable | Table, key: Sequence[str]) -> Ref:
    return (table.unit, frozenset((d, v) for d, v in zip(table.by, key, strict=True) if v != "*"))


def feasible_ranges(tables: Sequence[ProtectedTable]) -> dict[Ref, tuple[float, float]]:
    """The LP range of every suppressed row, given every published one."""
    published: dict[Ref, int] = {}
    hidden: list[Ref] = []
    sums: list[tuple[Ref, list[Ref]]] = []
    for table in tables:
        rows = {cell.key: cell for cell in table.cells}
        for cell in table.cells:
            r = ref(table, cell.key)
            if cell.count is None:
                if r not in hidden:
                    hidden.append(r)
            else:
                published[r] = cell.count
            for axis, value in enumerate(cell.key):
                if value == "*":
                    values = sorted({k[axis] for k in rows if k[axis] != "*"})
                    keys = [(*cell.key[:axis], v, *cell.key[axis + 1 :]) for v in values]
                    sums.append((r, [ref(table, key) for key in keys]))
    hidden = [r for r in hidden if r not in published]
    column = {r: n for n, r in enumerate(hidden)}
    matrix, rhs = [], []
    for total, parts in sums:
        row = np.zeros(len(hidden))
        constant = 0.0
        terms: list[tuple[Ref, float]] = [(total, 1.0), *((p, -1.0) for p in parts)]
        for member, sign in terms:
            if member in column:
                row[column[member]] += sign
            else:
                constant += sign * published[member]
        if row.any():
            matrix.append(row)
            rhs.append(-constant)
        else:
            assert abs(constant) < 1e-9, "published rows do not add up"
    ranges: dict[Ref, tuple[float, float]] = {}
    for r, n in column.items():
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(len(hidden))
            c[n] = sign
            result = linprog(
                c,
                A_eq=np.array(matrix) if matrix else None,
                b_eq=np.array(rhs) if rhs else None,
                bounds=(0, None),
                method="highs",
            )
            if result.status == 3:
                ends.append(math.inf)
            else:
                assert result.status == 0, result.message
                ends.append(sign * result.fun)
        ranges[r] = (ends[0], ends[1])
    return ranges


def risky(tables: Sequence[ProtectedTable], k: int = K) -> list[Ref]:
    """Suppressed rows the rules do not protect: one whole number only, or a primary row
    whose range does not reach down to 0 and up to k."""
    primary = {ref(t, c.key) for t in tables for c in t.cells if c.suppressed == "primary"}
    bad = []
    for r, (lo, hi) in feasible_ranges(tables).items():
        single = hi < math.inf and math.floor(hi + 1e-6) - math.ceil(lo - 1e-6) < 1
        narrowed = r in primary and (lo > 1e-6 or hi < k - 1e-6)
        if single or narrowed:
            bad.append(r)
    return bad


def true_counts(tables: Sequence[Table]) -> dict[Ref, int]:
    """Every row's true count, summed here from the inner cells."""
    out: dict[Ref, int] = {}
    for table in tables:
        domains = [sorted({key[a] for key in table.cells}) for a in range(len(table.by))]
        for key in itertools.product(*[[*d, "*"] for d in domains]):
            out[ref(table, key)] = sum(
                n
                for inner, n in table.cells.items()
                if all(v in ("*", w) for v, w in zip(key, inner, strict=True))
            )
    return out


@st.composite
def linked_tables(draw: st.DrawFn) -> list[Table]:
    """Country by year, and sometimes country by act of the same unit with the same country
    margins (so they share the country margin and the grand total)."""
    countries = [f"C{i}" for i in range(draw(st.integers(2, 4)))]
    years = [str(2020 + i) for i in range(draw(st.integers(2, 4)))]
    counts = st.integers(0, 20)
    a = {(c, y): draw(counts) for c in countries for y in years}
    tables = [Table(("country", "year"), "case", {k: v for k, v in a.items() if v})]
    if draw(st.booleans()):
        acts = [f"a{i}" for i in range(draw(st.integers(2, 4)))]
        b: dict[tuple[str, ...], int] = {}
        for c in countries:
            margin = sum(a[(c, y)] for y in years)
            cuts = sorted(
                draw(
                    st.lists(st.integers(0, margin), min_size=len(acts) - 1, max_size=len(acts) - 1)
                )
            )
            for act, lo, hi in zip(acts, [0, *cuts], [*cuts, margin], strict=True):
                if hi - lo:
                    b[(c, act)] = hi - lo
        tables.append(Table(("country", "act"), "case", b))
    return tables


@settings(max_examples=40)
@given(linked_tables())
def test_protected_tables_keep_every_rule(tables: list[Table]) -> None:
    out = protect(tables, K)
    truth = true_counts(tables)
    # (a) nothing published below k but 0
    for t in out:
        for cell in t.cells:
            assert cell.count is None or cell.count == 0 or cell.count >= K
            assert (cell.count is None) == (cell.suppressed is not None)
    # (b) every suppressed row keeps its range (the LP above, not sdc's)
    assert risky(out) == []
    # (c) published rows are the true counts, and totals are sums of true cells
    for t in out:
        for cell in t.cells:
            if cell.count is not None:
                assert cell.count == truth[ref(t, cell.key)]
            if 0 < truth[ref(t, cell.key)] < K:
                assert cell.suppressed == "primary"
    # (d) the audit passes what protect made...
    audit(out, K)


@settings(max_examples=40)
@given(linked_tables(), st.data())
def test_audit_refuses_a_secondary_cell_shown(tables: list[Table], data: st.DataObject) -> None:
    out = protect(tables, K)
    truth = true_counts(tables)
    secondary = sorted(
        {ref(t, c.key) for t in out for c in t.cells if c.suppressed == "secondary"},
        key=repr,
    )
    event(f"secondary cells: {bool(secondary)}")
    if not secondary:
        return
    shown = data.draw(st.sampled_from(secondary))
    changed = [
        dataclasses.replace(
            t,
            cells=[
                Cell(c.key, truth[shown], None) if ref(t, c.key) == shown else c for c in t.cells
            ],
        )
        for t in out
    ]
    # ...and refuses the same tables with one secondary cell shown exactly when that
    # lets a suppressed cell be worked out (or narrowed, for a primary one).
    exposed = risky(changed)
    event(f"showing one exposes another: {bool(exposed)}")
    if exposed:
        with pytest.raises(DisclosureRisk, match=r"^statistics audit: suppressed cell "):
            audit(changed, K)
    else:
        audit(changed, K)
