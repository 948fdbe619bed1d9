"""The relay's own signing key: it signs tree heads, and so every receipt.

The key is a server key. It is stored in plaintext (the 32-byte Ed25519 seed) in
``DIR/relay.key``, mode 0600, in a directory of mode 0700: a relay must restart
unattended, so no passphrase protects it. Whoever can read the file can sign tree
heads in the relay's name; they still cannot read a bundle (the relay never holds a
decryption key) nor forge an upload (those are signed by device keys). See
docs/relay.md, "Storage and durability".
"""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import nacl.signing

from reprisal_report import clock
from reprisal_report.errors import RelaySetupError
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.idcard import IdentityCard, make_card
from reprisal_report.vault.files import atomic_write

KEY_FILE = "relay.key"
SEED_BYTES = 32


def init_relay(data_dir: Path, label: str = "relay", now: datetime | None = None) -> bytes:
    """Create the relay's key in ``data_dir``; return its self-signed identity card.

    The coordinator enrols the card (``org enroll``) so that members can check the
    relay's receipts against the org card.
    """
    key_path = data_dir / KEY_FILE
    try:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask and ignored for an existing directory.
        os.chmod(data_dir, 0o700)
    except OSError as exc:
        raise RelaySetupError(f"cannot create the relay directory {data_dir}: {exc}") from None
    if key_path.exists() or key_path.is_symlink():
        raise RelaySetupError(
            f"{data_dir} already holds a relay key",
            hint="use another directory, or 'relay serve' to run this one",
        )
    key = nacl.signing.SigningKey.generate()
    try:
        atomic_write(key_path, bytes(key), mode=0o600)
    except OSError as exc:
        raise RelaySetupError(f"cannot write the relay key: {exc}") from None
    return relay_identity_card(key, label, now)


def relay_identity_card(
    key: nacl.signing.SigningKey, label: str = "relay", now: datetime | None = None
) -> bytes:
    card = IdentityCard(
        role="relay",
        label=label,
        signing_key=bytes(key.verify_key),
        age_recipient=None,
        created=enc.format_time(now or clock.now()),
    )
    return make_card(card, key)


def load_relay_key(data_dir: Path) -> nacl.signing.SigningKey:
    """Read the key, refusing one that other users could have read or replaced.

    Not ``vault.files.read_bounded``: that opens by name and follows a symbolic link,
    while the key must be read from the very descriptor whose type and mode were
    checked (``O_NOFOLLOW``, then ``fstat``), at most one byte past the seed.
    """
    key_path = data_dir / KEY_FILE
    try:
        fd = os.open(key_path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise RelaySetupError(
            f"no relay key in {data_dir}", hint="run 'reprisal-report relay init' first"
        ) from None
    except OSError as exc:
        raise RelaySetupError(f"cannot open the relay key: {exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RelaySetupError(f"{key_path} is not a regular file")
        if info.st_mode & 0o077:
            raise RelaySetupError(
                f"{key_path} is accessible to other users", hint=f"chmod 600 {key_path}"
            )
        seed = os.read(fd, SEED_BYTES + 1)
    finally:
        os.close(fd)
    if len(seed) != SEED_BYTES:
        raise RelaySetupError(f"{key_path} is not a relay key")
    return nacl.signing.SigningKey(seed)
