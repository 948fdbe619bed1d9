"""Custody log pieces: signed notes and checkpoints, the entry projection, the vault
table rules, and the names the vault layer repeats from ``identity``."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlcipher3
from nacl.signing import SigningKey

from reprisal_report.audit import make_checkpoint
from reprisal_report.audit.checkpoint import log_origin
from reprisal_report.audit.note import (
    NoteInvalid,
    checkpoint_text,
    key_hash,
    open_note,
    parse_checkpoint,
    sign_note,
)
from reprisal_report.identity import fingerprint, keys
from reprisal_report.protocol.merkle import MerkleTree
from reprisal_report.vault import custody
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.store import Vault

# The example of Go's golang.org/x/mod/sumdb/note package documentation (also in the
# C2SP signed-note ecosystem's test suites): verifier key and signed note.
GO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
GO_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZ"
    "XsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def _go_key() -> tuple[str, bytes, bytes]:
    name, hash_hex, blob = GO_VKEY.split("+")
    raw = base64.b64decode(blob)
    assert raw[0] == 1
    return name, bytes.fromhex(hash_hex), raw[1:]


def test_the_go_note_example_verifies() -> None:
    name, expected_hash, public = _go_key()
    assert key_hash(name, public) == expected_hash
    assert open_note(GO_NOTE, name, public) == "This is an example message.\n"
    with pytest.raises(NoteInvalid, match="does not verify"):
        open_note(GO_NOTE.replace("example message", "example massage"), name, public)


def test_notes_round_trip_and_ignore_unknown_signers() -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    note = sign_note("hello\n", "log.example/a", key)
    assert note.startswith("hello\n\n\u2014 log.example/a ")
    public = bytes(key.verify_key)
    assert open_note(note, "log.example/a", public) == "hello\n"
    extra = sign_note("hello\n", "witness.example", other).split("\n\n")[1]
    assert open_note(note + extra, "log.example/a", public) == "hello\n"
    with pytest.raises(NoteInvalid, match="no signature by"):
        open_note(note, "log.example/b", public)
    with pytest.raises(NoteInvalid, match="no signature by"):
        open_note(note, "log.example/a", bytes(other.verify_key))
    with pytest.raises(ValueError):
        sign_note("two\n\nparagraphs\n", "log.example/a", key)
    with pytest.raises(ValueError):
        sign_note("hello\n", "a name", key)


def test_checkpoints_have_one_spelling() -> None:
    key = SigningKey.generate()
    origin = log_origin(fingerprint.key_id(bytes(key.verify_key)))
    tree = MerkleTree([b"a", b"b", b"c"])
    note = sign_note(checkpoint_text(origin, 3, tree.root()), origin, key)
    checkpoint = parse_checkpoint(note, origin, bytes(key.verify_key))
    assert (checkpoint.size, checkpoint.root) == (3, tree.root())
    root = base64.b64encode(tree.root()).decode()
    for text in (
        f"{origin}\n03\n{root}\n",
        f"{origin}\n3\n{root}\nextension\n",
        f"{origin}\n3\n{root[:-1]}\n",
        f"other/log\n3\n{root}\n",
    ):
        bad = sign_note(text, origin, key)
        with pytest.raises(NoteInvalid):
            parse_checkpoint(bad, origin, bytes(key.verify_key))


def test_the_vault_layer_names_keys_as_identity_does() -> None:
    public = os.urandom(32)
    assert custody.key_id(public) == fingerprint.key_id(public)
    assert custody.SIGNING_SECRET == keys.SIGNING_SECRET


def test_public_detail_keeps_ids_and_hashes_only() -> None:
    detail = {
        "bundle_id": "b1",
        "sha256": "ab" * 32,
        "purpose": "for the lawyer of Someone",
        "files": [{"name": "passport of Someone.jpg", "sha256": "cd" * 32}],
        "note_text": "Someone said",
    }
    assert custody.public_detail(detail) == {
        "bundle_id": "b1",
        "sha256": "ab" * 32,
        "purpose_sha256": hashlib.sha256(b"for the lawyer of Someone").hexdigest(),
        "files": ["cd" * 32],
        "omitted": ["note_text"],
    }


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.db", os.urandom(32)) as opened:
        with opened.transaction():
            keys.create_profile_keys(opened, "reporter")
            opened.set_meta("role", "reporter")
        yield opened


def test_record_event_chains_signed_entries(vault: Vault) -> None:
    record_event(vault, None, "profile-created", {"role": "reporter"})
    with vault.transaction():
        record_event(vault, "c1", "created", {"state": "draft"})
    rows = custody.entries(vault)
    assert [r.index for r in rows] == [0, 1]
    assert rows[1].entry.count(rows[0].hash.hex().encode()) == 1
    public = keys.signing_key(vault).verify_key
    for row in rows:
        public.verify(custody.ENTRY_DOMAIN + row.entry, row.signature)
        assert hashlib.sha256(row.entry).digest() == row.hash


def test_a_failed_action_leaves_no_entry(vault: Vault) -> None:
    with pytest.raises(RuntimeError), vault.transaction():
        record_event(vault, None, "profile-created", {})
        raise RuntimeError
    assert custody.size(vault) == 0


def test_the_log_tables_refuse_rewrites(vault: Vault) -> None:
    record_event(vault, None, "profile-created", {})
    make_checkpoint(vault)
    custody.record_card(vault, "org", 1, b"card")
    for statement in (
        "UPDATE custody_log SET entry = x'00'",
        "DELETE FROM custody_log",
        "DELETE FROM custody_checkpoints",
        "UPDATE org_card_history SET card = x'00'",
    ):
        with pytest.raises(sqlcipher3.IntegrityError, match="append-only"):
            vault.conn.execute(statement)


def test_checkpoints_every_period_and_on_demand(vault: Vault) -> None:
    from reprisal_report.audit.checkpoint import PERIOD

    for _ in range(PERIOD + 3):
        record_event(vault, None, "profile-created", {})
    made = make_checkpoint(vault)
    assert made.size == PERIOD + 3
    kept = custody.checkpoints(vault)
    assert [c.size for c in kept] == [PERIOD, PERIOD + 3]
    tree = MerkleTree(custody.leaves(vault))
    assert all(c.root == tree.root(c.size) for c in kept)
    assert make_checkpoint(vault).note == made.note  # the same note, signed once
