"""Known-answer vectors for the bundle format (tests/vectors/bundle_kat.json).

Two kinds of check: the committed file equals what the generator produces now (the
format did not drift), and the vectors agree with docs/bundle-format.md as read by
an independent, deliberately naive reader written here from the spec alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import struct
from typing import Any

import nacl.signing
import pytest

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.opening import open_bundle, verify_opened
from reprisal_report.model.canonical import canonical_json
from tests.vectors.make_bundle_kat import KAT_PATH, build_kat, dump

KAT: dict[str, Any] = json.loads(KAT_PATH.read_text(encoding="utf-8"))
BUNDLE = KAT["bundle"]
INPUTS = BUNDLE["inputs"]
OUTPUTS = BUNDLE["outputs"]
CONTAINER = bytes.fromhex(OUTPUTS["container_hex"])

COMMITMENT_DOMAIN = b"reprisal-report/commitment/1\x00"
SIGNATURE_DOMAIN = b"reprisal-report/manifest/1\x00"


def test_generator_reproduces_the_committed_vectors() -> None:
    regenerated = dump(build_kat(BUNDLE["sample_rrb_base64"]))
    assert regenerated == KAT_PATH.read_text(encoding="utf-8"), (
        "bundle format drifted: run PYTHONPATH=src python tests/vectors/make_bundle_kat.py "
        "and explain the change in docs/bundle-format.md"
    )


def spec_padme(length: int) -> int:
    """PADMÉ as written in the paper (section 4), with logarithms."""
    if length < 2:
        return length
    e = math.floor(math.log2(length))
    s = math.floor(math.log2(e)) + 1 if e > 0 else 0
    last_bits = e - s
    mask = (1 << last_bits) - 1
    return (length + mask) & ~mask


@pytest.mark.parametrize(("length", "padded"), KAT["padme"])
def test_padme_table(length: int, padded: int) -> None:
    assert spec_padme(length) == padded


def spec_commit(path: str, value: object, salt: bytes) -> str:
    message = COMMITMENT_DOMAIN + salt + path.encode() + b"\x00" + canonical_json(value)
    return hashlib.sha256(message).hexdigest()


@pytest.mark.parametrize("vector", KAT["commitments"], ids=lambda v: v["path"])
def test_commitment_vectors(vector: dict[str, Any]) -> None:
    salt = base64.b64decode(vector["salt"])
    assert len(salt) == 32
    assert spec_commit(vector["path"], vector["value"], salt) == vector["commitment"]


def split_container(data: bytes) -> list[tuple[int, bytes]]:
    """Read the container by the grammar in the spec; return (type, body) records."""
    assert data[:5] == b"RRB\x00\x01"
    records = []
    pos = 5
    while pos < len(data):
        kind, length = struct.unpack_from(">BQ", data, pos)
        pos += 9
        records.append((kind, data[pos : pos + length]))
        pos += length
    assert pos == len(data)
    return records


def test_container_layout_follows_the_spec() -> None:
    records = split_container(CONTAINER)
    kinds = [k for k, _ in records]
    n = len(INPUTS["attachments"])
    assert kinds == [1, 2, 3, 4] + [5, 6] * n + [7, 8]
    bodies = [b for _, b in records]
    assert bodies[0] == OUTPUTS["manifest"].encode()
    assert bodies[1] == bytes.fromhex(OUTPUTS["signature"])
    assert bodies[2] == OUTPUTS["record"].encode()
    assert bodies[3] == OUTPUTS["salts"].encode()
    for i, attachment in enumerate(INPUTS["attachments"]):
        header, data = bodies[4 + 2 * i], bodies[5 + 2 * i]
        expected = bytes.fromhex(attachment["data_hex"])
        assert data == expected
        assert json.loads(header) == {
            "name": attachment["name"],
            "sha256": hashlib.sha256(expected).hexdigest(),
            "size": len(expected),
        }
        assert header == canonical_json(json.loads(header))
    padding, end = bodies[-2], bodies[-1]
    assert end == b""
    assert padding == bytes(len(padding))
    before_padding = len(CONTAINER) - 18 - len(padding)
    assert len(CONTAINER) == spec_padme(before_padding + 18)
    assert len(CONTAINER) == OUTPUTS["container_length"]
    assert hashlib.sha256(CONTAINER).hexdigest() == OUTPUTS["container_sha256"]


def test_manifest_signature_and_commitments_follow_the_spec() -> None:
    manifest_bytes = OUTPUTS["manifest"].encode()
    manifest = json.loads(manifest_bytes)
    assert canonical_json(manifest) == manifest_bytes
    assert hashlib.sha256(manifest_bytes).hexdigest() == OUTPUTS["manifest_sha256"]
    public = bytes.fromhex(INPUTS["author_public_key"])
    assert (
        bytes(nacl.signing.SigningKey(bytes.fromhex(INPUTS["author_signing_seed"])).verify_key)
        == public
    )
    nacl.signing.VerifyKey(public).verify(
        SIGNATURE_DOMAIN + manifest_bytes, bytes.fromhex(OUTPUTS["signature"])
    )
    assert manifest["bundle_id"] == OUTPUTS["bundle_id"]
    assert OUTPUTS["file_name"] == OUTPUTS["bundle_id"] + ".rrb"
    assert manifest["created"] == "2026-11-23T22Z"
    assert manifest["recipients"] == [INPUTS["recipient_key_id"]]
    salts = {p: base64.b64decode(s) for p, s in json.loads(OUTPUTS["salts"]).items()}
    record = json.loads(OUTPUTS["record"])
    assert record == INPUTS["record"]
    assert set(salts) == set(manifest["commitments"])
    for path, digest in manifest["commitments"].items():
        assert spec_commit(path, leaf(record, path), salts[path]) == digest


def leaf(record: Any, path: str) -> Any:
    """Follow a field path (``victims[0].aliases[1]``) by hand."""
    node = record
    for part in path.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def test_sample_rrb_decrypts_to_the_container() -> None:
    rrb = base64.b64decode(BUNDLE["sample_rrb_base64"])
    assert rrb.startswith(b"age-encryption.org/v1\n")
    out = io.BytesIO()
    age_layer.decrypt(io.BytesIO(rrb), out, [INPUTS["age_identity"]])
    assert out.getvalue() == CONTAINER


def test_sample_rrb_opens_and_verifies() -> None:
    rrb = base64.b64decode(BUNDLE["sample_rrb_base64"])
    opened = open_bundle(io.BytesIO(rrb), identities=[INPUTS["age_identity"]])
    verify_opened(
        opened,
        author_public_key=bytes.fromhex(INPUTS["author_public_key"]),
        org_id=INPUTS["org_id"],
        my_recipient_key_ids=[INPUTS["recipient_key_id"]],
    )
    assert opened.record == INPUTS["record"]
    assert opened.manifest.bundle_id == OUTPUTS["bundle_id"]
