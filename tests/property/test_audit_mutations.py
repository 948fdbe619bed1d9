"""Any single random change to a valid custody log file is detected by verify-log."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.audit.history import parse_history
from reprisal_report.audit.verify import verify_log
from tests.conftest import EXAMPLE_CASE, Cli
from tests.integration.enrolment import found_org


@functools.cache
def _world() -> tuple[bytes, bytes]:
    """A coordinator's log with two checkpoints and a consistency proof, and the card
    history, built once through the CLI."""
    root = Path(tempfile.mkdtemp(prefix="audit-mutations-"))
    coordinator, reporter = Cli(root / "coordinator"), Cli(root / "reporter")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    found_org(coordinator, [reporter], root, "Mutation Org")
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    reporter.ok("seal", case_id)
    stick = root / "stick"
    stick.mkdir()
    reporter.ok("sync", "push", "--to", str(stick))
    coordinator.ok("inbox", "import", str(stick))
    coordinator.ok("audit", "log", "--out", str(root / "first.jsonl"))
    coordinator.ok("triage", "set", case_id, "--status", "under_review")
    coordinator.ok("audit", "log", "--out", str(root / "log.jsonl"))
    coordinator.ok("org", "history", "--out", str(root / "history"))
    return (root / "log.jsonl").read_bytes(), (root / "history").read_bytes()


def test_the_unchanged_log_verifies() -> None:
    log, history = _world()
    assert verify_log(log, parse_history(history)).ok
    kinds = [json.loads(line)["type"] for line in log.splitlines()]
    assert kinds[-3:] == ["checkpoint", "checkpoint", "consistency"]


def _mutate(log: bytes, data: st.DataObject) -> bytes:
    lines = log.split(b"\n")[:-1]
    op = data.draw(st.sampled_from(["flip", "delete", "duplicate", "swap", "cut-line", "cut"]))
    at = data.draw(st.integers(0, len(lines) - 1))
    if op == "flip":
        line = bytearray(lines[at])
        pos = data.draw(st.integers(0, len(line) - 1))
        line[pos] ^= data.draw(st.integers(1, 255))
        lines[at] = bytes(line)
    elif op == "delete":
        del lines[at]
    elif op == "duplicate":
        lines.insert(at, lines[at])
    elif op == "swap":
        other = data.draw(st.integers(0, len(lines) - 1).filter(lambda i: lines[i] != lines[at]))
        lines[at], lines[other] = lines[other], lines[at]
    elif op == "cut-line":
        lines[at] = lines[at][: data.draw(st.integers(0, len(lines[at]) - 1))]
    else:
        return log[: data.draw(st.integers(0, len(log) - 1))]
    return b"".join(line + b"\n" for line in lines)


@settings(max_examples=300)
@given(st.data())
def test_random_mutations_are_always_detected(data: st.DataObject) -> None:
    log, history = _world()
    mutated = _mutate(log, data)
    if mutated == log:  # a swap of equal lines, a flip undone: nothing changed
        return
    report = verify_log(mutated, parse_history(history))
    assert report.failure is not None
