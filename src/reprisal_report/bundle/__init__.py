"""Sealed bundles: signed manifest, salted commitments, streamed container, age layer.

The byte format is specified in docs/bundle-format.md. Modules, bottom up:

- ``padding``: PADMÉ bucket sizes;
- ``strictjson``: canonical JSON read back strictly;
- ``age_layer``: pyrage behind a fail-closed wrapper;
- ``container``: the plaintext grammar; a streaming writer and a push parser;
- ``manifest``: manifest, commitments, signature;
- ``seal`` / ``opening``: the two directions end to end, plus the checks a
  coordinator runs against the org card.
"""

from __future__ import annotations

from reprisal_report.bundle.container import AttachmentHeader, AttachmentSink, AttachmentSource
from reprisal_report.bundle.manifest import (
    Manifest,
    bundle_file_name,
    parse_manifest,
    verify_disclosed,
)
from reprisal_report.bundle.opening import (
    OpenedBundle,
    check_addressed,
    check_attachments,
    check_commitments,
    check_signature,
    open_bundle,
    verify_opened,
)
from reprisal_report.bundle.seal import SealedInfo, seal_to

__all__ = [
    "AttachmentHeader",
    "AttachmentSink",
    "AttachmentSource",
    "Manifest",
    "OpenedBundle",
    "SealedInfo",
    "bundle_file_name",
    "check_addressed",
    "check_attachments",
    "check_commitments",
    "check_signature",
    "open_bundle",
    "parse_manifest",
    "seal_to",
    "verify_disclosed",
    "verify_opened",
]
