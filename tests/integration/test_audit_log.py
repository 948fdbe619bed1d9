"""The custody log through the real CLI: clean logs verify, every single-entry tampering
is named, revoked keys and rewritten history fail, and no case content gets in."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from nacl.signing import SigningKey

from reprisal_report import clock
from reprisal_report.audit.checkpoint import log_origin
from reprisal_report.audit.note import checkpoint_text, sign_note
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.identity.keys import signing_key
from reprisal_report.model.canonical import canonical_json
from reprisal_report.protocol.merkle import MerkleTree
from reprisal_report.vault.custody import ENTRY_DOMAIN
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.enrolment import found_org

ERR = "reprisal-report: error: the custody log does not verify: "
CANARIES = {
    "title": "CANARY-TITLE-Qx81",
    "location": "CANARY-LOCATION-Zp02",
    "perpetrator": "CANARY-PERP-Lm33",
    "victim": "CANARY-VICTIM-Hk47",
    "alias": "CANARY-ALIAS-Wd59",
    "contact": "CANARY-CONTACT-Rb66",
    "organisation": "CANARY-ORG-Ts70",
    "narrative": "CANARY-NARRATIVE-Jc85",
    "summary": "CANARY-SUMMARY-Vn91",
    "body": "CANARY-BODY-Ge12",
    "note": "CANARY-NOTE-Uy23",
    "attachment": "CANARY-ATTACH-Fo34",
    "purpose": "CANARY-PURPOSE-Ki45",
}


def _record() -> dict[str, Any]:
    record: dict[str, Any] = yaml.safe_load(EXAMPLE_CASE.read_text(encoding="utf-8"))
    record["title"] = CANARIES["title"]
    record["location"] = CANARIES["location"]
    record["narrative"] = CANARIES["narrative"]
    record["public_summary"] = CANARIES["summary"]
    record["cooperation"][0]["body"] = CANARIES["body"]
    record["perpetrators"] = [{"type": "police", "name": CANARIES["perpetrator"]}]
    victim = record["victims"][0]
    victim.update(
        name=CANARIES["victim"],
        aliases=[CANARIES["alias"]],
        contact=CANARIES["contact"],
        organisation=CANARIES["organisation"],
    )
    return record


@dataclass
class Org:
    coordinator: Cli
    reporter: Cli
    dir: Path
    case_id: str

    def log(self, who: Cli, name: str, *args: str) -> Path:
        path = self.dir / name
        who.ok("audit", "log", "--out", str(path), *args)
        return path

    def history(self) -> Path:
        path = self.dir / "history.jsonl"
        self.coordinator.ok("org", "history", "--out", str(path))
        return path

    def verify(self, log: Path, *args: str) -> Any:
        # An auditor needs no profile: this home does not exist.
        auditor = Cli(self.dir / "no-profile-here")
        return auditor("audit", "verify-log", str(log), "--org", str(self.history()), *args)


@pytest.fixture
def org(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[Org]:
    coordinator, reporter = make_cli("coordinator"), make_cli("reporter")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    found_org(coordinator, [reporter], tmp_path, "Audit Org")
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(_record()), encoding="utf-8")
    case_id = reporter.ok("case", "new", "--from", str(case_file)).stdout.strip()
    attachment = tmp_path / f"{CANARIES['attachment']}.txt"
    attachment.write_text("evidence text\n", encoding="utf-8")
    reporter.ok("case", "attach", case_id, str(attachment), "--keep-metadata")
    reporter.ok("seal", case_id)
    out = tmp_path / "stick"
    out.mkdir()
    reporter.ok("sync", "push", "--to", str(out))
    coordinator.ok("inbox", "import", str(out))
    coordinator.ok("triage", "set", case_id, "--status", "under_review", "--note", CANARIES["note"])
    written = tmp_path / "written"
    written.mkdir()
    coordinator.ok(
        "triage", "attachment", case_id, "--out", str(written), "--purpose", CANARIES["purpose"]
    )
    yield Org(coordinator, reporter, tmp_path, case_id)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _fails(org: Org, log: Path, where: str, reason: str, *args: str) -> None:
    result = org.verify(log, *args)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stdout.splitlines()[-1] == f"FAIL: {where}: {reason}"
    assert result.stderr.splitlines() == [ERR + f"{where}: {reason}"]


def test_clean_logs_of_both_roles_verify_without_a_profile(org: Org) -> None:
    for who, role in ((org.coordinator, "coordinator"), (org.reporter, "reporter")):
        log = org.log(who, f"{role}.jsonl")
        result = org.verify(log)
        assert result.exit_code == 0, result.stdout
        lines = result.stdout.splitlines()
        assert lines[-1] == "OK"
        assert lines[0].startswith("custody log reprisal-report/custody/")
        assert any(line.startswith("signer ") and f"({role}," in line for line in lines)
    doc = json.loads(org.verify(org.log(org.reporter, "r.jsonl"), "--json").stdout)
    assert doc["ok"] is True and doc["failure"] is None
    assert doc["events"] == {
        "attached": 1,
        "created": 1,
        "delivered": 1,
        "org-joined": 1,
        "profile-created": 1,
        "sealed": 1,
    }
    assert doc["first"] == 0 and doc["size"] == 6 and doc["org"]["card_versions"] == [1, 2]


def test_the_log_holds_no_case_content(org: Org) -> None:
    for who in (org.coordinator, org.reporter):
        text = org.log(who, f"{who.home.name}.jsonl").read_bytes()
        for canary in CANARIES.values():
            assert canary.encode() not in text
            assert canary.lower().encode() not in text
    # The purpose is committed to, not written: the coordinator can show it and its hash.
    coordinator_log = (org.dir / "coordinator.jsonl").read_text(encoding="utf-8")
    purpose = hashlib.sha256(CANARIES["purpose"].encode()).hexdigest()
    assert f'"purpose_sha256":"{purpose}"' in coordinator_log


def test_a_later_longer_log_extends_an_earlier_one(org: Org) -> None:
    old = org.log(org.coordinator, "old.jsonl")
    old_size = len(_lines(old)) - 2  # header and one checkpoint
    org.coordinator.ok("triage", "set", org.case_id, "--status", "verified")
    new = org.log(org.coordinator, "new.jsonl")
    result = org.verify(new, "--since", str(old))
    assert result.exit_code == 0, result.stdout
    assert f"extends the earlier log of {old_size} entries" in result.stdout
    # Two checkpoints now, and the proof from the first to the second.
    assert [json.loads(line)["type"] for line in _lines(new)][-3:] == [
        "checkpoint",
        "checkpoint",
        "consistency",
    ]
    # Only the new entries, checked against the earlier log they continue.
    tail = org.log(org.coordinator, "tail.jsonl", "--since", str(old_size))
    assert org.verify(tail, "--since", str(old)).exit_code == 0
    _fails(
        org,
        tail,
        "entry 0",
        f"not in this log, which starts at entry {old_size}: verify it with the earlier "
        "log it continues",
    )
    # An earlier log longer than the new one: the new one dropped entries.
    new_size = json.loads(_lines(new)[0])["size"]
    _fails(
        org,
        old,
        f"entry {old_size}",
        f"missing: the earlier log holds {new_size} entries, this one {old_size}",
        "--since",
        str(new),
    )


@pytest.fixture
def clean(org: Org) -> tuple[Org, list[bytes]]:
    log = org.log(org.reporter, "clean.jsonl")
    return org, _lines(log)


def _entry(line: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(line)
    return doc


def _relined(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc)


def test_deleting_an_entry_names_it(clean: tuple[Org, list[bytes]]) -> None:
    org, lines = clean
    del lines[3]  # entry 2
    _fails(org, _write(org.dir / "m.jsonl", lines), "entry 2", "missing (entry 3 is in its place)")


def test_reordering_entries_names_the_first(clean: tuple[Org, list[bytes]]) -> None:
    org, lines = clean
    lines[2], lines[3] = lines[3], lines[2]
    _fails(org, _write(org.dir / "m.jsonl", lines), "entry 1", "missing (entry 2 is in its place)")


def test_editing_an_entry_names_it(clean: tuple[Org, list[bytes]]) -> None:
    org, lines = clean
    doc = _entry(lines[4])  # entry 3
    doc["entry"]["case_id"] = "aaaaaaaaaaaaaaaa"
    lines[4] = _relined(doc)
    path = _write(org.dir / "m.jsonl", lines)
    _fails(org, path, "entry 3", "its hash does not match its content")
    doc["hash"] = hashlib.sha256(canonical_json(doc["entry"])).hexdigest()
    lines[4] = _relined(doc)
    actor = doc["entry"]["actor"]
    _fails(
        org,
        _write(path, lines),
        "entry 3",
        f"the signature by key {actor} does not verify",
    )


def test_truncating_an_entry_names_it(clean: tuple[Org, list[bytes]]) -> None:
    org, original = clean
    lines = list(original)
    lines[3] = lines[3][: len(lines[3]) // 2]
    path = _write(org.dir / "m.jsonl", lines)
    _fails(org, path, "entry 2", "not a line of a custody log (canonical JSON)")
    # The file cut in the middle of an entry, nothing after it.
    data = b"".join(line + b"\n" for line in original)
    cut = data.index(original[3]) + 40
    path.write_bytes(data[:cut])
    _fails(org, path, "entry 2", "not a line of a custody log (canonical JSON)")
    # Cut after entry 2: the header still counts them all.
    _write(path, original[:4])
    _fails(org, path, "entry 3", "missing (the log's header counts 6 entries)")


def test_resigning_with_an_unenrolled_key_names_the_entry(clean: tuple[Org, list[bytes]]) -> None:
    org, lines = clean
    stranger = SigningKey.generate()
    doc = _entry(lines[5])  # entry 4
    doc["entry"]["actor"] = key_id(bytes(stranger.verify_key))
    data = canonical_json(doc["entry"])
    doc["hash"] = hashlib.sha256(data).hexdigest()
    doc["signature"] = base64.b64encode(stranger.sign(ENTRY_DOMAIN + data).signature).decode()
    lines[5] = _relined(doc)
    _fails(
        org,
        _write(org.dir / "m.jsonl", lines),
        "entry 4",
        f"signed by key {doc['entry']['actor']}, which no version of the org card lists",
    )


def test_a_key_revoked_before_the_event_fails(org: Org) -> None:
    reporter_key = json.loads(org.reporter.ok("id", "show", "--json").stdout)["key_id"]
    # Revoked a minute after the reporter's earlier events: an event in the very second
    # of a revocation counts as after it (the verifier refuses rather than guess).
    revoking = clock.now() + timedelta(minutes=1)
    clock.set_clock(lambda: revoking)
    try:
        org.coordinator.ok("org", "revoke", reporter_key)
    finally:
        clock.set_clock(None)
    before = len(_lines(org.log(org.reporter, "before.jsonl"))) - 2
    later = clock.now() + timedelta(days=1)
    clock.set_clock(lambda: later)
    try:
        org.reporter.ok("case", "new", "--from", str(org.dir / "case.json"))
    finally:
        clock.set_clock(None)
    log = org.log(org.reporter, "after.jsonl")
    revoked_at = json.loads(org.coordinator.ok("org", "show", "--json").stdout)["members"][-1][
        "revoked_at"
    ]
    stamp = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    _fails(
        org,
        log,
        f"entry {before}",
        f"signed by key {reporter_key}, revoked at {revoked_at}, before {stamp}",
    )


def _rewrite(lines: list[bytes], key: SigningKey, at: int) -> list[bytes]:
    """What the holder of the key could do: change entry ``at``, re-sign it and every
    later entry, and sign fresh checkpoints. It verifies alone; not against an earlier log."""
    entries = [_entry(line)["entry"] for line in lines if _entry(line)["type"] == "entry"]
    entries[at]["detail"] = {"bundle_id": "forged"}
    out: list[bytes] = []
    prev: str | None = None
    leaves = []
    for entry in entries:
        entry["prev"] = prev
        data = canonical_json(entry)
        prev = hashlib.sha256(data).hexdigest()
        leaves.append(data)
        sig = base64.b64encode(key.sign(ENTRY_DOMAIN + data).signature).decode()
        out.append(
            canonical_json({"type": "entry", "entry": entry, "hash": prev, "signature": sig})
        )
    origin = log_origin(key_id(bytes(key.verify_key)))
    tree = MerkleTree(leaves)
    note = sign_note(checkpoint_text(origin, tree.size, tree.root()), origin, key)
    header = _entry(lines[0])
    return [
        canonical_json(header),
        *out,
        canonical_json({"type": "checkpoint", "size": tree.size, "note": note}),
    ]


def test_a_later_log_that_rewrites_history_fails(org: Org) -> None:
    old = org.log(org.reporter, "old.jsonl")
    with open_profile(org.reporter.home, PASSPHRASE) as vault:
        key = signing_key(vault)
    forged = _write(org.dir / "forged.jsonl", _rewrite(_lines(old), key, 3))
    assert org.verify(forged).exit_code == 0  # the holder's key signs anything it likes
    _fails(
        org,
        forged,
        "entry 3",
        "differs from the earlier log: history was rewritten",
        "--since",
        str(old),
    )


def test_a_single_card_file_is_a_history_of_one_version(org: Org) -> None:
    card = org.dir / "org.json"  # written by found_org: the latest version
    log = org.log(org.reporter, "r.jsonl")
    auditor = Cli(org.dir / "nobody")
    result = auditor("audit", "verify-log", str(log), "--org", str(card))
    assert result.exit_code == 0, result.stdout
    # The coordinator's entries from before this card version too.
    log = org.log(org.coordinator, "c.jsonl")
    result = auditor("audit", "verify-log", str(log), "--org", str(card))
    assert result.exit_code == 0, result.stdout
    history = org.history().read_bytes()
    assert history.count(b"\n") == 2 and history.endswith(card.read_bytes())
    bad = org.dir / "bad-history"
    bad.write_bytes(card.read_bytes() + history.split(b"\n")[0] + b"\n")
    result = auditor("audit", "verify-log", str(log), "--org", str(bad))
    assert result.exit_code == 3
    assert result.stderr.startswith("reprisal-report: error: org card history, card 2: ")


def test_verify_receipts_checks_kept_evidence(org: Org) -> None:
    result = org.coordinator("audit", "verify-receipts")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "OK"
    assert "kept unchanged" in result.stdout
    assert "bundles imported from a folder" in result.stderr
    assert "no relay receipt is stored for this bundle" in result.stdout
    folder = org.coordinator.home / "evidence"
    kept = next(folder.glob("*.rrb"))
    kept.write_bytes(kept.read_bytes() + b"x")
    result = org.coordinator("audit", "verify-receipts", "--json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert [i["reason"] for i in doc["items"] if i["status"] == "failed"] == [
        "the kept bundle file changed since import"
    ]
    # A reporter that delivered only to a folder holds no receipt: nothing fails.
    result = org.reporter("audit", "verify-receipts")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["OK"]


OLD_REPORTER = Path(__file__).resolve().parents[1] / "data" / "old-vaults" / "reporter"


def test_events_of_an_earlier_release_become_signed_migrated_entries(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    reporter = make_cli("old-reporter")
    reporter.home.mkdir(mode=0o700)
    for name in ("vault.db", "keyfile.json"):
        shutil.copyfile(OLD_REPORTER / name, reporter.home / name)
        (reporter.home / name).chmod(0o600)
    with open_profile(reporter.home, PASSPHRASE) as vault:
        events = vault.conn.execute("SELECT count(*) FROM custody_events").fetchone()[0]
        public = signing_key(vault).verify_key
    log = tmp_path / "old.jsonl"
    reporter.ok("audit", "log", "--out", str(log))
    entries = [_entry(line) for line in _lines(log) if _entry(line)["type"] == "entry"]
    assert len(entries) == events > 0
    prev = None
    for doc in entries:
        entry = doc["entry"]
        assert "migrated" in entry and entry["prev"] == prev
        data = canonical_json(entry)
        public.verify(ENTRY_DOMAIN + data, base64.b64decode(doc["signature"]))
        prev = hashlib.sha256(data).hexdigest()


def test_a_file_that_is_not_a_log_is_named_as_such_in_the_summary(org: Org) -> None:
    other = _write(org.dir / "notes.txt", [b"hello"])
    result = org.verify(other)
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "custody log: no valid header, no entry read"
    assert lines[-1] == "FAIL: header: not a line of a custody log (canonical JSON)"
    header = _lines(org.log(org.reporter, "r.jsonl"))[0]
    doc = json.loads(header)
    result = org.verify(_write(org.dir / "header.jsonl", [header]))
    assert result.exit_code == 3
    assert result.stdout.splitlines()[0] == (
        f"custody log {doc['origin']}: no entry of {doc['size']}"
    )
