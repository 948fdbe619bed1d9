"""Signed notes (C2SP signed-note) and transparency-log checkpoints (C2SP tlog-checkpoint).

A note is UTF-8 text ending in a newline, a blank line, then signature lines::

    — <key name> <base64(key hash (4 bytes) || Ed25519 signature (64 bytes))>

The signature covers the text including its final newline (not the blank line). The
key hash is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` (0x01: Ed25519).
A checkpoint's text is three lines: the log's origin, the tree size in decimal, and
the base64 RFC 6962 root hash. This is the format Go's ``sumdb/note``, Sigsum and the
transparency-dev witnesses read.

Readers here are strict: one spelling of a checkpoint (no extension lines, decimal
without leading zeros, canonical base64), signature lines of unknown keys ignored as
the spec says, the known key's signature required and verified.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from reprisal_report.model.canonical import CanonicalError, b64decode, b64encode

ED25519 = b"\x01"
DASH = "\u2014 "
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")
_SIZE = re.compile(r"0|[1-9][0-9]{0,15}")


class NoteInvalid(ValueError):
    """A note or checkpoint that does not parse or verify; the text says why."""


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if _NAME.fullmatch(name) is None:
        raise ValueError("a note key name is non-empty, without spaces or '+'")


def sign_note(text: str, name: str, key: nacl.signing.SigningKey) -> str:
    """``text`` (ending in one newline) signed by ``key`` under ``name``."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("a note text ends in one newline and holds no blank line")
    signature = key.sign(text.encode("utf-8")).signature
    blob = key_hash(name, bytes(key.verify_key)) + bytes(signature)
    return f"{text}\n{DASH}{name} {b64encode(blob)}\n"


def open_note(note: str, name: str, public_key: bytes) -> str:
    """The note's text, once the signature of (``name``, ``public_key``) verified."""
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteInvalid("the note is too large")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteInvalid("not a signed note (no blank line before the signatures)")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteInvalid("the note has too many signatures")
    wanted = key_hash(name, public_key)
    found: bytes | None = None
    for line in lines:
        if not line.startswith(DASH):
            raise NoteInvalid("a signature line does not start with an em dash and a space")
        parts = line[len(DASH) :].split(" ")
        if len(parts) != 2 or _NAME.fullmatch(parts[0]) is None:
            raise NoteInvalid("a signature line is not '— NAME SIGNATURE'")
        try:
            blob = b64decode(parts[1])
        except CanonicalError:
            raise NoteInvalid("a note signature is not canonical base64") from None
        if len(blob) < 5:
            raise NoteInvalid("a note signature is too short")
        if parts[0] == name and hmac.compare_digest(blob[:4], wanted) and found is None:
            found = blob[4:]
    if found is None:
        raise NoteInvalid(f"the note carries no signature by {name}")
    try:
        nacl.signing.VerifyKey(public_key).verify(text.encode("utf-8"), found)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise NoteInvalid("the note's signature does not verify") from None
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A signed checkpoint of a custody log: ``size`` entries with this RFC 6962 root."""

    origin: str
    size: int
    root: bytes
    note: str


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{b64encode(root)}\n"


def parse_checkpoint(note: str, origin: str, public_key: bytes) -> Checkpoint:
    """Verify the note under ``origin`` (also its key name) and read the checkpoint."""
    text = open_note(note, origin, public_key)
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise NoteInvalid("a checkpoint has exactly three lines: origin, size, root hash")
    if lines[0] != origin:
        raise NoteInvalid(f"the checkpoint is of another log ({lines[0]!r})")
    if _SIZE.fullmatch(lines[1]) is None:
        raise NoteInvalid("the checkpoint's tree size is not a decimal number")
    try:
        root = b64decode(lines[2], 32)
    except CanonicalError:
        raise NoteInvalid("the checkpoint's root hash is not 32 bytes of base64") from None
    return Checkpoint(origin, int(lines[1]), root, note)
