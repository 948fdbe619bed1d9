"""The gate's forked workers: an answer comes back whole; a worker that fails, raises or
is killed refuses the export (exit 4, one line), never passes it; and the scan shared
among processes finds what one scan finds, across the cuts between their pieces."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from reprisal_report.errors import ExitCode
from reprisal_report.redact import leakgate, worker
from reprisal_report.redact.leakgate import LeakGate, Sensitive

REFUSED = (
    "leak gate: export refused: the gate's worker process stopped before it answered; "
    "nothing was written"
)

pytestmark = pytest.mark.skipif(not worker.available(), reason="no fork on this platform")


def _echo() -> Callable[[bytes], bytes]:
    prefix = b"ready:"  # made in the child before the request comes
    return lambda request: prefix + request


def test_a_worker_answers_its_one_request_whole() -> None:
    helper = worker.Worker(_echo)
    big = os.urandom(3 << 20)
    assert helper.ask(big) == b"ready:" + big
    with pytest.raises(RuntimeError, match="one request"):
        helper.ask(b"again")


def test_the_child_never_finalizes_an_object_of_the_parent(tmp_path: object) -> None:
    """Garbage of the parent not collected yet (a temporary folder's cleanup, say):
    collected in the child, its finalizer would act on the parent's files there and
    then. Here the finalizer only records which process ran it."""
    import gc
    from pathlib import Path

    marks = Path(str(tmp_path))

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            (marks / f"finalized-in-{os.getpid()}").touch()

    gc.disable()
    try:
        Cycle()  # garbage at once, collected only by the cycle collector

        def prepare() -> Callable[[bytes], bytes]:
            gc.enable()
            gc.collect()  # in the child: must not reach the parent's garbage
            return lambda request: request

        assert worker.Worker(prepare).ask(b"x") == b"x"
        assert sorted(p.name for p in marks.iterdir()) == []
    finally:
        gc.enable()
        gc.collect()
    assert sorted(p.name for p in marks.iterdir()) == [f"finalized-in-{os.getpid()}"]


def test_a_worker_that_raises_refuses() -> None:
    def prepare() -> Callable[[bytes], bytes]:
        raise ValueError("broken in the child")

    helper = worker.Worker(prepare)
    with pytest.raises(worker.WorkerFailed) as caught:
        helper.ask(b"x" * (1 << 20))
    assert str(caught.value) == REFUSED
    assert caught.value.exit_code == ExitCode.REFUSED


def test_a_killed_worker_refuses() -> None:
    def prepare() -> Callable[[bytes], bytes]:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    helper = worker.Worker(prepare)
    with pytest.raises(worker.WorkerFailed, match="stopped before it answered"):
        helper.ask(b"request")


def test_a_worker_closed_unasked_leaves_no_process() -> None:
    helper = worker.Worker(_echo)
    pid = helper._pid
    helper.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind


def _output(lines: int) -> bytes:
    """Lines of filler text; one victim's name broken over the line break in the
    middle, where a cut falls."""
    rows = [f"case {n:06d}: filler words here {n}" for n in range(lines)]
    middle = lines // 2
    rows[middle] += " José"
    rows[middle + 1] = "NÚÑEZ was arrested"
    return ("\n".join(rows) + "\n").encode("utf-8")


def test_the_scan_shared_between_processes_finds_across_the_cuts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leakgate, "PIECE_BYTES", 4096)
    data = _output(3000)
    gate = LeakGate([Sensitive("c1", "victims[0].name", "José Núñez", "name")])
    cuts = leakgate.pieces(data, 4096)
    assert len(cuts) > 20
    at = data.index("NÚÑEZ".encode())
    monkeypatch.setattr(leakgate, "pieces", lambda data, size: sorted({*cuts, at}))
    assert gate.found(data, workers=1) == {0}
    assert gate.found(data, workers=2) == {0}
    assert [(leak.case_id, leak.field) for leak in gate.scan(data, workers=2)] == [
        ("c1", "victims[0].name")
    ]
    clean = LeakGate([Sensitive("c2", "victims[0].name", "Ana Beatriz Lopes", "name")])
    assert clean.found(data, workers=2) == set()


def test_a_failing_scan_worker_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leakgate, "PIECE_BYTES", 4096)
    data = _output(3000)
    gate = LeakGate([Sensitive("c1", "victims[0].name", "Ana Beatriz Lopes", "name")])
    parent = os.getpid()
    real = gate._found_cuts

    def in_child_fails(data: bytes, cuts: list[int]) -> set[int]:
        if os.getpid() != parent:
            raise MemoryError("the child ran out")
        return real(data, cuts)

    monkeypatch.setattr(gate, "_found_cuts", in_child_fails)
    with pytest.raises(worker.WorkerFailed) as caught:
        gate.scan(data, workers=2)
    assert str(caught.value) == REFUSED


def test_helpers_made_ahead_share_the_scan_and_are_closed_when_not_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(leakgate, "PIECE_BYTES", 4096)
    data = _output(3000)
    gate = LeakGate([Sensitive("c1", "victims[0].name", "José Núñez", "name")])
    helpers = gate.helpers(1)
    assert gate.found(data, helpers=helpers) == {0}
    unused = gate.helpers(1)
    assert gate.found("José Núñez\n".encode(), helpers=unused) == {0}  # too small to share
    for helper in [*helpers, *unused]:
        with pytest.raises(ChildProcessError):
            os.waitpid(helper._pid, os.WNOHANG)  # every helper reaped


def test_no_cut_where_a_join_would_reach_over_it() -> None:
    # "Núñ-" at a line end joins "ez" on the next line; "José**" likewise; a plain
    # line break, or a dash after a space at the line end, is a clean cut.
    for text, clean in [
        ("Jo Núñ-\nez and more\n", False),
        ("Jo Núñ&#45;\nez\n", False),
        ("written **José**\nNúñez\n", False),
        ("plain line\nnext\n", True),
        ("name,\nnext\n", True),
        ("tag <b\n>x\n", False),
    ]:
        data = text.encode()
        at = data.index(b"\n") + 1
        assert leakgate.clean_cut(data, at) is clean, text


def test_a_worker_still_working_is_stopped_by_close() -> None:
    # The export failed while the worker was still building: close() does not wait
    # for work nobody will ask for (the child would block here for ever).
    never_r, never_w = os.pipe()

    def prepare() -> Callable[[bytes], bytes]:
        os.close(never_w)
        os.read(never_r, 1)  # blocks until the test closes its end
        return _echo()

    def too_long(signum: int, frame: object) -> None:
        raise TimeoutError("close() waited for the worker's work")

    helper = worker.Worker(prepare)
    previous = signal.signal(signal.SIGALRM, too_long)
    signal.alarm(20)  # a close() that waited fails here (and the child then ends)
    try:
        helper.close()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.close(never_r)
        os.close(never_w)
    with pytest.raises(ChildProcessError):
        os.waitpid(helper._pid, os.WNOHANG)
