"""Disclosure control of the stats tables on known cases: where a rows-and-columns rule
of thumb leaves a cell recoverable and the LP does not, suppressed margins, tables that
share a margin, the audit's refusals and their messages, the JSON shape, the speed."""

from __future__ import annotations

import dataclasses
import random
import re
import time

import pytest

from reprisal_report.errors import DisclosureRisk, ExitCode, InvalidInput
from reprisal_report.redact.sdc import Cell, ProtectedTable, Table, audit, protect, to_json
from tests.property.test_sdc_property import feasible_ranges, ref, risky

K = 5
BY = ("country", "year")


def grid(rows: dict[str, list[int]], columns: list[str]) -> Table:
    """An inner table from rows of counts (0s are left out, as the export leaves them)."""
    return Table(
        BY,
        "case",
        {
            (r, c): n
            for r, counts in rows.items()
            for c, n in zip(columns, counts, strict=True)
            if n
        },
    )


def status(tables: list[ProtectedTable]) -> dict[tuple[str, ...], str | int | None]:
    return {c.key: c.suppressed or c.count for t in tables for c in t.cells}


def hide(table: ProtectedTable, kinds: dict[tuple[str, str], str]) -> ProtectedTable:
    """The same table with the given cells suppressed by hand (a pattern to audit)."""
    return dataclasses.replace(
        table,
        cells=[Cell(c.key, None, kinds[c.key]) if c.key in kinds else c for c in table.cells],
    )


def published(table: Table) -> ProtectedTable:
    """Every cell and total shown (k=1 suppresses nothing)."""
    return protect([table], k=1)[0]


def naive_rule_holds(table: ProtectedTable) -> bool:
    """The rule of thumb: no row or column of the inner table with exactly one hidden cell."""
    inner = [c for c in table.cells if "*" not in c.key]
    for axis in (0, 1):
        lines: dict[str, int] = {}
        for c in inner:
            lines[c.key[axis]] = lines.get(c.key[axis], 0) + (c.count is None)
        if 1 in lines.values():
            return False
    return True


def test_a_2x2_with_one_small_cell_hides_the_four_inner_cells() -> None:
    out = protect([grid({"BI": [2, 10], "MV": [8, 20]}, ["2025", "2026"])], K)
    assert status(out) == {
        ("BI", "2025"): "primary",
        ("BI", "2026"): "secondary",
        ("BI", "*"): 12,
        ("MV", "2025"): "secondary",
        ("MV", "2026"): "secondary",
        ("MV", "*"): 28,
        ("*", "2025"): 10,
        ("*", "2026"): 30,
        ("*", "*"): 40,
    }
    # The small cell could be anything from 0 to 10 given what is shown.
    assert feasible_ranges(out)[ref(out[0], ("BI", "2025"))] == pytest.approx((0, 10))
    audit(out, K)


def test_the_lp_catches_what_the_rows_and_columns_rule_misses() -> None:
    # The rule's cheapest partners for the 2 are the 0 beside it and the 9 below it,
    # then the 0 beside the 9: every row and column holds two hidden cells, yet column
    # 2026 adds up to 0 without them, so both 0s are known and the 2 is 11 - 9.
    table = grid({"BI": [2, 0, 9], "MV": [9, 0, 8], "RU": [12, 6, 7]}, ["2025", "2026", "2027"])
    pattern = hide(
        published(table),
        {
            ("BI", "2025"): "primary",
            ("BI", "2026"): "secondary",
            ("MV", "2025"): "secondary",
            ("MV", "2026"): "secondary",
        },
    )
    assert naive_rule_holds(pattern)
    assert ref(pattern, ("BI", "2025")) in risky([pattern])
    with pytest.raises(DisclosureRisk) as caught:
        audit([pattern], K)
    assert caught.value.message == (
        "statistics audit: suppressed cell country=BI year=2025 of table country×year "
        "can be recomputed exactly; nothing was written"
    )
    assert caught.value.exit_code == ExitCode.REFUSED
    out = protect([table], K)
    assert risky(out) == []
    audit(out, K)


