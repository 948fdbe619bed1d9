"""The wrapped master key.

The vault's SQLCipher key is a random 256-bit master key. It is stored only inside
``keyfile.json``, sealed with ``nacl.secret.SecretBox`` (XSalsa20-Poly1305) under a key
derived from the passphrase with Argon2id. Changing a salt or a cost parameter derives a
different wrapping key, so a tampered header fails the Poly1305 tag exactly like a wrong
passphrase. See docs/vault.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from reprisal_report.errors import CorruptVault, InvalidInput, WrongPassphrase
from reprisal_report.model import canonical
from reprisal_report.vault.files import FileTooLarge, atomic_write, read_bounded

FORMAT = "reprisal-report/keyfile/1"
KDF_NAME = "argon2id"
MASTER_KEY_BYTES = 32
SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES

# About 0.5 s on the 2-core reference machine (measured: 0.52 s); see docs/vault.md.
DEFAULT_OPSLIMIT = 4
DEFAULT_MEMLIMIT = 256 * 1024 * 1024

# The test suite opens hundreds of vaults; it may ask for libsodium's minimum cost.
# The keyfile records whatever was used, so such a profile is plain to see.
INSECURE_TEST_KDF_ENV = "REPRISAL_REPORT_INSECURE_TEST_KDF"
TEST_OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MIN
TEST_MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MIN

# Refuse keyfiles that ask for absurd work (a cheap denial of service on open).
MAX_OPSLIMIT = 64
MAX_MEMLIMIT = 4 * 1024 * 1024 * 1024

MIN_PASSPHRASE_CHARS = 8
# A keyfile is about 400 bytes; anything much larger is not one (and is never read whole).
MAX_KEYFILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class KdfParams:
    opslimit: int
    memlimit: int

    @classmethod
    def default(cls) -> KdfParams:
        if os.environ.get(INSECURE_TEST_KDF_ENV) == "1":
            return cls(TEST_OPSLIMIT, TEST_MEMLIMIT)
        return cls(DEFAULT_OPSLIMIT, DEFAULT_MEMLIMIT)

    @property
    def insecure(self) -> bool:
        return self.opslimit < DEFAULT_OPSLIMIT or self.memlimit < DEFAULT_MEMLIMIT


def check_new_passphrase(passphrase: str) -> None:
    """Reject passphrases too short to resist an offline guessing attack at all."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise InvalidInput(
            f"passphrase too short: at least {MIN_PASSPHRASE_CHARS} characters",
            hint="a few random words (diceware) are easier to type and harder to guess",
        )


def _derive(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=params.opslimit,
        memlimit=params.memlimit,
    )


def new_master_key() -> bytes:
    return nacl.utils.random(MASTER_KEY_BYTES)


def wrap(master_key: bytes, passphrase: str, params: KdfParams) -> bytes:
    """Return keyfile bytes holding ``master_key`` sealed under ``passphrase``."""
    salt = nacl.utils.random(SALT_BYTES)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, params))
    sealed = box.encrypt(master_key)
    doc = {
        "format": FORMAT,
        "kdf": {
            "name": KDF_NAME,
            "opslimit": params.opslimit,
            "memlimit": params.memlimit,
            "salt": canonical.b64encode(salt),
        },
        "wrapped_key": canonical.b64encode(bytes(sealed)),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")


@dataclass(frozen=True)
class _Parsed:
    params: KdfParams
    salt: bytes
    sealed: bytes


def _damaged() -> CorruptVault:
    return CorruptVault(
        "keyfile is damaged or not a reprisal-report keyfile",
        hint="restore keyfile.json from a backup; without it the vault cannot be opened",
    )


def _parse(data: bytes) -> _Parsed:
    bad = _damaged()
    try:
        doc = json.loads(data.decode("ascii"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise bad
        kdf = doc["kdf"]
        if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME:
            raise bad
        ops, mem = kdf["opslimit"], kdf["memlimit"]
        if not (isinstance(ops, int) and isinstance(mem, int)):
            raise bad
        salt = canonical.b64decode(kdf["salt"], SALT_BYTES)
        sealed = canonical.b64decode(doc["wrapped_key"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise bad from exc
    if len(salt) != SALT_BYTES or len(sealed) != (
        nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + MASTER_KEY_BYTES
    ):
        raise bad
    if not (TEST_OPSLIMIT <= ops <= MAX_OPSLIMIT and TEST_MEMLIMIT <= mem <= MAX_MEMLIMIT):
        raise bad
    return _Parsed(KdfParams(ops, mem), salt, sealed)


def unwrap(data: bytes, passphrase: str) -> bytes:
    """Return the master key, or raise ``WrongPassphrase``."""
    parsed = _parse(data)
    box = nacl.secret.SecretBox(_derive(passphrase, parsed.salt, parsed.params))
    try:
        return bytes(box.decrypt(parsed.sealed))
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase(
            "wrong passphrase", hint="nothing was changed; check the keyboard layout"
        ) from None


def read_params(data: bytes) -> KdfParams:
    return _parse(data).params


def read_keyfile(path: Path) -> bytes:
    """The keyfile's bytes (at most ``MAX_KEYFILE_BYTES`` are ever read)."""
    try:
        return read_bounded(path, MAX_KEYFILE_BYTES)
    except FileTooLarge:
        raise _damaged() from None


def write_keyfile(path: Path, data: bytes) -> None:
    """Replace the keyfile atomically (a private temporary copy with a random name)."""
    atomic_write(path, data)
