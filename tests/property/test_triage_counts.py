"""The statistics counts the triggers keep (``stats_cases``, ``stats_terms``) always equal
counting the triage tables afresh, whatever sequence of imports, follow-up bundles,
status moves and reassessments happened; and the counts are sums of their rows."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.model import triage as rules
from reprisal_report.vault import inbox
from reprisal_report.vault import triage as store
from reprisal_report.vault.store import Vault

COUNTRIES = ("BI", "MV", "RU")
ACTS = ("threat", "travel_ban", "torture")
MECHANISMS = ("upr", "treaty_body")
DIMENSIONS = ("country", "year", "status", "risk", "act", "mechanism")

records = st.fixed_dictionaries(
    {
        "title": st.just("t"),
        "country": st.sampled_from(COUNTRIES),
        "incident_date": st.sampled_from(("2025", "2026-03", "2026-03-05", "")),
        "acts": st.lists(st.sampled_from(ACTS), min_size=1, max_size=3, unique=True),
        "cooperation": st.lists(
            st.sampled_from(MECHANISMS).map(lambda m: {"mechanism": m}),
            min_size=1,
            max_size=2,
        ),
        "victims": st.just([{"name": "Zoë Example"}]),
        "risk": st.sampled_from(rules.RISK_LEVELS),
        "consent": st.sampled_from(rules.CONSENT_LEVELS),
    }
)

# (kind, case number, payload): a new case, a follow-up bundle, a status move, a level.
actions = st.one_of(
    st.tuples(st.just("new"), st.integers(0, 5), records),
    st.tuples(st.just("follow"), st.integers(0, 5), records),
    st.tuples(st.just("status"), st.integers(0, 5), st.sampled_from(list(rules.Status))),
    st.tuples(st.just("risk"), st.integers(0, 5), st.sampled_from(rules.RISK_LEVELS)),
)


def _bundle(case: int, serial: int, record: dict[str, Any], previous: str | None) -> Any:
    return inbox.InboxBundle(
        bundle_id=f"b{case}-{serial}",
        bundle_sha256=f"{case:032x}{serial:032x}",
        case_id=f"case{case}",
        org_id="org",
        author_key_id="author",
        previous_bundle_id=previous,
        manifest=b"{}",
        signature=b"",
        record=record,
        salts={},
        received_at=f"2026-01-0{1 + serial % 9}T00:00:00Z",
    )


def _apply(vault: Vault, steps: list[tuple[str, int, Any]]) -> None:
    serials: dict[int, int] = {}
    for kind, case, payload in steps:
        row = store.find(vault, f"case{case}")
        if kind in ("new", "follow"):
            if (kind == "new") != (row is None):
                continue
            serial = serials.get(case, 0)
            previous = f"b{case}-{serial - 1}" if serial else None
            serials[case] = serial + 1
            inbox.insert_bundle(vault, _bundle(case, serial, payload, previous))
        elif row is None:
            continue
        elif kind == "status":
            if payload in rules.allowed_next(rules.Status(row.status)):
                store.set_status(vault, row.case_id, payload.value, actor="a", reason=None)
        else:
            store.set_level(vault, row.case_id, "risk", payload, actor="a", reason="r")


@settings(max_examples=40)
@given(st.lists(actions, max_size=25))
def test_kept_counts_equal_counting_afresh(steps: list[tuple[str, int, Any]]) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Vault.open(Path(tmp) / "vault.db", os.urandom(32)) as vault,
    ):
        with vault.transaction():
            _apply(vault, steps)
        cases = int(vault.conn.execute("SELECT count(*) FROM triage_cases").fetchone()[0])
        for size in (1, 2):
            for dims in itertools.combinations(DIMENSIONS, size):
                kept = store.count_by(vault, dims)
                assert kept == store.count_by_scan(vault, dims), dims
                if not {"act", "mechanism"} & set(dims):
                    assert sum(n for _, n in kept) == cases
