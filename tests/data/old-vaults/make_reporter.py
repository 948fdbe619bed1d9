"""Make tests/data/old-vaults/reporter/: a reporter profile written by an older release.

The profile is made by the release *before* the reporter blob store (attachments
stored in the vault's ``attachment_chunks`` table), so that
tests/integration/test_blob_store.py can prove a vault of that release opens after the
upgrade with every case and attachment intact. Run it against a git worktree of that
release, never against the current tree::

    git worktree add /tmp/old-rep <commit before the blob store>
    PYTHONPATH=/tmp/old-rep/src .venv/bin/python tests/data/old-vaults/make_reporter.py

Everything in it is fictional. It uses the insecure test KDF and the test passphrase
of tests/conftest.py: the key protects nothing real. ``expected.json`` records what
the test checks (case ids, states, attachment names, sizes and SHA-256).
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
OUT = HERE / "reporter"
PASSPHRASE = "correct horse battery staple"  # tests/conftest.py PASSPHRASE
CASE = HERE.parent / "case-example.yaml"


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
        home = work / "reporter"
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
        env.update(
            {
                "REPRISAL_REPORT_HOME": str(home),
                "REPRISAL_REPORT_PASSPHRASE": PASSPHRASE,
                "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
                "NO_COLOR": "1",
            }
        )

        def run(*args: str) -> str:
            done = subprocess.run(
                [sys.executable, "-m", "reprisal_report", *args],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")
            return done.stdout

        where = subprocess.run(
            [sys.executable, "-c", "import reprisal_report; print(reprisal_report.__file__)"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if str(HERE.parents[2]) in where:
            raise SystemExit(f"this would run the current tree ({where}); set PYTHONPATH")
        print(f"writing with {where}")

        run("init", "--role", "reporter", "--name", "old-release-reporter")
        ready = run("case", "new", "--from", str(CASE)).strip()
        statement = work / "statement.txt"
        statement.write_bytes(b"Fictional statement for a migration test. Nobody real.\n" * 40)
        recording = work / "recording.bin"
        recording.write_bytes(fictional_bytes("recording", 150_000))
        run("case", "attach", ready, str(statement), str(recording), "--keep-metadata")
        plain = run("case", "new", "--from", str(CASE)).strip()
        shown = {
            case_id: json.loads(run("case", "show", case_id, "--json"))
            for case_id in (ready, plain)
        }
        expected = {
            "cases": [
                {
                    "id": case_id,
                    "state": doc["state"],
                    "title": doc["title"],
                    "attachments": [
                        {"name": a["name"], "size": a["size"], "sha256": a["sha256"]}
                        for a in doc["attachments"]
                    ],
                }
                for case_id, doc in shown.items()
            ]
        }
        for name, path in (("statement.txt", statement), ("recording.bin", recording)):
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            if sha not in {a["sha256"] for a in expected["cases"][0]["attachments"]}:
                raise SystemExit(f"{name} was not stored as given")
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir()
        for name in ("vault.db", "keyfile.json"):
            shutil.copyfile(home / name, OUT / name)
        (OUT / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
