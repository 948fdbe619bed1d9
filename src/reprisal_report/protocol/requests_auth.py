"""Signed HTTP requests between a profile and the relay (shared by client and server).

Every request to a ``/v1/`` endpoint carries five headers:

==================  =====================================================================
X-RR-Key-Id         the signer's key id (16 lower-case base32 characters)
X-RR-Timestamp      unix seconds, decimal, no sign, no leading zeros
X-RR-Nonce          16 random bytes, 32 lower-case hex digits
X-RR-Body-SHA256    SHA-256 of the exact request body (64 lower-case hex digits)
X-RR-Signature      base64 Ed25519 signature over the message below
==================  =====================================================================

The signed message is::

    b"reprisal-report/relay-request/1\\n" + METHOD + "\\n" + PATH_WITH_QUERY + "\\n"
        + TIMESTAMP + "\\n" + NONCE + "\\n" + BODY_SHA256

``PATH_WITH_QUERY`` is the request target exactly as sent on the wire (the raw,
percent-encoded path, then ``?`` and the raw query if there is one), so client and
server hash the same bytes whatever their URL libraries would normalise. The domain
line keeps these signatures apart from every other signature a profile key makes.

Parsing is strict (one value per header, exact grammar): a header a signer could
write in two ways is a header an attacker could vary to dodge the nonce store.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from reprisal_report import clock
from reprisal_report.errors import RelayRequestRejected
from reprisal_report.model import canonical
from reprisal_report.model.canonical import CanonicalError

DOMAIN = b"reprisal-report/relay-request/1\n"
KEY_ID = "X-RR-Key-Id"
TIMESTAMP = "X-RR-Timestamp"
NONCE = "X-RR-Nonce"
BODY_SHA256 = "X-RR-Body-SHA256"
SIGNATURE = "X-RR-Signature"
HEADERS = (KEY_ID, TIMESTAMP, NONCE, BODY_SHA256, SIGNATURE)

# How far a request's timestamp may lie from the relay's clock, either way.
MAX_SKEW_SECONDS = 300
NONCE_BYTES = 16

_KEY_ID_RE = re.compile(r"[a-z2-7]{16}")
# At most 12 digits: unix seconds until the year 33658, and small enough to stay exact.
_TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,11}")
_NONCE_RE = re.compile(r"[0-9a-f]{32}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/]{86}==")


@dataclass(frozen=True)
class RequestAuth:
    """The parsed, not yet verified, authentication headers of one request."""

    key_id: str
    timestamp: int
    nonce: str
    body_sha256: str
    signature: bytes


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def signed_message(
    method: str, path_with_query: bytes, timestamp: int, nonce: str, body_sha256: str
) -> bytes:
    if not method.isascii() or not method.isalpha():
        raise ValueError("an HTTP method is ASCII letters")
    fields = [
        method.upper().encode("ascii"),
        path_with_query,
        str(timestamp).encode("ascii"),
        nonce.encode("ascii"),
        body_sha256.encode("ascii"),
    ]
    return DOMAIN + b"\n".join(fields)


def sign_request(
    signing_key: nacl.signing.SigningKey,
    key_id: str,
    method: str,
    path_with_query: bytes,
    body: bytes,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The five authentication headers for one request (a fresh nonce each call)."""
    timestamp = int(clock.now().timestamp() if now is None else now)
    nonce = secrets.token_hex(NONCE_BYTES) if nonce is None else nonce
    digest = body_digest(body)
    message = signed_message(method, path_with_query, timestamp, nonce, digest)
    signature = signing_key.sign(message).signature
    return {
        KEY_ID: key_id,
        TIMESTAMP: str(timestamp),
        NONCE: nonce,
        BODY_SHA256: digest,
        SIGNATURE: canonical.b64encode(signature),
    }


def _one(get_all: Callable[[str], list[str]], name: str, pattern: re.Pattern[str]) -> str:
    values = get_all(name)
    if not values:
        raise RelayRequestRejected(401, f"missing {name} header")
    if len(values) > 1:
        raise RelayRequestRejected(401, f"{name} header given more than once")
    value = values[0]
    if pattern.fullmatch(value) is None:
        raise RelayRequestRejected(401, f"malformed {name} header")
    return value


def parse_headers(get_all: Callable[[str], list[str]]) -> RequestAuth:
    """Read the headers through ``get_all(name) -> every value given for name``.

    Raises ``RelayRequestRejected(401)`` for anything missing, repeated or malformed.
    """
    key_id = _one(get_all, KEY_ID, _KEY_ID_RE)
    timestamp = _one(get_all, TIMESTAMP, _TIMESTAMP_RE)
    nonce = _one(get_all, NONCE, _NONCE_RE)
    digest = _one(get_all, BODY_SHA256, _SHA256_RE)
    signature_text = _one(get_all, SIGNATURE, _SIGNATURE_RE)
    try:
        # Canonical only: non-zero padding bits would give a second spelling of the
        # same signature.
        signature = canonical.b64decode(signature_text, 64)
    except CanonicalError:
        raise RelayRequestRejected(401, f"malformed {SIGNATURE} header") from None
    return RequestAuth(key_id, int(timestamp), nonce, digest, signature)


def verify_signature(
    public_key: bytes, auth: RequestAuth, method: str, path_with_query: bytes
) -> bool:
    message = signed_message(method, path_with_query, auth.timestamp, auth.nonce, auth.body_sha256)
    try:
        nacl.signing.VerifyKey(public_key).verify(message, auth.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False
    return True
