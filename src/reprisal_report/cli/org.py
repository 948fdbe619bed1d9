"""`org` commands: create and run an org (coordinator), join and follow one (members)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reprisal_report.cli.options import AllowHttpOpt, HomeOpt, JsonOpt, PassFileOpt, ProxyOpt
from reprisal_report.cli.output import emit_json, info, stdout_line, warn
from reprisal_report.cli.session import open_vault, write_output_file, writing_vault
from reprisal_report.model.states import Role

if TYPE_CHECKING:
    from reprisal_report.workflows.membership import MembershipChange

app = typer.Typer(
    help="Organisations: cards, enrolment, revocation, pinning.", no_args_is_help=True
)

DaysOpt = Annotated[
    int, typer.Option("--valid-days", help="How long the new card version stays valid.")
]
CardArg = Annotated[Path, typer.Argument(metavar="CARD_FILE", help="An org card file.")]


def _summary(org: Any, own_key: str | None = None) -> dict[str, Any]:
    card = org.signed.card
    return {
        "org_id": card.org_id,
        "name": card.name,
        "version": card.version,
        "issued": card.issued,
        "expires": card.expires,
        "root_fingerprint": card.root_fingerprint,
        "own": org.own,
        "relays": list(card.relays),
        "recipients": [k for k, _ in card.recipients],
        "members": [
            {
                "key_id": m.key_id,
                "role": m.role,
                "label": m.label,
                "status": "active",
                "enrolled": m.enrolled,
            }
            for m in card.members
        ]
        + [
            {
                "key_id": r.key_id,
                "role": r.role,
                "label": r.label,
                "status": "revoked",
                "revoked_at": r.revoked_at,
            }
            for r in card.revoked
        ],
        "this_profile": (
            None
            if own_key is None
            else "revoked"
            if card.revocation(own_key)
            else "active"
            if card.member(own_key)
            else "not enrolled"
        ),
    }


def _report_change(change: MembershipChange, verb: str, json_out: bool) -> None:
    card = change.card
    if change.revoked_self is not None:
        warn(
            f"this profile's key was REVOKED by {card.name} at {change.revoked_self.revoked_at}; "
            "it can no longer seal cases for this org"
        )
    if json_out:
        emit_json(
            {
                "org_id": card.org_id,
                "name": card.name,
                "version": card.version,
                "previous_version": change.previous_version,
                "unchanged": change.unchanged,
                "revoked": change.revoked_self is not None,
            }
        )
    elif change.unchanged:
        info(f"org {card.name} ({card.org_id}) is already at version {card.version}")
    else:
        info(
            f"{verb} org {card.name} ({card.org_id}), card version {card.version}, "
            f"valid until {card.expires}"
        )


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Option("--name", help="The organisation's name.", show_default=False)
    ],
    relay: Annotated[
        list[str] | None,
        typer.Option("--relay", help="Relay URL (repeatable).", show_default=False),
    ] = None,
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create the org root key and the first signed org card (coordinator)."""
    from reprisal_report.workflows import coordinator

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card = coordinator.create_org(vault, name, relay or [], valid_days)
    if json_out:
        emit_json(
            {
                "org_id": card.org_id,
                "version": card.version,
                "root_fingerprint": card.root_fingerprint,
            }
        )
        return
    info(f"created org {card.name} ({card.org_id})")
    info("give members the card ('org card --out FILE') and read them this fingerprint:")
    stdout_line(f"root fingerprint: {card.root_fingerprint}")


@app.command("card")
def card_(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write.", show_default=False)],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Write the current signed org card (public data only) (coordinator)."""
    from reprisal_report.workflows import coordinator

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        data = coordinator.current_card(vault)
    write_output_file(out, data)
    info(f"wrote the org card to {out}")


@app.command("show")
def show(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="Only this org id.")] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Org id, name, card version, expiry, root fingerprint and members."""
    from reprisal_report.workflows import membership

    with open_vault(ctx, home, passphrase_file) as vault:
        own_key = membership.own_key_id(vault)
        orgs = [o for o in membership.orgs(vault) if org is None or o.org_id == org]
    if org is not None and not orgs:
        from reprisal_report.errors import UnknownOrg

        raise UnknownOrg(f"this profile has not joined org {org}")
    docs = [_summary(o, own_key) for o in orgs]
    if json_out:
        emit_json(docs[0] if len(docs) == 1 else docs)
        return
    if not docs:
        info("this profile has not joined any org")
        return
    for doc in docs:
        stdout_line(
            f"{doc['name']}  org_id {doc['org_id']}  version {doc['version']}  "
            f"expires {doc['expires']}"
        )
        stdout_line(f"  root fingerprint: {doc['root_fingerprint']}")
        stdout_line(f"  this profile: {doc['this_profile']}")
        for url in doc["relays"]:
            stdout_line(f"  relay {url}")
        for m in doc["members"]:
            stdout_line(f"  {m['status']:8} {m['role']:12} {m['key_id']}  {m['label']}")


@app.command("history")
def history(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="File to write.", show_default=False)],
    org: Annotated[
        str | None, typer.Option("--org", help="The org id, when several are joined.")
    ] = None,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Write every signed version of the org card this profile kept, oldest first, for
    an auditor ('audit verify-log --org FILE')."""
    from reprisal_report.workflows import audit

    with open_vault(ctx, home, passphrase_file) as vault:
        org_id, versions, data = audit.org_history(vault, org)
    write_output_file(out, data)
    info(f"wrote {versions} version(s) of the card of org {org_id} to {out}")


