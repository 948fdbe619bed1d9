#!/usr/bin/env python3
"""Write the public example cards in keys/ from fixed, published seeds.

Every key here is derived from a seed anyone can recompute from this file, so none of
them protects anything: they exist as format examples and test vectors, and every card
says "example — never use". The script writes public cards only; no private key (and
no seed) is ever written to disk, here or anywhere else.

    .venv/bin/python keys/make_example_keys.py [--out DIR]

Output is byte-for-byte deterministic: Ed25519 signatures are deterministic and every
timestamp is fixed, so re-running it changes nothing (tests/unit/test_example_keys.py
checks that).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pyrage

from reprisal_report.identity import idcard, orgcard
from reprisal_report.identity.fingerprint import key_id

SEED_PREFIX = b"reprisal-report example key -- never use: "
# Every seed name used below; tests recompute the seeds from this list to prove that no
# file in keys/ holds one.
SEED_NAMES = ("org-root", "coordinator", "coordinator-age", "reporter", "auditor")

ISSUED = "2026-01-01T00:00:00Z"
EXPIRES = "2027-12-31T00:00:00Z"
ORG_NAME = "Example Org (example — never use)"
RELAYS = ("https://relay.example.org",)
ORG_CARD_FILE = "example-org.card.json"


@dataclass(frozen=True)
class ExampleProfile:
    role: str
    label: str
    age_seed: str | None = None

    @property
    def file_name(self) -> str:
        return f"example-{self.role}.id.json"


PROFILES = (
    ExampleProfile("coordinator", "Example coordinator (example — never use)", "coordinator-age"),
    ExampleProfile("reporter", "Example reporter (example — never use)"),
    ExampleProfile("auditor", "Example auditor (example — never use)"),
)


def seed(name: str) -> bytes:
    """The published 32-byte seed of one example key."""
    if name not in SEED_NAMES:
        raise ValueError(f"no example seed named {name!r}")
    return hashlib.sha256(SEED_PREFIX + name.encode("ascii")).digest()


def signing_key(name: str) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(seed(name))


# --- Bech32 (BIP 173), only to spell a fixed seed the way age spells an identity ------
# pyrage can only parse an identity from its text form, so the seed is encoded here.
# This is an encoding with a checksum, not cryptography.

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# Written in lower case: the upper-case form is what tests/unit/test_example_keys.py
# scans keys/ for, since every age identity file spells it that way.
_AGE_IDENTITY_HRP = "age-secret-key-"


def _bech32_polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def bech32_encode(hrp: str, data: bytes) -> str:
    """Lower-case Bech32 of ``data`` (8-bit groups regrouped into 5-bit, zero-padded)."""
    accumulator, bits, groups = 0, 0, []
    for byte in data:
        accumulator = (accumulator << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            groups.append((accumulator >> bits) & 31)
    if bits:
        groups.append((accumulator << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _bech32_polymod(expanded + groups + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[g] for g in groups + checksum)


def age_identity(name: str) -> pyrage.x25519.Identity:
    """The example age X25519 identity with seed ``name`` (held in memory only)."""
    return pyrage.x25519.Identity.from_str(bech32_encode(_AGE_IDENTITY_HRP, seed(name)).upper())


def age_recipient(name: str) -> str:
    return str(age_identity(name).to_public())


# --- the cards -------------------------------------------------------------------------


def identity_card(profile: ExampleProfile) -> idcard.IdentityCard:
    key = signing_key(profile.role)
    return idcard.IdentityCard(
        role=profile.role,
        label=profile.label,
        signing_key=bytes(key.verify_key),
        age_recipient=None if profile.age_seed is None else age_recipient(profile.age_seed),
        created=ISSUED,
    )


def org_card() -> orgcard.OrgCard:
    root = bytes(signing_key("org-root").verify_key)
    members = []
    for profile in PROFILES:
        ident = identity_card(profile)
        members.append(
            orgcard.Member(
                ident.key_id,
                ident.role,
                ident.label,
                ident.signing_key,
                ident.age_recipient,
                ISSUED,
            )
        )
    return orgcard.OrgCard(
        # As `org create` does: the org id is the key id of the first root key.
        org_id=key_id(root),
        name=ORG_NAME,
        version=1,
        issued=ISSUED,
        expires=EXPIRES,
        root_keys=(root,),
        members=tuple(members),
        relays=RELAYS,
    )


def build() -> dict[str, bytes]:
    """File name -> exact bytes of every file this script writes."""
    files = {ORG_CARD_FILE: orgcard.sign_card(org_card(), [signing_key("org-root")])}
    for profile in PROFILES:
        files[profile.file_name] = idcard.make_card(
            identity_card(profile), signing_key(profile.role)
        )
    return files


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in build().items():
        path = out_dir / name
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory to write the cards to (default: keys/)",
    )
    args = parser.parse_args(argv)
    for path in write(args.out):
        print(f"wrote {path}")
    print(f"root fingerprint: {org_card().root_fingerprint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
