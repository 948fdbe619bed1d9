"""Pseudonyms: HMAC-SHA256 under the organisation's export key over the normalised
name, so one person gets one pseudonym in every export (whatever the spelling, case or
accents of the name in a given report) and nobody without the key can reverse it or
test a guess."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

from reprisal_report.model.fold import fold

KEY_BYTES: Final = 32
DOMAIN: Final = b"reprisal-report pseudonym v1\x00"
PREFIX: Final = "P-"


def pseudonym(key: bytes, name: str) -> str:
    """``P-`` and 16 base32 characters (80 bits) of HMAC-SHA256(key, domain || fold(name))."""
    if len(key) != KEY_BYTES:
        raise ValueError("the export key must be 32 bytes")
    mac = hmac.new(key, DOMAIN + fold(name).encode("utf-8"), hashlib.sha256).digest()
    return PREFIX + base64.b32encode(mac[:10]).decode("ascii")
