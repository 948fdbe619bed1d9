"""Identities, org cards, enrolment, revocation and pinning through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import pytest

from reprisal_report.identity import encoding as enc
from reprisal_report.identity import pinning
from reprisal_report.identity.orgcard import parse_card, sign_card
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE, Cli
from tests.integration.enrolment import enroll_args

ERR = "reprisal-report: error: "


@dataclass
class Org:
    coordinator: Cli
    reporter: Cli
    auditor: Cli
    dir: Path
    fingerprint: str

    def card(self, name: str) -> Path:
        path = self.dir / name
        self.coordinator.ok("org", "card", "--out", str(path))
        return path


def key_id(cli: Cli) -> str:
    return str(json.loads(cli.ok("id", "show", "--json").stdout)["key_id"])


@pytest.fixture
def org(make_cli: Callable[[str], Cli], tmp_path: Path) -> Org:
    coordinator, reporter, auditor = (make_cli(n) for n in ("coord", "rep", "aud"))
    coordinator.ok("init", "--role", "coordinator", "--name", "coordinator A")
    reporter.ok("init", "--role", "reporter", "--name", "field laptop")
    auditor.ok("init", "--role", "auditor")
    created = coordinator.ok("org", "create", "--name", "Example Org", "--json")
    fingerprint = json.loads(created.stdout)["root_fingerprint"]
    for member in (reporter, auditor):
        card = tmp_path / f"{member.home.name}.id.json"
        member.ok("id", "card", "--out", str(card))
        coordinator.ok("org", "enroll", *enroll_args(card))
    return Org(coordinator, reporter, auditor, tmp_path, fingerprint)


def pinned_state(cli: Cli) -> tuple[str, bytes]:
    return cli.ok("org", "show", "--json").stdout, (cli.home / "vault.db").read_bytes()


def test_id_show_has_contract_fields(make_cli: Callable[[str], Cli]) -> None:
    cli = make_cli("c")
    cli.ok("init", "--role", "coordinator")
    doc = json.loads(cli.ok("id", "show", "--json").stdout)
    assert {"key_id", "fingerprint", "minisign_public_key", "role"} <= set(doc)
    assert doc["role"] == "coordinator" and doc["age_recipient"].startswith("age1")
    assert len(doc["key_id"]) == 16


def test_full_enrolment_round_trip(org: Org) -> None:
    card = org.card("org.json")
    for member in (org.reporter, org.auditor):
        result = member("org", "join", str(card), "--fingerprint", org.fingerprint.lower())
        assert result.exit_code == 0, result.stderr
        shown = json.loads(member.ok("org", "show", "--json").stdout)
        assert shown["version"] == 3 and shown["root_fingerprint"] == org.fingerprint
        assert shown["this_profile"] == "active"
        roles = {m["key_id"]: m["role"] for m in shown["members"]}
        assert roles[key_id(member)] == member.home.name.replace("rep", "reporter").replace(
            "aud", "auditor"
        )
        assert roles[key_id(org.coordinator)] == "coordinator"
    coordinator_view = json.loads(org.coordinator.ok("org", "show", "--json").stdout)
    assert coordinator_view["recipients"] == [key_id(org.coordinator)]
    # Fingerprints compare ignoring spaces and case.
    again = org.reporter(
        "org", "join", str(card), "--fingerprint", org.fingerprint.replace(" ", "")
    )
    assert again.exit_code == 0


def test_join_with_wrong_fingerprint(org: Org) -> None:
    card = org.card("org.json")
    result = org.reporter("org", "join", str(card), "--fingerprint", "AAAA " * 8)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}fingerprint does not match the org card's root key"
    )
    assert json.loads(org.reporter.ok("org", "show", "--json").stdout) == []


def test_join_refusals_leave_pinned_state_unchanged(org: Org, tmp_path: Path) -> None:
    good = org.card("v3.json")
    org.reporter.ok("org", "join", str(good), "--fingerprint", org.fingerprint)
    before = pinned_state(org.reporter)
    raw = good.read_bytes()
    signed = parse_card(raw)

    variants: dict[str, tuple[bytes, str]] = {}
    other = nacl.signing.SigningKey.generate()
    variants["signed by another key"] = (
        sign_card(signed.card, [other]),
        f"{ERR}org card: not signed by its root key",
    )
    flipped = raw.replace(b"Example Org", b"Examp1e Org")
    variants["one byte changed"] = (flipped, f"{ERR}org card: not signed by its root key")
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    variants["non-canonical"] = (pretty, f"{ERR}org card is not canonically encoded")

    org.coordinator.ok("org", "renew")
    newer = org.card("v4.json")
    variants["older version"] = (good.read_bytes(), "")  # identical bytes: a no-op, see below
    for name, (data, expected) in variants.items():
        if not expected:
            continue
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        for verb in (("join", str(path), "--fingerprint", org.fingerprint), ("update", str(path))):
            result = org.reporter("org", *verb)
            assert result.exit_code == 3, (name, verb, result.stderr)
            assert result.stderr.splitlines()[0].startswith(expected), (name, result.stderr)
        assert pinned_state(org.reporter) == before, name

    # Rollback: after accepting v4, the v3 card is refused.
    org.reporter.ok("org", "update", str(newer))
    after_update = pinned_state(org.reporter)
    for verb in (("join", str(good), "--fingerprint", org.fingerprint), ("update", str(good))):
        result = org.reporter("org", *verb)
        assert result.exit_code == 3
        assert result.stderr.splitlines()[0] == (
            f"{ERR}org card version 3 is not newer than the pinned version 4"
        )
    assert pinned_state(org.reporter) == after_update


def _card_with_expiry(org: Org, issued: datetime, expires: datetime, version: int) -> bytes:
    with open_profile(org.coordinator.home, PASSPHRASE, "coordinator") as vault:
        pinned = pinning.all_orgs(vault)[0]
        root = pinning.root_signing_key(vault, pinned.org_id)
    card = replace(
        pinned.signed.card,
        version=version,
        issued=enc.format_time(issued),
        expires=enc.format_time(expires),
    )
    return sign_card(card, [root])


def test_expired_card_is_refused_with_hint(org: Org, tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stale = tmp_path / "stale.json"
    stale.write_bytes(_card_with_expiry(org, now - timedelta(days=30), now - timedelta(days=1), 9))
    result = org.reporter("org", "join", str(stale), "--fingerprint", org.fingerprint)
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{ERR}org card version 9 expired at ")
    assert lines[1] == "hint: ask the coordinator for a fresh card ('org renew' then 'org card')"
    assert json.loads(org.reporter.ok("org", "show", "--json").stdout) == []
    # The same for an update of an org already pinned (a freeze attack).
    org.reporter.ok("org", "join", str(org.card("fresh.json")), "--fingerprint", org.fingerprint)
    before = pinned_state(org.reporter)
    result = org.reporter("org", "update", str(stale))
    assert result.exit_code == 3
    assert pinned_state(org.reporter) == before


def test_revoked_reporter_learns_it(org: Org) -> None:
    org.reporter.ok("org", "join", str(org.card("v3.json")), "--fingerprint", org.fingerprint)
    reporter_key = key_id(org.reporter)
    org.coordinator.ok("org", "revoke", reporter_key)
    result = org.reporter("org", "update", str(org.card("v4.json")), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["revoked"] is True
    assert "this profile's key was REVOKED by Example Org" in result.stderr
    shown = json.loads(org.reporter.ok("org", "show", "--json").stdout)
    assert shown["this_profile"] == "revoked"
    coordinator_view = json.loads(org.coordinator.ok("org", "show", "--json").stdout)
    status = {m["key_id"]: m["status"] for m in coordinator_view["members"]}
    assert status[reporter_key] == "revoked"


def test_revoked_coordinator_leaves_recipients(org: Org, make_cli: Callable[[str], Cli]) -> None:
    second = make_cli("coord2")
    second.ok("init", "--role", "coordinator")
    card = org.dir / "c2.id.json"
    second.ok("id", "card", "--out", str(card))
    org.coordinator.ok("org", "enroll", *enroll_args(card))
    view = json.loads(org.coordinator.ok("org", "show", "--json").stdout)
    assert key_id(second) in view["recipients"]
    org.coordinator.ok("org", "revoke", key_id(second))
    view = json.loads(org.coordinator.ok("org", "show", "--json").stdout)
    assert view["recipients"] == [key_id(org.coordinator)]
    again = org.coordinator("org", "enroll", *enroll_args(card))
    assert again.exit_code == 2
    assert again.stderr.splitlines()[0].endswith("was revoked; a revoked key is never re-enrolled")


def test_root_rotation_is_followed_by_members(org: Org) -> None:
    org.reporter.ok("org", "join", str(org.card("v3.json")), "--fingerprint", org.fingerprint)
    rotated = org.coordinator.ok("org", "rotate-root")
    new_fpr = rotated.stdout.split(":", 1)[1].strip()
    assert new_fpr != org.fingerprint
    org.reporter.ok("org", "update", str(org.card("v4.json")))
    shown = json.loads(org.reporter.ok("org", "show", "--json").stdout)
    assert shown["root_fingerprint"] == new_fpr
    # Later cards are signed by the new root alone and still accepted.
    org.coordinator.ok("org", "renew")
    org.reporter.ok("org", "update", str(org.card("v5.json")))


def test_enroll_rejects_forged_identity_card(org: Org, tmp_path: Path) -> None:
    card = tmp_path / "rep.id.json"
    forged = tmp_path / "forged.id.json"
    forged.write_bytes(card.read_bytes().replace(b'"field laptop"', b'"field laptoq"'))
    result = org.coordinator("org", "enroll", str(forged), *enroll_args(card)[1:])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"{ERR}identity card: self-signature does not verify"


def test_export_age_is_coordinator_only_and_private(org: Org, tmp_path: Path) -> None:
    out = tmp_path / "age-identity.txt"
    result = org.coordinator("id", "export-age", "--out", str(out))
    assert result.exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("AGE-SECRET-KEY-1")
    assert "SECRET key" in result.stderr
    refused = org.reporter("id", "export-age", "--out", str(tmp_path / "x"))
    assert refused.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_reporter_may_join_several_orgs_and_must_choose(
    org: Org, make_cli: Callable[[str], Cli], tmp_path: Path
) -> None:
    other = make_cli("coordB")
    other.ok("init", "--role", "coordinator")
    fpr_b = json.loads(other.ok("org", "create", "--name", "Coalition B", "--json").stdout)[
        "root_fingerprint"
    ]
    org.reporter.ok("org", "join", str(org.card("a.json")), "--fingerprint", org.fingerprint)
    card_b = tmp_path / "b.json"
    other.ok("org", "card", "--out", str(card_b))
    org.reporter.ok("org", "join", str(card_b), "--fingerprint", fpr_b)
    assert len(json.loads(org.reporter.ok("org", "show", "--json").stdout)) == 2
    example = Path(__file__).parents[1] / "data" / "case-example.yaml"
    result = org.reporter("case", "new", "--from", str(example))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{ERR}this profile has joined several orgs; choose one"
    )
    org_b = json.loads(other.ok("org", "show", "--json").stdout)["org_id"]
    case_id = org.reporter.ok("case", "new", "--from", str(example), "--org", org_b).stdout.strip()
    assert json.loads(org.reporter.ok("case", "show", case_id, "--json").stdout)["org_id"] == org_b
