"""Checkpoints of this profile's custody log: signed notes over an RFC 6962 tree head.

The tree's leaves are the entries' canonical bytes, in index order (leaf hash
``SHA-256(0x00 || entry)``, ``protocol.merkle``). A checkpoint is made on demand
(:func:`make_checkpoint`: every export and every ``audit log``) and at every
``PERIOD`` entries. The periodic ones are signed when a checkpoint is next asked for:
a checkpoint holds no time and Ed25519 is deterministic, so it is the same note as one
signed the moment the entry was appended, and it only ever leaves the vault inside a
log or an export (docs/audit.md).
"""

from __future__ import annotations

from reprisal_report.audit.note import Checkpoint, checkpoint_text, sign_note
from reprisal_report.errors import CorruptVault
from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.protocol.merkle import MerkleTree
from reprisal_report.vault import custody
from reprisal_report.vault.store import Vault

PERIOD = 256
ORIGIN_PREFIX = "reprisal-report/custody/"


def log_origin(key_id: str) -> str:
    """The origin line (and note key name) of the custody log signed by ``key_id``."""
    return ORIGIN_PREFIX + key_id


def origin_key_id(origin: str) -> str | None:
    if not origin.startswith(ORIGIN_PREFIX):
        return None
    return origin[len(ORIGIN_PREFIX) :]


def tree_of(vault: Vault) -> MerkleTree:
    return MerkleTree(custody.leaves(vault))


def make_checkpoint(vault: Vault) -> Checkpoint:
    """Sign and keep a checkpoint of the whole custody log as it stands; return it.

    Also signs any missing periodic checkpoint, and checks every stored one still
    matches the entries (the tables are append-only; a mismatch is a damaged vault).
    """
    with vault.transaction():
        tree = tree_of(vault)
        key = signing_key(vault)
        origin = log_origin(public_identity(vault).key_id)
        stored = {c.size: c for c in custody.checkpoints(vault)}
        for size, kept in stored.items():
            if size > tree.size or tree.root(size) != kept.root:
                raise CorruptVault(
                    f"the custody log no longer matches its checkpoint at {size} entries",
                    hint="restore the profile from a backup; keep this copy as evidence",
                )
        sizes = [*range(PERIOD, tree.size + 1, PERIOD), tree.size]
        made: Checkpoint | None = None
        for size in sizes:
            root = tree.root(size)
            note = stored[size].note if size in stored else None
            if note is None:
                note = sign_note(checkpoint_text(origin, size, root), origin, key)
                custody.store_checkpoint(vault, size, root, note)
                stored[size] = custody.StoredCheckpoint(size, root, note, "")
            made = Checkpoint(origin, size, root, note)
    if made is None:  # pragma: no cover - sizes always ends with the tree size
        raise CorruptVault("no checkpoint could be made")
    return made
