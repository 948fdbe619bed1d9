"""Attachment metadata stripping (hook; the stripping itself comes with sealed bundles)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class PreparedAttachment:
    stream: BinaryIO
    # What happened to the file's metadata, recorded with the attachment.
    metadata: str
    # SHA-256 of the file as given, when stripping changed it; None otherwise.
    original_sha256: str | None


@contextlib.contextmanager
def prepare_attachment(path: Path, *, keep_metadata: bool) -> Iterator[PreparedAttachment]:
    """Yield a stream of the attachment as it should enter the vault.

    Today every file enters unchanged and is recorded as such; see docs/vault.md.
    """
    with path.open("rb") as handle:
        yield PreparedAttachment(handle, "unchanged", None)
