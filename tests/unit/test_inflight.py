"""transport.inflight: results in order, at most N in flight, bytes bounded, early stop.

Threads only wait on events here (no sleep, no clock): each worker blocks until the
test releases it, so "how many are running at once" is observed, not timed.
"""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from reprisal_report.transport.inflight import in_flight

WAIT = 30.0  # a bound on every wait, never reached unless something hangs


class Gate:
    """Workers that block until released, counting how many run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started: list[int] = []
        self.release = threading.Event()
        self.arrived = threading.Condition(self.lock)

    def work(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.started.append(item)
            self.arrived.notify_all()
        if not self.release.wait(WAIT):
            raise TimeoutError("never released")
        with self.lock:
            self.running -= 1
        if item == 13:
            raise ValueError("item 13 fails")
        return item * 10

    def wait_started(self, count: int) -> None:
        with self.lock:
            if not self.arrived.wait_for(lambda: len(self.started) >= count, WAIT):
                raise TimeoutError(f"{count} workers never started")


def test_results_come_in_order_with_at_most_n_in_flight() -> None:
    gate = Gate()
    results = in_flight(gate.work, range(40), workers=4)
    with closing(results):
        consumer_out: list[tuple[int, int | str]] = []

        def consume() -> None:
            for item, future in results:
                try:
                    consumer_out.append((item, future.result()))
                except ValueError as exc:
                    consumer_out.append((item, str(exc)))

        consumer = threading.Thread(target=consume)
        consumer.start()
        gate.wait_started(4)
        with gate.lock:
            assert gate.running == 4  # the window is full and stays so
        gate.release.set()
        consumer.join(WAIT)
    assert [item for item, _ in consumer_out] == list(range(40))
    assert dict(consumer_out)[13] == "item 13 fails"  # raised on the consumer's side
    assert dict(consumer_out)[7] == 70
    assert gate.most == 4


def test_bytes_in_flight_are_bounded_but_one_item_always_passes() -> None:
    gate = Gate()
    sizes = {0: 60, 1: 60, 2: 200, 3: 10}
    results = in_flight(gate.work, range(4), workers=4, max_bytes=100, size=sizes.__getitem__)
    got: list[int] = []

    def consume() -> None:
        for _, future in results:
            got.append(future.result())

    consumer = threading.Thread(target=consume)
    consumer.start()
    gate.wait_started(1)
    with gate.lock:
        # 60 + 60 would pass 100: the second waits for the first to be handed back.
        assert gate.started == [0]
    gate.release.set()
    consumer.join(WAIT)
    assert got == [0, 10, 20, 30]  # the 200-byte item went through alone
    assert gate.most == 1  # no two of these fit in 100 bytes together


def test_stopping_early_cancels_what_has_not_started() -> None:
    gate = Gate()
    gate.release.set()
    results = in_flight(gate.work, range(1000), workers=3)
    for item, future in results:
        assert future.result() == item * 10
        if item == 5:
            break
    results.close()
    # At most the window beyond the last item handed back was started.
    assert len(gate.started) <= 6 + 3


def test_worker_counts_are_checked() -> None:
    for bad in (0, 33):
        with pytest.raises(ValueError):
            next(in_flight(str, [1], workers=bad))
