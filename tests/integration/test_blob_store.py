"""The reporter blob store (issue 9): attachments as padded age files under blobs/.

Real profiles, real keys, the real CLI; crashes are real SIGKILLs at named points.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
import pytest

from reprisal_report.bundle.padding import padme
from reprisal_report.crashpoints import CRASH_ENV
from reprisal_report.errors import CorruptVault
from reprisal_report.vault.attachments import list_attachments, open_attachment
from reprisal_report.vault.blobs import STORAGE_SECRET
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli, run_subprocess
from tests.integration.enrolment import found_org
from tests.integration.test_sync_cli import World, world  # noqa: F401 (fixture)

ERR = "reprisal-report: error: "
OLD_REPORTER = Path(__file__).resolve().parents[1] / "data" / "old-vaults" / "reporter"
CANARY = "CANARY-blob-store-Q4w8"


def blob_files(home: Path) -> list[Path]:
    folder = home / "blobs"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def referenced_blobs(home: Path) -> set[str]:
    with open_profile(home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT blob FROM attachments WHERE blob IS NOT NULL")
        return {r[0] for r in rows.fetchall()}


def canary_hits(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n[:20]!r}" for n in needles if n in data]
    return hits


def age_plaintext_length(blob: bytes) -> int:
    """How many plaintext bytes a binary age file carries, from its size alone (the
    header's length varies: rage adds a random grease stanza)."""
    header_end = blob.index(b"\n", blob.index(b"\n---") + 1) + 1
    payload = len(blob) - header_end - 16  # the 16-byte STREAM nonce
    chunks = max(1, -(-payload // (64 * 1024 + 16)))
    return payload - 16 * chunks


def new_case(cli: Cli) -> str:
    return cli.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()


def show(cli: Cli, case_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cli.ok("case", "show", case_id, "--json").stdout)
    return doc


def attachment_hashes(doc: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((a["name"], a["size"], a["sha256"]) for a in doc["attachments"])


# --- attach -------------------------------------------------------------------------------


def test_attach_writes_one_padded_blob_and_no_plaintext(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    line = (CANARY + " " + "КАНАРЕЙКА-blob" + "\n").encode("utf-8")
    data = line * (300_000 // len(line))
    evidence = tmp_path / "evidence.txt"
    evidence.write_bytes(data)
    reporter.ok("case", "attach", case_id, str(evidence), "--keep-metadata")

    [blob] = blob_files(reporter.home)
    assert blob.stat().st_mode & 0o777 == 0o600
    assert (reporter.home / "blobs").stat().st_mode & 0o777 == 0o700
    assert len(blob.name) == 32 and set(blob.name) <= set("0123456789abcdef")
    assert referenced_blobs(reporter.home) == {blob.name}
    # Sized by its PADMÉ bucket, not by the file: the age file of padme(len) bytes.
    assert padme(len(data)) > len(data)
    assert age_plaintext_length(blob.read_bytes()) == padme(len(data))
    assert blob.read_bytes().startswith(b"age-encryption.org/v1\n")
    needles = [CANARY.encode(), CANARY.encode("utf-16-le"), "КАНАРЕЙКА".encode(), line]
    assert canary_hits(reporter.home, needles) == []
    # A stock age file: the storage key from the vault opens it (data, then zeros).
    with open_profile(reporter.home, PASSPHRASE) as vault:
        secret = vault.get_secret(STORAGE_SECRET)
    assert secret is not None
    identity = pyrage.x25519.Identity.from_str(secret.decode())
    plain = pyrage.decrypt(blob.read_bytes(), [identity])
    assert plain == data + bytes(padme(len(data)) - len(data))
    [row] = show(reporter, case_id)["attachments"]
    assert (row["size"], row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())


def test_files_in_one_bucket_make_blobs_of_one_size(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    paths = []
    for size in (100_000, 100_300):  # both pad to 100 352 bytes
        path = tmp_path / f"f{size}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(str(path))
    reporter.ok("case", "attach", case_id, *paths, "--keep-metadata")
    blobs = blob_files(reporter.home)
    assert len(blobs) == 2
    assert {age_plaintext_length(p.read_bytes()) for p in blobs} == {padme(100_000)}
    assert padme(100_000) == padme(100_300) == 100_352


def test_empty_file_is_stored_and_read_back(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    reporter.ok("case", "attach", case_id, str(empty), "--keep-metadata")
    with open_profile(reporter.home, PASSPHRASE) as vault:
        [row] = list_attachments(vault, case_id)
        with open_attachment(vault, row) as stream:
            assert stream.read() == b""


# --- seal -----------------------------------------------------------------------------------


@dataclass
class Org:
    coordinator: Cli
    reporter: Cli
    dir: Path

    def identity_file(self) -> Path:
        """The coordinator's age identity, written out for stock ``age -d``."""
        from reprisal_report.identity.keys import age_identity_text

        with open_profile(self.coordinator.home, PASSPHRASE) as vault:
            text = age_identity_text(vault)
        assert text is not None
        path = self.dir / "coordinator.agekey"
        path.write_text(text + "\n")
        path.chmod(0o600)
        return path


def make_org(make_cli: Callable[[str], Cli], tmp_path: Path, reporter: Cli) -> Org:
    coordinator = make_cli("coord")
    coordinator.ok("init", "--role", "coordinator")
    found_org(coordinator, [reporter], tmp_path, "Org B")
    return Org(coordinator, reporter, tmp_path)


def seal_one(cli: Cli, case_id: str) -> Path:
    [bundle] = json.loads(cli.ok("seal", case_id, "--json").stdout)["bundles"]
    return cli.home / "outbox" / f"{bundle['id']}.rrb"


def test_seal_streams_from_blobs_to_a_coordinator_import(
    reporter: Cli, make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    org = make_org(make_cli, tmp_path, reporter)
    case_id = new_case(reporter)
    files = {"statement.txt": os.urandom(1000), "recording.bin": os.urandom(2 * 1024 * 1024 + 7)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    reporter.ok("case", "attach", case_id, *(str(tmp_path / n) for n in files), "--keep-metadata")
    expected = sorted((n, len(d), hashlib.sha256(d).hexdigest()) for n, d in files.items())
    assert attachment_hashes(show(reporter, case_id)) == expected
    bundle = seal_one(reporter, case_id)
    # Stock age opens the bundle, and the container carries each file verbatim.
    container = subprocess.run(
        ["age", "-d", "-i", str(org.identity_file()), str(bundle)], capture_output=True, check=True
    ).stdout
    assert all(data in container for data in files.values())
    org.coordinator.ok("inbox", "import", str(bundle))
    detail = json.loads(org.coordinator.ok("triage", "show", case_id, "--json").stdout)
    assert sorted((a["name"], a["size"], a["sha256"]) for a in detail["attachments"]) == expected


def test_a_damaged_or_missing_blob_stops_seal(
    reporter: Cli, make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    make_org(make_cli, tmp_path, reporter)
    case_id = new_case(reporter)
    evidence = tmp_path / "evidence.bin"
    evidence.write_bytes(os.urandom(200_000))
    reporter.ok("case", "attach", case_id, str(evidence), "--keep-metadata")
    [blob] = blob_files(reporter.home)
    original = blob.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0x01
    blob.write_bytes(bytes(damaged))
    result = reporter("seal", case_id)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}the stored file of an attachment of case {case_id} is damaged"
    )
    assert list((reporter.home / "outbox").iterdir()) == []
    blob.unlink()
    result = reporter("seal", case_id)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}the stored file of an attachment of case {case_id} is missing"
    )
    assert list((reporter.home / "outbox").iterdir()) == []
    blob.write_bytes(original)
    seal_one(reporter, case_id)


# --- crash safety and orphans -------------------------------------------------------------


@pytest.mark.parametrize("point", ["attach.after-blob", "attach.before-commit"])
def test_kill_during_attach_leaves_no_reference_to_a_missing_file(
    point: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = subprocess_env
    home = Path(env["REPRISAL_REPORT_HOME"])
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    made = run_subprocess(["case", "new", "--from", str(EXAMPLE_CASE)], env)
    case_id = made.stdout.decode().strip()
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    first.write_bytes(os.urandom(70_000))
    second.write_bytes(os.urandom(90_000))
    killed = run_subprocess(
        ["case", "attach", case_id, str(first), str(second), "--keep-metadata"],
        {**env, CRASH_ENV: point},
    )
    assert killed.returncode == -9, killed.stderr
    # Nothing committed: no row, so nothing referenced is missing; the blob(s) on disk
    # are orphans (after-blob: the first file's; before-commit: both).
    assert referenced_blobs(home) == set()
    orphans = blob_files(home)
    assert len(orphans) == (1 if point == "attach.after-blob" else 2)
    # A reading command leaves them (it does not hold the write lock) ...
    listed = run_subprocess(["case", "show", case_id, "--json"], env)
    assert json.loads(listed.stdout)["attachments"] == []
    assert blob_files(home) == orphans
    # ... the next writing command removes them, then does its own work.
    again = run_subprocess(["case", "attach", case_id, str(first), "--keep-metadata"], env)
    assert again.returncode == 0, again.stderr
    [kept] = blob_files(home)
    assert kept not in orphans and referenced_blobs(home) == {kept.name}


def test_a_temporary_blob_left_by_a_crash_is_removed_at_the_next_writing_open(
    reporter: Cli, tmp_path: Path
) -> None:
    case_id = new_case(reporter)
    evidence = tmp_path / "a.bin"
    evidence.write_bytes(os.urandom(1000))
    reporter.ok("case", "attach", case_id, str(evidence), "--keep-metadata")
    [blob] = blob_files(reporter.home)
    leftover = reporter.home / "blobs" / f".{'0' * 32}.tmp-0123456789abcdef"
    leftover.write_bytes(b"partial age file")
    reporter.ok("case", "list")
    assert leftover.exists()
    reporter.ok("settings", "purge-after-delivery", "on")  # any writing command
    assert blob_files(reporter.home) == [blob]


# --- purge and panic ----------------------------------------------------------------------


def test_purge_after_delivery_removes_the_case_blobs(world: World) -> None:  # noqa: F811
    reporter = world.reporter
    keep_id, purge_id = new_case(reporter), new_case(reporter)
    for case_id in (keep_id, purge_id):
        path = world.dir / f"{case_id}.bin"
        path.write_bytes(os.urandom(50_000))
        reporter.ok("case", "attach", case_id, str(path), "--keep-metadata")
    with open_profile(reporter.home, PASSPHRASE) as vault:
        [kept] = [a.blob for a in list_attachments(vault, keep_id)]
    reporter.ok("seal", purge_id)
    pushed = json.loads(reporter.ok("sync", "push", "--to", world.relay.url, "--json").stdout)
    assert pushed["purged"] == [purge_id]
    assert show(reporter, purge_id)["attachments"] == []
    assert [p.name for p in blob_files(reporter.home)] == [kept]
    assert referenced_blobs(reporter.home) == {kept}


def test_panic_removes_the_blobs_after_the_key(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    evidence = tmp_path / "a.bin"
    evidence.write_bytes(os.urandom(5000))
    reporter.ok("case", "attach", case_id, str(evidence), "--keep-metadata")
    [blob] = blob_files(reporter.home)
    report = json.loads(reporter.ok("panic", "--yes", "--json").stdout)
    assert report["key_destroyed"] is True and report["failed"] == []
    removed = report["removed"]
    assert removed[0] == "keyfile.json"
    assert f"blobs/{blob.name}" in removed and "blobs" in removed
    assert removed.index("keyfile.json") < removed.index(f"blobs/{blob.name}")
    assert not reporter.home.exists()


# --- migration from a vault of the previous release -----------------------------------------


def old_profile(home: Path) -> dict[str, Any]:
    home.mkdir(mode=0o700)
    for name in ("vault.db", "keyfile.json"):
        shutil.copyfile(OLD_REPORTER / name, home / name)
        (home / name).chmod(0o600)
    expected: dict[str, Any] = json.loads((OLD_REPORTER / "expected.json").read_text())
    return expected


def test_a_vault_of_the_previous_release_opens_with_every_case_and_attachment(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    reporter = make_cli("old-reporter")
    expected = old_profile(reporter.home)
    listed = json.loads(reporter.ok("case", "list", "--json").stdout)
    assert sorted(c["id"] for c in listed) == sorted(c["id"] for c in expected["cases"])
    for case in expected["cases"]:
        doc = show(reporter, str(case["id"]))
        assert (doc["state"], doc["title"]) == (case["state"], case["title"])
        assert attachment_hashes(doc) == attachment_hashes(case)
    old_case = expected["cases"][0]
    old_id = str(old_case["id"])
    # The old attachments stay where they were (chunks), readable with their hashes.
    with open_profile(reporter.home, PASSPHRASE) as vault:
        rows = list_attachments(vault, old_id)
        assert [r.blob for r in rows] == [None, None]
        for row in rows:
            with open_attachment(vault, row) as stream:
                assert hashlib.sha256(stream.read()).hexdigest() == row.sha256
    assert blob_files(reporter.home) == []
    # A new attachment on the old case goes to a blob; seal carries old and new.
    org = make_org(make_cli, tmp_path, reporter)
    new_file = tmp_path / "new.bin"
    new_file.write_bytes(os.urandom(80_000))
    reporter.ok("case", "attach", old_id, str(new_file), "--keep-metadata")
    assert len(blob_files(reporter.home)) == 1
    want = attachment_hashes(show(reporter, old_id))
    assert len(want) == 3
    bundle = seal_one(reporter, old_id)
    org.coordinator.ok("inbox", "import", str(bundle))
    detail = json.loads(org.coordinator.ok("triage", "show", old_id, "--json").stdout)
    assert sorted((a["name"], a["size"], a["sha256"]) for a in detail["attachments"]) == want


# --- the forked reader --------------------------------------------------------------------


def _children_of_this_process() -> list[str]:
    """Processes (zombies included) whose parent is this test process."""
    mine = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == os.getpid():
            mine.append(f"{stat_file.parent.name} {fields[0]}")
    return mine


def _rewrite_blob(home: Path, plaintext: bytes) -> None:
    """Replace the profile's one blob with ``plaintext`` encrypted to its storage key."""
    with open_profile(home, PASSPHRASE) as vault:
        secret = vault.get_secret(STORAGE_SECRET)
    assert secret is not None
    identity = pyrage.x25519.Identity.from_str(secret.decode("ascii"))
    [blob] = blob_files(home)
    blob.write_bytes(pyrage.encrypt(plaintext, [identity.to_public()]))


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        (b"\x01", "a byte after the attachment that is not padding"),
        (None, "fewer bytes than the row records"),
    ],
)
def test_a_blob_that_authenticates_but_holds_other_bytes_is_damaged(
    reporter: Cli, tmp_path: Path, tail: bytes | None, why: str
) -> None:
    case_id = new_case(reporter)
    data = os.urandom(70_000)
    (tmp_path / "a.bin").write_bytes(data)
    reporter.ok("case", "attach", case_id, str(tmp_path / "a.bin"), "--keep-metadata")
    padding = padme(len(data)) - len(data)
    plaintext = data[:-1] if tail is None else data + bytes(padding - 1) + tail
    _rewrite_blob(reporter.home, plaintext)
    with open_profile(reporter.home, PASSPHRASE) as vault:
        [row] = list_attachments(vault, case_id)
        with open_attachment(vault, row) as stream, pytest.raises(CorruptVault) as caught:
            stream.read()
    damaged = f"the stored file of an attachment of case {case_id} is damaged"
    assert str(caught.value) == damaged, why
    assert _children_of_this_process() == []


def test_a_reader_closed_early_leaves_no_child_behind(reporter: Cli, tmp_path: Path) -> None:
    case_id = new_case(reporter)
    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "a.bin").write_bytes(data)
    reporter.ok("case", "attach", case_id, str(tmp_path / "a.bin"), "--keep-metadata")
    with open_profile(reporter.home, PASSPHRASE) as vault:
        [row] = list_attachments(vault, case_id)
        stream = open_attachment(vault, row)
        assert stream.read(1000) == data[:1000]
        assert len(_children_of_this_process()) == 1  # the decrypting child, still writing
        stream.close()
        assert _children_of_this_process() == []
        with open_attachment(vault, row) as again:
            assert hashlib.sha256(again.read()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert _children_of_this_process() == []


def test_blobs_swapped_on_disk_stop_seal_and_nothing_is_sealed(
    reporter: Cli, make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    """Two attachments of one size: each blob authenticates under the storage key and
    holds the right number of bytes, yet not the bytes its row records."""
    make_org(make_cli, tmp_path, reporter)
    case_id = new_case(reporter)
    for name in ("one.bin", "two.bin"):
        (tmp_path / name).write_bytes(os.urandom(300_000))
    reporter.ok("case", "attach", case_id, str(tmp_path / "one.bin"), "--keep-metadata")
    reporter.ok("case", "attach", case_id, str(tmp_path / "two.bin"), "--keep-metadata")
    first, second = blob_files(reporter.home)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    result = reporter("seal", case_id)
    assert result.exit_code == 3, result.stderr
    assert result.stderr.splitlines()[0] == f"{ERR}attachment 1 does not match its recorded sha-256"
    assert list((reporter.home / "outbox").iterdir()) == []
    assert _children_of_this_process() == []
    first.write_bytes(a)
    second.write_bytes(b)
    seal_one(reporter, case_id)
