"""Shared rules for signed JSON documents (identity cards and org cards).

A signed document is the canonical JSON of an envelope; its signature covers a
domain-separated message, so a signature made for one kind of document can never be
replayed as another. Readers re-encode what they parsed and compare bytes: any other
encoding of the same content is rejected, so cards are not malleable.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import nacl.exceptions
import nacl.signing

from reprisal_report.errors import CardInvalid
from reprisal_report.model.canonical import canonical_json

MAX_CARD_BYTES = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: object, what: str, length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise CardInvalid(f"{what} is not base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CardInvalid(f"{what} is not valid base64") from None
    if length is not None and len(raw) != length:
        raise CardInvalid(f"{what} has the wrong length")
    if b64(raw) != text:
        raise CardInvalid(f"{what} is not canonical base64")
    return raw


def load_canonical(data: bytes, what: str) -> dict[str, Any]:
    """Parse a document and insist that its bytes are the canonical encoding."""
    if len(data) > MAX_CARD_BYTES:
        raise CardInvalid(f"{what} is larger than 1 MiB")
    # Exactly one encoding is valid: canonical JSON and one final newline.
    if not data.endswith(b"\n"):
        raise CardInvalid(f"{what} is not canonically encoded", hint="do not edit card files")
    body = data[:-1]
    try:
        doc = json.loads(body.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CardInvalid(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise CardInvalid(f"{what} is not a JSON object")
    try:
        canonical = canonical_json(doc)
    except (TypeError, ValueError):
        raise CardInvalid(f"{what} holds values a card cannot hold") from None
    if canonical != body:
        raise CardInvalid(f"{what} is not canonically encoded", hint="do not edit card files")
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc) + b"\n"


def _no_float(text: str) -> Any:
    raise ValueError("floats are not allowed")


def exact_keys(doc: object, required: set[str], what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise CardInvalid(f"{what} is not an object")
    keys = set(doc)
    if keys != required:
        extra = sorted(keys - required)
        missing = sorted(required - keys)
        problem = f"unknown field {extra[0]!r}" if extra else f"missing field {missing[0]!r}"
        raise CardInvalid(f"{what}: {problem}")
    return doc


def text(doc: dict[str, Any], key: str, what: str, max_len: int = 500) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise CardInvalid(f"{what}: {key} must be non-empty text")
    return value


def integer(doc: dict[str, Any], key: str, what: str) -> int:
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CardInvalid(f"{what}: {key} must be a non-negative integer")
    return value


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def timestamp(doc: dict[str, Any], key: str, what: str) -> datetime:
    value = doc[key]
    try:
        parsed = datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise CardInvalid(f"{what}: {key} must be a UTC time like 2026-01-31T12:00:00Z") from None
    if parsed.strftime(TIME_FORMAT) != value:
        raise CardInvalid(f"{what}: {key} is not canonical")
    return parsed


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def sign(key: nacl.signing.SigningKey, domain: bytes, body: dict[str, Any]) -> bytes:
    return bytes(key.sign(domain + canonical_json(body)).signature)


def verify(public_key: bytes, domain: bytes, body: dict[str, Any], signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public_key).verify(domain + canonical_json(body), signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True
