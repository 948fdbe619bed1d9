"""Shared rules for signed JSON documents (identity cards and org cards).

A signed document is the canonical JSON of an envelope; its signature covers a
domain-separated message, so a signature made for one kind of document can never be
replayed as another. Readers re-encode what they parsed and compare bytes: any other
encoding of the same content is rejected, so cards are not malleable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import nacl.exceptions
import nacl.signing

from reprisal_report import clock
from reprisal_report.errors import CardInvalid
from reprisal_report.model import canonical
from reprisal_report.model.canonical import CanonicalError, canonical_json
from reprisal_report.model.text import escape_char, first_non_printing

MAX_CARD_BYTES = 1024 * 1024


def b64(data: bytes) -> str:
    return canonical.b64encode(data)


def unb64(text: object, what: str, length: int | None = None) -> bytes:
    try:
        return canonical.b64decode(text, length)
    except CanonicalError as exc:
        problem = {
            "not-text": "is not base64 text",
            "not-base64": "is not valid base64",
            "wrong-length": "has the wrong length",
        }.get(exc.reason, "is not canonical base64")
        raise CardInvalid(f"{what} {problem}") from None


def load_canonical(data: bytes, what: str) -> dict[str, Any]:
    """Parse a document and insist that its bytes are the canonical encoding."""
    if len(data) > MAX_CARD_BYTES:
        raise CardInvalid(f"{what} is larger than 1 MiB")
    # Exactly one encoding is valid: canonical JSON and one final newline.
    if not data.endswith(b"\n"):
        raise CardInvalid(f"{what} is not canonically encoded", hint="do not edit card files")
    try:
        doc = canonical.parse_canonical(data[:-1], MAX_CARD_BYTES)
    except CanonicalError as exc:
        if exc.reason == "not-json":
            raise CardInvalid(f"{what} is not valid JSON") from None
        if exc.reason == "bad-values":
            raise CardInvalid(f"{what} holds values a card cannot hold") from None
        raise CardInvalid(
            f"{what} is not canonically encoded", hint="do not edit card files"
        ) from None
    if not isinstance(doc, dict):
        raise CardInvalid(f"{what} is not a JSON object")
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    return canonical_json(doc) + b"\n"


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
    """A card's text field: non-empty, bounded, and free of anything a terminal acts on."""
    value = doc[key]
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise CardInvalid(f"{what}: {key} must be non-empty text")
    check_printable(value, f"{what}: {key}")
    return value


def check_printable(value: str, what: str) -> str:
    """Refuse control, bidi, zero-width, separator and other non-printing characters.

    Card text is shown to people deciding whom to trust: an escape sequence or a
    carriage return could redraw the line they read (docs/org-card.md).
    """
    bad = first_non_printing(value)
    if bad is not None:
        raise CardInvalid(
            f"{what} holds a non-printing character ({escape_char(bad)})",
            hint="card text may hold only printable characters and plain spaces",
        )
    return value


def integer(doc: dict[str, Any], key: str, what: str) -> int:
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CardInvalid(f"{what}: {key} must be a non-negative integer")
    return value


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(value: object) -> datetime:
    """The one parser of card times (``2026-01-31T12:00:00Z``); ``ValueError`` otherwise.

    Cards, the import and the relay read card times here; "now" comes from
    :func:`reprisal_report.clock.now`, so tests move time instead of sleeping.
    """
    if not isinstance(value, str):
        raise ValueError("not a card time")
    parsed = datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    if parsed.strftime(TIME_FORMAT) != value:
        raise ValueError("not canonical")
    return parsed


def timestamp(doc: dict[str, Any], key: str, what: str) -> datetime:
    value = doc[key]
    try:
        datetime.strptime(value, TIME_FORMAT)
    except (TypeError, ValueError):
        raise CardInvalid(f"{what}: {key} must be a UTC time like 2026-01-31T12:00:00Z") from None
    try:
        return parse_time(value)
    except ValueError:
        raise CardInvalid(f"{what}: {key} is not canonical") from None


def has_passed(value: str) -> bool:
    """True once the card time ``value`` (already validated) is not in the future."""
    return parse_time(value) <= clock.now()


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
