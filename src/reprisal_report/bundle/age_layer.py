"""The age v1 layer of a bundle: a thin, fail-closed wrapper over pyrage.

Bundles are binary age v1 files encrypted to X25519 recipients (C2SP age spec). This
module is the only place that calls pyrage's streaming API, because that API has
three traps the rest of the code must never meet (measured on pyrage 1.4):

- errors arrive as ``pyrage.DecryptError``, as a bare ``OSError`` (payload problems,
  e.g. ``"age file is truncated"``), or as whatever our own reader or writer raised;
  every one is mapped here to a documented :class:`~reprisal_report.errors.BundleError`
  subclass, and exceptions from the caller's own streams are re-raised unchanged;
- ``encrypt_io`` **silently swallows** an exception raised by the writer on its final
  flush (for short outputs, the only flush), so a full disk could pass for a
  finished bundle; the writer is wrapped and its first error re-raised afterwards;
- ``decrypt_io`` accepts ASCII-armored input transparently. Bundles are never armored,
  so anything that does not start with the binary age v1 intro line is refused before
  pyrage sees it.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any, Final, Protocol

import pyrage

from reprisal_report.errors import (
    BundleError,
    BundleKeyInvalid,
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    BundleTruncated,
)

# The first line of every binary age v1 file; armored files start with "-----BEGIN".
AGE_INTRO: Final = b"age-encryption.org/v1\n"
MAX_RECIPIENTS: Final = 64
# pyrage buffers the whole header before parsing it, so a header that never ends would
# grow without bound: the bytes up to and including the "---" MAC line are capped here.
MAX_HEADER_BYTES: Final = 64 * 1024
_HEADER_READ: Final = 4096
BUFFER_BYTES: Final = 1024 * 1024

# pyrage (rage) error texts, matched by substring; first match wins. Anything not
# listed still fails closed (see _map_error): rage's texts are not an API, and a new
# wording must never turn a failure into a success.
_DECRYPT_ERRORS: Final[tuple[tuple[str, type[BundleError], str], ...]] = (
    ("No matching keys found", BundleNotForUs, "bundle is not addressed to any key of ours"),
    ("Header MAC is invalid", BundleTampered, "bundle header failed authentication"),
    ("age file is truncated", BundleTruncated, "bundle is truncated"),
    ("decryption error", BundleTampered, "bundle payload failed authentication"),
    ("last chunk has been processed", BundleTampered, "bundle has data after its last chunk"),
    ("Last STREAM chunk is empty", BundleTampered, "bundle payload ends in an empty chunk"),
    ("invalid armor", BundleMalformed, "bundle armor is invalid"),
    ("DecodeError", BundleMalformed, "bundle armor is invalid"),
    ("Header is invalid", BundleMalformed, "bundle has an invalid age header"),
    ("Unknown age format", BundleMalformed, "bundle has an invalid age header"),
    ("Incomplete header", BundleMalformed, "bundle has an incomplete age header"),
    ("failed to fill whole buffer", BundleMalformed, "bundle ends inside its age header"),
)

_TRUNCATED_HINT: Final = "the file may be an interrupted copy; fetch or copy it again"


class Readable(Protocol):
    """Where plaintext or ciphertext comes from: a binary file, or a container stream."""

    def read(self, size: int = -1, /) -> bytes | None: ...


class Writable(Protocol):
    """Where plaintext or ciphertext goes: a binary file, or a push parser."""

    def write(self, data: bytes, /) -> int: ...


def parse_recipients(recipients: Sequence[str]) -> list[Any]:
    """age1… X25519 recipient strings as pyrage objects; at least one, no duplicates."""
    if not recipients:
        raise BundleKeyInvalid("a bundle needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise BundleKeyInvalid(f"a bundle can have at most {MAX_RECIPIENTS} recipients")
    if len(set(recipients)) != len(recipients):
        raise BundleKeyInvalid("a bundle recipient is listed twice")
    parsed = []
    for text in recipients:
        if not isinstance(text, str) or not text.startswith("age1"):
            raise BundleKeyInvalid("a bundle recipient is not an age x25519 recipient")
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text))
        except Exception:  # pyrage raises RecipientError, ValueError, ... for bad text
            raise BundleKeyInvalid("a bundle recipient is not an age x25519 recipient") from None
    return parsed


def parse_identities(identities: Sequence[str]) -> list[Any]:
    """AGE-SECRET-KEY-1… strings as pyrage objects. Never echoes the secret."""
    if not identities:
        raise BundleKeyInvalid("no age identity to open the bundle with")
    parsed = []
    for text in identities:
        if not isinstance(text, str) or not text.startswith("AGE-SECRET-KEY-1"):
            raise BundleKeyInvalid("an age identity is not an x25519 secret key")
        try:
            parsed.append(pyrage.x25519.Identity.from_str(text))
        except Exception:  # as above; the message must not carry the key
            raise BundleKeyInvalid("an age identity is not an x25519 secret key") from None
    return parsed


def encrypt(src: Readable, dst: Writable, recipients: Sequence[str]) -> None:
    """Encrypt everything ``src`` yields to ``recipients``, as binary age v1, into ``dst``.

    Never armored. If this raises, ``dst`` holds a partial file that must be discarded
    (write to a temporary name, rename only after a normal return). An exception from
    ``src`` or ``dst`` (including a BundleError raised by a container stream) is
    re-raised unchanged.
    """
    parsed = parse_recipients(recipients)
    reader = _GuardedReader(src)
    writer = _GuardedWriter(dst)
    try:
        # pyrage reads 8 KiB at a time: a C buffer in front of our reader turns that
        # into one Python call per MiB.
        pyrage.encrypt_io(io.BufferedReader(reader, BUFFER_BYTES), writer, parsed, armored=False)
    except Exception as exc:
        reader.reraise()
        writer.reraise()
        raise BundleError("age encryption failed") from exc
    # The swallowed-flush trap (module docstring): pyrage returned, yet the file may
    # be incomplete.
    reader.reraise()
    writer.reraise()


def decrypt(src: Readable, dst: Writable, identities: Sequence[str]) -> None:
    """Decrypt the binary age v1 file in ``src`` with ``identities`` into ``dst``.

    **Everything written to** ``dst`` **is unverified until this returns normally.**
    age authenticates each 64 KiB chunk before releasing it, but a file cut at a chunk
    boundary, or with data after its last chunk, is only detected at the end, after
    the earlier chunks went out. A caller must stage the output and discard all of it
    if this raises.

    Raises :class:`BundleNotForUs` when no identity matches, :class:`BundleTruncated`
    when the payload ends early, :class:`BundleTampered` when a MAC or tag fails,
    :class:`BundleMalformed` for anything that is not a binary age v1 file (armor
    included). An exception from ``src`` or ``dst`` — such as the container parser's
    own :class:`BundleError` — is re-raised unchanged.
    """
    parsed = parse_identities(identities)
    intro = _read_exactly(src, len(AGE_INTRO))
    if intro != AGE_INTRO:
        if b"-----BEGIN" in intro:
            raise BundleMalformed(
                "bundle is ascii-armored; bundles are binary age files",
                hint="a bundle file is used exactly as it was received",
            )
        raise BundleMalformed("bundle is not a binary age v1 file")
    _run_decrypt(_GuardedReader(src, prefix=_read_header(src, intro)), dst, parsed)


def _read_header(src: Readable, intro: bytes) -> bytes:
    """The intro, the whole header up to the end of its ``---`` line, and whatever else
    that read brought in; :class:`BundleMalformed` if the header passes the cap."""
    buffer = bytearray(intro)
    searched = len(intro) - 1  # the newline ending the intro starts the next line
    while True:
        mark = buffer.find(b"\n---", searched)
        if mark >= 0 and buffer.find(b"\n", mark + 1) >= 0:
            return bytes(buffer)
        if len(buffer) > MAX_HEADER_BYTES:
            raise BundleMalformed(
                f"bundle age header is longer than {MAX_HEADER_BYTES // 1024} KiB"
            )
        searched = max(len(intro) - 1, len(buffer) - 4) if mark < 0 else mark
        chunk = src.read(_HEADER_READ)
        if chunk is None:
            raise OSError("bundle source returned no data (non-blocking stream?)")
        if not chunk:
            return bytes(buffer)  # a short header: pyrage reports it as incomplete
        buffer += chunk


def _run_decrypt(reader: _GuardedReader, dst: Writable, identities: list[Any]) -> None:
    """pyrage.decrypt_io with the error mapping; no armor check (see ``decrypt``).

    pyrage reads and writes 8 KiB at a time; C buffers on both sides make that one
    Python call per MiB. When pyrage fails, what it released before (each chunk
    authenticated) still reaches ``dst`` first, exactly as without the buffer, so an
    error of ``dst`` (the container parser's) still wins over pyrage's echo of it.
    """
    writer = _GuardedWriter(dst)
    raw = _RawWriter(writer)
    buffered = io.BufferedWriter(raw, BUFFER_BYTES)
    try:
        pyrage.decrypt_io(io.BufferedReader(reader, BUFFER_BYTES), buffered, identities)
        buffered.flush()
    except (pyrage.DecryptError, OSError) as exc:
        # Our streams' own failures win: a disk error is not a forged bundle, and
        # the container parser's BundleError is more precise than pyrage's echo.
        _pass_on(buffered, writer)
        reader.reraise()
        writer.reraise()
        raise _map_error(exc) from None
    except BaseException:
        reader.reraise()
        writer.reraise()
        raise
    finally:
        # Nothing more reaches ``dst``, now or when the collector closes the buffer.
        raw.discard = True
        with contextlib.suppress(Exception):
            buffered.close()
    reader.reraise()
    writer.reraise()


def _pass_on(buffered: io.BufferedWriter[_RawWriter], writer: _GuardedWriter) -> None:
    """Flush what pyrage released into ``dst``, unless ``dst`` failed already; an error
    of ``dst`` is kept by the guarded writer (and raised by the caller)."""
    if writer.error is None:
        with contextlib.suppress(Exception):
            buffered.flush()


def _map_error(exc: BaseException) -> BundleError:
    text = str(exc)
    for needle, kind, message in _DECRYPT_ERRORS:
        if needle in text:
            if kind is BundleTruncated:
                return BundleTruncated(message, hint=_TRUNCATED_HINT)
            return kind(message)
    if isinstance(exc, pyrage.DecryptError):
        return BundleMalformed("bundle could not be decrypted")
    # A bare OSError from pyrage comes from the payload stage.
    return BundleTampered("bundle payload could not be decrypted")


def _read_exactly(src: Readable, size: int) -> bytes:
    out = bytearray()
    while len(out) < size:
        chunk = src.read(size - len(out))
        if chunk is None:
            raise OSError("bundle source returned no data (non-blocking stream?)")
        if not chunk:
            break
        out += chunk
    return bytes(out)


class _GuardedReader(io.RawIOBase):
    """Hands ``prefix`` then ``src`` to pyrage, remembering the first exception raised.

    pyrage wraps reader exceptions into its own error types and loses them; keeping
    the original lets ``reraise`` restore it (a BundleError from a container stream,
    an OSError from the disk).
    """

    def __init__(self, src: Readable, prefix: bytes = b"") -> None:
        super().__init__()
        self._src = src
        self._prefix = memoryview(prefix)
        self.error: BaseException | None = None
        # A raw stream whose ``read`` is the one RawIOBase derives from ``readinto``
        # (a container stream) is read straight into the buffer: that ``read(n)``
        # allocates and zeroes n bytes for every piece it returns.
        self._direct = isinstance(src, io.RawIOBase) and type(src).read is io.RawIOBase.read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.error is not None:
            raise self.error
        view = memoryview(buffer).cast("B")
        if self._prefix:
            n = min(len(view), len(self._prefix))
            view[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        try:
            if self._direct:
                got = self._src.readinto(view)  # type: ignore[attr-defined]
                if got is None:
                    raise OSError("bundle source returned no data (non-blocking stream?)")
                if not 0 <= got <= len(view):
                    raise OSError("bundle source returned more bytes than asked for")
                return int(got)
            chunk = self._src.read(len(view))
            if chunk is None:
                # A non-blocking source with nothing ready: never guess, fail.
                raise OSError("bundle source returned no data (non-blocking stream?)")
            if len(chunk) > len(view):
                raise OSError("bundle source returned more bytes than asked for")
        except BaseException as exc:
            self.error = exc
            raise
        n = len(chunk)
        view[:n] = chunk
        return n

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error


class _RawWriter(io.RawIOBase):
    """What the output buffer writes into: the guarded writer, or nothing once
    ``discard`` is set (after a failure nothing more may reach ``dst``). The data may
    be a view of the buffer, valid only during the call (the container parser copies
    what it keeps)."""

    def __init__(self, writer: _GuardedWriter) -> None:
        super().__init__()
        self._writer = writer
        self.discard = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.discard:
            return len(data)
        return self._writer.write(data)


class _GuardedWriter:
    """Passes writes to ``dst``; remembers the first exception (see module docstring)."""

    def __init__(self, dst: Writable) -> None:
        self._dst = dst
        self.error: BaseException | None = None

    def write(self, data: bytes) -> int:
        if self.error is not None:
            # pyrage may retry after a failure; the first error stands.
            raise self.error
        try:
            written = self._dst.write(data)
        except BaseException as exc:
            self.error = exc
            raise
        # A short write would silently drop bytes; treat it as the failure it is.
        if written is not None and written != len(data):
            self.error = OSError("short write while writing a bundle")
            raise self.error
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._dst, "flush", None)
        if callable(flush):
            try:
                flush()
            except BaseException as exc:
                self.error = exc
                raise

    def reraise(self) -> None:
        if self.error is not None:
            raise self.error
