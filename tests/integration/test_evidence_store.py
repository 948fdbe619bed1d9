"""The coordinator's evidence store: every imported bundle kept byte for byte.

Real profiles, real bundles, the real CLI: a refused bundle leaves no evidence file,
temporary file or row; the retained file is the delivered file (and, over a relay, the
file the relay's receipt names); ``triage attachment`` decrypts it again and refuses a
retained file modified on disk; ``triage evidence`` hands out the originals, which
another coordinator imports; kill -9 at the import's crash points leaves no row without
its file; an old vault still opens; ``panic`` removes the store.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from reprisal_report.crashpoints import CRASH_ENV, POINTS
from reprisal_report.vault.migrations import MIGRATIONS
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli, run_subprocess
from tests.integration.enrolment import found_org
from tests.integration.test_bundle_cli import Setup, setup_fixture  # noqa: F401
from tests.integration.test_sync_cli import World, world  # noqa: F401

ERR = "reprisal-report: error: "
NO_ORIGINAL = "no original bundle retained (imported before the evidence store)"
OLD_VAULTS = Path(__file__).resolve().parents[1] / "data" / "old-vaults"
TABLES = (
    "inbox_bundles",
    "inbox_attachments",
    "inbox_chunks",
    "triage_cases",
    "triage_verifications",
    "custody_events",
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store(cli: Cli) -> list[str]:
    """Every entry of the evidence folder (temporary copies included)."""
    folder = cli.home / "evidence"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def counts(cli: Cli) -> dict[str, int]:
    with open_profile(cli.home, PASSPHRASE) as vault:
        return {
            t: vault.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in TABLES
        }


def referenced(cli: Cli) -> list[str]:
    with open_profile(cli.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT evidence_file FROM inbox_bundles").fetchall()
    return sorted(str(r[0]) for r in rows)


def import_one(setup: Setup) -> Path:
    [bundle] = setup.seal(setup.case_id)
    setup.coordinator.ok("inbox", "import", str(bundle))
    return bundle


def test_the_retained_file_is_the_delivered_file(setup: Setup) -> None:
    bundle = import_one(setup)
    digest = sha256(bundle)
    assert store(setup.coordinator) == [f"{digest}.rrb"]
    kept = setup.coordinator.home / "evidence" / f"{digest}.rrb"
    assert kept.read_bytes() == bundle.read_bytes()
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.parent.stat().st_mode & 0o777 == 0o700
    assert referenced(setup.coordinator) == [kept.name]
    # No attachment byte in the vault any more: an index with each data record's place.
    assert counts(setup.coordinator)["inbox_chunks"] == 0
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        rows = vault.conn.execute(
            "SELECT name, size, data_offset FROM inbox_attachments ORDER BY position"
        ).fetchall()
    assert [r[0] for r in rows] == ["statement.txt", "recording.bin"]
    first, second = rows[0][2], rows[1][2]
    assert 0 < first < second and second > first + rows[0][1]
    shown = json.loads(setup.coordinator.ok("triage", "show", setup.case_id, "--json").stdout)
    assert (
        shown["original_bundle"]
        == f"retained as evidence/{kept.name} ({kept.stat().st_size} bytes)"
    )
    assert shown["bundles"][0]["evidence"] == {
        "file": f"evidence/{kept.name}",
        "size": kept.stat().st_size,
    }
    # The same bundle again is a duplicate: no second file.
    setup.coordinator.ok("inbox", "import", str(bundle))
    assert store(setup.coordinator) == [kept.name]


@pytest.mark.parametrize("damage", ["flipped", "truncated", "cut-at-chunk", "appended"])
def test_a_refused_bundle_leaves_no_file_temp_file_or_row(setup: Setup, damage: str) -> None:
    [bundle] = setup.seal(setup.case_id)
    data = bytearray(bundle.read_bytes())
    if damage == "flipped":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncated":
        del data[-100:]
    elif damage == "cut-at-chunk":
        del data[200_000:]
    else:
        data += b"\x00" * 16
    before = counts(setup.coordinator)
    suspect = setup.dir / "suspect.rrb"
    suspect.write_bytes(bytes(data))
    result = setup.coordinator("inbox", "import", str(suspect))
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith(f"{ERR}suspect.rrb: ")
    assert store(setup.coordinator) == []
    assert counts(setup.coordinator) == before
    # The intact bundle still imports afterwards.
    setup.coordinator.ok("inbox", "import", str(bundle))
    assert store(setup.coordinator) == [f"{sha256(bundle)}.rrb"]


def test_bytes_without_the_hash_they_were_fetched_under_are_refused(setup: Setup) -> None:
    """A pull imports bytes under the hash the relay listed (and the client checked);
    the hash of the bytes decrypted and kept must be that one. Driven through the
    workflow with another hash, as a fault between fetch and import would give."""
    from reprisal_report.transport import folder
    from reprisal_report.workflows import inbox as inbox_workflow

    [bundle] = setup.seal(setup.case_id)
    before = counts(setup.coordinator)
    with (
        open_profile(setup.coordinator.home, PASSPHRASE) as vault,
        folder.open_bundle_file(bundle) as handle,
    ):
        outcome = inbox_workflow._import_handle(vault, bundle, "0" * 64, handle, None)
    assert outcome.status == "failed"
    assert outcome.reason == "bundle bytes changed while they were being imported"
    assert store(setup.coordinator) == []
    assert counts(setup.coordinator) == before
    # As a file, read once: it imports; read again, it is a duplicate.
    for expected in ("imported", "duplicate"):
        with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
            assert inbox_workflow.import_bundle(vault, bundle).status == expected
    assert store(setup.coordinator) == [f"{sha256(bundle)}.rrb"]


def test_a_file_that_grows_while_it_is_imported_is_refused(setup: Setup) -> None:
    """Bytes appended during the import never enter the evidence store unverified:
    age sees them after its last chunk, or the import finds them once age is done."""
    import io

    from reprisal_report.errors import BundleTampered
    from reprisal_report.workflows import inbox as inbox_workflow

    [bundle] = setup.seal(setup.case_id)
    grown = setup.dir / "grown.rrb"
    grown.write_bytes(bundle.read_bytes())
    before = counts(setup.coordinator)

    def append_once(_count: int) -> None:
        if grown.stat().st_size == bundle.stat().st_size:
            with grown.open("ab") as handle:
                handle.write(b"appended while importing")

    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        outcome = inbox_workflow.import_bundle(vault, grown, on_bytes=append_once)
    assert outcome.status == "failed"
    assert isinstance(outcome.error, BundleTampered)
    assert store(setup.coordinator) == []
    assert counts(setup.coordinator) == before
    # Found after age was done: the reader at the end of the file must stay there.
    late = inbox_workflow._ProgressReader(io.BytesIO(b"late bytes"), None)
    with pytest.raises(BundleTampered, match="changed while it was being imported"):
        late.drain()


def test_a_duplicate_is_reported_even_when_it_would_now_be_refused(setup: Setup) -> None:
    """Found by the hash of the file once the import refused it (here: its author was
    revoked since), an already imported bundle is a duplicate, nothing changed."""
    from tests.integration.test_bundle_cli import key_id

    bundle = import_one(setup)
    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    before = counts(setup.coordinator)
    result = setup.coordinator.ok("inbox", "import", str(bundle), "--json")
    doc = json.loads(result.stdout)
    assert doc["imported"] == 0 and doc["failed"] == []
    assert doc["bundles"][0]["status"] == "duplicate"
    assert counts(setup.coordinator) == before
    assert store(setup.coordinator) == [f"{sha256(bundle)}.rrb"]


def test_a_bundle_refused_after_its_signature_leaves_nothing_either(setup: Setup) -> None:
    """Refused late (the author was revoked since), when the copy was complete."""
    from tests.integration.test_bundle_cli import key_id

    [bundle] = setup.seal(setup.case_id)
    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    before = counts(setup.coordinator)
    result = setup.coordinator("inbox", "import", str(bundle))
    assert result.exit_code == 3, result.stderr
    assert "was revoked" in result.stderr
    assert counts(setup.coordinator) == before
    assert store(setup.coordinator) == []


def test_triage_attachment_decrypts_the_retained_bundle(setup: Setup) -> None:
    import_one(setup)
    out = setup.dir / "out"
    out.mkdir()
    done = json.loads(
        setup.coordinator.ok(
            "triage",
            "attachment",
            setup.case_id,
            "--out",
            str(out),
            "--purpose",
            "legal review",
            "--json",
        ).stdout
    )
    assert sorted(p.name for p in out.iterdir()) == ["recording.bin", "statement.txt"]
    for name in ("statement.txt", "recording.bin"):
        assert sha256(out / name) == sha256(setup.dir / name)
    assert {w["sha256"] for w in done["written"]} == {
        sha256(setup.dir / n) for n in ("statement.txt", "recording.bin")
    }
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        row = vault.conn.execute(
            "SELECT detail FROM custody_events WHERE action = 'attachments-written'"
        ).fetchone()
    detail = json.loads(row[0])
    assert detail["purpose"] == "legal review" and detail["from"] == "evidence"


@pytest.mark.parametrize("change", ["flipped", "truncated", "replaced", "missing"])
def test_a_retained_bundle_modified_on_disk_is_refused(
    setup: Setup, change: str, tmp_path: Path
) -> None:
    import_one(setup)
    [name] = store(setup.coordinator)
    kept = setup.coordinator.home / "evidence" / name
    data = bytearray(kept.read_bytes())
    if change == "flipped":
        data[len(data) // 2] ^= 0x01
        kept.write_bytes(bytes(data))
    elif change == "truncated":
        kept.write_bytes(bytes(data[:-1]))
    elif change == "replaced":
        kept.unlink()
        kept.write_bytes(os.urandom(len(data)))
    else:
        kept.unlink()
    for command in ("attachment", "evidence"):
        out = tmp_path / f"out-{command}"
        out.mkdir()
        result = setup.coordinator("triage", command, setup.case_id, "--out", str(out))
        assert result.exit_code == 3, (command, result.stderr)
        first = result.stderr.splitlines()[0]
        assert first.startswith(f"{ERR}the retained bundle of case {setup.case_id} "), first
        assert first.endswith("nothing was written"), first
        assert list(out.iterdir()) == []


def test_an_existing_output_file_is_never_replaced(setup: Setup) -> None:
    import_one(setup)
    out = setup.dir / "out"
    out.mkdir()
    (out / "recording.bin").write_bytes(b"mine")
    result = setup.coordinator("triage", "attachment", setup.case_id, "--out", str(out))
    assert result.exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == ["recording.bin"]
    assert (out / "recording.bin").read_bytes() == b"mine"


def test_evidence_export_is_imported_by_a_second_coordinator(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    first, second, reporter = make_cli("coordA"), make_cli("coordB"), make_cli("rep")
    for cli, role in ((first, "coordinator"), (second, "coordinator"), (reporter, "reporter")):
        cli.ok("init", "--role", role)
    found_org(first, [second, reporter], tmp_path, "Org")
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    photo = tmp_path / "photo.bin"
    photo.write_bytes(os.urandom(70_000))
    reporter.ok("case", "attach", case_id, str(photo), "--keep-metadata")
    reporter.ok("seal", case_id)
    edited = tmp_path / "edit.json"
    doc = yaml.safe_load(EXAMPLE_CASE.read_text())
    doc["title"] = "Follow-up title"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    reporter.ok("case", "edit", case_id, "--from", str(edited))
    reporter.ok("seal", case_id)
    bundles = sorted((reporter.home / "outbox").glob("*.rrb"))
    assert len(bundles) == 2
    first.ok("inbox", "import", str(reporter.home / "outbox"))

    out = tmp_path / "court"
    out.mkdir()
    done = json.loads(
        first.ok(
            "triage", "evidence", case_id, "--out", str(out), "--purpose", "court", "--json"
        ).stdout
    )
    originals = {sha256(b): b for b in bundles}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{d}.rrb" for d in originals] + [f"case-{case_id}-evidence.json"]
    )
    for digest, original in originals.items():
        assert (out / f"{digest}.rrb").read_bytes() == original.read_bytes()
    manifest = json.loads(Path(done["manifest"]).read_text())
    assert manifest["case_id"] == case_id and manifest["not_retained"] == []
    assert {(f["name"], f["sha256"], f["size"]) for f in manifest["files"]} == {
        (f"{d}.rrb", d, p.stat().st_size) for d, p in originals.items()
    }
    assert all(f["received_at"] and f["receipt"] is None for f in manifest["files"])

    # The same coordinator finds them duplicates; the second one imports them.
    again = json.loads(first.ok("inbox", "import", str(out), "--json").stdout)
    assert (again["imported"], again["skipped"]) == (0, 2)
    taken = json.loads(second.ok("inbox", "import", str(out), "--json").stdout)
    assert (taken["imported"], taken["failed"]) == (2, [])
    assert store(second) == sorted(f"{d}.rrb" for d in originals)
    shown = json.loads(second.ok("triage", "show", case_id, "--json").stdout)
    assert shown["title"] == "Follow-up title"


def test_the_retained_file_matches_the_relay_receipt(world: World) -> None:  # noqa: F811
    [bundle_id] = world.new_sealed_cases(1)
    sent = (world.reporter.home / "outbox" / f"{bundle_id}.rrb").read_bytes()
    world.reporter.ok("sync", "push", "--to", world.relay.url)
    with open_profile(world.reporter.home, PASSPHRASE) as vault:
        [row] = vault.conn.execute("SELECT receipt, sha256 FROM outbox").fetchall()
    receipt = json.loads(row[0])
    world.coordinator.ok("sync", "pull", "--from", world.relay.url)
    digest = hashlib.sha256(sent).hexdigest()
    assert receipt["bundle_sha256"] == row[1] == digest
    assert store(world.coordinator) == [f"{digest}.rrb"]
    kept = world.coordinator.home / "evidence" / f"{digest}.rrb"
    assert kept.read_bytes() == sent


@pytest.mark.parametrize("point", ["import.after-evidence-file", "import.before-commit"])
def test_an_import_killed_at_a_crash_point_leaves_no_row_without_its_file(
    setup: Setup, point: str
) -> None:
    assert point in POINTS
    [bundle] = setup.seal(setup.case_id)
    before = counts(setup.coordinator)
    env = {**setup.coordinator.env, CRASH_ENV: point}
    killed = run_subprocess(["inbox", "import", str(bundle)], env)
    assert killed.returncode == -9, killed.stderr.decode()
    assert counts(setup.coordinator) == before  # nothing committed
    assert store(setup.coordinator) == [f"{sha256(bundle)}.rrb"]  # an orphan, no row
    # The next import removes the orphan first, then imports the bundle once.
    setup.coordinator.ok("inbox", "import", str(bundle))
    assert store(setup.coordinator) == referenced(setup.coordinator) == [f"{sha256(bundle)}.rrb"]
    assert (setup.coordinator.home / "evidence" / f"{sha256(bundle)}.rrb").read_bytes() == (
        bundle.read_bytes()
    )


def test_orphans_are_removed_at_the_next_import(setup: Setup) -> None:
    bundle = import_one(setup)
    folder = setup.coordinator.home / "evidence"
    orphan = folder / f"{'ab' * 32}.rrb"
    temp = folder / f".{'cd' * 32}.rrb.tmp-0123456789abcdef"
    foreign = folder / "notes.txt"
    for path in (orphan, temp, foreign):
        path.write_bytes(b"x")
    empty = setup.dir / "empty"
    empty.mkdir()
    setup.coordinator.ok("inbox", "import", str(empty))
    assert store(setup.coordinator) == sorted([f"{sha256(bundle)}.rrb", "notes.txt"])


def _old_vault_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_coordinator", OLD_VAULTS / "make_coordinator.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_vault_of_the_previous_release_keeps_every_case_and_attachment(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    made = _old_vault_module()
    expected = json.loads((OLD_VAULTS / "coordinator" / "expected.json").read_text())
    home = tmp_path / "old-coordinator"
    shutil.copytree(OLD_VAULTS / "coordinator", home)
    (home / "expected.json").unlink()
    os.chmod(home, 0o700)
    cli = Cli(home)
    listed = json.loads(cli.ok("triage", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [expected["case_id"]]
    shown = json.loads(cli.ok("triage", "show", expected["case_id"], "--json").stdout)
    assert shown["title"] == expected["title"]
    assert shown["attachments"] == expected["attachments"]
    assert [b["bundle_id"] for b in shown["bundles"]] == expected["bundle_ids"]
    assert shown["original_bundle"] == NO_ORIGINAL
    assert shown["bundles"][0]["evidence"] is None
    text = cli.ok("triage", "show", expected["case_id"]).stdout
    assert NO_ORIGINAL in text
    with open_profile(home, PASSPHRASE) as vault:
        assert vault.schema_version() == len(MIGRATIONS)
    out = tmp_path / "out"
    out.mkdir()
    cli.ok("triage", "attachment", expected["case_id"], "--out", str(out))
    [attachment] = expected["attachments"]
    written = out / attachment["name"]
    assert written.read_bytes() == made.fictional_bytes(expected["seed"], attachment["size"])
    assert sha256(written) == attachment["sha256"]
    court = tmp_path / "court"
    court.mkdir()
    result = cli("triage", "evidence", expected["case_id"], "--out", str(court))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{ERR}case {expected['case_id']}: {NO_ORIGINAL}"
    assert list(court.iterdir()) == []


def test_panic_removes_the_evidence_store(setup: Setup) -> None:
    import_one(setup)
    assert store(setup.coordinator)
    report = json.loads(setup.coordinator.ok("panic", "--yes", "--json").stdout)
    assert not setup.coordinator.home.exists()
    assert any(name.startswith("evidence/") for name in report["removed"])
    assert "evidence" in report["removed"]
