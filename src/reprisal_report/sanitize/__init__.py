"""Attachment metadata stripping, on the way into the vault (``case attach``).

The kind of a file is read from its first bytes, never from its name. JPEG, PNG, WebP,
TIFF and PDF files are read whole into memory (up to ``max_strip_bytes(kind)``), cleaned by
the module for their format, and handed to the vault as an in-memory stream: no
plaintext copy is ever written to disk, not even a temporary one. What each format
keeps and drops, and why, is in docs/attachments.md and the format modules.

Anything else is refused unless the user passes ``--keep-metadata``, in which case it
is streamed into the vault unchanged and recorded as ``kept``. A file that announces a
known kind but is broken is refused whatever the flag: it cannot be cleaned, and the
likeliest broken photo (one cut off in transfer) still carries its EXIF block whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from reprisal_report.errors import (
    AttachmentDecodesTooLarge,
    AttachmentMalformed,
    AttachmentRefused,
    AttachmentTooLarge,
)
from reprisal_report.sanitize.jpeg import strip_jpeg
from reprisal_report.sanitize.kinds import HEAD_BYTES, LABELS, MediaKind, describe_head, detect
from reprisal_report.sanitize.png import strip_png
from reprisal_report.sanitize.problems import MediaMalformed, MediaTooLarge, MediaUnsupported
from reprisal_report.sanitize.webp import strip_webp

__all__ = [
    "KEEP_METADATA_HINT",
    "MAX_IMAGE_BYTES",
    "MAX_STRIP_BYTES",
    "MAX_TIFF_BYTES",
    "MediaKind",
    "PreparedAttachment",
    "describe_kind",
    "max_strip_bytes",
    "prepare_attachment",
    "strip_bytes",
]

# Cleaning happens in memory (the input, the output and, for TIFF, one decoded page at
# a time), so the input is capped. 256 MiB covers any document; video is not a
# strippable kind anyway.
MAX_STRIP_BYTES = 256 * 1024 * 1024
# Images are held twice at most (the input and the cleaned output; TIFF adds its capped
# decoded pages), on top of about 45 MiB for the interpreter and the vault: 100 MiB
# keeps ``case attach`` under 300 MiB peak RSS for any image (docs/attachments.md §5,
# measured by tests/integration/test_attach_memory.py). A 200-megapixel phone JPEG is
# about 60 MB.
MAX_IMAGE_BYTES = 100 * 1024 * 1024
# Pillow reads a whole in-memory TIFF again for each compressed page it decodes, so a
# TIFF is held twice before its pages are: 64 MiB, the most its pages may decode to
# (sanitize/tiff.py), keeps it under 300 MiB too.
MAX_TIFF_BYTES = 64 * 1024 * 1024


def max_strip_bytes(kind: MediaKind) -> int:
    """The largest file of ``kind`` that is cleaned (larger ones are refused or kept)."""
    if kind is MediaKind.PDF:
        return MAX_STRIP_BYTES
    if kind is MediaKind.TIFF:
        return min(MAX_TIFF_BYTES, MAX_STRIP_BYTES)
    return min(MAX_IMAGE_BYTES, MAX_STRIP_BYTES)


# The cli adds how to store such a file anyway (cli/app.py FLAG_HINTS).
KEEP_METADATA_HINT = (
    "it can only be stored as it is, with any names, places, device serials or "
    "timestamps it carries"
)


def _stripper(kind: MediaKind) -> Callable[[bytes], bytes]:
    # Pillow and pikepdf are imported only when a TIFF or PDF is attached: together
    # they would add about 0.1 s to every command that imports the reporter workflow.
    if kind is MediaKind.TIFF:
        from reprisal_report.sanitize.tiff import strip_tiff

        return strip_tiff
    if kind is MediaKind.PDF:
        from reprisal_report.sanitize.pdf import strip_pdf

        return strip_pdf
    return {MediaKind.JPEG: strip_jpeg, MediaKind.PNG: strip_png, MediaKind.WEBP: strip_webp}[kind]


@dataclass(frozen=True)
class PreparedAttachment:
    stream: BinaryIO
    # What happened to the file's metadata, recorded with the attachment:
    # "stripped:<kind>" or "kept" (stored as given, by the user's choice).
    metadata: str
    # SHA-256 of the file as given, when stripping changed it; None otherwise.
    original_sha256: str | None


def describe_kind(path: Path) -> str:
    """A short label for the file's kind as read from its first bytes ("jpeg image")."""
    with path.open("rb") as handle:
        return describe_head(handle.read(HEAD_BYTES))


