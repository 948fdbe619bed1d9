"""Working sessions: the master key wrapped under a random token, for a while.

``unlock`` pays the Argon2id KDF once and writes ``<profile>/session.json``: the vault's
master key sealed with XChaCha20-Poly1305 (libsodium's AEAD, through PyNaCl) under a
fresh 256-bit key that is handed to the user as the token
``rrs1-<64 hex digits>``, and to nothing else: it is never written to a file, a log or a
command line. The file's other fields are associated data of the AEAD, so none of them
can be changed without the tag failing:

- ``profile``: SHA-256 of the profile's ``keyfile.json``, so the file opens only the
  profile it was made for (and no longer opens after ``passphrase change``);
- ``created``, ``last_used`` (Unix seconds from ``clock.now()``), ``idle_seconds`` and
  ``max_seconds``: the session ends once it has been idle for ``idle_seconds`` or has
  lasted ``max_seconds``, whichever comes first.

Each use rewrites the file with a new ``last_used`` and a new nonce. An expired file is
removed when a command notices it; ``lock`` and ``panic`` remove it. Every writer of
the file (start, use, end) holds an exclusive ``flock`` on the current file and checks
that the name still points to it, so a command finishing its use can never put back a
session that ``lock`` or a new ``unlock`` has just replaced.

Only limits this program enforces: the file and the token together unwrap the key
whatever the time; the limits hold because the file is removed. See docs/vault.md.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings
import nacl.exceptions

from reprisal_report import clock
from reprisal_report.errors import SessionInvalid
from reprisal_report.model import canonical
from reprisal_report.vault.files import (
    atomic_write,
    fsync_dir,
    overwrite_in_place,
    temp_copies,
)

SESSION_NAME = "session.json"
# The name of an environment variable, not a secret.
ENV_NAME = "REPRISAL_REPORT_SESSION"
FORMAT = "reprisal-report/session/1"
TOKEN_PREFIX = "rrs1-"  # noqa: S105 - the fixed start of every token, not a secret
KEY_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
MASTER_KEY_BYTES = 32
# A session file is about 300 bytes; anything larger is not one and is never read whole.
MAX_FILE_BYTES = 4096
# The longest a session may last, whatever ``--max`` asks for: one working day and more.
LONGEST_SECONDS = 24 * 3600
# How far the clock may step back (NTP) before a session is treated as expired.
CLOCK_SLACK_SECONDS = 60
_TOKEN = re.compile(r"rrs1-[0-9a-f]{64}")
_LOCK_TRIES = 100

HINT = (
    'nothing was opened; run eval "$(reprisal-report unlock)" again, '
    f"or unset {ENV_NAME} to use the passphrase"
)
MALFORMED_TOKEN = f"{ENV_NAME} is not a reprisal-report session token"
NO_SESSION = "no working session is open for this profile (locked, expired or replaced)"
NOT_THIS = f"{ENV_NAME} does not open this profile's working session"


def _invalid(message: str) -> SessionInvalid:
    return SessionInvalid(message, hint=HINT)


def format_duration(seconds: int) -> str:
    """``15m``, ``8h``, ``1h30m``, ``45s``: the spelling ``--idle`` and ``--max`` take."""
    parts: list[str] = []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class SessionInfo:
    created: int
    last_used: int
    idle_seconds: int
    max_seconds: int

    @property
    def idle_ends(self) -> int:
        return self.last_used + self.idle_seconds

    @property
    def hard_end(self) -> int:
        return self.created + self.max_seconds

    @property
    def ends(self) -> int:
        """Unix time at which the session ends if it is not used before."""
        return min(self.idle_ends, self.hard_end)

    def expiry(self, now: int) -> str | None:
        """Why the session is over at ``now``, or None while it is open."""
        if now < self.last_used - CLOCK_SLACK_SECONDS or now < self.created - CLOCK_SLACK_SECONDS:
            return "the working session ended: the clock is earlier than its last use"
        if now >= self.hard_end:
            return (
                "the working session expired: it reached its "
                f"{format_duration(self.max_seconds)} maximum"
            )
        if now >= self.idle_ends:
            return f"the working session expired: unused for {format_duration(self.idle_seconds)}"
        return None


def check_limits(idle_seconds: int, max_seconds: int) -> None:
    """Programming guard: the cli validates the user's durations before this."""
    if not 0 < max_seconds <= LONGEST_SECONDS or not 0 < idle_seconds <= max_seconds:
        raise ValueError("session limits out of range")


