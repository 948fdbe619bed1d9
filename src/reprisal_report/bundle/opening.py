"""Opening: age file -> container -> manifest, signature, record, salts, attachments.

``open_bundle`` decrypts and parses; it proves the bundle is well formed and that age
authenticated every byte, but not **who** made it or **for whom**: that needs the org
card, so the caller runs the ``check_*`` functions (or :func:`verify_opened`) next.
Until every one of them has passed, nothing from the bundle — not the record, not
a byte given to the attachment sink — may be stored or shown.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.container import (
    MAX_RECORD_BYTES,
    AttachmentHeader,
    AttachmentSink,
    ContainerParser,
    DiscardingSink,
    StreamedAttachment,
)
from reprisal_report.bundle.manifest import (
    Manifest,
    parse_manifest,
    parse_salts,
    verify_commitments,
    verify_manifest,
)
from reprisal_report.bundle.strictjson import load_canonical
from reprisal_report.errors import BundleMalformed, BundleNotForUs, BundleTampered
from reprisal_report.identity.fingerprint import key_id


@dataclass(frozen=True)
class OpenedBundle:
    """A decrypted, well-formed bundle whose authorship is **not yet checked**."""

    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes
    record: dict[str, Any]
    record_bytes: bytes
    salts: dict[str, bytes]
    attachments: tuple[StreamedAttachment, ...]
    container_length: int


def open_bundle(
    src: age_layer.Readable,
    *,
    identities: Sequence[str],
    sink: AttachmentSink | None = None,
) -> OpenedBundle:
    """Decrypt ``src`` with ``identities`` and parse its container.

    Attachment bytes go to ``sink`` as they are decrypted (constant memory); they are
    unverified until this returns **and** the checks pass, so the sink must stage them
    where they can be thrown away. An attachment whose container header disagrees with
    the manifest is refused before its first byte reaches the sink.
    """
    guard = _ManifestGuard(sink if sink is not None else DiscardingSink())
    parser = ContainerParser(guard)
    guard.parser = parser
    age_layer.decrypt(src, parser, identities)
    parsed = parser.finish()
    manifest = guard.manifest()
    if len(parsed.attachments) != len(manifest.attachments):
        raise BundleTampered("bundle carries a different number of attachments than it lists")
    record = load_canonical(parsed.record, "case record", MAX_RECORD_BYTES)
    if not isinstance(record, dict):
        raise BundleMalformed("bundle case record is not a json object")
    return OpenedBundle(
        manifest=manifest,
        manifest_bytes=parsed.manifest,
        signature=parsed.signature,
        record=record,
        record_bytes=parsed.record,
        salts=parse_salts(parsed.salts),
        attachments=parsed.attachments,
        container_length=parsed.length,
    )


def check_signature(opened: OpenedBundle, author_public_key: bytes) -> None:
    """The manifest is signed by ``author_public_key``, the key its ``author`` names.

    The caller looks the author up in the org card (enrolled, not revoked) first.
    """
    if key_id(author_public_key) != opened.manifest.author:
        raise BundleTampered("bundle was checked against a key that is not its author's")
    verify_manifest(author_public_key, opened.manifest_bytes, opened.signature)


def check_addressed(
    opened: OpenedBundle, org_id: str, my_recipient_key_ids: Collection[str]
) -> None:
    """The signed manifest names our org and at least one of our recipient keys.

    Without this, anyone who can decrypt a bundle (a coordinator of another org, a
    former coordinator) could re-encrypt it to us and pass it off as addressed here.
    """
    if opened.manifest.org_id != org_id:
        raise BundleNotForUs("bundle is addressed to another organisation")
    if not set(my_recipient_key_ids) & set(opened.manifest.recipients):
        raise BundleNotForUs(
            "bundle's signed recipients do not include this profile's key",
            hint="it may have been re-encrypted by someone other than its author",
        )


def check_attachments(opened: OpenedBundle) -> None:
    """Every streamed attachment has the size and SHA-256 the signed manifest lists."""
    listed = opened.manifest.attachments
    if len(listed) != len(opened.attachments):
        raise BundleTampered("bundle carries a different number of attachments than it lists")
    for index, (entry, seen) in enumerate(zip(listed, opened.attachments, strict=True)):
        if (
            seen.header != entry
            or seen.size != entry.size
            or not hmac.compare_digest(seen.sha256, entry.sha256)
        ):
            raise BundleTampered(f"bundle attachment {index + 1} does not match its signed hash")


def check_commitments(opened: OpenedBundle) -> None:
    """Every case field matches its signed salted commitment, and nothing is extra.

    The record's schema (vocabularies, dates) is the model's business: the caller
    still runs ``model.case.validate_case`` on ``opened.record`` before storing it.
    """
    verify_commitments(opened.manifest, opened.record, opened.salts)


def verify_opened(
    opened: OpenedBundle,
    *,
    author_public_key: bytes,
    org_id: str,
    my_recipient_key_ids: Collection[str],
) -> None:
    """All four checks, signature first (nothing else means anything until it holds)."""
    check_signature(opened, author_public_key)
    check_addressed(opened, org_id, my_recipient_key_ids)
    check_attachments(opened)
    check_commitments(opened)


class _ManifestGuard:
    """Passes attachments to the caller's sink once they agree with the manifest."""

    def __init__(self, sink: AttachmentSink) -> None:
        self._sink = sink
        self.parser: ContainerParser | None = None
        self._manifest: Manifest | None = None
        self._index = 0

    def manifest(self) -> Manifest:
        if self._manifest is None:
            raw = self.parser.manifest if self.parser is not None else None
            if raw is None:  # the grammar puts the manifest first
                raise BundleMalformed("bundle container has no manifest")
            self._manifest = parse_manifest(raw)
        return self._manifest

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        listed = self.manifest().attachments
        if self._index >= len(listed) or listed[self._index] != header:
            raise BundleTampered(
                f"bundle attachment {self._index + 1} is not the one its manifest lists"
            )
        self._index += 1
        self._sink.on_attachment_start(header)

    def on_attachment_chunk(self, data: bytes) -> None:
        self._sink.on_attachment_chunk(data)

    def on_attachment_end(self) -> None:
        self._sink.on_attachment_end()