def strip_bytes(data: bytes, *, name: str) -> tuple[MediaKind, bytes]:
    """Detect ``data``'s kind and return it cleaned; ``name`` is only for messages.

    Raises ``AttachmentMalformed`` for broken media and ``AttachmentRefused`` for kinds
    or variants that cannot be cleaned (and, above ``max_strip_bytes(kind)``,
    ``AttachmentTooLarge``).
    """
    kind = detect(data[:HEAD_BYTES])
    if kind is None:
        raise _refused(name, describe_head(data[:HEAD_BYTES]))
    if len(data) > max_strip_bytes(kind):
        raise _too_large(name, kind)
    try:
        return kind, _stripper(kind)(data)
    except MediaUnsupported as exc:
        raise _refused(name, exc.variant) from None
    except MediaTooLarge as exc:
        limit = exc.limit_bytes // (1024 * 1024)
        raise AttachmentDecodesTooLarge(
            f"{name} is a {LABELS[kind]} whose pixels would take more than {limit} MiB "
            "of memory to clean",
            hint="convert it to png or jpeg, or split it into smaller pages, and attach that",
        ) from None
    except MediaMalformed as exc:
        raise AttachmentMalformed(
            f"{name} is a damaged {kind.value} file: {exc.reason}",
            hint="check that the file is complete; a damaged file cannot be cleaned",
        ) from None


@contextlib.contextmanager
def prepare_attachment(path: Path, *, keep_metadata: bool) -> Iterator[PreparedAttachment]:
    """Yield a stream of the attachment as it should enter the vault.

    Strippable kinds are cleaned whatever ``keep_metadata`` says; the flag only lets
    through, unchanged, what cannot be cleaned (other kinds, unsupported variants,
    files above the size cap).
    """
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        kind = detect(head)
        if kind is None:
            if not keep_metadata:
                raise _refused(path.name, describe_head(head))
            yield _kept(handle)
            return
        # fstat first so that a huge file is not read just to learn it is too big; the
        # bounded read below still holds if the file grows meanwhile.
        cap = max_strip_bytes(kind)
        if os.fstat(handle.fileno()).st_size > cap:
            if not keep_metadata:
                raise _too_large(path.name, kind)
            yield _kept(handle)
            return
        # One read into one buffer (``head + rest`` would hold the file twice).
        handle.seek(0)
        data = handle.read(cap + 1)
        result: tuple[MediaKind, bytes] | None = None
        try:
            result = strip_bytes(data, name=path.name)
        except AttachmentRefused:
            # An unsupported variant (signed PDF, camera raw ...) is like any other kind
            # that cannot be cleaned. Malformed media is not caught: see the docstring.
            if not keep_metadata:
                raise
        if result is None:
            del data  # stored as given, streamed from the file
            yield _kept(handle)
            return
        stripped_kind, cleaned = result
        original_sha256 = hashlib.sha256(data).hexdigest()
        del data  # the cleaned copy is all that is needed from here on
        yield PreparedAttachment(
            io.BytesIO(cleaned), f"stripped:{stripped_kind.value}", original_sha256
        )


def _kept(handle: BinaryIO) -> PreparedAttachment:
    handle.seek(0)
    return PreparedAttachment(handle, "kept", None)


def _refused(name: str, label: str) -> AttachmentRefused:
    return AttachmentRefused(
        f"{name} is a {label}; this tool cannot strip its metadata", hint=KEEP_METADATA_HINT
    )


def _too_large(name: str, kind: MediaKind) -> AttachmentTooLarge:
    limit = max_strip_bytes(kind) // (1024 * 1024)
    return AttachmentTooLarge(
        f"{name} is a {LABELS[kind]} larger than {limit} MiB, the most this tool cleans",
        hint=KEEP_METADATA_HINT,
    )
