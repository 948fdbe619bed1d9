"""Random vaults (names in several scripts, random consent, risk and status) through every
profile and every format: no value the profile forbids ever appears in a written export
(the gate refuses rather than let one through), the withheld counts add up, and rejected
cases never appear."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.errors import PolicyRefusal
from reprisal_report.model import triage as rules
from reprisal_report.model.fold import fold
from reprisal_report.redact import profiles
from reprisal_report.vault import inbox
from reprisal_report.vault import triage as store
from reprisal_report.workflows import export as wf
from reprisal_report.workflows import profile

PASS = "property test passphrase"
NAMES = (
    "José Núñez",
    "Łukasz Wróbel",
    "Østergaard Hansen",
    "Иван Петров",
    "فاطمة الزهراء",
    "王小明",
    "Ngozi Okonkwo",
    "Zoë Ålvarez",
)
STATUSES = [s.value for s in rules.STATUS_ORDER]

case_strategy = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "alias": st.sampled_from(("Mama Rights", "Вожак", "أبو علي", "老王")),
        "consent": st.sampled_from(rules.CONSENT_LEVELS),
        "risk": st.sampled_from(rules.RISK_LEVELS),
        "status": st.sampled_from(STATUSES),
        "country": st.sampled_from(("BI", "MV", "RU")),
        "phone": st.integers(10_000_000, 99_999_999),
    }
)


def _record(n: int, c: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": f"Case number {n}",
        "incident_date": "2026-03",
        "country": c["country"],
        "location": f"Quarter {n} of the capital",
        "cooperation": [{"mechanism": "treaty_body", "mode": "briefing"}],
        "acts": ["threat"],
        "perpetrators": [{"type": "police", "name": f"Officer Kovalenko-{n}"}],
        "victims": [
            {
                "name": c["name"],
                "aliases": [c["alias"]],
                "kind": "lawyer",
                "contact": f"+257 {c['phone']}",
                "organisation": f"Defenders Network {n}",
            }
        ],
        "narrative": (
            f"Officers came to the office of case {n} at night and took every file away."
        ),
        "public_summary": f"A lawyer was threatened (case {n}).",
        "consent": c["consent"],
        "risk": c["risk"],
    }


def _fill(home: Path, cases: list[dict[str, Any]]) -> list[str]:
    ids = []
    with profile.open_profile(home, PASS) as vault, vault.transaction():
        for n, c in enumerate(cases):
            case_id = f"case{n:012d}"
            ids.append(case_id)
            inbox.insert_bundle(
                vault,
                inbox.InboxBundle(
                    bundle_id=f"{n:026d}",
                    bundle_sha256=f"{n:064x}",
                    case_id=case_id,
                    org_id="org",
                    author_key_id="author",
                    previous_bundle_id=None,
                    manifest=b"{}",
                    signature=b"",
                    record=_record(n, c),
                    salts={},
                    received_at="2026-06-01T00:00:00Z",
                ),
            )
            if c["status"] != "received":
                vault.conn.execute(
                    "UPDATE triage_cases SET status = ? WHERE case_id = ?", (c["status"], case_id)
                )
            store.add_note(
                vault, case_id, f"Internal note {n}: met the family in secret", actor="a"
            )
    return ids


@pytest.fixture(scope="module")
def coordinator_home() -> Any:
    os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "template"
        profile.init_profile(home, PASS, "coordinator", None)
        yield home


def _fresh(template: Path, where: Path) -> Path:
    import shutil

    shutil.copytree(template, where)
    return where


@settings(max_examples=15, deadline=None)
@given(st.lists(case_strategy, min_size=1, max_size=8))
def test_no_forbidden_value_in_any_export(
    coordinator_home: Path, cases: list[dict[str, Any]]
) -> None:
    _every_export(coordinator_home, cases)


@settings(max_examples=10, deadline=None)
@given(st.lists(case_strategy, min_size=1, max_size=8))
def test_no_forbidden_value_in_any_export_with_the_gate_in_workers(
    coordinator_home: Path, cases: list[dict[str, Any]]
) -> None:
    """The same, with the gate built and run in forked workers (as for a large vault):
    the first export computes every case's forms, the next ones run in workers."""
    before = wf.PARALLEL_FROM
    wf.PARALLEL_FROM = 1
    try:
        _every_export(coordinator_home, cases)
    finally:
        wf.PARALLEL_FROM = before


