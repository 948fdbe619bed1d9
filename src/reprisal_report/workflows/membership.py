"""Use cases of every member: show and hand out identities, join and follow an org."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reprisal_report import clock
from reprisal_report.errors import CardInvalid, FingerprintMismatch
from reprisal_report.identity import idcard, pinning
from reprisal_report.identity.fingerprint import fingerprints_match
from reprisal_report.identity.keys import PublicIdentity, public_identity, signing_key
from reprisal_report.identity.orgcard import OrgCard, Revoked, parse_card, verify_card
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.store import Vault


def now_utc() -> datetime:
    return clock.now()


def identity(vault: Vault) -> PublicIdentity:
    return public_identity(vault)


def identity_card(vault: Vault) -> bytes:
    ident = public_identity(vault)
    card = idcard.IdentityCard(
        role=ident.role,
        label=ident.label,
        signing_key=ident.signing_public,
        age_recipient=ident.age_recipient,
        created=vault.get_meta("created_at") or now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    return idcard.make_card(card, signing_key(vault))


@dataclass(frozen=True)
class MembershipChange:
    card: OrgCard
    previous_version: int | None
    unchanged: bool
    # Set when the card revokes this profile's own key.
    revoked_self: Revoked | None


def _own_status(vault: Vault, card: OrgCard) -> Revoked | None:
    return card.revocation(public_identity(vault).key_id)


def join_org(
    vault: Vault, data: bytes, typed_fingerprint: str, now: datetime | None = None
) -> MembershipChange:
    """Pin an org after the fingerprint read out of band matches its root key."""
    when = now or now_utc()
    signed = parse_card(data)
    roots = signed.card.root_keys
    if len(roots) != 1:
        raise CardInvalid("org card lists several root keys; join needs a card with one")
    if not fingerprints_match(typed_fingerprint, roots[0]):
        raise FingerprintMismatch(
            "fingerprint does not match the org card's root key",
            hint="compare the fingerprint with the coordinator again, in person or by voice",
        )
    known = {o.org_id: o for o in pinning.all_orgs(vault)}
    previous = known.get(signed.card.org_id)
    if previous is not None:
        if previous.signed.raw == data:
            return MembershipChange(
                signed.card, previous.signed.card.version, True, _own_status(vault, signed.card)
            )
        checked = verify_card(
            data,
            now=when,
            pinned_roots=previous.roots,
            pinned_org_id=previous.org_id,
            pinned_version=previous.signed.card.version,
        )
    else:
        checked = verify_card(data, now=when, pinned_roots=None)
    with vault.transaction():
        pinning.store(vault, checked, own=False)
        record_event(
            vault,
            None,
            "org-joined",
            {"org_id": checked.card.org_id, "version": checked.card.version},
        )
    return MembershipChange(
        checked.card,
        previous.signed.card.version if previous else None,
        False,
        _own_status(vault, checked.card),
    )


def update_org(vault: Vault, data: bytes, now: datetime | None = None) -> MembershipChange:
    """Accept a newer card of an org already pinned, under every rule."""
    when = now or now_utc()
    claimed = parse_card(data).card
    pinned = pinning.get(vault, claimed.org_id)
    if pinned.signed.raw == data:
        return MembershipChange(claimed, claimed.version, True, _own_status(vault, claimed))
    checked = verify_card(
        data,
        now=when,
        pinned_roots=pinned.roots,
        pinned_org_id=pinned.org_id,
        pinned_version=pinned.signed.card.version,
    )
    with vault.transaction():
        pinning.store(vault, checked, own=pinned.own)
        record_event(
            vault,
            None,
            "org-updated",
            {"org_id": checked.card.org_id, "version": checked.card.version},
        )
    return MembershipChange(
        checked.card, pinned.signed.card.version, False, _own_status(vault, checked.card)
    )


def orgs(vault: Vault) -> list[pinning.PinnedOrg]:
    return pinning.all_orgs(vault)


def own_key_id(vault: Vault) -> str:
    return public_identity(vault).key_id
