"""Reporter-side hardening (issue 8): multi-org push, purge of unsent work, hostile
attachment names, seal --all and --org, the profile write lock, TIFF bombs, and
deterministic crash points in attach and seal.

Everything runs against real profiles, real keys, the real CLI and real relays on
127.0.0.1; crashes are real SIGKILLs at named points in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reprisal_report.bundle.padding import padme
from reprisal_report.model.filenames import attachment_name_problem, safe_file_name
from reprisal_report.vault.attachments import store_attachment
from reprisal_report.vault.lock import profile_lock
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli, run_subprocess
from tests.integration.enrolment import enroll_args
from tests.integration.test_sync_cli import RelayProcess, _env, free_port

ERR = "reprisal-report: error: "


@dataclass
class Org:
    org_id: str
    coordinator: Cli
    relay: RelayProcess
    card: Path


def _make_org(name: str, make_cli: Callable[[str], Cli], tmp_path: Path, reporter: Cli) -> Org:
    coordinator = make_cli(f"coord-{name}")
    coordinator.ok("init", "--role", "coordinator")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    relay_dir, relay_id = tmp_path / f"relay-{name}", tmp_path / f"relay-{name}.id"
    coordinator.ok("relay", "init", "--data", str(relay_dir), "--card-out", str(relay_id))
    created = json.loads(
        coordinator.ok("org", "create", "--name", name, "--relay", url, "--json").stdout
    )
    rep_card = tmp_path / f"rep-for-{name}.id"
    reporter.ok("id", "card", "--out", str(rep_card))
    coordinator.ok("org", "enroll", *enroll_args(rep_card))
    coordinator.ok("org", "enroll", *enroll_args(relay_id))
    card = tmp_path / f"org-{name}.json"
    coordinator.ok("org", "card", "--out", str(card))
    reporter.ok("org", "join", str(card), "--fingerprint", created["root_fingerprint"])
    relay = RelayProcess(relay_dir, card, port, _env())
    relay.start()
    return Org(_org_id_of(reporter, name), coordinator, relay, card)


def _org_id_of(reporter: Cli, name: str) -> str:
    with open_profile(reporter.home, PASSPHRASE) as vault:
        row = vault.conn.execute("SELECT org_id FROM orgs WHERE name = ?", (name,)).fetchone()
    return str(row[0])


@pytest.fixture
def two_orgs(
    make_cli: Callable[[str], Cli], tmp_path: Path, reporter: Cli
) -> Iterator[tuple[Org, Org]]:
    a = _make_org("Org A", make_cli, tmp_path, reporter)
    try:
        b = _make_org("Org B", make_cli, tmp_path, reporter)
        try:
            yield a, b
        finally:
            b.relay.kill()
    finally:
        a.relay.kill()


@pytest.fixture
def one_org(make_cli: Callable[[str], Cli], tmp_path: Path, reporter: Cli) -> Iterator[Org]:
    org = _make_org("Org A", make_cli, tmp_path, reporter)
    try:
        yield org
    finally:
        org.relay.kill()


def _new_case(cli: Cli, *extra: str) -> str:
    return cli.ok("case", "new", "--from", str(EXAMPLE_CASE), *extra).stdout.strip()


def _cases(cli: Cli) -> dict[str, dict[str, object]]:
    return {c["id"]: c for c in json.loads(cli.ok("case", "list", "--json").stdout)}


def _outbox(cli: Cli) -> dict[str, tuple[str, str]]:
    with open_profile(cli.home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_id, org_id, state FROM outbox").fetchall()
    return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}


# --- flaw 2: multi-org push ---------------------------------------------------------------


def test_push_to_one_orgs_relay_sends_and_purges_only_that_orgs_bundles(
    reporter: Cli, two_orgs: tuple[Org, Org]
) -> None:
    a, b = two_orgs
    case_a = _new_case(reporter, "--org", a.org_id)
    case_b = _new_case(reporter, "--org", b.org_id)
    reporter.ok("seal", "--all")
    pushed = reporter("sync", "push", "--to", b.relay.url, "--json")
    assert pushed.exit_code == 0, pushed.stderr
    doc = json.loads(pushed.stdout)
    assert (doc["delivered"], doc["pending"], doc["purged"]) == (1, 1, [case_b])
    assert "1 bundle(s) for orgs this relay does not serve stay pending" in pushed.stderr
    cases = _cases(reporter)
    assert cases[case_a]["state"] == "sealed" and cases[case_a]["title"]
    assert cases[case_b]["state"] == "purged"
    states = {org: state for org, state in _outbox(reporter).values()}
    assert states == {a.org_id: "pending", b.org_id: "delivered"}
    # B's coordinator got B's bundle only; A's goes to A's relay on the next push.
    pulled = json.loads(b.coordinator.ok("sync", "pull", "--from", b.relay.url, "--json").stdout)
    assert pulled["imported"] == 1
    again = json.loads(reporter.ok("sync", "push", "--to", a.relay.url, "--json").stdout)
    assert (again["delivered"], again["pending"], again["purged"]) == (1, 0, [case_a])


def test_folder_push_with_bundles_for_two_orgs_needs_the_org(
    reporter: Cli, two_orgs: tuple[Org, Org], tmp_path: Path
) -> None:
    a, b = two_orgs
    _new_case(reporter, "--org", a.org_id)
    _new_case(reporter, "--org", b.org_id)
    reporter.ok("seal", "--all")
    usb = tmp_path / "usb"
    usb.mkdir()
    refused = reporter("sync", "push", "--to", str(usb))
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[0] == (
        f"{ERR}the pending bundles are addressed to 2 orgs; a folder is delivered to one org"
    )
    assert list(usb.iterdir()) == []
    doc = json.loads(
        reporter.ok("sync", "push", "--to", str(usb), "--org", a.org_id, "--json").stdout
    )
    assert (doc["delivered"], doc["pending"]) == (1, 1)
    assert len(list(usb.iterdir())) == 1


# --- flaw 4: purge destroys unsent work ----------------------------------------------------


def test_edit_after_seal_then_push_keeps_the_case_with_its_edits(
    reporter: Cli, one_org: Org, tmp_path: Path
) -> None:
    case_id = _new_case(reporter)
    reporter.ok("seal", case_id)
    record = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    edited = {
        k: v
        for k, v in record.items()
        if k not in {"id", "state", "org_id", "revision", "created_at", "updated_at", "attachments"}
    }
    edited["title"] = "Edited after sealing"
    path = tmp_path / "edit.json"
    path.write_text(json.dumps(edited))
    reporter.ok("case", "edit", case_id, "--from", str(path))
    assert _cases(reporter)[case_id]["needs_sealing"] is True
    pushed = reporter("sync", "push", "--to", one_org.relay.url, "--json")
    assert pushed.exit_code == 0, pushed.stderr
    assert json.loads(pushed.stdout)["purged"] == []
    assert (
        f"case {case_id} changed after it was sealed: it was kept on this device; "
        "seal it again to deliver the changes"
    ) in pushed.stderr
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert shown["title"] == "Edited after sealing" and shown["state"] == "ready"
    table = reporter.ok("case", "list").stdout
    assert "needs sealing" in table and "yes" in table
    # Sealed again, the follow-up carries the edit and is purged after delivery.
    reporter.ok("seal", case_id)
    again = json.loads(reporter.ok("sync", "push", "--to", one_org.relay.url, "--json").stdout)
    assert again["purged"] == [case_id]


def test_attach_after_seal_then_push_keeps_the_attachment(
    reporter: Cli, one_org: Org, tmp_path: Path
) -> None:
    case_id = _new_case(reporter)
    reporter.ok("seal", case_id)
    before = _cases(reporter)[case_id]
    assert before["needs_sealing"] is False
    late = tmp_path / "late.txt"
    late.write_bytes(b"evidence found after sealing")
    reporter.ok("case", "attach", case_id, str(late), "--keep-metadata")
    after = _cases(reporter)[case_id]
    assert after["revision"] == before["revision"] + 1  # type: ignore[operator]
    assert after["needs_sealing"] is True and after["state"] == "ready"
    pushed = json.loads(reporter.ok("sync", "push", "--to", one_org.relay.url, "--json").stdout)
    assert (pushed["delivered"], pushed["purged"]) == (1, [])
    shown = json.loads(reporter.ok("case", "show", case_id, "--json").stdout)
    assert [a["name"] for a in shown["attachments"]] == ["late.txt"]


# --- flaw 9 and low (a): hostile attachment names -----------------------------------------


HOSTILE = [
    (".bash_profile", "starts with a dot (a hidden file)"),
    ("evil\u202efdp.exe", "contains an invisible or text-direction character (U+202E)"),
    ("a\u2066b.pdf", "contains an invisible or text-direction character (U+2066)"),
    ("bell\x07.jpg", "contains a control character (U+0007)"),
    ("zero\u200bwidth.jpg", "contains an invisible or text-direction character (U+200B)"),
    ("nbsp\u00a0.jpg", "contains a non-printing character (U+00A0)"),
    ("-rf.jpg", "starts with a dash (it reads as a command option)"),
    ("trailing.", "starts or ends with a space, or ends with a dot"),
    ("..", "is a path, not a file name"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("name", "problem"), HOSTILE)
def test_the_name_rule(name: str, problem: str) -> None:
    assert attachment_name_problem(name) == problem
    assert attachment_name_problem(safe_file_name(name, 3)) is None


def test_plain_names_pass_and_safe_names_keep_a_plain_extension() -> None:
    for name in ["photo-1.jpg", "Заявление 2024.pdf", "報告.png", "a b.txt"]:
        assert attachment_name_problem(name) is None
        assert safe_file_name(name, 1) == name
    assert safe_file_name("evil\u202efdp.exe", 2) == "attachment-2.exe"
    assert safe_file_name(".bash_profile", 1) == "attachment-1"


def test_triage_target_names_never_hide_or_disguise() -> None:
    from reprisal_report.workflows.triage import _target_names

    names = _target_names([".bash_profile", "x\u202egpj.sh", "ok.txt", "ok.txt", "a/b"])
    assert names == ["attachment-1", "attachment-2.sh", "ok.txt", "4-ok.txt", "attachment-5"]
    assert all(attachment_name_problem(n) is None for n in names)


@pytest.mark.parametrize(
    ("name", "shown", "problem"),
    [
        (".bash_profile", ".bash_profile", "starts with a dot (a hidden file)"),
        (
            "report\u202efdp.sh",
            "report\\u{202E}fdp.sh",
            "contains an invisible or text-direction character (U+202E)",
        ),
    ],
)
def test_attach_refuses_hostile_names(
    reporter: Cli, tmp_path: Path, name: str, shown: str, problem: str
) -> None:
    case_id = _new_case(reporter)
    path = tmp_path / name
    path.write_bytes(b"echo pwned")
    result = reporter("case", "attach", case_id, str(path), "--keep-metadata")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{ERR}attachment name '{shown}' {problem}",
        "hint: rename the file to a plain name such as photo-1.jpg and attach it again",
    ]
    assert json.loads(reporter.ok("case", "show", case_id, "--json").stdout)["attachments"] == []


def test_seal_all_skips_a_case_with_a_stored_hostile_name(reporter: Cli, one_org: Org) -> None:
    stuck, good = _new_case(reporter), _new_case(reporter)
    # A vault written by an older version that let the name in.
    with open_profile(reporter.home, PASSPHRASE) as vault, vault.transaction():
        store_attachment(
            vault,
            stuck,
            ".profile",
            io.BytesIO(b"x"),
            original_sha256=None,
            metadata="kept",
            pad_to=padme,
        )
    single = reporter("seal", stuck)
    assert single.exit_code == 2
    assert single.stderr.splitlines()[0] == (
        f"{ERR}attachment name '.profile' starts with a dot (a hidden file)"
    )
    result = reporter("seal", "--all", "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [b["case_id"] for b in doc["bundles"]] == [good]
    assert doc["skipped"] == [
        {"case_id": stuck, "reason": "attachment name '.profile' starts with a dot (a hidden file)"}
    ]
    assert result.stderr.splitlines() == [
        "reprisal-report: warning: case "
        f"{stuck} was not sealed: attachment name '.profile' starts with a dot (a hidden file)"
    ]
    assert not any(p.name.startswith(".sealing-") for p in (reporter.home / "outbox").iterdir())


# --- low (b): a case written before joining two orgs --------------------------------------


def test_case_written_before_joining_two_orgs_is_sealed_with_org(
    make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    reporter = make_cli("early")
    reporter.ok("init", "--role", "reporter")
    early = _new_case(reporter)
    later = _new_case(reporter)
    a = _make_org("Org A", make_cli, tmp_path, reporter)
    a.relay.kill()
    b = _make_org("Org B", make_cli, tmp_path, reporter)
    b.relay.kill()
    a_id, b_id = _org_id_of(reporter, "Org A"), _org_id_of(reporter, "Org B")
    stuck = reporter("seal", early)
    assert stuck.exit_code == 2
    assert stuck.stderr.splitlines()[0] == (
        f"{ERR}this profile has joined several orgs; choose one"
    )
    sealed = json.loads(reporter.ok("seal", early, "--org", b_id, "--json").stdout)
    assert [(x["case_id"], x["org_id"]) for x in sealed["bundles"]] == [(early, b_id)]
    # case edit --org addresses a case; one already sealed cannot move to the other org.
    edited = json.loads(
        reporter.ok(
            "case", "edit", later, "--from", str(EXAMPLE_CASE), "--org", a_id, "--json"
        ).stdout
    )
    assert edited["org_id"] == a_id
    moved = reporter("case", "edit", early, "--from", str(EXAMPLE_CASE), "--org", a_id)
    assert moved.exit_code == 2
    assert moved.stderr.splitlines()[0] == (
        f"{ERR}case {early} was already sealed for org {b_id}; it cannot be addressed to org {a_id}"
    )


# --- low (c): one write lock per profile ---------------------------------------------------


def test_a_writing_command_refuses_a_busy_profile(reporter: Cli) -> None:
    case_id = _new_case(reporter)
    with profile_lock(reporter.home):
        for args in (
            ("case", "new", "--from", str(EXAMPLE_CASE)),
            ("case", "edit", case_id, "--from", str(EXAMPLE_CASE)),
            ("seal", "--all"),
        ):
            result = reporter(*args)
            assert result.exit_code == 1, args
            assert result.stderr.splitlines() == [
                f"{ERR}profile is busy: another reprisal-report command is writing to it",
                "hint: wait for it to finish, then run this command again",
            ]
        # Reading is not blocked.
        reporter.ok("case", "list")
    # Released: the lock file is gone and writing works again.
    assert not (reporter.home / "write.lock").exists()
    reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))


def test_lock_held_by_another_process(reporter: Cli) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from reprisal_report.vault.lock import "
            "profile_lock\nwith profile_lock(Path(sys.argv[1])):\n print('held', flush=True)\n"
            " sys.stdin.read()",
            str(reporter.home),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        result = reporter("case", "new", "--from", str(EXAMPLE_CASE))
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0] == (
            f"{ERR}profile is busy: another reprisal-report command is writing to it"
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    # A killed holder leaves no lock behind (the kernel drops it).
    reporter.ok("case", "new", "--from", str(EXAMPLE_CASE))


# --- low (d): TIFF decompression bombs ------------------------------------------------------


def _bomb_tiff(width: int, height: int) -> bytes:
    """A tiny deflate-compressed RGB TIFF declaring ``width`` x ``height`` pixels."""
    strip = zlib.compress(b"\0" * (width * 3 * 64), 9)  # first rows only; the rest is missing
    entries = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 8),  # deflate
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, 0),  # strip offset, patched below
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, 1, len(strip)),
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = ifd_offset + ifd_size
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 273:
            value = data_offset
        if kind == 3:
            out += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, count, value)
    out += struct.pack("<I", 0)
    return bytes(out + strip)


_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True)
sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + "\\n")
sys.stdout.write(str(proc.returncode) + "\\n")
sys.stdout.write(proc.stderr.decode())
"""


