"""The evidence copy of an import, alone or in a pull's batch, on a real vault folder:
what is kept, what is left after a refusal, and what a batch whose transaction fails
leaves (nothing)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprisal_report.vault import evidence
from reprisal_report.vault.store import Vault

DATA = [b"first bundle " * 1000, b"second bundle " * 1000, b"third bundle " * 1000]


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.db", os.urandom(32)) as v:
        yield v


def names(vault: Vault) -> set[str]:
    return {p.name for p in evidence.folder(vault).iterdir()}


def final_name(data: bytes) -> str:
    return evidence.file_name(hashlib.sha256(data).hexdigest())


def test_a_kept_copy_is_named_by_its_hash_and_holds_the_bytes(vault: Vault) -> None:
    copy = evidence.EvidenceWriter(vault)
    copy.write(DATA[0][:5000])
    copy.write(DATA[0][5000:])
    assert copy.finish() == hashlib.sha256(DATA[0]).hexdigest()
    copy.keep()
    assert names(vault) == {final_name(DATA[0])}
    assert copy.final.read_bytes() == DATA[0]
    assert copy.size == len(DATA[0])
    with pytest.raises(ValueError, match="already closed"):
        copy.keep()


def test_a_discarded_copy_leaves_nothing_before_or_after_its_rename(vault: Vault) -> None:
    early = evidence.EvidenceWriter(vault)
    early.write(DATA[0])
    early.discard()
    late = evidence.EvidenceWriter(vault)
    late.write(DATA[1])
    late.finish()
    late.keep()
    late.discard()  # the transaction naming it did not commit
    assert names(vault) == set()


def test_no_write_after_finish(vault: Vault) -> None:
    copy = evidence.EvidenceWriter(vault)
    copy.write(DATA[0])
    copy.finish()
    with pytest.raises(ValueError, match="already closed"):
        copy.write(b"more")
    copy.discard()


def test_a_batch_keeps_what_verified_and_drops_what_did_not(vault: Vault) -> None:
    batch = evidence.EvidenceBatch(vault)
    good, bad, other = batch.writer(), batch.writer(), batch.writer()
    for copy, data in ((good, DATA[0]), (bad, DATA[1]), (other, DATA[2])):
        copy.write(data)
        copy.finish()
    good.keep()
    bad.keep()
    bad.discard()  # its savepoint failed after the rename: nothing of it remains
    other.keep()
    assert batch.kept == [good, other]
    batch.sync()
    assert names(vault) == {final_name(DATA[0]), final_name(DATA[2])}
    assert good.final.read_bytes() == DATA[0] and other.final.read_bytes() == DATA[2]


def test_a_batch_whose_transaction_fails_leaves_no_file(vault: Vault) -> None:
    stray = None
    with (
        pytest.raises(RuntimeError, match="commit failed"),
        evidence.EvidenceBatch(vault).guard() as batch,
    ):
        for data in DATA[:2]:
            copy = batch.writer()
            copy.write(data)
            copy.finish()
            copy.keep()
        assert len(names(vault)) == 2
        stray = batch.writer()  # a bundle still being verified
        stray.write(DATA[2])
        raise RuntimeError("commit failed")
    assert stray is not None
    # The stray temporary copy is its import's to discard; every kept file is gone.
    assert {n for n in names(vault) if not n.startswith(".")} == set()
    stray.discard()
    assert names(vault) == set()