def test_the_lp_catches_a_bridge_between_two_hidden_blocks() -> None:
    # No zeros and every margin shown: two 2x2 blocks of hidden cells joined by one
    # hidden cell. Every row and column has two or three hidden cells, but the bridge is
    # the sum of the first block's rows less the sum of its columns, all published.
    columns = ["2023", "2024", "2025", "2026"]
    table = grid(
        {
            "BI": [2, 11, 9, 14],
            "MV": [12, 10, 13, 15],
            "RU": [16, 17, 3, 10],
            "SY": [18, 19, 11, 12],
        },
        columns,
    )
    hidden = {
        ("BI", "2023"): "primary",
        ("BI", "2024"): "secondary",
        ("MV", "2023"): "secondary",
        ("MV", "2024"): "secondary",
        ("RU", "2025"): "primary",
        ("RU", "2026"): "secondary",
        ("SY", "2025"): "secondary",
        ("SY", "2026"): "secondary",
        ("BI", "2025"): "secondary",
    }
    pattern = hide(published(table), hidden)
    assert naive_rule_holds(pattern)
    assert risky([pattern]) == [ref(pattern, ("BI", "2025"))]
    with pytest.raises(DisclosureRisk, match="country=BI year=2025 .* recomputed exactly"):
        audit([pattern], K)
    audit(protect([table], K), K)


def test_a_primary_cell_the_tables_show_to_be_small_is_refused() -> None:
    # Hidden with two 0s and a 7: the 2 cannot be worked out, but it cannot be more
    # than 2 either, so the tables say "a small number": the audit refuses that too.
    table = grid({"BI": [2, 0, 9], "MV": [0, 7, 8], "RU": [12, 6, 7]}, ["2025", "2026", "2027"])
    pattern = hide(
        published(table),
        {
            ("BI", "2025"): "primary",
            ("BI", "2026"): "secondary",
            ("MV", "2025"): "secondary",
            ("MV", "2026"): "secondary",
        },
    )
    low, high = feasible_ranges([pattern])[ref(pattern, ("BI", "2025"))]
    assert (low, high) == pytest.approx((0, 2))
    with pytest.raises(DisclosureRisk) as caught:
        audit([pattern], K)
    assert caught.value.message == (
        "statistics audit: suppressed cell country=BI year=2025 of table country×year "
        "can be shown to be below k; nothing was written"
    )
    out = protect([table], K)
    assert risky(out) == []


def test_a_small_margin_is_suppressed_and_protected() -> None:
    out = protect([grid({"BI": [2, 1], "MV": [10, 20]}, ["2025", "2026"])], K)
    assert status(out)[("BI", "*")] == "primary"
    assert status(out)[("*", "*")] == 33
    ranges = feasible_ranges(out)
    low, high = ranges[ref(out[0], ("BI", "*"))]
    assert low == pytest.approx(0) and high >= K
    assert risky(out) == []
    audit(out, K)


def test_a_small_grand_total_hides_everything() -> None:
    out = protect([grid({"BI": [1, 0], "MV": [0, 2]}, ["2025", "2026"])], K)
    shown = {key: v for key, v in status(out).items() if isinstance(v, int)}
    assert shown == {("BI", "2026"): 0, ("MV", "2025"): 0}
    assert status(out)[("*", "*")] == "primary"
    audit(out, K)


def test_zeros_are_published_never_primary_and_an_empty_table_has_its_total() -> None:
    out = protect([grid({"BI": [0, 7], "MV": [9, 6]}, ["2025", "2026"])], K)
    assert status(out)[("BI", "2025")] == 0
    assert all(c.suppressed is None for c in out[0].cells)
    empty = protect([Table(BY, "case", {})], K)
    assert to_json(empty, K)["tables"] == [
        {
            "by": ["country", "year"],
            "unit": "case",
            "cells": [{"country": "*", "year": "*", "count": 0}],
        }
    ]


