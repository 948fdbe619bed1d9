"""The rules around bundles that are not about bytes: who may seal, who may author,
replays, and writing attachments out."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing

from reprisal_report import clock
from reprisal_report.bundle.seal import seal_to
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import signing_key
from reprisal_report.identity.orgcard import sign_card
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.enrolment import enroll_args
from tests.integration.test_bundle_cli import (  # noqa: F401 - the fixture is used by name
    Setup,
    import_refused,
    key_id,
    setup_fixture,
)

ERR = "reprisal-report: error: "


def _record(cli: Cli, case_id: str) -> dict[str, object]:
    with open_profile(cli.home, PASSPHRASE) as vault:
        row = vault.conn.execute("SELECT record FROM cases WHERE id = ?", (case_id,)).fetchone()
    return dict(json.loads(row[0]))


def _seal_as(
    setup: Setup,
    key: nacl.signing.SigningKey,
    *,
    case_id: str,
    record: dict[str, object],
    rng: Callable[[int], bytes] = os.urandom,
) -> bytes:
    from reprisal_report.identity.fingerprint import key_id as kid

    out = io.BytesIO()
    seal_to(
        out,
        record=record,
        attachments=[],
        signing_key=key,
        author_key_id=kid(bytes(key.verify_key)),
        recipients=setup.recipients(),
        org_id=setup.org_id(),
        case_id=case_id,
        rng=rng,
    )
    return out.getvalue()


def test_seal_refuses_revoked_and_unenrolled_devices(
    setup: Setup, make_cli: Callable[[str], Cli]
) -> None:
    stranger = make_cli("stranger")
    stranger.ok("init", "--role", "reporter")
    stranger.ok("org", "join", str(setup.dir / "org.json"), "--fingerprint", setup.fingerprint)
    case_id = stranger.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    result = stranger("seal", case_id)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == f"{ERR}this device is not enrolled in org Org A"
    assert not (stranger.home / "outbox").exists() or not any((stranger.home / "outbox").iterdir())

    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    newer = setup.dir / "org-revoked.json"
    setup.coordinator.ok("org", "card", "--out", str(newer))
    setup.reporter.ok("org", "update", str(newer))
    result = setup.reporter("seal", setup.case_id)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}this device's key was revoked by org Org A; it cannot seal cases for it"
    )


def test_seal_refuses_an_expired_card(setup: Setup) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        pinned = pinning.all_orgs(vault)[0]
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        root = pinning.root_signing_key(vault, pinned.org_id)
    stale = replace(
        pinned.signed.card,
        version=pinned.signed.card.version + 1,
        issued=enc.format_time(now - timedelta(days=10)),
        expires=enc.format_time(now + timedelta(seconds=2)),
    )
    path = setup.dir / "short.json"
    path.write_bytes(sign_card(stale, [root]))
    setup.reporter.ok("org", "update", str(path))
    clock.set_clock(lambda: now + timedelta(seconds=3))  # past the expiry, no sleeping
    try:
        result = setup.reporter("seal", setup.case_id)
    finally:
        clock.set_clock(None)
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{ERR}the card of org Org A expired at ")
    assert lines[1] == "hint: ask the coordinator for a fresh card, then 'org update CARD_FILE'"


def test_same_bundle_id_with_other_content_is_a_replay(setup: Setup) -> None:
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        key = signing_key(vault)
    record = _record(setup.reporter, setup.case_id)
    fixed = bytes(range(32))

    def pinned_rng(n: int) -> bytes:
        return fixed[:n]

    first = _seal_as(setup, key, case_id=setup.case_id, record=record, rng=pinned_rng)
    changed = dict(record, risk="critical")
    second = _seal_as(setup, key, case_id=setup.case_id, record=changed, rng=pinned_rng)
    path = setup.dir / "first.rrb"
    path.write_bytes(first)
    setup.coordinator.ok("inbox", "import", str(path))
    import_refused(setup, second, "was already imported with other content")


def test_a_case_cannot_be_continued_by_another_device(
    setup: Setup, make_cli: Callable[[str], Cli]
) -> None:
    [bundle] = setup.seal(setup.case_id)
    setup.coordinator.ok("inbox", "import", str(bundle))
    other = make_cli("rep2")
    other.ok("init", "--role", "reporter")
    card = setup.dir / "rep2.id.json"
    other.ok("id", "card", "--out", str(card))
    setup.coordinator.ok("org", "enroll", *enroll_args(card))
    with open_profile(other.home, PASSPHRASE) as vault:
        key = signing_key(vault)
    hijack = _seal_as(
        setup,
        key,
        case_id=setup.case_id,
        record=dict(_record(setup.reporter, setup.case_id), risk="low"),
    )
    import_refused(setup, hijack, "was started by another device")


def test_only_reporter_keys_may_author_bundles(setup: Setup, tmp_path: Path) -> None:
    from reprisal_report.relay.keys import load_relay_key

    setup.coordinator.ok(
        "relay", "init", "--data", str(tmp_path / "relay"), "--card-out", str(tmp_path / "relay.id")
    )
    setup.coordinator.ok("org", "enroll", *enroll_args(tmp_path / "relay.id"))
    relay_key = load_relay_key(tmp_path / "relay")
    forged = _seal_as(
        setup, relay_key, case_id="a" * 16, record=_record(setup.reporter, setup.case_id)
    )
    import_refused(setup, forged, "is enrolled as a relay, not a reporter")


def test_triage_attachment_gives_duplicate_names_distinct_files(
    setup: Setup, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "n.txt").write_bytes(b"first")
    (tmp_path / "b" / "n.txt").write_bytes(b"second")
    case_id = setup.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    setup.reporter.ok(
        "case",
        "attach",
        case_id,
        str(tmp_path / "a" / "n.txt"),
        str(tmp_path / "b" / "n.txt"),
        "--keep-metadata",
    )
    [bundle] = setup.seal(case_id)
    setup.coordinator.ok("inbox", "import", str(bundle))
    out = tmp_path / "out"
    out.mkdir()
    result = setup.coordinator("triage", "attachment", case_id, "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    assert "PLAINTEXT outside the vault" in result.stderr
    assert sorted(p.read_bytes() for p in out.iterdir()) == [b"first", b"second"]
    # Writing again would overwrite: refused before a single byte is written.
    before = sorted(out.iterdir())
    again = setup.coordinator("triage", "attachment", case_id, "--out", str(out))
    assert again.exit_code == 2
    assert sorted(out.iterdir()) == before


def test_panic_removes_the_outbox(setup: Setup) -> None:
    setup.seal(setup.case_id)
    assert any((setup.reporter.home / "outbox").iterdir())
    result = setup.reporter("panic", "--yes", "--json")
    assert result.exit_code == 0
    assert any(r.startswith("outbox/") for r in json.loads(result.stdout)["removed"])
    assert not setup.reporter.home.exists()
