"""Sealing and opening end to end, and the attacks a coordinator must catch."""

from __future__ import annotations

import copy
import hashlib
import io
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nacl.signing
import pyrage
import pytest

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.container import (
    AttachmentHeader,
    AttachmentSource,
    ContainerParts,
    ContainerStream,
)
from reprisal_report.bundle.manifest import (
    parse_manifest,
    salts_to_bytes,
    sign_manifest,
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
from reprisal_report.bundle.padding import padme
from reprisal_report.bundle.seal import SealedInfo, prepare_bundle, seal_to
from reprisal_report.errors import (
    AttachmentChanged,
    BundleError,
    BundleNotForUs,
    BundleTampered,
    SealInputInvalid,
)
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.model.canonical import canonical_json
from reprisal_report.model.case import parse_case_bytes

EXAMPLE_CASE = Path(__file__).resolve().parents[1] / "data" / "case-example.yaml"

RECORD = parse_case_bytes(EXAMPLE_CASE.read_bytes(), source_name="case-example.yaml")
ORG = "example-org"
CASE_ID = "a2b3c4d5e6f7g2h3"


@dataclass
class Party:
    """A coordinator: an age identity, named in manifests by its signing key id."""

    identity: Any = field(default_factory=pyrage.x25519.Identity.generate)
    signing: nacl.signing.SigningKey = field(default_factory=nacl.signing.SigningKey.generate)

    @property
    def secret(self) -> str:
        return str(self.identity)

    @property
    def recipient(self) -> str:
        return str(self.identity.to_public())

    @property
    def key_id(self) -> str:
        return key_id(bytes(self.signing.verify_key))


AUTHOR = nacl.signing.SigningKey.generate()
AUTHOR_ID = key_id(bytes(AUTHOR.verify_key))
COORD = Party()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source(name: str, data: bytes) -> AttachmentSource:
    return AttachmentSource(name, len(data), sha(data), lambda: io.BytesIO(data))


class Collect:
    def __init__(self) -> None:
        self.files: list[tuple[str, bytearray]] = []

    def on_attachment_start(self, header: AttachmentHeader) -> None:
        self.files.append((header.name, bytearray()))

    def on_attachment_chunk(self, data: bytes) -> None:
        self.files[-1][1].extend(data)

    def on_attachment_end(self) -> None:
        pass


def seal(
    attachments: Sequence[tuple[str, bytes] | AttachmentSource] = (),
    recipients: Sequence[Party] = (COORD,),
    record: dict[str, Any] | None = None,
    **changes: Any,
) -> tuple[bytes, SealedInfo]:
    out = io.BytesIO()
    args: dict[str, Any] = {
        "record": RECORD if record is None else record,
        "attachments": [a if isinstance(a, AttachmentSource) else source(*a) for a in attachments],
        "signing_key": AUTHOR,
        "author_key_id": AUTHOR_ID,
        "recipients": [(p.key_id, p.recipient) for p in recipients],
        "org_id": ORG,
        "case_id": CASE_ID,
        "previous_bundle_id": None,
    }
    args.update(changes)
    info = seal_to(out, **args)
    return out.getvalue(), info


def open_(data: bytes, party: Party = COORD, sink: Collect | None = None) -> OpenedBundle:
    return open_bundle(io.BytesIO(data), identities=[party.secret], sink=sink)


def verify(opened: OpenedBundle, party: Party = COORD) -> None:
    verify_opened(
        opened,
        author_public_key=bytes(AUTHOR.verify_key),
        org_id=ORG,
        my_recipient_key_ids=[party.key_id],
    )


def reencrypt(parts: ContainerParts, attachments: Sequence[AttachmentSource], to: Party) -> bytes:
    """What an attacker holding a decrypted bundle can build: any container, any recipient."""
    out = io.BytesIO()
    age_layer.encrypt(ContainerStream(parts, attachments), out, [to.recipient])
    return out.getvalue()


def parts_of(opened: OpenedBundle, **changes: bytes) -> ContainerParts:
    values = {
        "manifest": opened.manifest_bytes,
        "signature": opened.signature,
        "record": opened.record_bytes,
        "salts": salts_to_bytes(opened.salts),
    }
    values.update(changes)
    return ContainerParts(**values)


# --- round trips ---------------------------------------------------------------------------


def test_round_trip_with_several_attachments() -> None:
    files = [
        ("empty.txt", b""),
        ("one.bin", b"\x00"),
        ("chunk.bin", os.urandom(65536)),
        ("photo.jpg", os.urandom(3 * 1024 * 1024 + 17)),
        ("note.txt", "déjà vu\n".encode()),
    ]
    data, info = seal(files)
    sink = Collect()
    opened = open_(data, sink=sink)
    verify(opened)
    assert opened.record == RECORD
    assert [(n, bytes(b)) for n, b in sink.files] == files
    assert opened.manifest == info.manifest
    assert opened.manifest_bytes == info.manifest_bytes
    assert info.size == len(data)
    assert info.container_length == padme(info.container_length) == opened.container_length
    assert info.file_name == f"{info.bundle_id}.rrb"
    assert [a.sha256 for a in opened.attachments] == [
        hashlib.sha256(d).hexdigest() for _, d in files
    ]


def test_every_recipient_can_open_it() -> None:
    other = Party()
    data, info = seal(recipients=[COORD, other])
    for party in (COORD, other):
        verify(open_(data, party), party)
    assert set(info.manifest.recipients) == {COORD.key_id, other.key_id}


def test_ciphertext_size_depends_only_on_the_padding_bucket() -> None:
    small, a = seal([("a", b"x" * 1000)])
    larger, b = seal([("a", b"x" * 1010)])
    assert a.container_length == b.container_length
    # What is left is rage's random grease stanza (at most a couple of hundred bytes).
    assert abs(len(small) - len(larger)) < 300


def test_a_follow_up_names_its_predecessor() -> None:
    _, first = seal()
    data, second = seal(previous_bundle_id=first.bundle_id)
    assert open_(data).manifest.previous_bundle_id == first.bundle_id
    assert second.bundle_id != first.bundle_id


def test_seal_refuses_a_wrong_author_key_id() -> None:
    with pytest.raises(SealInputInvalid):
        seal(author_key_id="a" * 16)


def test_seal_refuses_no_recipients_and_duplicates() -> None:
    with pytest.raises(SealInputInvalid):
        seal(recipients=[])
    with pytest.raises(SealInputInvalid):
        seal(recipients=[COORD, COORD])


def test_seal_refuses_an_attachment_whose_size_lies() -> None:
    shorter = AttachmentSource("a", 5, sha(b"abcde"), lambda: io.BytesIO(b"abcd"))
    with pytest.raises(AttachmentChanged, match="shorter"):
        seal([shorter])
    longer = AttachmentSource("a", 3, sha(b"abc"), lambda: io.BytesIO(b"abcd"))
    with pytest.raises(AttachmentChanged, match="longer"):
        seal([longer])


def test_seal_refuses_an_attachment_changed_since_it_was_recorded() -> None:
    changed = AttachmentSource("a", 3, sha(b"abc"), lambda: io.BytesIO(b"abd"))
    with pytest.raises(AttachmentChanged, match="sha-256"):
        seal([changed])


# --- tampering with the ciphertext -----------------------------------------------------


def header_length(data: bytes) -> int:
    """Bytes up to and including the age header's MAC line."""
    return data.index(b"\n", data.index(b"\n--- ") + 1) + 1


def test_every_single_byte_flip_in_the_age_header_is_refused() -> None:
    data, _ = seal([("a", b"hello")])
    for position in range(header_length(data)):
        flipped = bytearray(data)
        flipped[position] ^= 0x01
        with pytest.raises(BundleError):
            open_(bytes(flipped))


def test_byte_flips_in_the_payload_are_refused() -> None:
    data, _ = seal([("a", os.urandom(150_000))])
    start = header_length(data)
    rng = random.Random(1234)
    for position in [start, len(data) - 1, *rng.sample(range(start, len(data)), 200)]:
        flipped = bytearray(data)
        flipped[position] ^= 1 << rng.randrange(8)
        with pytest.raises(BundleError):
            open_(bytes(flipped))


def test_truncation_anywhere_is_refused() -> None:
    data, _ = seal([("a", os.urandom(150_000))])
    rng = random.Random(99)
    start = header_length(data)
    cuts = [0, 1, start - 1, start, start + 16, len(data) - 1, *rng.sample(range(len(data)), 60)]
    for cut in cuts:
        with pytest.raises(BundleError):
            open_(data[:cut])


def test_appended_bytes_are_refused() -> None:
    data, _ = seal()
    with pytest.raises(BundleTampered):
        open_(data + b"\x00")


def test_wrong_identity_is_not_for_us() -> None:
    data, _ = seal()
    with pytest.raises(BundleNotForUs):
        open_(data, Party())


# --- attacks by someone who can decrypt --------------------------------------------------


def test_re_addressed_manifest_breaks_the_signature() -> None:
    data, _ = seal()
    opened = open_(data)
    mallory = Party()
    doc = opened.manifest.to_dict()
    doc["recipients"] = [mallory.key_id]
    forged = reencrypt(parts_of(opened, manifest=canonical_json(doc)), [], mallory)
    stolen = open_(forged, mallory)
    with pytest.raises(BundleTampered, match="signature"):
        check_signature(stolen, bytes(AUTHOR.verify_key))


def test_re_encrypted_bundle_is_not_addressed_to_the_new_holder() -> None:
    data, _ = seal()
    opened = open_(data)
    other_coordinator = Party()
    forwarded = open_(reencrypt(parts_of(opened), [], other_coordinator), other_coordinator)
    check_signature(forwarded, bytes(AUTHOR.verify_key))  # still the author's words...
    with pytest.raises(BundleNotForUs, match="recipients"):  # ...but not sent to us
        check_addressed(forwarded, ORG, [other_coordinator.key_id])
    with pytest.raises(BundleNotForUs, match="another organisation"):
        check_addressed(forwarded, "other-org", [COORD.key_id])


def test_wrong_author_key_is_refused() -> None:
    opened = open_(seal()[0])
    impostor = nacl.signing.SigningKey.generate()
    with pytest.raises(BundleTampered):
        check_signature(opened, bytes(impostor.verify_key))


def test_signature_by_another_enrolled_device_is_refused() -> None:
    # A device re-signs someone else's manifest unchanged: the author field names the
    # original device, so its own key is not the author's.
    opened = open_(seal()[0])
    device = nacl.signing.SigningKey.generate()
    resigned = parts_of(opened, signature=sign_manifest(device, opened.manifest_bytes))
    forged = open_(reencrypt(resigned, [], COORD))
    with pytest.raises(BundleTampered):
        check_signature(forged, bytes(device.verify_key))
    with pytest.raises(BundleTampered):
        check_signature(forged, bytes(AUTHOR.verify_key))


def test_attachment_swapped_between_bundles_fails_the_hash_check() -> None:
    a = open_(seal([("evidence.jpg", b"A" * 5000)])[0])
    b = open_(seal([("evidence.jpg", b"B" * 5000)])[0])
    # B's bytes under A's header: the container is well formed, the hash is not A's.
    header = a.manifest.attachments[0]
    swapped = AttachmentSource(
        header.name, header.size, header.sha256, lambda: io.BytesIO(b"B" * 5000)
    )
    out = io.BytesIO()
    age_layer.encrypt(_UncheckedStream(parts_of(a), [swapped]), out, [COORD.recipient])
    forged = open_(out.getvalue())
    check_signature(forged, bytes(AUTHOR.verify_key))
    with pytest.raises(BundleTampered, match="attachment 1"):
        check_attachments(forged)
    # B's header and bytes in A's bundle: refused as soon as the header is read.
    assert b.manifest.attachments[0] != header
    with pytest.raises(BundleTampered, match="attachment 1"):
        open_(reencrypt(parts_of(a), [source("evidence.jpg", b"B" * 5000)], COORD))


class _UncheckedStream(ContainerStream):
    """A container writer that skips the hash check: an attacker's tool, not ours."""

    def _stream_attachment(self, index: int, source: AttachmentSource) -> Iterator[bytes]:
        with source.open() as stream:
            yield stream.read()


def test_dropped_attachment_is_refused() -> None:
    data, _ = seal([("a", b"one"), ("b", b"two")])
    opened = open_(data)
    first = source("a", b"one")
    with pytest.raises(BundleTampered, match="number of attachments"):
        open_(reencrypt(parts_of(opened), [first], COORD))


def test_commitments_verify_and_a_changed_value_fails() -> None:
    opened = open_(seal()[0])
    check_commitments(opened)
    changed = copy.deepcopy(opened.record)
    changed["victims"][0]["name"] = "Someone Else"
    forged = open_(reencrypt(parts_of(opened, record=canonical_json(changed)), [], COORD))
    check_signature(forged, bytes(AUTHOR.verify_key))  # the manifest is untouched...
    with pytest.raises(BundleTampered, match=r"victims\[0\]\.name"):
        check_commitments(forged)  # ...but the record no longer matches it


def test_disclosed_fields_verify_against_the_signed_manifest() -> None:
    opened = open_(seal()[0])
    manifest = parse_manifest(opened.manifest_bytes)
    salt = opened.salts["victims[0].name"]
    assert verify_disclosed(manifest, "victims[0].name", RECORD["victims"][0]["name"], salt)
    assert not verify_disclosed(manifest, "victims[0].name", "Another Name", salt)


def test_prepare_is_deterministic_given_pinned_randomness() -> None:
    def rng_factory() -> Any:
        counter = iter(range(10_000))
        return lambda n: hashlib.shake_256(next(counter).to_bytes(4, "big")).digest(n)

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    args: dict[str, Any] = {
        "record": RECORD,
        "attachments": [],
        "signing_key": AUTHOR,
        "author_key_id": AUTHOR_ID,
        "recipient_key_ids": [COORD.key_id],
        "org_id": ORG,
        "case_id": CASE_ID,
        "now": now,
    }
    one = prepare_bundle(rng=rng_factory(), **args)
    two = prepare_bundle(rng=rng_factory(), **args)
    assert one.container().read() == two.container().read()
