"""The do-no-harm export through the real CLI on a real vault: which cases leave under
each profile and why the others are withheld, what leaves of them, the leak gate
refusing with nothing written, stock minisign verifying the signature, and the
un-confidential disclosures checking against the authors' signatures."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reprisal_report.bundle.manifest import parse_manifest, verify_disclosed, verify_manifest
from reprisal_report.identity.keys import public_identity
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.worlds import World, build_world

BASE = yaml.safe_load(EXAMPLE_CASE.read_text(encoding="utf-8"))


def _case(title: str, **changes: object) -> dict[str, object]:
    return {
        **BASE,
        "title": title,
        "public_summary": f"Summary of {title.lower()}.",
        "narrative": f"The reporter's own account of {title.lower()}, with every detail named.",
        **changes,
    }


def _victim(name: str, **more: object) -> list[dict[str, object]]:
    return [{"name": name, "kind": "human_rights_defender", **more}]


CASES: dict[str, tuple[str, dict[str, object]]] = {
    "pub": (
        "2027-01-02",
        _case(
            "Named travel ban",
            consent="publish_named",
            risk="low",
            victims=_victim("Ana Martínez", aliases=["La Abogada"]),
            location="Gitega",
        ),
    ),
    "anon": (
        "2027-01-03",
        _case(
            "Anonymous summons",
            country="MV",
            incident_date="2026-04-17",
            consent="publish_anonymised",
            risk="medium",
            victims=_victim("Zoë Ålvarez", organisation="Blue Lagoon Rights"),
        ),
    ),
    "secret": (
        "2027-01-04",
        _case(
            "Internal arrest",
            country="RU",
            consent="internal_only",
            risk="high",
            victims=_victim("José Núñez", contact="+7 912 345 67 89"),
        ),
    ),
    "crit": ("2027-01-05", _case("Critical case", consent="publish_named", risk="critical")),
    "new": ("2027-01-06", _case("Not yet verified", consent="publish_named", risk="low")),
    "unc": ("2027-01-07", _case("For the UN", consent="share_un_confidential", risk="medium")),
    "hr": (
        "2027-01-08",
        _case("High risk for the UN", consent="share_un_confidential", risk="high"),
    ),
    "rej": ("2027-01-09", _case("Rejected story", consent="publish_named", risk="low")),
}
VERIFY = ("under_review", "verified")


def _verify(world: World, name: str) -> None:
    for status in VERIFY:
        world.coordinator.ok("triage", "set", world.ids[name], "--status", status)


@pytest.fixture
def world(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    with build_world(make_cli, tmp_path, CASES) as built:
        for name in ("pub", "anon", "secret", "crit", "unc", "hr"):
            _verify(built, name)
        built.coordinator.ok("triage", "set", built.ids["rej"], "--status", "rejected")
        yield built


def _export(world: World, out: Path, *args: str) -> dict[str, Any]:
    result = world.coordinator.ok("export", "--out", str(out), "--json", *args)
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _names(world: World, ids: list[str]) -> list[str]:
    by_id = {v: k for k, v in world.ids.items()}
    return [by_id[i] for i in ids]


def test_public_json_leaves_only_what_the_profile_allows(world: World, tmp_path: Path) -> None:
    out = tmp_path / "public.json"
    summary = _export(world, out, "--profile", "public", "--format", "json")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert _names(world, [c["id"] for c in doc["cases"]]) == ["pub", "anon"]
    assert doc["withheld"] == {"status": 2, "consent": 3, "risk": 1, "profile": 0}
    assert summary["withheld"] == doc["withheld"] and summary["cases"] == 2
    pub, anon = doc["cases"]
    assert pub["victims"] == [{"name": "Ana Martínez", "kind": "human_rights_defender"}]
    assert anon["victims"][0]["name"].startswith("P-")
    assert "organisation" not in anon["victims"][0]
    assert (pub["location"], anon["incident_date"]) == ("BI", "2026-04")
    for case in doc["cases"]:
        assert "narrative" not in case and "perpetrators" in case
        assert all("name" not in p for p in case["perpetrators"])
        assert all("contact" not in v for v in case["victims"])
    text = out.read_text(encoding="utf-8")
    for forbidden in ("Zoë", "Ålvarez", "La Abogada", "Gitega", "Colonel Example", "Núñez"):
        assert forbidden not in text
    assert world.ids["rej"] not in text


def test_the_same_person_gets_the_same_pseudonym_in_every_export(
    world: World, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _export(world, first, "--profile", "public")
    _export(world, second, "--profile", "public")
    names = [
        json.loads(p.read_text(encoding="utf-8"))["cases"][1]["victims"][0]["name"]
        for p in (first, second)
    ]
    assert names[0] == names[1]


def test_stock_minisign_verifies_and_one_changed_byte_fails(world: World, tmp_path: Path) -> None:
    minisign = shutil.which("minisign")
    if minisign is None:
        pytest.fail("the stock minisign binary is not installed (.ci/run installs it)")
    out = tmp_path / "public.md"
    _export(world, out, "--profile", "public", "--format", "md")
    public = json.loads(world.coordinator.ok("id", "show", "--json").stdout)["minisign_public_key"]
    ok = subprocess.run(
        [minisign, "-V", "-P", public, "-m", str(out)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert "profile=public format=md sha256=" in ok.stdout
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 1
    out.write_bytes(bytes(data))
    bad = subprocess.run(
        [minisign, "-V", "-P", public, "-m", str(out)], capture_output=True, text=True, check=False
    )
    assert bad.returncode != 0


def test_un_confidential_disclosures_verify_against_the_author(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "un.json"
    _export(world, out, "--profile", "un-confidential")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert _names(world, [c["id"] for c in doc["cases"]]) == ["pub", "anon", "unc"]
    assert doc["withheld"] == {"status": 2, "consent": 1, "risk": 2, "profile": 0}
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        author_key = public_identity(vault).signing_public
    for case in doc["cases"]:
        manifest_bytes = base64.b64decode(case["manifest"])
        verify_manifest(author_key, manifest_bytes, base64.b64decode(case["signature"]))
        manifest = parse_manifest(manifest_bytes)
        assert case["disclosed"]
        assert not any(p.endswith(".contact") for p in case["disclosed"])
        contacts = sum(path.endswith(".contact") for path in manifest.commitments)
        assert case["withheld_fields"] == contacts
        for path, item in case["disclosed"].items():
            assert verify_disclosed(manifest, path, item["value"], bytes.fromhex(item["salt"]))
        path, item = next(iter(case["disclosed"].items()))
        assert not verify_disclosed(
            manifest, path, item["value"] + "x", bytes.fromhex(item["salt"])
        )


def test_high_risk_needs_the_flag_and_a_reason(world: World, tmp_path: Path) -> None:
    out = tmp_path / "un.json"
    result = world.coordinator(
        "export", "--profile", "un-confidential", "--out", str(out), "--include-high-risk"
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "reprisal-report: error: including high-risk cases needs a reason, kept in the vault"
    )
    assert not out.exists()
    _export(
        world, out, "--profile", "un-confidential", "--include-high-risk", "--reason", "UN asked"
    )
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert _names(world, [c["id"] for c in doc["cases"]]) == ["pub", "anon", "unc", "hr"]
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute(
            "SELECT detail FROM custody_events WHERE action = 'exported'"
        ).fetchall()
    detail = json.loads(rows[-1][0])
    assert detail["high_risk_cases"] == 1 and "high_risk_reason_sha256" in detail
    assert "UN asked" not in rows[-1][0]


def test_csv_reads_as_uwazi_import(world: World, tmp_path: Path) -> None:
    out = tmp_path / "public.csv"
    _export(world, out, "--profile", "public", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert next(iter(rows[0])) == "title"
    assert "narrative" not in rows[0] and "perpetrators" not in rows[0]
    pub = rows[0]
    assert pub["title"] == "Named travel ban"
    assert pub["incident_date"] == "2026/03/01" and pub["date_precision"] == "month"
    assert pub["acts"] == "Threats and harassment::Threat|Movement::Travel ban"
    assert pub["victims"] == "Ana Martínez"


def test_markdown_annex_country_by_country(world: World, tmp_path: Path) -> None:
    out = tmp_path / "public.md"
    world.coordinator.ok(
        "triage", "link", world.ids["anon"], "--to", world.ids["pub"], "--as", "follow_up"
    )
    _export(world, out, "--profile", "public", "--format", "md")
    text = out.read_text(encoding="utf-8")
    assert text.index("## Burundi (BI)") < text.index("## Maldives (MV)")
    section = text[text.index("## Maldives (MV)") :]
    assert "### Follow-up cases" in section and "### New cases" not in section
    assert "Withheld: 6 case(s) by reason (status 2, consent 3, risk 1, profile 0)" in text


def test_stats_json_shape(world: World, tmp_path: Path) -> None:
    out = tmp_path / "stats.json"
    _export(world, out, "--profile", "stats", "--by", "country,year")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["profile"] == "stats" and doc["k"] == 5
    [table] = doc["tables"]
    assert table["by"] == ["country", "year"] and table["unit"] == "case"
    for cell in table["cells"]:
        assert set(cell) >= {"country", "year", "count"}
        assert cell["count"] is None or cell["count"] == 0 or cell["count"] >= 5
        if cell["count"] is None:
            assert cell["suppressed"] in ("primary", "secondary")
    total = next(c for c in table["cells"] if c["country"] == "*" and c["year"] == "*")
    assert total["count"] == 7  # every case but the rejected one; none has consent none
    assert doc["withheld"]["status"] == 1


@pytest.fixture
def leaky(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    cases = {
        "secret": CASES["secret"],
        "leak": ("2027-01-05", _case("Public case", consent="publish_named", risk="low")),
    }
    with build_world(make_cli, tmp_path, cases) as built:
        _verify(built, "leak")
        yield built


def _leaking_follow_up(leaky: World, tmp_path: Path, summary: str) -> None:
    """The reporter edits the public case's summary, seals a follow-up, and the
    coordinator imports it."""
    edited = _case("Public case", consent="publish_named", risk="low", public_summary=summary)
    leaky.deliver_edit("leak", edited, tmp_path)


@pytest.mark.parametrize(
    ("summary", "field"),
    [
        ("A lawyer, JOSE NUNEZ, was detained.", "victims[0].name"),
        ("Call him on +7 912 345-67-89 for details.", "victims[0].contact"),
    ],
)
def test_the_leak_gate_refuses_with_nothing_written(
    leaky: World, tmp_path: Path, summary: str, field: str
) -> None:
    # The public case's summary carries the withheld case's victim name (in another
    # case and accent form) or contact number (with other spacing).
    _leaking_follow_up(leaky, tmp_path, summary)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    for fmt in ("json", "csv", "md"):
        out = out_dir / f"public.{fmt}"
        result = leaky.coordinator(
            "export", "--profile", "public", "--format", fmt, "--out", str(out)
        )
        assert result.exit_code == 4, result.stderr
        line = result.stderr.splitlines()[0]
        assert line.startswith(
            f"reprisal-report: error: leak gate: export refused: case {leaky.ids['secret']} "
            f"field {field} appears in the output"
        )
        assert "NUNEZ" not in result.stderr.upper() and "912" not in result.stderr
        assert list(out_dir.iterdir()) == []


def test_bad_requests(world: World, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    for args, message in (
        (
            ("--profile", "press"),
            "unknown export profile 'press'; one of: public, un-confidential, stats",
        ),
        (
            ("--profile", "public", "--format", "pdf"),
            "unknown export format 'pdf'; one of: json, csv, md",
        ),
        ((), "name an export profile: public, un-confidential or stats"),
        (("--profile", "public", "--since", "soon"), "since: not a date 'soon'"),
        (
            ("--profile", "public", "--reason", "x"),
            "a reason is only taken with including high-risk cases",
        ),
    ):
        result = world.coordinator("export", "--out", str(out), *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith(f"reprisal-report: error: {message}")
        assert not out.exists()


def test_a_profile_file_of_our_own(world: World, tmp_path: Path) -> None:
    good = tmp_path / "press.toml"
    good.write_text(
        'name = "press"\n[allow]\nconsent = ["publish_named"]\nrisk = ["low"]\n'
        'status = ["verified"]\n[fields]\n"title" = "keep"\n"country" = "keep"\n',
        encoding="utf-8",
    )
    out = tmp_path / "press.json"
    _export(world, out, "--profile-file", str(good))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [sorted(c) for c in doc["cases"]] == [["country", "id", "status", "title"]]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[fields]\n"victims[].shoe_size" = "keep"\n', encoding="utf-8")
    result = world.coordinator("export", "--profile-file", str(bad), "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"reprisal-report: error: export profile {bad}: fields: unknown field 'victims[].shoe_size'"
    )


def _card(world: World, tmp_path: Path) -> Path:
    card = tmp_path / "org-card.json"
    world.coordinator.ok("org", "card", "--out", str(card))
    return card


def test_verify_export_checks_signature_and_disclosures(world: World, tmp_path: Path) -> None:
    from reprisal_report.workflows.export import verify_export_file

    out = tmp_path / "un.json"
    _export(world, out, "--profile", "un-confidential")
    card = _card(world, tmp_path)
    check = verify_export_file(out, card)
    assert check.ok and check.signature_ok and check.profile == "un-confidential"
    results = {c.case_id: c.result for c in check.cases}
    assert results[world.ids["pub"]] == "verified"  # no contact: everything disclosed
    assert results[world.ids["unc"]] == "withheld 1 fields"  # the contact
    public = tmp_path / "public.json"
    _export(world, public, "--profile", "public")
    redacted = verify_export_file(public, card)
    assert redacted.ok
    assert {c.result for c in redacted.cases} == {"no signed original carried (redacted export)"}


def test_verify_export_fails_on_a_changed_disclosed_value(world: World, tmp_path: Path) -> None:
    from reprisal_report.identity.keys import signing_key
    from reprisal_report.redact import minisign
    from reprisal_report.workflows.export import verify_export_file

    out = tmp_path / "un.json"
    _export(world, out, "--profile", "un-confidential")
    doc = json.loads(out.read_text(encoding="utf-8"))
    case = doc["cases"][0]
    case["disclosed"]["title"]["value"] = "A different story"
    case["title"] = "A different story"
    changed = (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    out.write_bytes(changed)
    card = _card(world, tmp_path)
    stale = verify_export_file(out, card)
    assert not stale.ok and not stale.signature_ok
    # Re-signed by the coordinator (say a dishonest one): the signature passes, the
    # author's commitment does not.
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        sig = minisign.sign(
            signing_key(vault),
            changed,
            trusted_comment=(
                "reprisal-report export profile=un-confidential format=json "
                f"sha256={hashlib.sha256(changed).hexdigest()}"
            ),
        )
    out.with_name(out.name + ".minisig").write_bytes(sig)
    forged = verify_export_file(out, card)
    assert forged.signature_ok and not forged.ok
    assert forged.cases[0].result == "field title does not match the author's commitment"


def test_verify_export_refuses_a_non_coordinator_signature(world: World, tmp_path: Path) -> None:
    from reprisal_report.identity.keys import signing_key
    from reprisal_report.redact import minisign
    from reprisal_report.workflows.export import verify_export_file

    out = tmp_path / "public.json"
    _export(world, out, "--profile", "public")
    data = out.read_bytes()
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        sig = minisign.sign(
            signing_key(vault),
            data,
            trusted_comment=f"reprisal-report export sha256={hashlib.sha256(data).hexdigest()}",
        )
    out.with_name(out.name + ".minisig").write_bytes(sig)
    check = verify_export_file(out, _card(world, tmp_path))
    assert not check.ok
    assert check.signature_problem == "signed by a key that is no coordinator of this org card"


def test_audit_verify_export_on_the_command_line(world: World, tmp_path: Path) -> None:
    out = tmp_path / "un.json"
    _export(world, out, "--profile", "un-confidential")
    card = _card(world, tmp_path)
    auditor = world.reporter  # any profile, or none: only public data is read
    good = auditor("audit", "verify-export", str(out), "--org", str(card))
    assert good.exit_code == 0, good.stderr
    lines = good.stdout.splitlines()
    assert lines[-1] == "OK"
    assert f"{world.ids['unc']}: withheld 1 fields" in lines
    doc = json.loads(out.read_text(encoding="utf-8"))
    doc["cases"][0]["disclosed"]["title"]["value"] = "Changed"
    out.write_text(json.dumps(doc), encoding="utf-8")
    bad = auditor("audit", "verify-export", str(out), "--org", str(card))
    assert bad.exit_code == 3
    assert bad.stdout.splitlines()[-1] == "FAIL"
    assert bad.stderr.splitlines()[0].startswith(
        "reprisal-report: error: the export does not verify: the signature does not verify"
    )


def test_the_annex_may_name_a_country_that_is_also_a_withheld_place(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    cases = {
        "place": (
            "2027-01-04",
            _case("Internal case", consent="internal_only", location="Burundi"),
        ),
        "pub": ("2027-01-05", _case("Public case", consent="publish_named", risk="low")),
    }
    with build_world(make_cli, tmp_path, cases) as world:
        _verify(world, "pub")
        out = tmp_path / "annex.md"
        _export(world, out, "--profile", "public", "--format", "md")
        assert "## Burundi (BI)" in out.read_text(encoding="utf-8")


MANY_ACTS = ["threat", "surveillance", "travel_ban", "arbitrary_arrest", "hacking"]
PAIRS: dict[str, tuple[str, dict[str, object]]] = {
    "five-acts": (
        "2027-01-02",
        _case("One case, five acts", country="MV", consent="publish_named", acts=MANY_ACTS),
    ),
    **{
        f"bi-{n}": (
            f"2027-01-{n + 3:02d}",
            _case(f"Burundi case {n}", country="BI", consent="publish_named", acts=["threat"]),
        )
        for n in range(6)
    },
}


def test_five_case_act_pairs_of_one_case_are_not_published(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    with build_world(make_cli, tmp_path, PAIRS) as built:
        for name in PAIRS:
            _verify(built, name)
        out = tmp_path / "pairs.json"
        _export(built, out, "--profile", "stats", "--by", "country,act")
        doc = json.loads(out.read_text(encoding="utf-8"))
    [table] = doc["tables"]
    assert table["unit"] == "case-act pair"
    cells = {(c["country"], c["act"]): c for c in table["cells"]}
    # Five pairs in MV, all from one case: a small cell, however many pairs.
    assert cells[("MV", "*")] == {
        "country": "MV",
        "act": "*",
        "count": None,
        "suppressed": "primary",
    }
    # Its total of pairs (11, from 7 cases) is published; the MV margin stays unknown.
    assert cells[("*", "*")]["count"] == 11


# --- the gate in worker processes (large vaults) ----------------------------------------

WORKER_REFUSED = (
    "reprisal-report: error: leak gate: export refused: the gate's worker process stopped "
    "before it answered; nothing was written"
)


def _in_workers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Run the gate in workers from the first case on; the list counts the workers."""
    from reprisal_report.workflows import export as wf

    started: list[int] = []
    real = wf._gate_worker

    def counted(*args: Any) -> Any:
        started.append(1)
        return real(*args)

    monkeypatch.setattr(wf, "PARALLEL_FROM", 1)
    monkeypatch.setattr(wf, "_gate_worker", counted)
    return started


