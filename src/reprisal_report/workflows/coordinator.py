"""Coordinator use cases: create the org, enrol and revoke keys, issue cards."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import nacl.signing

from reprisal_report.errors import FingerprintMismatch, InvalidInput, OperationalError
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import idcard, pinning
from reprisal_report.identity.fingerprint import fingerprints_match, key_id
from reprisal_report.identity.keys import age_identity_text, public_identity
from reprisal_report.identity.orgcard import Member, OrgCard, Revoked, sign_card, verify_card
from reprisal_report.model.states import CARD_ROLES, Role
from reprisal_report.model.text import first_non_printing, visible
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.membership import now_utc

DEFAULT_VALID_DAYS = 90
MAX_VALID_DAYS = 366


def _valid_days(days: int) -> timedelta:
    if not 1 <= days <= MAX_VALID_DAYS:
        raise InvalidInput(f"a card stays valid for 1 to {MAX_VALID_DAYS} days")
    return timedelta(days=days)


def own_org(vault: Vault) -> pinning.PinnedOrg:
    for org in pinning.all_orgs(vault):
        if org.own:
            return org
    raise OperationalError(
        "this coordinator profile has not created an org", hint="run 'reprisal-report org create'"
    )


def _issue(
    vault: Vault,
    card: OrgCard,
    keys: list[nacl.signing.SigningKey],
    event: str,
    new_root: nacl.signing.SigningKey | None = None,
) -> OrgCard:
    """Sign, re-verify with the reader's rules, store; never store what a reader rejects."""
    data = sign_card(card, keys)
    pins = tuple(bytes(k.verify_key) for k in keys)
    checked = verify_card(data, now=now_utc(), pinned_roots=pins)
    with vault.transaction():
        if new_root is not None:
            vault.put_secret(pinning.root_secret_name(card.org_id), bytes(new_root))
        pinning.store(vault, checked, own=True)
        record_event(vault, None, event, {"org_id": card.org_id, "version": card.version})
    return checked.card


def create_org(vault: Vault, name: str, relays: list[str], valid_days: int) -> OrgCard:
    if any(o.own for o in pinning.all_orgs(vault)):
        raise OperationalError("this coordinator profile already created an org")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("the org name must be 1 to 200 characters")
    if first_non_printing(name) is not None:
        raise InvalidInput("the org name holds a control or other non-printing character")
    for url in relays:
        _check_relay_url(url)
    root = nacl.signing.SigningKey.generate()
    org_id = key_id(bytes(root.verify_key))
    me = public_identity(vault)
    now = now_utc()
    card = OrgCard(
        org_id=org_id,
        name=name,
        version=1,
        issued=enc.format_time(now),
        expires=enc.format_time(now + _valid_days(valid_days)),
        root_keys=(bytes(root.verify_key),),
        members=(
            Member(
                me.key_id,
                Role.COORDINATOR.value,
                me.label,
                me.signing_public,
                me.age_recipient,
                enc.format_time(now),
            ),
        ),
        relays=tuple(relays),
    )
    return _issue(vault, card, [root], "org-created", new_root=root)


def _check_relay_url(url: str) -> None:
    if not url.startswith(("https://", "http://")) or first_non_printing(url) is not None:
        raise InvalidInput(
            f"relay URL must start with https:// or http:// and be printable: {visible(url)}"
        )
    if len(url) > 2048:
        raise InvalidInput("a relay URL is at most 2048 characters")


def set_relays(vault: Vault, add: list[str], remove: list[str], valid_days: int) -> OrgCard:
    """Issue a new card version whose relay list gains ``add`` and loses ``remove``
    (in that order, kept in the order first listed). Nothing changes, and no version is
    issued, when a URL to remove is not listed or the list would stay the same."""
    org = own_org(vault)
    card = org.signed.card
    for url in add:
        _check_relay_url(url)
    relays = list(card.relays)
    for url in remove:
        if url not in relays:
            raise InvalidInput(
                f"the card lists no relay {visible(url)}",
                hint="'reprisal-report org show' lists the card's relays",
            )
        relays.remove(url)
    relays += [url for url in dict.fromkeys(add) if url not in relays]
    if relays == list(card.relays):
        raise InvalidInput("the card already lists exactly these relays: no new version issued")
    now = now_utc()
    new = card.next_version(now, now + _valid_days(valid_days), relays=tuple(relays))
    root = pinning.root_signing_key(vault, org.org_id)
    return _issue(vault, new, [root], "org-relays-changed")


def current_card(vault: Vault) -> bytes:
    return own_org(vault).signed.raw