@app.command("enroll")
def enroll(
    ctx: typer.Context,
    card_file: Annotated[Path, typer.Argument(metavar="CARD_FILE", help="An identity card.")],
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="The role agreed with the member (with --fingerprint: no prompt).",
            show_default=False,
        ),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="The member's key fingerprint, checked out of band.",
            show_default=False,
        ),
    ] = None,
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a member's identity card to the org (new card version) (coordinator).

    Shows the card's fingerprint, role and label and asks to confirm; --role and
    --fingerprint together accept it without a prompt, if both match the card.
    """
    from reprisal_report.errors import Aborted, InvalidInput
    from reprisal_report.workflows import coordinator
    from reprisal_report.workflows.files import read_user_file

    if (role is None) != (fingerprint is None):
        raise InvalidInput(
            "--role and --fingerprint go together",
            hint="give both to enrol without a prompt, or neither to confirm on a terminal",
        )
    data = read_user_file(card_file, "an identity card")
    if role is None or fingerprint is None:
        if not sys.stdin.isatty():
            raise InvalidInput(
                "org enroll needs a terminal to confirm the card",
                hint="or pass --role and --fingerprint, checked with the member",
            )
        preview = coordinator.preview_identity_card(data)
        info(f"identity card of key {preview.key_id}")
        info(f"  fingerprint: {preview.fingerprint}")
        info(f"  role:        {preview.role}")
        info(f"  label:       {preview.label}")
        info("compare the fingerprint with the member, in person or by voice")
        article = "an" if preview.role.startswith(("a", "e", "i", "o", "u")) else "a"
        question = f"Enrol this key as {article} {preview.role}?"
        if not typer.confirm(question, default=False, err=True):
            raise Aborted("not enrolled; nothing was changed")
        role, fingerprint = preview.role, preview.fingerprint
    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card, member = coordinator.enroll(
            vault, data, valid_days, role=role, fingerprint=fingerprint
        )
    if json_out:
        emit_json({"key_id": member.key_id, "role": member.role, "version": card.version})
        return
    info(f"enrolled {member.role} {member.key_id}; card version {card.version}")
    info("hand out the new card with 'org card --out FILE'")


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="Key id of the member.")],
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a member's key (new card version) (coordinator)."""
    from reprisal_report.workflows import coordinator

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card, gone = coordinator.revoke(vault, key_id, valid_days)
    if json_out:
        emit_json({"key_id": gone.key_id, "role": gone.role, "version": card.version})
        return
    info(f"revoked {gone.role} {gone.key_id} ({gone.label}); card version {card.version}")
    info("hand out the new card with 'org card --out FILE' so members learn of it")


@app.command("renew")
def renew(
    ctx: typer.Context,
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Issue a new card version with a fresh expiry (coordinator)."""
    from reprisal_report.workflows import coordinator

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card = coordinator.renew(vault, valid_days)
    info(f"card version {card.version}, valid until {card.expires}")


@app.command("relays")
def relays(
    ctx: typer.Context,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="A relay URL to list (repeatable).", show_default=False),
    ] = None,
    remove: Annotated[
        list[str] | None,
        typer.Option(
            "--remove", help="A listed relay URL to drop (repeatable).", show_default=False
        ),
    ] = None,
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change the relay URLs the org card lists: a new card version (coordinator)."""
    from reprisal_report.errors import InvalidInput
    from reprisal_report.workflows import coordinator

    if not add and not remove:
        raise InvalidInput("name a relay URL with --add or --remove")
    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card = coordinator.set_relays(vault, add or [], remove or [], valid_days)
    if json_out:
        emit_json({"version": card.version, "relays": list(card.relays)})
        return
    info(
        f"card version {card.version} lists {len(card.relays)} relay(s); hand it out with "
        "'org card --out FILE' and 'org publish'"
    )
    for url in card.relays:
        stdout_line(url)


@app.command("rotate-root")
def rotate_root(
    ctx: typer.Context,
    valid_days: DaysOpt = 90,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Replace the org root key; the new card is signed by the old and new roots."""
    from reprisal_report.workflows import coordinator

    with writing_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        card = coordinator.rotate_root(vault, valid_days)
    info(f"root key rotated; card version {card.version}")
    stdout_line(f"new root fingerprint: {card.root_fingerprint}")


@app.command("join")
def join(
    ctx: typer.Context,
    card_file: CardArg,
    fingerprint: Annotated[
        str,
        typer.Option(
            "--fingerprint", help="The root fingerprint, checked out of band.", show_default=False
        ),
    ],
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Pin an org after checking its root fingerprint in person."""
    from reprisal_report.workflows import membership
    from reprisal_report.workflows.files import read_user_file

    data = read_user_file(card_file, "an org card")
    with writing_vault(ctx, home, passphrase_file) as vault:
        change = membership.join_org(vault, data, fingerprint)
    _report_change(change, "joined", json_out)


@app.command("update")
def update(
    ctx: typer.Context,
    card_file: CardArg,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Accept a newer signed version of a pinned org's card."""
    from reprisal_report.workflows import membership
    from reprisal_report.workflows.files import read_user_file

    data = read_user_file(card_file, "an org card")
    with writing_vault(ctx, home, passphrase_file) as vault:
        change = membership.update_org(vault, data)
    _report_change(change, "updated", json_out)


@app.command("publish")
def org_publish(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="The relay's URL.")],
    proxy: ProxyOpt = None,
    allow_http: AllowHttpOpt = False,
    home: HomeOpt = None,
    passphrase_file: PassFileOpt = None,
) -> None:
    """Send the current org card to a relay, so it learns of enrolments and revocations."""
    from reprisal_report.workflows import delivery

    with open_vault(ctx, home, passphrase_file, Role.COORDINATOR) as vault:
        version, changed = delivery.publish_card(vault, url, proxy=proxy, allow_http=allow_http)
    state = "now serves" if changed else "already served"
    info(f"the relay {state} card version {version}")
