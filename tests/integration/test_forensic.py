"""Goal 1: nothing in plaintext at rest.

Cases and attachments carrying canary strings in several scripts go through every
reporter command in real subprocesses with their own TMPDIR; then every file under the
profile directory and that TMPDIR is scanned bytewise. The canaries must be found in
the command output (so the test can fail) and nowhere on disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import EXAMPLE_CASE, run_subprocess
from tests.integration.enrolment import enroll_args

CANARIES = [
    "CANARY-latin-q7Zx31",
    "КАНАРЕЙКА-кириллица-41",
    "كناري-عربي-٩٢",
    "金丝雀中文七号",
    "קנרית-עברית-5",
]


def encodings(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-16-be")]


def scan(root: Path) -> list[str]:
    hits: list[str] = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for canary in CANARIES:
            if any(needle in data for needle in encodings(canary)):
                hits.append(f"{path}: {canary}")
    return hits


def test_no_canary_on_disk_after_every_reporter_command(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    env = subprocess_env
    home = Path(env["REPRISAL_REPORT_HOME"])
    inputs = tmp_path / "inputs"  # outside the scanned directories
    inputs.mkdir()
    doc = yaml.safe_load(EXAMPLE_CASE.read_text())
    doc["incident_date"] = "2026-03"
    doc["cooperation"][0]["date"] = "2026-02"
    doc["title"] = f"Case {CANARIES[0]}"
    doc["location"] = CANARIES[1]
    doc["narrative"] = "\n".join(CANARIES)
    doc["victims"][0]["name"] = CANARIES[2]
    doc["victims"][0]["aliases"] = [CANARIES[3]]
    doc["perpetrators"][0]["name"] = CANARIES[4]
    case_file = inputs / "case.yaml"
    case_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    attachment = inputs / "evidence.txt"
    attachment.write_bytes(("\n".join(CANARIES) + "\n").encode("utf-8") * 50_000)  # ~ 7 MiB

    def run(*args: str, stdin: bytes | None = None) -> str:
        result = run_subprocess(list(args), env, input=stdin)
        assert result.returncode == 0, (args, result.stderr.decode())
        return result.stdout.decode("utf-8")

    run("init", "--role", "reporter")
    case_id = json.loads(run("case", "new", "--from", str(case_file), "--json"))["id"]
    run("case", "attach", case_id, str(attachment), "--keep-metadata")
    run("case", "list")
    shown = run("case", "show", case_id, "--json")
    assert all(c in shown for c in CANARIES)  # the canaries really are in the vault
    edited = dict(doc, public_summary=f"summary {CANARIES[0]}")
    edit_file = inputs / "edit.json"
    edit_file.write_text(json.dumps(edited, ensure_ascii=False), encoding="utf-8")
    run("case", "edit", case_id, "--from", str(edit_file))
    interactive = (
        "\n".join(
            [
                f"Interactive {CANARIES[3]}",
                "2026",
                "BI",
                CANARIES[4],
                "other",
                "",
                "testimony",
                "",
                "n",
                "threat",
                "n",
                CANARIES[2],
                "",
                "witness",
                "",
                "",
                "n",
                CANARIES[1],
                ".",
                ".",
                "none",
                "low",
            ]
        )
        + "\n"
    )
    run("case", "new", stdin=interactive.encode("utf-8"))
    env_new = dict(env, REPRISAL_REPORT_NEW_PASSPHRASE="another long passphrase")
    changed = run_subprocess(["passphrase", "change"], env_new)
    assert changed.returncode == 0, changed.stderr.decode()
    env["REPRISAL_REPORT_PASSPHRASE"] = "another long passphrase"
    listed = json.loads(run("case", "list", "--json"))
    assert len(listed) == 2

    assert sorted(p.name for p in home.iterdir()) == ["blobs", "keyfile.json", "vault.db"]
    assert len(list((home / "blobs").iterdir())) == 1  # the attachment, scanned below
    hits = scan(home) + scan(Path(env["TMPDIR"]))
    assert hits == []

    run("panic", "--yes")
    assert not home.exists()
    assert scan(Path(env["TMPDIR"])) == []


def test_scan_finds_a_planted_canary(tmp_path: Path) -> None:
    """The scanner itself works (a forensic test that cannot fail is a defect)."""
    (tmp_path / "leak.bin").write_bytes(b"\x00\x01" + CANARIES[3].encode("utf-16-le"))
    assert scan(tmp_path) == [f"{tmp_path / 'leak.bin'}: {CANARIES[3]}"]


def test_no_canary_on_disk_across_seal_delivery_and_import(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """The same scan over the bundle path: the reporter's outbox, a USB-stick folder
    and the coordinator's profile hold no canary, though the coordinator reads them."""
    base = subprocess_env
    reporter_env = dict(base, REPRISAL_REPORT_HOME=str(tmp_path / "rep"))
    coordinator_env = dict(base, REPRISAL_REPORT_HOME=str(tmp_path / "coord"))
    inputs, usb = tmp_path / "inputs", tmp_path / "usb"
    inputs.mkdir()
    usb.mkdir()

    def run(env: dict[str, str], *args: str) -> str:
        result = run_subprocess(list(args), env)
        assert result.returncode == 0, (args, result.stderr.decode())
        return result.stdout.decode("utf-8")

    run(coordinator_env, "init", "--role", "coordinator")
    run(reporter_env, "init", "--role", "reporter")
    fpr = json.loads(run(coordinator_env, "org", "create", "--name", "Org", "--json"))[
        "root_fingerprint"
    ]
    run(reporter_env, "id", "card", "--out", str(inputs / "rep.id"))
    run(coordinator_env, "org", "enroll", *enroll_args(inputs / "rep.id"))
    run(coordinator_env, "org", "card", "--out", str(inputs / "org.json"))
    run(reporter_env, "org", "join", str(inputs / "org.json"), "--fingerprint", fpr)
    doc = yaml.safe_load(EXAMPLE_CASE.read_text())
    doc.update(title=f"Case {CANARIES[0]}", location=CANARIES[1], narrative="\n".join(CANARIES))
    doc["incident_date"], doc["cooperation"][0]["date"] = "2026-03", "2026-02"
    doc["victims"][0]["name"] = CANARIES[2]
    case_file = inputs / "case.yaml"
    case_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    evidence = inputs / "evidence.txt"
    evidence.write_bytes(("\n".join(CANARIES) + "\n").encode("utf-8") * 1000)
    case_id = json.loads(run(reporter_env, "case", "new", "--from", str(case_file), "--json"))["id"]
    run(reporter_env, "case", "attach", case_id, str(evidence), "--keep-metadata")
    run(reporter_env, "seal", case_id)
    run(reporter_env, "sync", "push", "--to", str(usb))
    run(coordinator_env, "sync", "pull", "--from", str(usb))
    run(coordinator_env, "triage", "list")
    shown = run(coordinator_env, "triage", "show", case_id, "--json")
    assert all(c in shown for c in CANARIES[:3])  # the coordinator really reads them
    # The received bundle is kept as it came (evidence/, scanned below); decrypting it
    # again for triage writes plaintext only where asked (outside the scanned folders).
    assert len(list((tmp_path / "coord" / "evidence").iterdir())) == 1
    for command in ("attachment", "evidence"):
        out = inputs / command
        out.mkdir()
        run(coordinator_env, "triage", command, case_id, "--out", str(out))
    assert (inputs / "attachment" / "evidence.txt").read_bytes() == evidence.read_bytes()

    hits = [
        *scan(tmp_path / "rep"),
        *scan(tmp_path / "coord"),
        *scan(usb),
        *scan(Path(base["TMPDIR"])),
    ]
    assert hits == []
