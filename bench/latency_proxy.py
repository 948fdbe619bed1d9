"""100 bundles of 64 KiB pushed and pulled through a loopback proxy adding 100 ms each way.

A Tor circuit costs about half a second per round trip; what matters is how many round
trips a delivery waits for, one after the other. The proxy here (asyncio, in a thread of
this process, 127.0.0.1 only) forwards TCP to a real ``relay serve`` child and holds
every chunk it reads for ``--delay-ms`` before writing it on, in each direction, without
limiting bandwidth: a request/response round trip costs at least 2 x delay more than on
the bare loopback. It is bounded (at most 64 connections, 4 MiB queued per direction)
and stops by itself after ``--lifetime`` seconds.

Timed as children: ``sync push --to PROXY`` and ``sync pull --from PROXY``; reference:
``cp`` of the same bundle files. Target: push + pull of 100 bundles <= 10 s (one request
at a time, 100 uploads + 100 fetches + acknowledgements, would need >= 40 s).

    python bench/latency_proxy.py [--bundles 100] [--delay-ms 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import threading
from pathlib import Path

from _common import (
    Relay,
    Row,
    bench_env,
    copy_reference,
    free_port,
    make_world,
    push_pull,
    verdict,
    write_rows,
)

TARGET_S = 10.0
CHUNK = 64 * 1024
MAX_CONNECTIONS = 64
MAX_QUEUED_CHUNKS = 64  # x 64 KiB = 4 MiB per direction of one connection


class DelayProxy:
    """TCP proxy 127.0.0.1:port -> 127.0.0.1:target delaying each chunk each way."""

    def __init__(self, target_port: int, delay: float, lifetime: float) -> None:
        self.target_port = target_port
        self.delay = delay
        self.lifetime = lifetime
        self.connections = 0
        self.chunks = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="delay-proxy", daemon=True)

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise SystemExit("bench: error: the delay proxy did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        async with server:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.lifetime)
            server.close()

    async def _handle(self, down_r: asyncio.StreamReader, down_w: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            down_w.close()
            return
        self.connections += 1
        try:
            up_r, up_w = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target_port), 10
            )
        except OSError:
            down_w.close()
            return
        try:
            await asyncio.gather(self._pipe(down_r, up_w), self._pipe(up_r, down_w))
        except asyncio.CancelledError:
            pass  # the proxy is stopping: end quietly (asyncio would log a traceback)
        finally:
            for w in (up_w, down_w):
                w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read chunks as they come, deliver each ``delay`` after it was read."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_CHUNKS)

        async def read() -> None:
            try:
                while data := await reader.read(CHUNK):
                    await queue.put((loop.time() + self.delay, data))
            except OSError:
                pass
            await queue.put((loop.time() + self.delay, b""))

        async def write() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    with contextlib.suppress(OSError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                self.chunks += 1
                writer.write(data)
                try:
                    await writer.drain()
                except OSError:
                    return

        await asyncio.gather(read(), write())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bundles", type=int, default=100, help="bundles (default 100)")
    parser.add_argument("--delay-ms", type=float, default=100.0, help="each way (default 100)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="proxy stops after (s)")
    parser.add_argument("--json", help="also write the result rows to this file")
    args = parser.parse_args()
    n = args.bundles
    env = bench_env()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        t = Path(tmp)
        port = free_port()
        make_world(t, n, f"http://127.0.0.1:{port}", distinct=True)
        cp, files, size = copy_reference(t, env)
        with Relay(t, port, env), DelayProxy(port, args.delay_ms / 1000, args.lifetime) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            push, pull, delivered, imported = push_pull(t, url, env)
            connections, chunks = proxy.connections, proxy.chunks
    if (files, delivered, imported) != (n, n, n):
        raise SystemExit(
            f"bench: error: {n} sealed, {files} files, {delivered} pushed, {imported} pulled"
        )
    total = push + pull
    rtt = 2 * args.delay_ms / 1000
    print(
        f"{n} bundles, {size / 2**20:.1f} MiB in all, {args.delay_ms:.0f} ms each way "
        f"({rtt * 1000:.0f} ms added per round trip), {os.cpu_count()} cores"
    )
    print(f"{'step':22} {'seconds':>8} {'round trips':>12} {'ratio to cp':>12}")
    for name, sec in (("cp (reference)", cp), ("sync push", push), ("sync pull", pull)):
        print(f"{name:22} {sec:8.2f} {sec / rtt:12.0f} {sec / cp:12.0f}")
    print(f"{'push + pull':22} {total:8.2f} {total / rtt:12.0f} {total / cp:12.0f}")
    print(
        f"proxy: {connections} connections, {chunks} chunks delayed "
        "(round trips = seconds / added round-trip time: an upper bound)"
    )
    met = total <= TARGET_S if n == 100 else None
    judged = "not judged (the target is for 100)" if met is None else verdict(met)
    print(f"target: 100 bundles push + pull <= {TARGET_S:.0f} s — {judged} ({total:.1f} s)")
    write_rows(
        args.json,
        [
            Row(
                "latency", f"sync push, {n} x 64 KiB, +{rtt * 1000:.0f} ms RTT", push, "s", "", None
            ),
            Row(
                "latency", f"sync pull, {n} x 64 KiB, +{rtt * 1000:.0f} ms RTT", pull, "s", "", None
            ),
            Row(
                "latency",
                f"push + pull, {n} x 64 KiB, +{rtt * 1000:.0f} ms RTT",
                total,
                "s",
                f"<= {TARGET_S:.0f} s",
                met,
            ),
            Row("latency", "push + pull / cp", total / cp, "x", "", None),
        ],
    )


if __name__ == "__main__":
    main()
