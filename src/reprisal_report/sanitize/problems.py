"""Failures of the per-format strippers, before a file name is attached to them.

The format modules work on bytes and know nothing of paths; ``prepare_attachment``
turns these into the user-facing ``AttachmentMalformed`` / ``AttachmentRefused``.
Reasons are fixed phrases written here, never text taken from the file, so an error
line cannot echo case content or metadata to a terminal or a log.
"""

from __future__ import annotations


class MediaMalformed(Exception):
    """The bytes break the format's grammar (truncated, bad length, bad checksum)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaTooLarge(Exception):
    """The file declares more decoded pixels than may be held in memory to clean it."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"decodes to more than {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class MediaUnsupported(Exception):
    """A well-formed variant that cannot be cleaned faithfully (multi-image raw, signed PDF)."""

    def __init__(self, variant: str) -> None:
        super().__init__(variant)
        self.variant = variant