def test_tables_sharing_a_margin_are_protected_together() -> None:
    # One unit ("case"): country by year and country by mechanism share the country
    # margins and the grand total. Protected one at a time, one table publishes what
    # the other hides, and the audit of both refuses; protected together, they pass.
    by_year = Table(
        ("country", "year"),
        "case",
        {("BI", "2025"): 6, ("BI", "2026"): 3, ("MV", "2026"): 9},
    )
    by_mechanism = Table(
        ("country", "mechanism"),
        "case",
        {("BI", "upr"): 9, ("MV", "treaty_body"): 9},
    )
    apart = protect([by_year], K) + protect([by_mechanism], K)
    audit(apart[:1], K)
    audit(apart[1:], K)
    assert status(apart[:1])[("BI", "*")] == "secondary"
    assert status(apart[1:])[("BI", "*")] == 9
    with pytest.raises(DisclosureRisk) as caught:
        audit(apart, K)
    assert caught.value.message == (
        "statistics audit: suppressed cell country=BI year=* of table country×year is "
        "published in another table; nothing was written"
    )
    together = protect([by_year, by_mechanism], K)
    assert risky(together) == []
    audit(together, K)


def test_linked_tables_where_one_table_narrows_the_other() -> None:
    by_year = Table(
        ("country", "year"),
        "case",
        {("BI", "2025"): 8, ("BI", "2026"): 2, ("MV", "2025"): 1, ("MV", "2026"): 2},
    )
    by_mechanism = Table(
        ("country", "mechanism"),
        "case",
        {("BI", "upr"): 6, ("BI", "treaty_body"): 4, ("MV", "upr"): 3},
    )
    apart = protect([by_year], K) + protect([by_mechanism], K)
    audit(apart[:1], K)
    audit(apart[1:], K)
    assert risky(apart) != []
    with pytest.raises(DisclosureRisk, match=r"^statistics audit: suppressed cell .* can be "):
        audit(apart, K)
    together = protect([by_year, by_mechanism], K)
    assert risky(together) == []
    audit(together, K)


def test_tables_of_different_units_are_not_linked() -> None:
    cases = grid({"BI": [2, 10], "MV": [8, 20]}, ["2025", "2026"])
    pairs = Table(("country", "act"), "case-act pair", {("BI", "threat"): 30, ("MV", "arrest"): 3})
    assert protect([cases, pairs], K) == protect([cases], K) + protect([pairs], K)


def test_tables_of_one_unit_that_disagree_are_refused() -> None:
    by_year = Table(("country", "year"), "case", {("BI", "2025"): 6})
    by_act = Table(("country", "act"), "case", {("BI", "threat"): 7})
    with pytest.raises(DisclosureRisk) as caught:
        protect([by_year, by_act], K)
    assert caught.value.message == (
        "statistics: tables country×year and country×act count the same unit but "
        "disagree on cell country=BI year=*; nothing was written"
    )


def test_the_audit_refuses_a_small_published_count_and_tables_that_do_not_add_up() -> None:
    table = published(grid({"BI": [2, 10], "MV": [8, 20]}, ["2025", "2026"]))
    with pytest.raises(DisclosureRisk) as caught:
        audit([table], K)
    assert caught.value.message == (
        "statistics audit: published cell country=BI year=2025 of table country×year is "
        "below k; nothing was written"
    )
    out = protect([grid({"BI": [6, 10], "MV": [8, 20]}, ["2025", "2026"])], K)
    wrong = dataclasses.replace(
        out[0],
        cells=[Cell(c.key, 41, None) if c.key == ("*", "*") else c for c in out[0].cells],
    )
    with pytest.raises(DisclosureRisk, match="of table country×year do not add up"):
        audit([wrong], K)
    missing = dataclasses.replace(out[0], cells=out[0].cells[1:])
    with pytest.raises(DisclosureRisk, match="does not have every cell, margin and total"):
        audit([missing], K)


def test_messages_name_cells_never_counts() -> None:
    rng = random.Random(7)
    for _ in range(30):
        rows = {c: [rng.choice([0, 1, 3, 6, 9, 17]) for _ in range(3)] for c in "ABC"}
        table = Table(
            ("country", "act"),
            "case",
            {
                (r, a): n
                for r, counts in rows.items()
                for a, n in zip("xyz", counts, strict=True)
                if n
            },
        )
        out = protect([table], K)
        for cell in [c for c in out[0].cells if c.suppressed == "secondary"]:
            shown = [Cell(c.key, 0, None) if c.key == cell.key else c for c in out[0].cells]
            try:
                audit([dataclasses.replace(out[0], cells=shown)], K)
            except DisclosureRisk as error:
                assert not re.search(r"\d", error.message), error.message