@dataclass(frozen=True)
class CardPreview:
    """What a coordinator checks with the member before enrolling an identity card;
    every text is safe to print (non-printing characters shown as escapes)."""

    fingerprint: str
    key_id: str
    role: str
    label: str


def preview_identity_card(data: bytes) -> CardPreview:
    """Parse an identity card (self-signature checked) for the coordinator to confirm."""
    ident = idcard.parse_card(data)
    return CardPreview(ident.fingerprint, ident.key_id, ident.role, visible(ident.label))


def _check_expected(ident: idcard.IdentityCard, role: str, typed_fingerprint: str) -> None:
    if role not in CARD_ROLES:
        raise InvalidInput(
            f"unknown role {visible(role)!r}", hint=f"roles: {', '.join(CARD_ROLES)}"
        )
    if not fingerprints_match(typed_fingerprint, ident.signing_key):
        raise FingerprintMismatch(
            "fingerprint does not match the identity card's key",
            hint="compare the fingerprint with the member again, in person or by voice",
        )
    if ident.role != role:
        raise FingerprintMismatch(
            f"the identity card is for a {ident.role} key, not a {role}",
            hint="a card's role is its holder's claim: enrol it only for the role agreed",
        )


def enroll(
    vault: Vault, data: bytes, valid_days: int, *, role: str, fingerprint: str
) -> tuple[OrgCard, Member]:
    """Enrol the identity card once its key and role match what was agreed out of band.

    ``role`` and ``fingerprint`` come from the coordinator (typed, or confirmed after
    seeing :func:`preview_identity_card`), never from the card alone.
    """
    org = own_org(vault)
    ident = idcard.parse_card(data)
    _check_expected(ident, role, fingerprint)
    card = org.signed.card
    if card.member(ident.key_id) is not None:
        raise InvalidInput(f"key {ident.key_id} is already enrolled")
    if card.revocation(ident.key_id) is not None:
        raise InvalidInput(f"key {ident.key_id} was revoked; a revoked key is never re-enrolled")
    now = now_utc()
    member = Member(
        ident.key_id,
        ident.role,
        ident.label,
        ident.signing_key,
        ident.age_recipient if ident.role == Role.COORDINATOR else None,
        enc.format_time(now),
    )
    new = card.next_version(now, now + _valid_days(valid_days), members=(*card.members, member))
    root = pinning.root_signing_key(vault, org.org_id)
    return _issue(vault, new, [root], "org-enrolled"), member


def revoke(vault: Vault, kid: str, valid_days: int) -> tuple[OrgCard, Revoked]:
    org = own_org(vault)
    card = org.signed.card
    member = card.member(kid.strip().lower())
    if member is None:
        raise InvalidInput(f"no enrolled key {kid}", hint="'reprisal-report org show' lists keys")
    if member.key_id == public_identity(vault).key_id:
        raise InvalidInput("a coordinator cannot revoke its own key")
    now = now_utc()
    gone = Revoked(
        member.key_id, member.role, member.label, member.signing_key, enc.format_time(now)
    )
    new = card.next_version(
        now,
        now + _valid_days(valid_days),
        members=tuple(m for m in card.members if m.key_id != member.key_id),
        revoked=(*card.revoked, gone),
    )
    root = pinning.root_signing_key(vault, org.org_id)
    return _issue(vault, new, [root], "org-revoked"), gone


def renew(vault: Vault, valid_days: int) -> OrgCard:
    """Issue the same membership as a new version with a fresh expiry."""
    org = own_org(vault)
    now = now_utc()
    new = org.signed.card.next_version(now, now + _valid_days(valid_days))
    return _issue(vault, new, [pinning.root_signing_key(vault, org.org_id)], "org-renewed")


def rotate_root(vault: Vault, valid_days: int) -> OrgCard:
    """Replace the root key; the transition card is signed by the old and new roots."""
    org = own_org(vault)
    old = pinning.root_signing_key(vault, org.org_id)
    new_root = nacl.signing.SigningKey.generate()
    now = now_utc()
    card = replace(
        org.signed.card.next_version(now, now + _valid_days(valid_days)),
        root_keys=(bytes(new_root.verify_key),),
    )
    # The new root's secret and the card it signs are stored in one transaction.
    return _issue(vault, card, [old, new_root], "org-root-rotated", new_root=new_root)


def export_age_identity(vault: Vault) -> str:
    secret = age_identity_text(vault)
    if secret is None:
        raise InvalidInput("this profile has no age identity (only coordinators have one)")
    return secret