def _every_export(coordinator_home: Path, cases: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = _fresh(coordinator_home, Path(tmp) / "c")
        ids = _fill(home, cases)
        for name in profiles.BUILT_IN:
            for fmt in ("json", "csv", "md"):
                out = Path(tmp) / f"{name}.{fmt}"
                with profile.open_profile(home, PASS) as vault:
                    try:
                        done = wf.export(vault, wf.ExportRequest(profile=name, format=fmt, out=out))
                    except PolicyRefusal:
                        assert not out.exists()
                        assert not out.with_name(out.name + ".minisig").exists()
                        assert sorted(p.name for p in Path(tmp).iterdir()) == ["c"]
                        continue
                text = fold(out.read_text(encoding="utf-8"))
                assert sum(done.withheld.values()) + done.cases == len(cases) or name == "stats"
                _check_output(name, text, cases, ids, done)
                out.unlink()
                out.with_name(out.name + ".minisig").unlink()


def _check_output(
    name: str, text: str, cases: list[dict[str, Any]], ids: list[str], done: wf.ExportResult
) -> None:
    prof = profiles.built_in(name)
    exported = set()
    for n, (c, case_id) in enumerate(zip(cases, ids, strict=True)):
        if c["status"] == "rejected":
            assert case_id not in text
        leaves = (
            prof.kind == "cases"
            and c["status"] in prof.status
            and c["consent"] in prof.consent
            and c["consent"] not in ("none", "internal_only")
            and c["risk"] in prof.risk
        )
        if leaves:
            exported.add(n)
        # Notes, contacts and perpetrator names leave under no built-in profile.
        assert fold(f"Internal note {n}: met the family in secret") not in text
        assert str(c["phone"]) not in text.replace(" ", "")
        if name == "public" or not leaves:
            assert fold(f"Officer Kovalenko-{n}") not in text
            assert fold(f"Defenders Network {n}") not in text
            assert fold(f"Quarter {n} of the capital") not in text
            assert fold(f"Officers came to the office of case {n} at night") not in text
    if prof.kind == "cases":
        assert done.cases == len(exported)
    # A name that left with consent (publish_named, or un-confidential) may appear; any
    # other name must not, unless the same person left with consent in another case.
    allowed = {
        fold(c["name"])
        for n, c in enumerate(cases)
        if n in exported and (name == "un-confidential" or c["consent"] == "publish_named")
    }
    for c in cases:
        if fold(c["name"]) not in allowed:
            assert fold(c["name"]) not in text, (name, c["name"])


def test_withheld_counts_cover_every_case(coordinator_home: Path, tmp_path: Path) -> None:
    cases = [
        {
            "name": n,
            "alias": "Mama Rights",
            "consent": consent,
            "risk": risk,
            "status": status,
            "country": "BI",
            "phone": 12345678,
        }
        for n, (consent, risk, status) in zip(
            NAMES,
            [
                ("publish_named", "low", "verified"),
                ("publish_named", "low", "rejected"),
                ("none", "low", "verified"),
                ("internal_only", "low", "verified"),
                ("publish_anonymised", "critical", "closed"),
                ("publish_anonymised", "medium", "received"),
            ],
            strict=False,
        )
    ]
    home = _fresh(coordinator_home, tmp_path / "c")
    _fill(home, cases)
    with profile.open_profile(home, PASS) as vault:
        done = wf.export(vault, wf.ExportRequest(profile="public", out=tmp_path / "p.json"))
    assert done.cases == 1
    assert done.withheld == {"status": 2, "consent": 2, "risk": 1, "profile": 0}
    doc = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
    assert doc["withheld"] == done.withheld