def test_inputs_that_cannot_be_tables_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="k must be a whole number"):
        protect([], 0)
    with pytest.raises(InvalidInput, match="'count' cannot name a dimension"):
        protect([Table(("count",), "case", {})], K)
    with pytest.raises(InvalidInput, match="has a value '\\*'"):
        protect([Table(("country",), "case", {("*",): 3})], K)
    with pytest.raises(InvalidInput, match="count that is not a whole number"):
        protect([Table(("country",), "case", {("BI",): -1})], K)


def test_json_shape() -> None:
    out = protect([Table(("country",), "case", {("BI",): 7, ("MV",): 2, ("RU",): 9})], K)
    assert to_json(out, K) == {
        "profile": "stats",
        "k": 5,
        "tables": [
            {
                "by": ["country"],
                "unit": "case",
                "cells": [
                    {"country": "BI", "count": None, "suppressed": "secondary"},
                    {"country": "MV", "count": None, "suppressed": "primary"},
                    {"country": "RU", "count": 9},
                    {"country": "*", "count": 18},
                ],
            }
        ],
    }


def test_forty_countries_by_years_and_by_acts_well_under_a_second() -> None:
    rng = random.Random(2026)
    countries = [f"C{i:02d}" for i in range(40)]
    weight = {c: rng.paretovariate(1.5) for c in countries}

    def counts(columns: list[str], scale: float) -> dict[tuple[str, ...], int]:
        cells: dict[tuple[str, ...], int] = {}
        for c in countries:
            for column in columns:
                n = int(rng.expovariate(1 / (scale * weight[c])))
                if n:
                    cells[(c, column)] = n
        return cells

    years = Table(BY, "case", counts([str(2018 + i) for i in range(9)], 6))
    acts = Table(("country", "act"), "case-act pair", counts([f"a{i:02d}" for i in range(35)], 2))
    start = time.perf_counter()
    out = protect([years, acts], K)
    took = time.perf_counter() - start
    audit(out, K)
    assert took < 1.0, f"protect took {took:.3f} s"


def pairs_table() -> Table:
    """country x act, one case a pair per act: in MV one case with five acts (five
    pairs, one case); in BI six cases with two acts each."""
    acts = ["a1", "a2", "a3", "a4", "a5"]
    cells: dict[tuple[str, ...], int] = {("MV", a): 1 for a in acts}
    cells |= {("BI", "a1"): 6, ("BI", "a2"): 6}
    cases: dict[tuple[str, ...], int] = dict(cells)
    cases |= {("MV", "*"): 1, ("BI", "*"): 6, ("*", "*"): 7, ("*", "a1"): 7, ("*", "a2"): 7}
    cases |= {("*", a): 1 for a in acts[2:]}
    return Table(("country", "act"), "case-act pair", cells, cases)


def test_five_pairs_of_one_case_are_a_small_cell() -> None:
    (table,) = protect([pairs_table()], K)
    cells = {c.key: c for c in table.cells}
    # The MV margin counts 5 pairs but one case: suppressed as a small cell would be.
    assert cells[("MV", "*")].count is None and cells[("MV", "*")].suppressed == "primary"
    assert table.few == frozenset({("MV", "*")})
    # Secondary suppression protects it as any primary cell (the LP of the tests).
    assert cells[("BI", "*")].count is None
    assert risky([table]) == []
    audit([table], K)
    # Published anyway, the audit refuses it by name, never by count.
    shown = dataclasses.replace(
        table,
        cells=[Cell(c.key, 5, None) if c.key == ("MV", "*") else c for c in table.cells],
    )
    with pytest.raises(DisclosureRisk) as caught:
        audit([shown], K)
    assert caught.value.message == (
        "statistics audit: published cell country=MV act=* of table country×act counts "
        "fewer than k cases; nothing was written"
    )


def test_without_case_counts_each_item_is_a_case() -> None:
    plain = dataclasses.replace(pairs_table(), cases=None)
    (table,) = protect([plain], K)
    assert table.few == frozenset()
    assert {c.key: c.count for c in table.cells}[("MV", "*")] == 5


def test_case_counts_above_the_item_counts_are_invalid() -> None:
    bad = dataclasses.replace(pairs_table(), cases={("MV", "*"): 9})
    with pytest.raises(InvalidInput):
        protect([bad], K)
