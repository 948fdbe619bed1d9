"""Many devices uploading at once: nothing lost, nothing duplicated, one consistent log.

The relay runs in its own process (real parallelism against the test's threads) with
its default limit of 8 concurrent uploads, so the clients also go through 503 and
retry.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from reprisal_report.protocol.receipts import Receipt, check_consistency, verify_receipt
from tests.integration.relay_fixtures import TestOrg, make_relay_dir, start_relay_process

CLIENTS = 20
UPLOADS_EACH = 25


def test_twenty_clients_times_twenty_five_uploads(tmp_path: Path) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card, reporters=CLIENTS)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    running = start_relay_process(data_dir, card_path, org)
    try:
        with running.client(org.auditor) as auditor:
            start = auditor.sth()
        barrier = threading.Barrier(CLIENTS, timeout=60)

        def work(n: int) -> list[tuple[bytes, Receipt]]:
            done = []
            with running.client(org.reporters[n], timeout=120) as client:
                barrier.wait()
                for i in range(UPLOADS_EACH):
                    data = f"client {n} bundle {i} ".encode() * (1 + (n * i) % 40)
                    done.append((data, client.upload(data)))
            return done

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = [r for batch in pool.map(work, range(CLIENTS)) for r in batch]

        assert len(results) == CLIENTS * UPLOADS_EACH
        indices = sorted(r.index for _, r in results)
        assert indices == list(range(CLIENTS * UPLOADS_EACH))
        for data, receipt in results:
            assert receipt.verified
            verify_receipt(receipt, hashlib.sha256(data).hexdigest(), org.relay_public_key)

        with running.client(org.auditor) as auditor:
            final = auditor.sth()
            assert final.tree_size == CLIENTS * UPLOADS_EACH
            check_consistency(start, final, auditor.consistency(0, final.tree_size))
            # Every receipt's own tree head is a prefix of the final one.
            for _, receipt in results[:: CLIENTS - 1]:
                proof = auditor.consistency(receipt.sth.tree_size, final.tree_size)
                check_consistency(receipt.sth, final, proof)
        with running.client(org.coordinator) as coordinator:
            listed = coordinator.list()
        assert len(listed) == CLIENTS * UPLOADS_EACH
        assert {e.sha256 for e in listed} == {r.bundle_sha256 for _, r in results}
        assert running.log_size() == CLIENTS * UPLOADS_EACH
        assert len(running.stored_files()) == CLIENTS * UPLOADS_EACH
    finally:
        running.stop()
