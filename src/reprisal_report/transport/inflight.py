"""Several relay requests in flight at once, results handed back in order.

Over Tor a round trip costs about half a second; one request at a time makes a hundred
bundles take minutes. :func:`in_flight` runs ``work`` on a bounded thread pool (the
``RelayClient`` is safe to share between threads) and yields each item with its
finished future, in the order the items came, so the caller does its vault work on its
own thread, one result after the other, exactly as it would sequentially; calling
``future.result()`` raises the worker's exception there.

Bounded twice: at most ``workers`` items are between submission and being handed back,
and at most ``max_bytes`` of them by ``size`` (bundles up to the relay's 64 MiB cap
must not pile up in memory); one item is always let through, whatever its size. When
the consumer stops early (an error, or ``close()``), items not yet started are
cancelled and the running ones are waited for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 8
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MAX_WORKERS = 32


def in_flight(
    work: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = DEFAULT_WORKERS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    size: Callable[[T], int] | None = None,
) -> Generator[tuple[T, Future[R]], None, None]:
    """Yield ``(item, done future of work(item))`` for each item, in the items' order."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"between 1 and {MAX_WORKERS} requests in flight")
    source = iter(items)
    window: deque[tuple[T, Future[R], int]] = deque()
    queued_bytes = 0
    lookahead: list[T] = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="relay-request")
    try:
        while True:
            while len(window) < workers:
                if not lookahead:
                    try:
                        lookahead.append(next(source))
                    except StopIteration:
                        break
                cost = 0 if size is None else max(0, size(lookahead[0]))
                if window and queued_bytes + cost > max_bytes:
                    break
                item = lookahead.pop()
                window.append((item, pool.submit(work, item), cost))
                queued_bytes += cost
            if not window:
                return
            item, future, cost = window.popleft()
            wait([future])
            queued_bytes -= cost
            yield item, future
    finally:
        for _, future, _ in window:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