def _without_checkpoint(data: bytes, fmt: str) -> object:
    # Each export is a custody event: the checkpoint it names grows by one each time.
    if fmt == "json":
        doc = json.loads(data)
        del doc["checkpoint"]
        return doc
    return [line for line in data.decode("utf-8").splitlines() if "checkpoint" not in line]


@pytest.mark.parametrize("fmt", ["json", "csv", "md"])
def test_the_gate_in_workers_passes_and_writes_exactly_what_one_process_does(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from reprisal_report import clock

    fixed = clock.now()
    clock.set_clock(lambda: fixed)
    try:
        alone = {}
        for name in ("public", "un-confidential", "stats"):
            out = tmp_path / f"alone-{name}.{fmt}"
            alone[name] = (_export(world, out, "--profile", name, "--format", fmt), out)
        started = _in_workers(monkeypatch)
        for name in ("public", "un-confidential", "stats"):
            out = tmp_path / f"workers-{name}.{fmt}"
            summary = _export(world, out, "--profile", name, "--format", fmt)
            first, first_out = alone[name]
            for key in ("cases", "withheld", "leak_gate_values", "tables"):
                assert summary[key] == first[key], key
            assert _without_checkpoint(out.read_bytes(), fmt) == _without_checkpoint(
                first_out.read_bytes(), fmt
            )
        assert len(started) == 3
    finally:
        clock.set_clock(None)


def test_the_gate_in_workers_refuses_a_leak_with_nothing_written(
    leaky: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _leaking_follow_up(leaky, tmp_path, "A lawyer, JOSE NUNEZ, was detained.")
    started = _in_workers(monkeypatch)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    for fmt in ("json", "csv", "md"):
        result = leaky.coordinator(
            "export", "--profile", "public", "--format", fmt, "--out", str(out_dir / f"p.{fmt}")
        )
        assert result.exit_code == 4, result.stderr
        assert result.stderr.splitlines()[0] == (
            f"reprisal-report: error: leak gate: export refused: case {leaky.ids['secret']} "
            "field victims[0].name appears in the output (1 sensitive values in all); "
            "nothing was written"
        )
        assert list(out_dir.iterdir()) == []
    assert len(started) == 3


def test_a_gate_worker_that_dies_refuses_the_export(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from reprisal_report.workflows import export as wf

    _in_workers(monkeypatch)
    parent = os.getpid()
    real = wf._leak_gate

    def dies_in_the_worker(*args: Any) -> Any:
        if os.getpid() != parent:
            os._exit(9)  # as if killed while it built the gate
        return real(*args)

    monkeypatch.setattr(wf, "_leak_gate", dies_in_the_worker)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    result = world.coordinator("export", "--profile", "public", "--out", str(out_dir / "p.json"))
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [WORKER_REFUSED]
    assert list(out_dir.iterdir()) == []


def test_a_redaction_the_worker_did_not_foresee_is_refused(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reprisal_report.redact import records
    from reprisal_report.redact.records import GateSplit
    from reprisal_report.workflows import export as wf

    _in_workers(monkeypatch)
    real = records.gate_split

    def forgets_a_value(*args: Any) -> GateSplit:
        split = real(*args)
        return GateSplit(split.forbidden, split.allowed, split.kept_keys, split.forbidden_keys[1:])

    monkeypatch.setattr(wf, "gate_split", forgets_a_value)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    result = world.coordinator("export", "--profile", "public", "--out", str(out_dir / "p.json"))
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "reprisal-report: error: leak gate: export refused: the gate's split of the exported "
        "cases' values differs from the redaction's (a bug; please report it); nothing was "
        "written"
    ]
    assert list(out_dir.iterdir()) == []


def test_damaged_kept_forms_are_refused_by_the_worker_then_computed_again(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kept row of the current version and content whose forms text is not of the
    # shape the release writes (never written so; the vault authenticates its pages):
    # the worker checks the shapes the export left to it, refuses, and the rows are
    # forgotten, so the next export computes them and passes.
    started = _in_workers(monkeypatch)
    case_id = world.ids["anon"]
    with open_profile(world.coordinator.home, PASSPHRASE) as vault, vault.transaction():
        vault.conn.execute(
            "UPDATE export_gate_forms SET forms = forms || char(5) || 'not forms' "
            "WHERE case_id = ?",
            (case_id,),
        )
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    out = out_dir / "public.json"
    result = world.coordinator("export", "--profile", "public", "--out", str(out))
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "reprisal-report: error: leak gate: export refused: the kept gate forms of 1 case(s) "
        "were damaged; they were discarded and the next export computes them again; "
        "nothing was written"
    ]
    assert list(out_dir.iterdir()) == []
    summary = _export(world, out, "--profile", "public")
    assert summary["cases"] == 2
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        row = vault.conn.execute(
            "SELECT forms FROM export_gate_forms WHERE case_id = ?", (case_id,)
        ).fetchone()
    assert row is not None and "not forms" not in row[0]
    assert len(started) == 1  # the second export computed the forms, in one process


def test_an_export_whose_signature_cannot_be_written_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "public.json"
    signature = tmp_path / "public.json.minisig"
    signature.mkdir()  # the signature's name is taken: the export must not stand alone
    result = world.coordinator("export", "--out", str(out), "--profile", "public")
    assert result.exit_code == 1, result.stderr
    assert result.stderr == f"reprisal-report: error: is a directory: {signature}\n"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    # And the other way round: the export's name taken, no signature is left.
    signature.rmdir()
    out.mkdir()
    result = world.coordinator("export", "--out", str(out), "--profile", "public")
    assert result.exit_code == 1, result.stderr
    assert result.stderr == f"reprisal-report: error: is a directory: {out}\n"
    assert not signature.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