def test_a_small_tiff_claiming_huge_pages_is_refused_within_300_mib(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = subprocess_env
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    made = run_subprocess(["case", "new", "--from", str(EXAMPLE_CASE)], env)
    case_id = made.stdout.decode().strip()
    bomb = tmp_path / "scan.tif"
    bomb.write_bytes(_bomb_tiff(7000, 7000))  # 49 Mpx: under Pillow's own bomb limit
    assert bomb.stat().st_size < 400_000
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    full_env.update(env)
    measured = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            sys.executable,
            "-m",
            "reprisal_report",
            "case",
            "attach",
            case_id,
            str(bomb),
        ],
        env=full_env,
        capture_output=True,
        timeout=300,
        check=True,
    )
    rss_kib, code, *stderr = measured.stdout.decode().splitlines()
    assert int(code) == 2
    assert stderr == [
        f"{ERR}scan.tif is a tiff image whose pixels would take more than 32 MiB of memory"
        " to clean",
        "hint: convert it to png or jpeg, or split it into smaller pages, and attach that",
    ]
    assert int(rss_kib) <= 300 * 1024


# --- crash points ---------------------------------------------------------------------------


def _crash(args: list[str], env: dict[str, str], point: str) -> None:
    died = run_subprocess(args, {**env, "REPRISAL_REPORT_CRASH_AT": point})
    assert died.returncode == -signal.SIGKILL, died.stderr


