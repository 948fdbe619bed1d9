"""Coordinator triage through the real CLI on a real vault: list filters, sort and
paging, the status workflow, reassessment with history, notes, links, duplicates,
statistics and the custody events every action leaves."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.worlds import World, build_world

BASE = yaml.safe_load(EXAMPLE_CASE.read_text(encoding="utf-8"))


def _case(**changes: object) -> dict[str, object]:
    return {**BASE, **changes}


CASES: dict[str, tuple[str, dict[str, object]]] = {
    # name: (received day, record)
    "a": ("2027-01-05", _case(title="Alpha travel ban")),
    "b": (
        "2027-01-06",
        _case(
            title="Bravo threat",
            incident_date="2026-03-05",
            acts=["threat"],
            cooperation=[{"mechanism": "upr", "body": "UPR-4", "mode": "submission"}],
            victims=[{"name": "Zoë Ålvarez", "kind": "journalist"}],
            consent="publish_named",
            risk="low",
        ),
    ),
    "c": (
        "2027-02-10",
        _case(
            title="Charlie arrest",
            country="MV",
            incident_date="2025-11-20",
            acts=["arbitrary_arrest"],
            cooperation=[
                {"mechanism": "special_procedures", "body": "SR-HRD", "mode": "communication"}
            ],
            consent="internal_only",
            risk="high",
        ),
    ),
    "d": (
        "2027-03-01",
        _case(
            title="Delta surveillance",
            country="RU",
            incident_date="2026-01",
            acts=["surveillance"],
            cooperation=[{"mechanism": "hrc_session", "body": "HRC-61", "mode": "attendance"}],
            victims=[{"name": "Иван Петров", "kind": "lawyer"}],
            consent="publish_anonymised",
            risk="critical",
        ),
    ),
}


@pytest.fixture
def world(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    with build_world(make_cli, tmp_path, CASES) as built:
        yield built


def test_list_shows_every_case_in_received_order(world: World) -> None:
    assert world.list() == ["a", "b", "c", "d"]
    rows = json.loads(world.coordinator.ok("triage", "list", "--json").stdout)
    first = rows[0]
    assert {k: first[k] for k in ("status", "risk", "consent", "country")} == {
        "status": "received",
        "risk": "medium",
        "consent": "share_un_confidential",
        "country": "BI",
    }
    assert first["reporter_consent"] == "share_un_confidential"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--status", "received"), ["a", "b", "c", "d"]),
        (("--status", "verified"), []),
        (("--country", "bi"), ["a", "b"]),
        (("--risk", "critical"), ["d"]),
        (("--consent", "internal_only"), ["c"]),
        (("--act", "threat"), ["a", "b"]),
        (("--mechanism", "upr"), ["b"]),
        (("--incident-from", "2026-03-10"), ["a"]),
        (("--incident-to", "2025-12"), ["c"]),
        (("--incident-from", "2026-01", "--incident-to", "2026-01-31"), ["d"]),
        (("--received-from", "2027-02-01"), ["c", "d"]),
        (("--received-to", "2027-02-10"), ["a", "b", "c"]),
        (("--received-from", "2027-02", "--received-to", "2027-02"), ["c"]),
        (("--country", "BI", "--act", "travel_ban"), ["a"]),
    ],
)
def test_each_filter(world: World, args: tuple[str, ...], expected: list[str]) -> None:
    assert world.list(*args) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("received", ["a", "b", "c", "d"]),
        ("-received", ["d", "c", "b", "a"]),
        ("incident", ["c", "d", "a", "b"]),
        ("-incident", ["b", "a", "d", "c"]),
        ("title", ["a", "b", "c", "d"]),
        ("-title", ["d", "c", "b", "a"]),
        ("risk", ["d", "c", "b", "a"]),  # alphabetical: critical, high, low, medium
    ],
)
def test_each_sort(world: World, sort: str, expected: list[str]) -> None:
    got = world.list("--sort", sort)
    if sort == "risk":
        assert got == ["d", "c", "b", "a"]
    else:
        assert got == expected


def test_country_sort_breaks_ties_by_id(world: World) -> None:
    got = world.list("--sort", "country")
    assert got[:2] == sorted(["a", "b"], key=lambda n: world.ids[n])
    assert got[2:] == ["c", "d"]


def test_limit_and_offset_page_through(world: World) -> None:
    assert world.list("--limit", "2") == ["a", "b"]
    assert world.list("--limit", "2", "--offset", "2") == ["c", "d"]
    assert world.list("--offset", "3") == ["d"]
    human = world.coordinator.ok("triage", "list", "--limit", "2", "--offset", "1")
    assert "cases 2-3 of 4" in human.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--status", "open"), "unknown status 'open'; one of: received, under_review"),
        (("--risk", "extreme"), "unknown risk level 'extreme'"),
        (("--consent", "yes"), "unknown consent level 'yes'"),
        (("--act", "kidnap"), "unknown act 'kidnap'"),
        (("--mechanism", "icc"), "unknown mechanism 'icc'"),
        (("--incident-from", "March"), "incident from: not a date 'March'"),
        (("--received-to", "2026-13"), "received to: not a date '2026-13'"),
        (("--sort", "colour"), "cannot sort by 'colour'"),
        (("--limit", "0"), "the limit must be from 1 to 1,000,000,000"),
        (("--limit", "99999999999999999999999"), "the limit must be from 1 to 1,000,000,000"),
        (("--offset", "-1"), "the offset must be from 0 to 1,000,000,000"),
    ],
)
def test_bad_filters_are_exit_2(world: World, args: tuple[str, ...], message: str) -> None:
    result = world.coordinator("triage", "list", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"reprisal-report: error: {message}")
    assert result.stdout == ""


def test_the_workflow_forward_and_its_history(world: World) -> None:
    case = world.ids["a"]
    for status in ("under_review", "verified", "submitted_to_un", "closed"):
        world.coordinator.ok("triage", "set", case, "--status", status, "--reason", f"to {status}")
    shown = world.show("a")
    assert shown["status"] == "closed"
    history = shown["status_history"]
    assert [(h["from"], h["to"], h["reason"]) for h in history] == [
        ("received", "under_review", "to under_review"),
        ("under_review", "verified", "to verified"),
        ("verified", "submitted_to_un", "to submitted_to_un"),
        ("submitted_to_un", "closed", "to closed"),
    ]
    me = json.loads(world.coordinator.ok("id", "show", "--json").stdout)["key_id"]
    assert {h["actor"] for h in history} == {me}
    assert shown["allowed_status"] == []


def test_an_illegal_transition_is_exit_2_naming_the_allowed_ones(world: World) -> None:
    case = world.ids["a"]
    result = world.coordinator("triage", "set", case, "--status", "verified")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "reprisal-report: error: cannot move a case from received to verified; "
        "allowed: under_review or rejected"
    )
    assert world.show("a")["status"] == "received"


def test_rejected_is_final_and_reachable_from_open_statuses(world: World) -> None:
    case = world.ids["b"]
    world.coordinator.ok("triage", "set", case, "--status", "under_review")
    world.coordinator.ok("triage", "set", case, "--status", "rejected", "--reason", "fabricated")
    result = world.coordinator("triage", "set", case, "--status", "under_review")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "reprisal-report: error: a rejected case cannot change status (it is final); "
        "rejected -> under_review refused"
    )
    assert world.list("--status", "rejected") == ["b"]


def test_reassessment_keeps_the_reporters_values_and_the_history(world: World) -> None:
    case = world.ids["a"]
    world.coordinator.ok("triage", "set", case, "--risk", "high", "--consent", "internal_only")
    shown = world.show("a")
    assert (shown["risk"], shown["consent"]) == ("high", "internal_only")
    assert (shown["reporter_risk"], shown["reporter_consent"]) == (
        "medium",
        "share_un_confidential",
    )
    assessments = shown["assessments"]
    assert [(h["field"], h["from"], h["to"]) for h in assessments] == [
        ("risk", "medium", "high"),
        ("consent", "share_un_confidential", "internal_only"),
    ]
    assert world.list("--risk", "high") == ["a", "c"]


@pytest.mark.parametrize(
    ("flag", "value", "field", "old"),
    [
        ("--risk", "low", "risk", "medium"),
        ("--consent", "publish_named", "consent", "share_un_confidential"),
    ],
)
def test_lowering_protection_needs_a_reason(
    world: World, flag: str, value: str, field: str, old: str
) -> None:
    case = world.ids["a"]
    result = world.coordinator("triage", "set", case, flag, value)
    assert result.exit_code == 4
    assert result.stderr.splitlines()[0] == (
        f"reprisal-report: error: changing {field} from {old} to {value} lowers the "
        "protection of the people in this case; give the reason"
    )
    assert result.stderr.splitlines()[1] == (
        "hint: say why with --reason TEXT (kept in the case's history)"
    )
    assert world.show("a")[field] == old
    world.coordinator.ok("triage", "set", case, flag, value, "--reason", "victim asked by phone")
    shown = world.show("a")
    assert shown[field] == value
    assert shown[f"reporter_{field}"] == old
    [entry] = shown["assessments"]
    assert entry["reason"] == "victim asked by phone"


def test_notes_are_added_edited_and_deleted(world: World, tmp_path: Path) -> None:
    case = world.ids["c"]
    world.coordinator.ok("triage", "set", case, "--note", "called the lawyer")
    note_file = tmp_path / "note.txt"
    note_file.write_text("وثيقة من المحكمة\nsecond line", encoding="utf-8")
    world.coordinator.ok("triage", "set", case, "--note-file", str(note_file))
    notes = world.show("c")["notes"]
    assert [n["text"] for n in notes] == ["called the lawyer", "وثيقة من المحكمة\nsecond line"]
    world.coordinator.ok("triage", "set", case, "--edit-note", "1", "--note", "lawyer confirmed")
    world.coordinator.ok("triage", "set", case, "--delete-note", "2")
    notes = world.show("c")["notes"]
    assert [(n["number"], n["text"]) for n in notes] == [(1, "lawyer confirmed")]
    result = world.coordinator("triage", "set", case, "--delete-note", "5")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"reprisal-report: error: case {case} has no note 5"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "nothing to change; give --status, --risk, --consent, --note or --delete-note"),
        (("--note", "  "), 2, "the note is empty"),
        (("--note", "x", "--note-file", "f"), 2, "give --note or --note-file, not both"),
        (("--edit-note", "1"), 2, "give the new text of the note being edited"),
        (
            ("--risk", "extreme"),
            2,
            "unknown risk level 'extreme'; one of: critical, high, medium, low",
        ),
    ],
)
def test_bad_set_requests(world: World, args: tuple[str, ...], code: int, message: str) -> None:
    result = world.coordinator("triage", "set", world.ids["a"], *args)
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == f"reprisal-report: error: {message}"


def test_links_and_follow_ups(world: World) -> None:
    a, d = world.ids["a"], world.ids["d"]
    world.coordinator.ok("triage", "link", d, "--to", a, "--as", "follow_up")
    assert world.list("--follow-ups") == ["d"]
    links = world.show("a")["links"]
    assert [(k["case_id"], k["other_id"], k["kind"]) for k in links] == [(d, a, "follow_up")]
    replaced = json.loads(
        world.coordinator.ok("triage", "link", d, "--to", a, "--as", "related", "--json").stdout
    )
    assert replaced["replaced"] == "follow_up"
    assert world.list("--follow-ups") == []
    for args, message in (
        ((d, "--to", d, "--as", "related"), "a case cannot be linked to itself"),
        ((d, "--to", a, "--as", "sibling"), "unknown link kind 'sibling'"),
    ):
        result = world.coordinator("triage", "link", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"reprisal-report: error: {message}")


def test_possible_duplicates_by_victim_and_by_incident(world: World) -> None:
    # a and c share a victim ("Example Person"); a and b look like one incident
    # (BI, March 2026 vs 5 March 2026, both a threat); d shares nothing.
    assert world.list("--duplicates") == ["a", "b", "c"]
    dups = world.show("a")["possible_duplicates"]
    assert sorted((x["case_id"], x["reason"]) for x in dups) == sorted(
        [(world.ids["b"], "incident"), (world.ids["c"], "victim")]
    )
    assert world.show("d")["possible_duplicates"] == []


def test_stats_counts_and_their_unit(world: World) -> None:
    doc = json.loads(world.coordinator.ok("triage", "stats", "--by", "country", "--json").stdout)
    assert doc["unit"] == "case"
    assert doc["rows"] == [
        {"country": "BI", "count": 2},
        {"country": "MV", "count": 1},
        {"country": "RU", "count": 1},
    ]
    assert doc["total"] == 4
    pairs = json.loads(
        world.coordinator.ok("triage", "stats", "--by", "country,act", "--json").stdout
    )
    assert pairs["unit"] == "case-act pair"
    assert {(r["country"], r["act"]): r["count"] for r in pairs["rows"]} == {
        ("BI", "threat"): 2,
        ("BI", "travel_ban"): 1,
        ("MV", "arbitrary_arrest"): 1,
        ("RU", "surveillance"): 1,
    }
    assert pairs["total"] == sum(r["count"] for r in pairs["rows"]) == 5
    years = json.loads(
        world.coordinator.ok("triage", "stats", "--by", "year,status", "--json").stdout
    )
    assert years["rows"] == [
        {"year": "2025", "status": "received", "count": 1},
        {"year": "2026", "status": "received", "count": 3},
    ]
    table = world.coordinator.ok("triage", "stats", "--by", "risk")
    assert "counting unit: one case; total 4 = the sum of the rows" in table.stderr
    chart = world.coordinator.ok("triage", "stats", "--by", "country", "--chart")
    assert "BI" in chart.stdout and "#" * 40 in chart.stdout
    bad = world.coordinator("triage", "stats", "--by", "colour")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("reprisal-report: error: cannot count by colour; one of:")


def test_show_has_the_bundle_chain_with_what_was_verified(world: World) -> None:
    shown = world.show("a")
    [bundle] = shown["bundles"]
    reporter_key = json.loads(world.reporter.ok("id", "show", "--json").stdout)["key_id"]
    assert bundle["author"] == reporter_key
    assert bundle["author_role"] == "reporter"
    assert bundle["card_version"] == 2  # the card after the reporter's enrolment
    assert bundle["sealed_at"].endswith("Z")
    assert bundle["evidence"]["file"].startswith("evidence/")


def test_every_triage_action_is_a_custody_event_without_values(world: World) -> None:
    case = world.ids["a"]
    world.coordinator.ok("triage", "set", case, "--status", "under_review", "--note", "SECRET-NOTE")
    world.coordinator.ok("triage", "set", case, "--risk", "high")
    world.coordinator.ok("triage", "link", case, "--to", world.ids["b"], "--as", "duplicate")
    me = json.loads(world.coordinator.ok("id", "show", "--json").stdout)["key_id"]
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute(
            "SELECT action, detail, actor FROM custody_events WHERE case_id = ? "
            "AND action IN ('triaged', 'linked') ORDER BY seq",
            (case,),
        ).fetchall()
    assert [(r[0], json.loads(r[1]), r[2]) for r in rows] == [
        ("triaged", {"fields": ["status", "note"], "reason_given": False}, me),
        ("triaged", {"fields": ["risk"], "reason_given": False}, me),
        ("linked", {"other_case_id": world.ids["b"], "kind": "duplicate"}, me),
    ]
    assert all("SECRET" not in r[1] and "high" not in r[1] for r in rows)
