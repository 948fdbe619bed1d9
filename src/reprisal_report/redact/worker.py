"""A forked worker process for the leak gate's long, independent work.

An export of a large vault spends most of its time on two things that do not depend on
each other until the very end: redacting and writing the exported cases, and building
the gate's automata over every sensitive value of the vault; then scanning the output,
which splits into independent pieces. On a machine with two cores they run side by
side: :class:`Worker` forks the process (the child sees the parent's memory as it was:
the vault's values are not copied or written anywhere; only the bytes to scan and the
answers cross a pipe), the child prepares its part while the parent goes on, then
answers one request.

Fails closed: a child that raises, is killed or answers nothing makes :meth:`Worker.ask`
raise :class:`WorkerFailed`, and the export writes nothing. The child never touches the
vault (its connection belongs to the parent), prints nothing, and leaves by
``os._exit``, so no buffer is flushed twice and no exit handler runs in it. Core dumps
stay disabled (the limit and the not-dumpable flag are inherited).

The pipe carries bytes between two processes of the same program, each the other's
copy; the gate's messages are pickled for that reason only, never anything read from a
file or a peer.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import Final

from reprisal_report.errors import GateFailed

_LENGTH: Final = struct.Struct(">Q")


class WorkerFailed(GateFailed):
    """The worker died or failed: the export is refused (nothing is written)."""


def available() -> bool:
    """Whether workers can run here (a POSIX fork; not on Windows)."""
    return hasattr(os, "fork") and sys.platform != "win32"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 20])
        view = view[written:]


def _read_all(fd: int) -> bytes:
    pieces: list[bytes] = []
    while True:
        piece = os.read(fd, 1 << 20)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)


def _framed(data: bytes) -> bytes:
    return _LENGTH.pack(len(data)) + data


def _unframed(data: bytes) -> bytes | None:
    if len(data) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack_from(data)
    body = data[_LENGTH.size :]
    return body if len(body) == size else None


def dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> object:
    # Only ever bytes this program's own forked copy wrote to a private pipe.
    return pickle.loads(data)  # noqa: S301


class Worker:
    """``prepare()`` runs in a forked child as soon as the worker is made; the
    function it returns answers the one request of :meth:`ask` there."""

    def __init__(self, prepare: Callable[[], Callable[[bytes], bytes]]) -> None:
        self._parent = os.getpid()
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        # The child's collector must never finalize an object of the parent (an
        # unreachable file not yet collected would flush its buffer, a second time, into
        # a descriptor both processes share): what exists now is frozen out of it.
        gc.freeze()
        try:
            pid = os.fork()
        finally:
            if os.getpid() == self._parent:
                gc.unfreeze()
        if pid == 0:  # pragma: no cover - runs in the child (its coverage is not collected)
            code = 1
            try:
                os.close(to_child_w)
                os.close(to_parent_r)
                answer = prepare()
                request = _unframed(_read_all(to_child_r))
                if request is not None:
                    _write_all(to_parent_w, _framed(answer(request)))
                    code = 0
            except BaseException:  # noqa: S110 - the parent reports a failed child
                pass
            finally:
                os._exit(code)
        os.close(to_child_r)
        os.close(to_parent_w)
        self._pid = pid
        self._send = to_child_w
        self._receive = to_parent_r
        self._done = False

    def ask(self, request: bytes) -> bytes:
        """Send the request, wait for the answer (once)."""
        self.send(request)
        return self.receive()

    def send(self, request: bytes) -> None:
        """Send the one request; :meth:`receive` waits for the answer."""
        if self._done:
            raise RuntimeError("a worker answers one request")
        self._done = True
        try:
            _write_all(self._send, _framed(request))
        except BrokenPipeError:
            pass  # the child is gone: its exit status says why
        finally:
            os.close(self._send)

    def receive(self) -> bytes:
        """The answer to the request sent."""
        if self._receive < 0:
            raise RuntimeError("a worker answers one request")
        try:
            reply = _unframed(_read_all(self._receive))
        finally:
            os.close(self._receive)
            self._receive = -1
            status = self._wait()
        if status != 0 or reply is None:
            raise WorkerFailed(
                "leak gate: export refused: the gate's worker process stopped before it "
                "answered; nothing was written"
            )
        return reply

    def close(self) -> None:
        """Stop the worker without (waiting for) an answer: the export failed or did
        not need it. Nothing if the answer was received."""
        if self._receive < 0:
            return
        if not self._done:
            self._done = True
            os.close(self._send)
        os.close(self._receive)
        self._receive = -1
        # Its answer is not wanted: stop it now rather than let it finish its work.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._wait()

    def _wait(self) -> int:
        _, status = os.waitpid(self._pid, 0)
        return os.waitstatus_to_exitcode(status)
