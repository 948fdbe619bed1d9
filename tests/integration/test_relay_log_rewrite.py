"""A dishonest relay, built from the real code, is caught by the clients' checks.

After a client has seen a tree head, the relay's tree is replaced by one in which a
single old leaf is swapped (or the newest leaves are dropped). Whatever the relay
serves afterwards, ``check_consistency`` refuses it, and the old receipt no longer
matches what the relay claims is at that index.
"""

from __future__ import annotations

import hashlib

import pytest

from reprisal_report.errors import LogInconsistent, RelayAnswerInvalid
from reprisal_report.protocol.merkle import MerkleTree, verify_inclusion
from reprisal_report.protocol.receipts import check_consistency, verify_receipt
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    RunningRelay,
    bundle,
    relay_env_fixture,
    relay_fixture,
)


def _bundle_hashes(relay: RunningRelay) -> list[bytes]:
    with relay.client(relay.org.coordinator) as coordinator:
        return [bytes.fromhex(e.sha256) for e in coordinator.list()]


def test_a_swapped_leaf_is_detected(relay: RunningRelay) -> None:
    org = relay.org
    with relay.client(org.reporter) as reporter:
        receipts = [reporter.upload(bundle(i)) for i in range(5)]
    with relay.client(org.auditor) as auditor:
        seen = auditor.sth()
    assert seen.tree_size == 5

    # The rewrite: bundle 2 replaced by other bytes, as if it had never been accepted.
    leaves = _bundle_hashes(relay)
    leaves[2] = hashlib.sha256(b"what the relay now claims it received").digest()
    relay.service.log.tree = MerkleTree(leaves)

    with relay.client(org.reporter) as reporter:
        for i in range(5, 8):
            reporter.upload(bundle(i))
    with relay.client(org.auditor) as auditor:
        later = auditor.sth()  # validly signed: the signature alone proves nothing
        assert later.verified and later.tree_size == 8
        proof = auditor.consistency(5, 8)
        with pytest.raises(LogInconsistent, match="does not extend"):
            check_consistency(seen, later, proof, relay_public_key=org.relay_public_key)
        # Whatever proof it makes up, none links the two heads.
        for forged in ([], [later.root_hash], [seen.root_hash, later.root_hash]):
            with pytest.raises(LogInconsistent):
                check_consistency(seen, later, forged)

        # The reporter's receipt for bundle 2 still verifies on its own (it is signed
        # evidence), but the relay's current claim about index 2 contradicts it.
        verify_receipt(receipts[2], receipts[2].bundle_sha256, org.relay_public_key)
        leaf, inclusion = auditor.inclusion(2, later.tree_size)
        assert leaf == receipts[2].bundle_sha256  # the database still says the truth...
        assert not verify_inclusion(bytes.fromhex(leaf), 2, 8, inclusion, later.root_hash)


def test_a_dropped_entry_is_detected(relay: RunningRelay) -> None:
    org = relay.org
    with relay.client(org.reporter) as reporter:
        for i in range(6):
            reporter.upload(bundle(i))
    with relay.client(org.auditor) as auditor:
        seen = auditor.sth()
    relay.service.log.tree = MerkleTree(_bundle_hashes(relay)[:4])
    with relay.client(org.auditor) as auditor:
        later = auditor.sth()
        with pytest.raises(LogInconsistent, match="shrank from 6 to 4"):
            check_consistency(seen, later, [], relay_public_key=org.relay_public_key)


def test_a_head_signed_by_another_key_is_refused(relay: RunningRelay) -> None:
    org = relay.org
    with relay.client(org.auditor) as auditor:
        head = auditor.sth()
    with pytest.raises(RelayAnswerInvalid, match="not by this relay's key"):
        check_consistency(head, head, [], relay_public_key=org.coordinator.public)
