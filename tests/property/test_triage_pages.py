"""A page of ``triage list`` (``vault/triage.query``: rows chosen in an index first, then
read) is the page the filters and the sort define: the same rows, in the same order, and
the same count, as filtering and sorting the triage rows in Python, for any filters,
sort, limit and offset."""

from __future__ import annotations

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
DATES = ("2024", "2024-06", "2024-06-30", "2025-01-01", "2025-12", "2023-12-31", "", "x")
DAYS = ("2023-12-31", "2024-01-01", "2024-06-30", "2024-07-01", "2025-01-01", "2026-01-15")

records = st.fixed_dictionaries(
    {
        "title": st.text(alphabet="abcÉé Ж", max_size=4),
        "country": st.sampled_from(COUNTRIES),
        "incident_date": st.sampled_from(DATES),
        "acts": st.lists(st.sampled_from(ACTS), max_size=3, unique=True),
        "cooperation": st.lists(
            st.sampled_from(MECHANISMS).map(lambda m: {"mechanism": m}), max_size=2
        ),
        "victims": st.sampled_from(([{"name": "Zoë Example"}], [{"name": "Иван Петров"}], [])),
        "risk": st.sampled_from(rules.RISK_LEVELS),
        "consent": st.sampled_from(rules.CONSENT_LEVELS),
    }
)

FILTER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from([s.value for s in rules.Status]),
    "country": st.sampled_from(COUNTRIES),
    "risk": st.sampled_from(rules.RISK_LEVELS),
    "consent": st.sampled_from(rules.CONSENT_LEVELS),
    "act": st.sampled_from(ACTS),
    "mechanism": st.sampled_from(MECHANISMS),
    "incident_from": st.sampled_from(DAYS),
    "incident_to": st.sampled_from(DAYS),
    "received_from": st.sampled_from(DAYS),
    "received_to": st.sampled_from(DAYS),
    "duplicates": st.just(True),
    "follow_ups": st.just(True),
}
# At most two filters at once, so that pages are seldom empty.
filters = st.lists(st.sampled_from(sorted(FILTER_VALUES)), max_size=2, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: FILTER_VALUES[n] for n in names}).map(
        lambda chosen: store.Filters(**chosen)
    )
)


def _fill(vault: Vault, cases: list[tuple[dict[str, Any], int, str | None]]) -> None:
    for n, (record, day, status) in enumerate(cases):
        inbox.insert_bundle(
            vault,
            inbox.InboxBundle(
                bundle_id=f"b{n}",
                bundle_sha256=f"{n:064x}",
                case_id=f"case{n % 7}{n:03d}",
                org_id="org",
                author_key_id="author",
                previous_bundle_id=None,
                manifest=b"{}",
                signature=b"",
                record=record,
                salts={},
                received_at=f"2024-0{1 + day % 9}-0{1 + day % 5}T00:00:00Z",
            ),
        )
        if status == "under_review":
            store.set_status(vault, f"case{n % 7}{n:03d}", status, actor="a", reason=None)
    ids = [r.case_id for r in store.query(vault, store.Filters())[0]]
    if len(ids) >= 2:
        store.link(vault, ids[0], ids[-1], "follow_up", actor="a")


def _expected(vault: Vault, f: store.Filters, sort: str, descending: bool) -> list[str]:
    conn = vault.conn
    rows = store.query(vault, store.Filters())[0]
    acts = {(str(c), str(a)) for c, a in conn.execute("SELECT case_id, act FROM triage_acts")}
    mechanisms = {
        (str(c), str(m))
        for c, m in conn.execute("SELECT case_id, mechanism FROM triage_mechanisms")
    }
    dups = {str(c) for (c,) in conn.execute("SELECT case_id FROM triage_duplicates")}
    follows = {
        str(c) for (c,) in conn.execute("SELECT case_id FROM triage_links WHERE kind='follow_up'")
    }

    def keep(r: store.TriageCase) -> bool:
        checks = [
            f.status is None or r.status == f.status,
            f.country is None or r.country == f.country,
            f.risk is None or r.risk == f.risk,
            f.consent is None or r.consent == f.consent,
            f.act is None or (r.case_id, f.act) in acts,
            f.mechanism is None or (r.case_id, f.mechanism) in mechanisms,
            f.incident_from is None or (r.incident_end != "" and r.incident_end >= f.incident_from),
            f.incident_to is None or (r.incident_start != "" and r.incident_start <= f.incident_to),
            f.received_from is None or r.first_received_at[:10] >= f.received_from,
            f.received_to is None or r.first_received_at[:10] <= f.received_to,
            not f.duplicates or r.case_id in dups,
            not f.follow_ups or r.case_id in follows,
        ]
        return all(checks)

    column = store.SORT_KEYS[sort]
    kept = [r for r in rows if keep(r)]
    kept.sort(key=lambda r: (getattr(r, column), r.case_id), reverse=descending)
    return [r.case_id for r in kept]


@settings(max_examples=60)
@given(
    cases=st.lists(
        st.tuples(records, st.integers(0, 20), st.sampled_from((None, "under_review"))),
        min_size=4,
        max_size=30,
    ),
    queries=st.lists(
        st.tuples(
            filters,
            st.sampled_from(sorted(store.SORT_KEYS)),
            st.booleans(),
            st.none() | st.integers(1, 12),
            st.integers(0, 12),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_a_page_is_the_slice_of_the_sorted_matches(
    cases: list[tuple[dict[str, Any], int, str | None]],
    queries: list[tuple[store.Filters, str, bool, int | None, int]],
) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Vault.open(Path(tmp) / "vault.db", os.urandom(32)) as vault,
    ):
        with vault.transaction():
            _fill(vault, cases)
        for f, sort, descending, limit, offset in queries:
            expected = _expected(vault, f, sort, descending)
            end = None if limit is None else offset + limit
            rows, total = store.query(
                vault, f, sort=sort, descending=descending, limit=limit, offset=offset
            )
            assert [r.case_id for r in rows] == expected[offset:end]
            assert total == len(expected)
            assert rows == [store.find(vault, r.case_id) for r in rows]
