"""Key ids and human-comparable fingerprints.

- key id: the first 10 bytes of SHA-256(public key), lower-case base32 (16 characters);
  a short, stable name for a key in cards, manifests and logs.
- fingerprint: the first 20 bytes (160 bits) of SHA-256(public key), upper-case base32,
  in eight groups of four, e.g. ``MZXW 6YTB OI3D ...``. Base32 avoids 0/O and 1/I/l
  confusion when read aloud; comparison ignores spaces and case. See docs/org-card.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

FINGERPRINT_BYTES = 20
KEY_ID_BYTES = 10


def key_id(public_key: bytes) -> str:
    digest = hashlib.sha256(public_key).digest()[:KEY_ID_BYTES]
    return base64.b32encode(digest).decode("ascii").lower()


def fingerprint(public_key: bytes) -> str:
    digest = hashlib.sha256(public_key).digest()[:FINGERPRINT_BYTES]
    text = base64.b32encode(digest).decode("ascii")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_fingerprint(text: str) -> str:
    return "".join(text.split()).replace("-", "").upper()


def fingerprints_match(expected: str, public_key: bytes) -> bool:
    """Compare a typed fingerprint with a key, ignoring spaces, dashes and case."""
    given = normalise_fingerprint(expected).encode("ascii", "replace")
    actual = normalise_fingerprint(fingerprint(public_key)).encode("ascii")
    return hmac.compare_digest(given, actual)
