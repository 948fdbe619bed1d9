"""Sealing: case record + attachments -> signed manifest -> container -> age file.

Sign-then-encrypt: the author's signature sits inside the encryption, so neither the
relay nor the courier learns who wrote a bundle, and the signed manifest names its
recipients, so a recipient cannot quietly re-encrypt it to someone else.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import nacl.signing

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.container import (
    AttachmentSource,
    ContainerParts,
    ContainerStream,
)
from reprisal_report.bundle.manifest import (
    Manifest,
    Random,
    build_manifest,
    salts_to_bytes,
    sign_manifest,
)
from reprisal_report.errors import AttachmentChanged, SealInputInvalid
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.model.canonical import canonical_json


class Sink(Protocol):
    """Where the bundle's ciphertext goes: a file, or anything that writes and flushes."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class PreparedBundle:
    """Everything of a bundle except its encryption; the container is made on demand."""

    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes
    record_bytes: bytes
    salts: dict[str, bytes]
    salts_bytes: bytes
    attachments: tuple[AttachmentSource, ...]

    def container(self) -> ContainerStream:
        """A fresh stream of the container plaintext (each call re-opens attachments)."""
        parts = ContainerParts(
            manifest=self.manifest_bytes,
            signature=self.signature,
            record=self.record_bytes,
            salts=self.salts_bytes,
        )
        return ContainerStream(parts, self.attachments)


@dataclass(frozen=True)
class SealedInfo:
    bundle_id: str
    manifest: Manifest
    manifest_bytes: bytes
    signature: bytes
    size: int  # bytes of age ciphertext written to dst
    container_length: int  # bytes of container plaintext (a PADMÉ bucket)

    @property
    def file_name(self) -> str:
        return self.manifest.file_name


def prepare_bundle(
    *,
    record: Mapping[str, Any],
    attachments: Sequence[AttachmentSource],
    signing_key: nacl.signing.SigningKey,
    author_key_id: str,
    recipient_key_ids: Sequence[str],
    org_id: str,
    case_id: str,
    previous_bundle_id: str | None = None,
    now: datetime | None = None,
    rng: Random = secrets.token_bytes,
) -> PreparedBundle:
    """Build and sign the manifest; encode record and salts. No encryption yet.

    ``now`` and ``rng`` exist for the known-answer vectors; leave them alone.
    """
    if author_key_id != key_id(bytes(signing_key.verify_key)):
        raise SealInputInvalid("the author key id does not belong to the signing key")
    if len(set(recipient_key_ids)) != len(recipient_key_ids):
        raise SealInputInvalid("a recipient key id is listed twice")
    try:
        record_bytes = canonical_json(dict(record))
    except TypeError:
        raise SealInputInvalid("the case record holds values a bundle cannot hold") from None
    manifest, salts = build_manifest(
        record=record,
        org_id=org_id,
        case_id=case_id,
        author_key_id=author_key_id,
        recipient_key_ids=recipient_key_ids,
        attachments=[a.header for a in attachments],
        previous_bundle_id=previous_bundle_id,
        now=now,
        rng=rng,
    )
    manifest_bytes = manifest.to_bytes()
    return PreparedBundle(
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        signature=sign_manifest(signing_key, manifest_bytes),
        record_bytes=record_bytes,
        salts=salts,
        salts_bytes=salts_to_bytes(salts),
        attachments=tuple(attachments),
    )


def seal_to(
    dst: Sink,
    *,
    record: Mapping[str, Any],
    attachments: Sequence[AttachmentSource],
    signing_key: nacl.signing.SigningKey,
    author_key_id: str,
    recipients: Sequence[tuple[str, str]],
    org_id: str,
    case_id: str,
    previous_bundle_id: str | None = None,
    now: datetime | None = None,
    rng: Random = secrets.token_bytes,
) -> SealedInfo:
    """Seal one case into ``dst`` as a bundle; return what was sealed.

    ``recipients`` is ``[(key id, age1… recipient)]``, normally every active recipient
    of the org card. Attachments are streamed one after another and checked against
    their recorded size and SHA-256 on the way (:class:`AttachmentChanged`).

    If this raises, ``dst`` holds a partial file: the caller writes to a temporary
    name and renames only after a normal return. The file's name is
    ``SealedInfo.file_name``.
    """
    if not recipients:
        raise SealInputInvalid("the org card lists no recipient to seal to")
    prepared = prepare_bundle(
        record=record,
        attachments=attachments,
        signing_key=signing_key,
        author_key_id=author_key_id,
        recipient_key_ids=[kid for kid, _ in recipients],
        org_id=org_id,
        case_id=case_id,
        previous_bundle_id=previous_bundle_id,
        now=now,
        rng=rng,
    )
    counter = _CountingWriter(dst)
    with prepared.container() as stream:
        age_layer.encrypt(stream, counter, [recipient for _, recipient in recipients])
        # Belt and braces: age must have consumed exactly the planned container.
        if stream.position != stream.length:
            raise AttachmentChanged("the bundle container was not written in full")
        length = stream.length
    return SealedInfo(
        bundle_id=prepared.manifest.bundle_id,
        manifest=prepared.manifest,
        manifest_bytes=prepared.manifest_bytes,
        signature=prepared.signature,
        size=counter.count,
        container_length=length,
    )


class _CountingWriter:
    def __init__(self, dst: Sink) -> None:
        self._dst = dst
        self.count = 0

    def write(self, data: bytes) -> int:
        written = self._dst.write(data)
        self.count += len(data)
        return written

    def flush(self) -> None:
        self._dst.flush()