def _check_consistent(home: Path) -> None:
    """Nothing referenced but missing: every outbox row has its file, every attachment
    its bytes (blob or chunks, with the recorded hash), and no file is left that no row
    names."""
    import hashlib

    from reprisal_report.vault.attachments import list_attachments, open_attachment

    with open_profile(home, PASSPHRASE) as vault:
        rows = vault.conn.execute("SELECT bundle_id FROM outbox").fetchall()
        for (bundle_id,) in rows:
            assert (home / "outbox" / f"{bundle_id}.rrb").is_file()
        for (case_id,) in vault.conn.execute("SELECT id FROM cases").fetchall():
            for row in list_attachments(vault, case_id):
                with open_attachment(vault, row) as stream:
                    data = stream.read()
                assert (len(data), hashlib.sha256(data).hexdigest()) == (row.size, row.sha256)
        assert (
            vault.conn.execute(
                "SELECT count(*) FROM cases WHERE state = 'sealed' AND last_bundle_id NOT IN"
                " (SELECT bundle_id FROM outbox)"
            ).fetchone()[0]
            == 0
        )


def test_crash_in_attach_loses_nothing_and_the_rerun_completes(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = subprocess_env
    home = tmp_path / "sub-profile"
    assert run_subprocess(["init", "--role", "reporter"], env).returncode == 0
    case_id = run_subprocess(["case", "new", "--from", str(EXAMPLE_CASE)], env).stdout.decode()
    case_id = case_id.strip()
    evidence = tmp_path / "statement.txt"
    evidence.write_bytes(b"statement " * 10_000)
    attach = ["case", "attach", case_id, str(evidence), "--keep-metadata", "--json"]
    _crash(attach, env, "attach.before-commit")
    _check_consistent(home)
    shown = json.loads(run_subprocess(["case", "show", case_id, "--json"], env).stdout)
    assert shown["attachments"] == [] and shown["revision"] == 1
    done = run_subprocess(attach, env)
    assert done.returncode == 0, done.stderr
    shown = json.loads(run_subprocess(["case", "show", case_id, "--json"], env).stdout)
    assert [a["name"] for a in shown["attachments"]] == ["statement.txt"]
    assert shown["revision"] == 2
    _check_consistent(home)


@pytest.mark.parametrize("point", ["seal.after-bundle-file", "seal.before-commit"])
def test_crash_in_seal_loses_nothing_and_the_rerun_completes(
    subprocess_env: dict[str, str], tmp_path: Path, make_cli: Callable[[str], Cli], point: str
) -> None:
    env = subprocess_env
    home = tmp_path / "sub-profile"
    reporter = Cli(home)
    reporter.ok("init", "--role", "reporter")
    org = _make_org("Org A", make_cli, tmp_path, reporter)
    org.relay.kill()
    case_id = _new_case(reporter)
    _crash(["seal", case_id], env, point)
    # The bundle file may be on disk, but the vault never recorded it: still to seal.
    assert _outbox(reporter) == {}
    assert _cases(reporter)[case_id]["state"] == "ready"
    _check_consistent(home)
    sealed = json.loads(reporter.ok("seal", "--all", "--json").stdout)
    assert [b["case_id"] for b in sealed["bundles"]] == [case_id]
    files = sorted(p.name for p in (home / "outbox").iterdir())
    assert files == [f"{sealed['bundles'][0]['id']}.rrb"]  # the orphan is gone
    _check_consistent(home)