# --- the token ---------------------------------------------------------------------------


def new_token() -> tuple[str, bytes]:
    """A fresh token and the 256-bit AEAD key it spells."""
    key = secrets.token_bytes(KEY_BYTES)
    return TOKEN_PREFIX + key.hex(), key


def parse_token(text: str) -> bytes:
    """The key a token spells; ``SessionInvalid`` for anything else (never echoed)."""
    if not isinstance(text, str) or _TOKEN.fullmatch(text) is None:
        raise _invalid(MALFORMED_TOKEN)
    return bytes.fromhex(text[len(TOKEN_PREFIX) :])


def profile_binding(keyfile_bytes: bytes) -> str:
    return hashlib.sha256(keyfile_bytes).hexdigest()


# --- the file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFile:
    profile: str
    info: SessionInfo
    nonce: bytes
    sealed: bytes

    def header(self) -> dict[str, object]:
        """Everything but the ciphertext: the AEAD's associated data."""
        return {
            "format": FORMAT,
            "profile": self.profile,
            "created": self.info.created,
            "last_used": self.info.last_used,
            "idle_seconds": self.info.idle_seconds,
            "max_seconds": self.info.max_seconds,
            "nonce": canonical.b64encode(self.nonce),
        }

    def encode(self) -> bytes:
        return canonical.canonical_json(
            {**self.header(), "sealed": canonical.b64encode(self.sealed)}
        )


_FIELDS = frozenset(
    {"format", "profile", "created", "last_used", "idle_seconds", "max_seconds", "nonce", "sealed"}
)
_PROFILE = re.compile(r"[0-9a-f]{64}")


def _is_seconds(value: object) -> bool:
    return type(value) is int and 0 <= value <= canonical.MAX_SAFE_INTEGER


def parse_file(data: bytes) -> SessionFile:
    """A session file's fields, checked exactly; ``SessionInvalid`` otherwise."""
    try:
        doc = canonical.parse_canonical(data, MAX_FILE_BYTES)
        if not isinstance(doc, dict) or set(doc) != _FIELDS or doc["format"] != FORMAT:
            raise _invalid(NOT_THIS)
        profile = doc["profile"]
        times = [doc[k] for k in ("created", "last_used", "idle_seconds", "max_seconds")]
        if not isinstance(profile, str) or _PROFILE.fullmatch(profile) is None:
            raise _invalid(NOT_THIS)
        if not all(_is_seconds(t) for t in times):
            raise _invalid(NOT_THIS)
        created, last_used, idle, longest = (int(t) for t in times)
        if not (0 < idle <= longest <= LONGEST_SECONDS):
            raise _invalid(NOT_THIS)
        nonce = canonical.b64decode(doc["nonce"], NONCE_BYTES)
        sealed = canonical.b64decode(doc["sealed"], MASTER_KEY_BYTES + TAG_BYTES)
    except canonical.CanonicalError:
        raise _invalid(NOT_THIS) from None
    return SessionFile(profile, SessionInfo(created, last_used, idle, longest), nonce, sealed)


def _aad(session: SessionFile) -> bytes:
    return canonical.canonical_json(session.header())


def seal(key: bytes, master_key: bytes, profile: str, info: SessionInfo) -> SessionFile:
    nonce = secrets.token_bytes(NONCE_BYTES)
    unsealed = SessionFile(profile, info, nonce, b"")
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        master_key, _aad(unsealed), nonce, key
    )
    return SessionFile(profile, info, nonce, bytes(sealed))


def unseal(key: bytes, session: SessionFile) -> bytes:
    try:
        master = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            session.sealed, _aad(session), session.nonce, key
        )
    except nacl.exceptions.CryptoError:
        raise _invalid(NOT_THIS) from None
    return bytes(master)


# --- one writer at a time ----------------------------------------------------------------


def session_path(home: Path) -> Path:
    return home / SESSION_NAME


