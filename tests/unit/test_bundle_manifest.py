"""Manifest: strict parsing, signature, salted commitments, partial disclosure."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import nacl.signing
import pytest

from reprisal_report.bundle import manifest as mf
from reprisal_report.bundle.container import MAX_MANIFEST_BYTES, AttachmentHeader
from reprisal_report.bundle.manifest import (
    Manifest,
    build_manifest,
    coarse_time,
    commit,
    is_bundle_id,
    new_bundle_id,
    parse_manifest,
    parse_salts,
    salts_to_bytes,
    sign_manifest,
    verify_commitments,
    verify_disclosed,
    verify_manifest,
)
from reprisal_report.errors import (
    BundleKeyInvalid,
    BundleMalformed,
    BundleTampered,
    SealInputInvalid,
)
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.model.canonical import canonical_json

RECORD: dict[str, Any] = {
    "title": "A title",
    "incident_date": "2026-03",
    "country": "BI",
    "cooperation": [{"mechanism": "treaty_body", "mode": "briefing"}],
    "acts": ["threat", "travel_ban"],
    "victims": [
        {"name": "Example Person", "aliases": ["EP", "E"], "kind": "human_rights_defender"}
    ],
    "consent": "share_un_confidential",
    "risk": "medium",
}
KEY = nacl.signing.SigningKey(b"\x01" * 32)
AUTHOR = key_id(bytes(KEY.verify_key))
COORDINATOR = "c" * 16
ATTACHMENT = AttachmentHeader("photo.jpg", 3, hashlib.sha256(b"abc").hexdigest())


def build(**changes: Any) -> tuple[Manifest, dict[str, bytes]]:
    args: dict[str, Any] = {
        "record": RECORD,
        "org_id": "example-org",
        "case_id": "a" * 16,
        "author_key_id": AUTHOR,
        "recipient_key_ids": [COORDINATOR],
        "attachments": [ATTACHMENT],
        "previous_bundle_id": None,
        "now": datetime(2026, 11, 23, 22, 41, 7, tzinfo=UTC),
    }
    args.update(changes)
    return build_manifest(**args)


def test_manifest_round_trips_through_its_bytes() -> None:
    manifest, _ = build()
    data = manifest.to_bytes()
    assert parse_manifest(data) == manifest
    assert parse_manifest(data).to_bytes() == data
    assert manifest.created == "2026-11-23T22Z"
    assert manifest.file_name == manifest.bundle_id + ".rrb"


def test_every_field_has_a_commitment_and_a_fresh_salt() -> None:
    manifest, salts = build()
    assert set(manifest.commitments) == set(salts)
    assert "victims[0].aliases[1]" in salts
    assert len(set(salts.values())) == len(salts)
    assert all(len(s) == 32 for s in salts.values())
    other, _ = build()
    assert other.bundle_id != manifest.bundle_id
    assert other.commitments["title"] != manifest.commitments["title"]


def test_commitment_follows_the_documented_construction() -> None:
    salt = bytes(range(32))
    expected = hashlib.sha256(
        b"reprisal-report/commitment/1\x00" + salt + b"title\x00" + b'"A title"'
    ).hexdigest()
    assert commit("title", "A title", salt) == expected


def test_commit_refuses_bad_paths_and_salts() -> None:
    with pytest.raises(ValueError):
        commit("title\x00x", "v", bytes(32))
    with pytest.raises(ValueError):
        commit("title", "v", bytes(31))


def test_bundle_ids_are_128_bit_lower_base32() -> None:
    bundle_id = new_bundle_id()
    assert len(bundle_id) == 26 and bundle_id == bundle_id.lower()
    assert is_bundle_id(bundle_id)
    assert not is_bundle_id(bundle_id.upper())
    # The last character carries 3 bits and 2 zero bits: only some letters are canonical.
    assert is_bundle_id("a" * 25 + "a")
    assert not is_bundle_id("a" * 25 + "b")
    assert not is_bundle_id("a" * 27)


def test_coarse_time_is_utc_date_and_hour() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert coarse_time(datetime(2026, 1, 1, 1, 59, 59, tzinfo=plus_two)) == "2025-12-31T23Z"
    with pytest.raises(ValueError):
        coarse_time(datetime(2026, 1, 1))


# --- signature ---------------------------------------------------------------------------


def test_signature_verifies_and_is_domain_separated() -> None:
    manifest, _ = build()
    data = manifest.to_bytes()
    signature = sign_manifest(KEY, data)
    verify_manifest(bytes(KEY.verify_key), data, signature)
    # The same key signing the bare manifest (no domain) does not produce a valid one.
    bare = bytes(KEY.sign(data).signature)
    with pytest.raises(BundleTampered):
        verify_manifest(bytes(KEY.verify_key), data, bare)


def test_signature_fails_for_other_bytes_or_keys() -> None:
    manifest, _ = build()
    data = manifest.to_bytes()
    signature = sign_manifest(KEY, data)
    other = nacl.signing.SigningKey(b"\x02" * 32)
    with pytest.raises(BundleTampered):
        verify_manifest(bytes(other.verify_key), data, signature)
    with pytest.raises(BundleTampered):
        verify_manifest(
            bytes(KEY.verify_key), data.replace(b"example-org", b"another-org"), signature
        )
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(BundleTampered):
        verify_manifest(bytes(KEY.verify_key), data, flipped)
    with pytest.raises(BundleMalformed):
        verify_manifest(bytes(KEY.verify_key), data, signature[:63])
    with pytest.raises(BundleKeyInvalid):
        verify_manifest(b"\x00" * 31, data, signature)


# --- commitments -------------------------------------------------------------------------


def test_commitments_verify() -> None:
    manifest, salts = build()
    verify_commitments(manifest, RECORD, salts)


def test_a_changed_value_fails() -> None:
    manifest, salts = build()
    changed = copy.deepcopy(RECORD)
    changed["victims"][0]["aliases"][1] = "F"
    with pytest.raises(BundleTampered, match=r"victims\[0\]\.aliases\[1\]"):
        verify_commitments(manifest, changed, salts)


def test_an_added_or_removed_field_fails() -> None:
    manifest, salts = build()
    added = copy.deepcopy(RECORD)
    added["location"] = "somewhere"
    with pytest.raises(BundleTampered):
        verify_commitments(manifest, added, salts)
    removed = copy.deepcopy(RECORD)
    del removed["risk"]
    with pytest.raises(BundleTampered):
        verify_commitments(manifest, removed, salts)
    reordered = copy.deepcopy(RECORD)
    reordered["acts"].reverse()
    with pytest.raises(BundleTampered):
        verify_commitments(manifest, reordered, salts)


def test_a_wrong_salt_fails() -> None:
    manifest, salts = build()
    salts = dict(salts)
    salts["title"] = bytes(32)
    with pytest.raises(BundleTampered, match="title"):
        verify_commitments(manifest, RECORD, salts)
    del salts["title"]
    with pytest.raises(BundleTampered):
        verify_commitments(manifest, RECORD, salts)


def test_empty_lists_and_objects_are_refused() -> None:
    manifest, salts = build()
    for record in (
        {**RECORD, "perpetrators": []},
        {**RECORD, "perpetrators": [{}]},
        {},
    ):
        with pytest.raises(BundleMalformed, match="empty"):
            verify_commitments(manifest, record, salts)
    with pytest.raises(SealInputInvalid):
        build(record={**RECORD, "perpetrators": []})


def test_fields_outside_the_schema_are_refused() -> None:
    manifest, salts = build()
    with pytest.raises(BundleMalformed, match="schema"):
        verify_commitments(manifest, {**RECORD, "smuggled": "x"}, salts)


def test_partial_disclosure() -> None:
    manifest, salts = build()
    salt = salts["victims[0].name"]
    assert verify_disclosed(manifest, "victims[0].name", "Example Person", salt)
    assert not verify_disclosed(manifest, "victims[0].name", "Someone Else", salt)
    assert not verify_disclosed(manifest, "victims[0].name", "Example Person", bytes(32))
    assert not verify_disclosed(manifest, "victims[0].kind", "Example Person", salt)
    assert not verify_disclosed(manifest, "nowhere", "x", salt)
    assert not verify_disclosed(manifest, "victims[0].name", "Example Person", salt[:31])
    assert not verify_disclosed(manifest, "victims[0].name", 1.5, salt)


def test_salts_round_trip_and_are_strict() -> None:
    _, salts = build()
    assert parse_salts(salts_to_bytes(salts)) == salts
    for bad in (
        b"[]",
        b'{"title":"AAAA"}',
        b'{"title":1}',
        b'{"Title":"' + base64.b64encode(bytes(32)) + b'"}',
        # a non-canonical base64 spelling (non-zero trailing bits) of 32 bytes
        b'{"title":"' + base64.b64encode(bytes(32))[:-2] + b'B="}',
    ):
        with pytest.raises(BundleMalformed):
            parse_salts(bad)


# --- strict parsing ----------------------------------------------------------------------


def manifest_doc() -> dict[str, Any]:
    manifest, _ = build()
    return manifest.to_dict()


def encode(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc)


def test_rejects_non_canonical_encodings() -> None:
    doc = manifest_doc()
    good = encode(doc)
    for bad in (
        json.dumps(doc).encode(),  # spaces
        json.dumps(doc, sort_keys=True, indent=1).encode(),
        good + b"\n",
        b"\xef\xbb\xbf" + good,
        good.replace(b'"format"', b'"\\u0066ormat"'),
        good[:-1] + b',"format":"reprisal-report/bundle/1"}',  # duplicate key
    ):
        with pytest.raises(BundleMalformed):
            parse_manifest(bad)


def test_rejects_unknown_and_missing_keys() -> None:
    doc = manifest_doc()
    with pytest.raises(BundleMalformed, match="unknown field"):
        parse_manifest(encode({**doc, "extra": 1}))
    for key in mf.MANIFEST_KEYS:
        partial = {k: v for k, v in doc.items() if k != key}
        with pytest.raises(BundleMalformed, match=key):
            parse_manifest(encode(partial))


BAD_VALUES: list[tuple[str, Any]] = [
    ("format", "reprisal-report/bundle/2"),
    ("format", 1),
    ("bundle_id", "A" * 26),
    ("bundle_id", "a" * 25 + "b"),
    ("bundle_id", None),
    ("previous_bundle_id", "short"),
    ("previous_bundle_id", 7),
    ("org_id", ""),
    ("org_id", "x" * 501),
    ("org_id", "bad\norg"),
    ("org_id", ["x"]),
    ("case_id", "A" * 16),
    ("case_id", "a" * 15),
    ("author", "0" * 16),
    ("author", None),
    ("recipients", []),
    ("recipients", ["b" * 16, "a" * 16]),
    ("recipients", ["a" * 16, "a" * 16]),
    ("recipients", "a" * 16),
    ("recipients", ["a" * 16, 1]),
    ("recipients", [f"{i:a>16}" for i in range(65)]),
    ("created", "2026-11-23T22:00Z"),
    ("created", "2026-13-23T22Z"),
    ("created", "2026-11-23T24Z"),
    ("created", "2026-02-30T01Z"),
    ("created", 2026),
    ("attachments", {}),
    ("attachments", [{"name": "x", "size": 1}]),
    ("attachments", [{"name": "../x", "size": 1, "sha256": "0" * 64}]),
    ("commitments", []),
    ("commitments", {"Title": "0" * 64}),
    ("commitments", {"title": "0" * 63}),
    ("commitments", {"title": "G" * 64}),
    ("commitments", {"title": None}),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=lambda x: repr(x)[:40])
def test_rejects_bad_values(key: str, value: Any) -> None:
    doc = manifest_doc()
    doc[key] = value
    with pytest.raises(BundleMalformed):
        parse_manifest(encode(doc))


def test_rejects_itself_as_previous() -> None:
    doc = manifest_doc()
    doc["previous_bundle_id"] = doc["bundle_id"]
    with pytest.raises(BundleMalformed, match="previous"):
        parse_manifest(encode(doc))


def test_follow_up_bundles_name_their_predecessor() -> None:
    first, _ = build()
    second, _ = build(previous_bundle_id=first.bundle_id)
    assert parse_manifest(second.to_bytes()).previous_bundle_id == first.bundle_id


def test_rejects_floats_and_oversize() -> None:
    good = encode(manifest_doc())
    with pytest.raises(BundleMalformed):
        parse_manifest(good.replace(b'"attachments":[', b'"attachments":[1.0,'))
    with pytest.raises(BundleMalformed, match="larger"):
        parse_manifest(b" " * (MAX_MANIFEST_BYTES + 1))
    with pytest.raises(BundleMalformed):
        parse_manifest(b"[" * 100_000 + b"]" * 100_000)


def test_build_refuses_what_a_reader_would_refuse() -> None:
    with pytest.raises(SealInputInvalid):
        build(org_id="")
    with pytest.raises(SealInputInvalid):
        build(case_id="NOT-A-CASE-ID")
    with pytest.raises(SealInputInvalid):
        build(recipient_key_ids=[])
    with pytest.raises(SealInputInvalid):
        build(previous_bundle_id="nope")


def test_recipients_are_sorted_in_the_manifest() -> None:
    manifest, _ = build(recipient_key_ids=["z" * 16, "b" * 16])
    assert manifest.recipients == ("b" * 16, "z" * 16)
