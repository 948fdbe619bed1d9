"""`demo`: the whole workflow that exists so far, on throw-away profiles.

Uses a random passphrase that is never shown, and real key-derivation costs.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from reprisal_report.model.case import parse_case_bytes
from reprisal_report.workflows import profile, reporter


def example_case_bytes() -> bytes:
    return resources.files("reprisal_report.examples").joinpath("case-example.yaml").read_bytes()


@contextlib.contextmanager
def _workdir(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    tmp = Path(tempfile.mkdtemp(prefix="reprisal-report-demo-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_demo(directory: Path | None, say: Callable[[str], None]) -> dict[str, object]:
    """Run every step, reporting each through ``say``; return a summary."""
    passphrase = secrets.token_urlsafe(24)
    with _workdir(directory) as work:
        home = work / "reporter"
        info = profile.init_profile(home, passphrase, "reporter", "demo field defender")
        say(f"created a reporter profile in {home} (fingerprint {info.fingerprint})")
        record = parse_case_bytes(example_case_bytes(), source_name="case-example.yaml")
        with profile.open_profile(home, passphrase, "reporter") as vault:
            case_id = reporter.new_case(vault, record, None)
            say(f"stored the example case as {case_id} inside the encrypted vault")
            evidence = io.BytesIO(b"Fictional evidence file for the demo.\n" * 1000)
            stored = reporter.attach_files_from_streams(vault, case_id, [("notes.txt", evidence)])
            say(f"attached notes.txt ({stored[0].size} bytes) inside the vault")
            cases = reporter.list_cases(vault)
            say(f"the vault lists {len(cases)} case(s)")
        new = secrets.token_urlsafe(24)
        profile.change_passphrase(home, passphrase, new)
        say("changed the passphrase: the vault key was re-wrapped, the database untouched")
        with profile.open_profile(home, new, "reporter") as vault:
            title = reporter.show_case(vault, case_id).row.record["title"]
            say(f"reopened with the new passphrase; case title: {title}")
        report = profile.panic(home)
        say(f"panic: vault crypto-shredded in {report.seconds:.3f} s")
        return {"case_id": case_id, "panic_seconds": round(report.seconds, 3)}