_MISSING = -1
_LINK_REMOVED = -2


def _open_named(path: Path, flags: int) -> int:
    """A descriptor on the file named, ``_MISSING``, or ``_LINK_REMOVED`` after unlinking
    a symbolic link planted at the name (never followed, never a session)."""
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        return _MISSING
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return _LINK_REMOVED


def _still_named(path: Path, mine: os.stat_result) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_FILE_BYTES:
        chunk = os.read(fd, MAX_FILE_BYTES + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


@contextlib.contextmanager
def _current(path: Path) -> Iterator[bytes | None]:
    """Hold an exclusive ``flock`` on the session file the name points to and yield its
    bytes (at most ``MAX_FILE_BYTES + 1``), or None when there is no regular file there.

    Whoever replaces or removes the file does it inside this block, so the name still
    points to the locked file until the block ends; a waiter that wakes on a file no
    longer named tries again with the new one.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    for _ in range(_LOCK_TRIES):
        fd = _open_named(path, flags)
        if fd == _LINK_REMOVED:
            continue
        if fd == _MISSING:
            yield None
            return
        try:
            mine = os.fstat(fd)
            if stat.S_ISREG(mine.st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX)
            if not stat.S_ISREG(mine.st_mode):
                data = None
            elif _still_named(path, mine):
                data = _read_fd(fd)
            else:
                continue
            yield data
            return
        finally:
            os.close(fd)
    raise OSError(errno.EBUSY, "the working session file keeps changing", str(path))


def _remove(path: Path) -> None:
    """Overwrite (best effort) and unlink the session file and any temporary copy."""
    for copy in [path, *temp_copies(path)]:
        with contextlib.suppress(OSError):
            overwrite_in_place(copy)
        with contextlib.suppress(FileNotFoundError):
            copy.unlink()
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)


def _now() -> int:
    return int(clock.now().timestamp())


def start(
    home: Path, keyfile_bytes: bytes, master_key: bytes, idle_seconds: int, max_seconds: int
) -> tuple[str, SessionInfo]:
    """Write a new session (replacing any other of this profile); return its token."""
    check_limits(idle_seconds, max_seconds)
    token, key = new_token()
    now = _now()
    info = SessionInfo(now, now, idle_seconds, max_seconds)
    session = seal(key, master_key, profile_binding(keyfile_bytes), info)
    path = session_path(home)
    with _current(path):
        for leftover in temp_copies(path):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        atomic_write(path, session.encode())
    return token, info


def open_master(home: Path, keyfile_bytes: bytes, token: str) -> bytes:
    """The master key the session of ``token`` holds; its last use becomes now.

    ``SessionInvalid`` (nothing opened) for a malformed or wrong token, no session, a
    file of another profile or a tampered one, or an expired session (then removed).
    """
    key = parse_token(token)
    path = session_path(home)
    with _current(path) as data:
        if data is None:
            raise _invalid(NO_SESSION)
        try:
            session = parse_file(data)
            if not secrets.compare_digest(session.profile, profile_binding(keyfile_bytes)):
                raise _invalid(NOT_THIS)
        except SessionInvalid:
            _remove(path)  # not a session of this profile: it has no business here
            raise
        now = _now()
        master = unseal(key, session)
        why = session.info.expiry(now)
        if why is not None:
            _remove(path)
            raise _invalid(why)
        info = SessionInfo(
            session.info.created, now, session.info.idle_seconds, session.info.max_seconds
        )
        if info.last_used != session.info.last_used:
            atomic_write(path, seal(key, master, session.profile, info).encode())
    return master


def end(home: Path) -> bool:
    """Remove the profile's session file; True if there was one."""
    path = session_path(home)
    with _current(path) as data:
        existed = data is not None
        _remove(path)
    return existed


def remove_if_expired(home: Path) -> None:
    """Remove a session file whose (clear) limits say it is over, without its token.

    Removing is always safe: a file shown expired by tampered fields would not have
    opened anyway. Cheap when there is no file (one failed ``open``).
    """
    path = session_path(home)
    with _current(path) as data:
        if data is None:
            return
        try:
            info = parse_file(data).info
        except SessionInvalid:
            return
        if info.expiry(_now()) is not None:
            _remove(path)
