"""Make tests/data/old-vaults/coordinator/: a coordinator profile written by an older release.

The profile is made by the release *before* the coordinator evidence store (received
attachments stored in the vault's ``inbox_chunks`` table, no original bundle kept), so
that tests/integration/test_evidence_store.py can prove a vault of that release opens
after the upgrade with every received case and attachment intact. Run it against a git
worktree of that release, never against the current tree::

    git worktree add --detach /tmp/old-coord 4a80a1f   # the commit before the evidence store
    PYTHONPATH=/tmp/old-coord/src .venv/bin/python tests/data/old-vaults/make_coordinator.py

Everything in it is fictional. It uses the insecure test KDF and the test passphrase
of tests/conftest.py: the key protects nothing real. Only the coordinator's vault.db
and keyfile.json are kept (the reporter profile that sealed the bundle is thrown away).
``expected.json`` records what the test checks (case id, title, attachment name, size,
SHA-256, and the attachment's bytes are :func:`fictional_bytes` of its seed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "coordinator"
PASSPHRASE = "correct horse battery staple"  # tests/conftest.py PASSPHRASE
CASE = HERE.parent / "case-example.yaml"
SEED = "old-coordinator-attachment"
SIZE = 200_000


def fictional_bytes(seed: str, size: int) -> bytes:
    """Deterministic filler (SHA-256 in counter mode): no real content, easy to recheck."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
        base.update(
            {
                "REPRISAL_REPORT_PASSPHRASE": PASSPHRASE,
                "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
                "NO_COLOR": "1",
            }
        )

        def run(home: Path, *args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "reprisal_report", *args],
                env={**base, "REPRISAL_REPORT_HOME": str(home)},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")
            return done.stdout

        where = subprocess.run(
            [sys.executable, "-c", "import reprisal_report; print(reprisal_report.__file__)"],
            env=base,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if str(HERE.parents[2]) in where:
            raise SystemExit(f"this would run the current tree ({where}); set PYTHONPATH")
        print(f"writing with {where}")

        coord, rep = work / "coordinator", work / "reporter"
        run(coord, "init", "--role", "coordinator", "--name", "old-release-coordinator")
        run(rep, "init", "--role", "reporter", "--name", "old-release-reporter")
        fpr = json.loads(run(coord, "org", "create", "--name", "Fictional Org", "--json"))[
            "root_fingerprint"
        ]
        card = work / "rep.id.json"
        run(rep, "id", "card", "--out", str(card))
        ident = json.loads(run(rep, "id", "show", "--json"))
        run(coord, "org", "enroll", str(card), "--role", "reporter",
            "--fingerprint", ident["fingerprint"])  # fmt: skip
        org_card = work / "org.json"
        run(coord, "org", "card", "--out", str(org_card))
        run(rep, "org", "join", str(org_card), "--fingerprint", fpr)
        case_id = run(rep, "case", "new", "--from", str(CASE)).strip()
        attachment = work / "photo-notes.bin"
        attachment.write_bytes(fictional_bytes(SEED, SIZE))
        run(rep, "case", "attach", case_id, str(attachment), "--keep-metadata")
        run(rep, "seal", case_id)
        run(coord, "inbox", "import", str(rep / "outbox"))
        shown = json.loads(run(coord, "triage", "show", case_id, "--json"))
        expected = {
            "case_id": case_id,
            "title": shown["title"],
            "bundle_ids": [b["bundle_id"] for b in shown["bundles"]],
            "attachments": [
                {"name": a["name"], "size": a["size"], "sha256": a["sha256"]}
                for a in shown["attachments"]
            ],
            "seed": SEED,
        }
        sha = hashlib.sha256(attachment.read_bytes()).hexdigest()
        if [a["sha256"] for a in expected["attachments"]] != [sha]:
            raise SystemExit("the attachment was not received as given")
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir()
        for name in ("vault.db", "keyfile.json"):
            shutil.copyfile(coord / name, OUT / name)
        (OUT / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
