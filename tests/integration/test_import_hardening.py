"""Import hardening (issue 8): who may author, chains without forks or cycles, hostile
folders and file names, a header that never ends. Real vaults, real keys, the real CLI.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nacl.signing
import pytest

from reprisal_report import clock
from reprisal_report.bundle.manifest import new_bundle_id
from reprisal_report.bundle.seal import seal_to
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import idcard
from reprisal_report.identity.fingerprint import key_id as kid
from reprisal_report.identity.keys import signing_key
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE, Cli
from tests.integration.enrolment import enroll_args
from tests.integration.test_bundle_cli import (  # noqa: F401 - the fixture is used by name
    Setup,
    import_refused,
    key_id,
    setup_fixture,
)

ERR = "reprisal-report: error: "


@pytest.fixture(autouse=True)
def _system_clock() -> Iterator[None]:
    yield
    clock.set_clock(None)


def _record(setup: Setup) -> dict[str, object]:
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        row = vault.conn.execute(
            "SELECT record FROM cases WHERE id = ?", (setup.case_id,)
        ).fetchone()
    return dict(json.loads(row[0]))


def _forge(
    setup: Setup,
    key: nacl.signing.SigningKey,
    *,
    seed: bytes | None = None,
    previous: str | None = None,
) -> bytes:
    """A bundle of the setup's case signed by ``key``, with a chosen id and previous."""
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        from reprisal_report.identity import pinning

        card = pinning.all_orgs(vault)[0].signed.card
    out = io.BytesIO()
    seal_to(
        out,
        record=_record(setup),
        attachments=[],
        signing_key=key,
        author_key_id=kid(bytes(key.verify_key)),
        recipients=card.recipients,
        org_id=card.org_id,
        case_id=setup.case_id,
        previous_bundle_id=previous,
        rng=secrets.token_bytes if seed is None else _pinned(seed),
    )
    return out.getvalue()


def _pinned(seed: bytes) -> Callable[[int], bytes]:
    """An rng that always answers from ``seed``: a bundle id known in advance."""

    def rng(n: int) -> bytes:
        return seed[:n]

    return rng


def _id(seed: bytes) -> str:
    return new_bundle_id(_pinned(seed))


def _reporter_key(setup: Setup) -> nacl.signing.SigningKey:
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        return signing_key(vault)


# --- flaw 1: only reporter keys author, and a revoked one needs proof ----------------------


def test_revoked_coordinator_key_never_authors(
    setup: Setup, make_cli: Callable[[str], Cli]
) -> None:
    other = make_cli("coord2")
    other.ok("init", "--role", "coordinator")
    card = setup.dir / "coord2.id.json"
    other.ok("id", "card", "--out", str(card))
    setup.coordinator.ok("org", "enroll", *enroll_args(card))
    setup.coordinator.ok("org", "revoke", key_id(other))
    with open_profile(other.home, PASSPHRASE) as vault:
        key = signing_key(vault)
    path = setup.dir / "suspect.rrb"
    path.write_bytes(_forge(setup, key))
    result = setup.coordinator("inbox", "import", str(path))
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{ERR}suspect.rrb: bundle author {key_id(other)} is a revoked coordinator key, "
        "never a reporter"
    ]


def test_revoked_relay_key_never_authors(setup: Setup) -> None:
    # A relay key lives in plaintext on the relay host: once stolen and revoked, it
    # must not forge reports with a backdated sealing time.
    relay = nacl.signing.SigningKey.generate()
    card = idcard.IdentityCard(
        "relay", "relay one", bytes(relay.verify_key), None, "2026-01-01T00:00:00Z"
    )
    path = setup.dir / "relay.id.json"
    path.write_bytes(idcard.make_card(card, relay))
    setup.coordinator.ok("org", "enroll", *enroll_args(path))
    setup.coordinator.ok("org", "revoke", card.key_id)
    old = datetime.now(UTC) - timedelta(days=30)
    out = io.BytesIO()
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        from reprisal_report.identity import pinning

        org = pinning.all_orgs(vault)[0].signed.card
    seal_to(
        out,
        record=_record(setup),
        attachments=[],
        signing_key=relay,
        author_key_id=card.key_id,
        recipients=org.recipients,
        org_id=org.org_id,
        case_id="aaaaaaaaaaaaaaaa",
        now=old,  # claims to be sealed a month before the revocation
    )
    import_refused(setup, out.getvalue(), f"bundle author {card.key_id} is a revoked relay key")


def test_revoked_reporter_without_proof_is_refused(setup: Setup) -> None:
    [sealed] = setup.seal(setup.case_id)
    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    path = setup.dir / "sealed.rrb"
    path.write_bytes(sealed.read_bytes())
    result = setup.coordinator("inbox", "import", str(path))
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        from reprisal_report.identity import pinning

        revoked_at = pinning.all_orgs(vault)[0].signed.card.revoked[0].revoked_at
    assert lines == [
        f"{ERR}sealed.rrb: bundle author {key_id(setup.reporter)} was revoked at "
        f"{revoked_at} and nothing this profile recorded shows the bundle existed before then",
        "hint: the sealing time a bundle claims is not proof; the reporter can seal the "
        "case again from an enrolled device",
    ]


def test_revoked_reporter_with_a_prior_record_is_accepted(setup: Setup) -> None:
    """The coordinator held the exact bundle before the revocation (its import failed
    then, on an expired card): that record is the proof, and the bundle is accepted."""
    [sealed] = setup.seal(setup.case_id)
    start = datetime.now(UTC).replace(microsecond=0)
    clock.set_clock(lambda: start + timedelta(days=91))  # the 90-day card has expired
    first = setup.coordinator("inbox", "import", str(sealed))
    assert first.exit_code == 3
    assert "card of org Org A expired at" in first.stderr.splitlines()[0]
    setup.coordinator.ok("org", "renew")
    clock.set_clock(lambda: start + timedelta(days=92))
    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    result = setup.coordinator("inbox", "import", str(sealed))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [f"imported {sealed.name}: case {setup.case_id}"]
    # A bundle the profile never held before the revocation stays refused.
    forged = _forge(setup, _reporter_key(setup), previous=sealed.stem)
    import_refused(setup, forged, "nothing this profile recorded shows the bundle existed")


def test_a_sighting_is_kept_under_the_hash_of_the_bytes_verified(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused file is hashed again on its own to look for a duplicate; that second
    read must never name the sighting (the file may have changed since it was
    verified: a sighting is what lets a revoked key's bundle in later)."""
    import hashlib

    from reprisal_report.vault import inbox as inbox_store
    from reprisal_report.workflows import inbox as inbox_workflow

    [sealed] = setup.seal(setup.case_id)
    monkeypatch.setattr(inbox_workflow, "_file_sha256", lambda _handle: "f" * 64)
    start = datetime.now(UTC).replace(microsecond=0)
    clock.set_clock(lambda: start + timedelta(days=91))  # the 90-day card has expired
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault:
        outcome = inbox_workflow.import_bundle(vault, sealed)
        assert outcome.status == "failed"
        assert "expired" in (outcome.reason or "")
        assert inbox_store.first_sighting(vault, "f" * 64) is None
        real = hashlib.sha256(sealed.read_bytes()).hexdigest()
        assert inbox_store.first_sighting(vault, real) is not None


# --- flaw 6: a case's chain has no fork and no cycle ---------------------------------------


def test_bundles_naming_each_other_as_previous_are_refused(setup: Setup) -> None:
    key = _reporter_key(setup)
    seed_a, seed_b = bytes([1]) * 32, bytes([2]) * 32
    id_a, id_b = _id(seed_a), _id(seed_b)
    a = setup.dir / "a.rrb"
    a.write_bytes(_forge(setup, key, seed=seed_a, previous=id_b))
    setup.coordinator.ok("inbox", "import", str(a))
    b = setup.dir / "b.rrb"
    b.write_bytes(_forge(setup, key, seed=seed_b, previous=id_a))
    result = setup.coordinator("inbox", "import", str(b))
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{ERR}b.rrb: bundle {id_b} does not fit case {setup.case_id}: its chain of "
        "previous bundles would lead back to itself (a cycle)"
    ]
    setup.coordinator.ok("triage", "list")
    setup.coordinator.ok("triage", "show", setup.case_id)


def test_two_bundles_continuing_one_are_a_fork(setup: Setup) -> None:
    [first] = setup.seal(setup.case_id)
    setup.coordinator.ok("inbox", "import", str(first))
    key = _reporter_key(setup)
    one = setup.dir / "one.rrb"
    one.write_bytes(_forge(setup, key, seed=bytes([3]) * 32, previous=first.stem))
    setup.coordinator.ok("inbox", "import", str(one))
    two_id = _id(bytes([4]) * 32)
    two = _forge(setup, key, seed=bytes([4]) * 32, previous=first.stem)
    one_id = _id(bytes([3]) * 32)
    import_refused(
        setup,
        two,
        f"bundle {two_id} does not fit case {setup.case_id}: bundle {one_id} already "
        f"continues {first.stem} (a fork)",
    )
    second_root = _forge(setup, key, seed=bytes([5]) * 32)
    import_refused(setup, second_root, f"case already has a first bundle ({first.stem})")


def test_triage_never_crashes_on_a_stored_cycle(setup: Setup) -> None:
    """Data stored by an older version (which let a cycle in) still lists and shows."""
    [first] = setup.seal(setup.case_id)
    setup.coordinator.ok("inbox", "import", str(first))
    key = _reporter_key(setup)
    follow = setup.dir / "follow.rrb"
    follow.write_bytes(_forge(setup, key, seed=bytes([6]) * 32, previous=first.stem))
    setup.coordinator.ok("inbox", "import", str(follow))
    with open_profile(setup.coordinator.home, PASSPHRASE) as vault, vault.transaction():
        follow_id = _id(bytes([6]) * 32)
        vault.conn.execute(
            "UPDATE inbox_bundles SET previous_bundle_id = ? WHERE bundle_id = ?",
            (follow_id, first.stem),
        )
    listed = json.loads(setup.coordinator.ok("triage", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [setup.case_id]
    shown = json.loads(setup.coordinator.ok("triage", "show", setup.case_id, "--json").stdout)
    assert sorted(b["bundle_id"] for b in shown["bundles"]) == sorted([first.stem, follow_id])


# --- low: folders, file names, header size ---------------------------------------------------


def test_fifo_and_dangling_link_in_a_folder_are_skipped(setup: Setup) -> None:
    [sealed] = setup.seal(setup.case_id)
    folder = setup.dir / "usb"
    folder.mkdir()
    (folder / "good.rrb").write_bytes(sealed.read_bytes())
    os.mkfifo(folder / "pipe.rrb")
    (folder / "gone.rrb").symlink_to(folder / "nowhere.rrb")
    result = setup.coordinator("inbox", "import", str(folder))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"imported good.rrb: case {setup.case_id}",
        "reprisal-report: warning: skipped gone.rrb: is a symbolic link, not a bundle file",
        "reprisal-report: warning: skipped pipe.rrb: is a named pipe, not a bundle file",
    ]


def test_courier_chosen_file_names_reach_the_terminal_escaped(setup: Setup) -> None:
    name = "evil\x1b]8;;https:x\x07\u202e.rrb"
    path = setup.dir / name
    path.write_bytes(b"not a bundle at all")
    result = setup.coordinator("inbox", "import", str(path))
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{ERR}evil\\u{{001B}}]8;;https:x\\u{{0007}}\\u{{202E}}.rrb: "
        "bundle is not a binary age v1 file"
    ]


def test_an_age_header_that_never_ends_is_capped(setup: Setup) -> None:
    data = b"age-encryption.org/v1\n-> X25519 " + b"A" * (1024 * 1024)
    import_refused(setup, data, "bundle age header is longer than 64 KiB")


# --- flaw 3 / enrolment: the coordinator confirms fingerprint and role ----------------------


def _card_with_label(setup: Setup, label: str) -> Path:
    key = nacl.signing.SigningKey.generate()
    body = idcard.IdentityCard(
        "reporter", "x", bytes(key.verify_key), None, "2026-01-01T00:00:00Z"
    ).body()
    body["label"] = label
    doc = {"identity": body, "signature": enc.b64(enc.sign(key, idcard.DOMAIN, body))}
    path = setup.dir / "hostile.id.json"
    path.write_bytes(enc.dump(doc))
    return path


def test_enroll_refuses_a_label_that_redraws_the_line(setup: Setup) -> None:
    path = _card_with_label(setup, "x\r\x1b[2Kenrolled reporter abcdefghijklmnop")
    result = setup.coordinator(
        "org", "enroll", str(path), "--role", "reporter", "--fingerprint", "AAAA"
    )
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"{ERR}identity card: label holds a non-printing character (\\u{{000D}})",
        "hint: card text may hold only printable characters and plain spaces",
    ]


@pytest.mark.parametrize(
    ("flags", "code", "line"),
    [
        (["--role", "reporter"], 2, f"{ERR}--role and --fingerprint go together"),
        ([], 2, f"{ERR}org enroll needs a terminal to confirm the card"),
        (
            ["--role", "reporter", "--fingerprint", "AAAA AAAA"],
            3,
            f"{ERR}fingerprint does not match the identity card's key",
        ),
        (
            ["--role", "coordinator", "--fingerprint", "FPR"],
            3,
            f"{ERR}the identity card is for a reporter key, not a coordinator",
        ),
    ],
)
def test_enroll_needs_the_agreed_fingerprint_and_role(
    setup: Setup, make_cli: Callable[[str], Cli], flags: list[str], code: int, line: str
) -> None:
    other = make_cli("rep3")
    other.ok("init", "--role", "reporter")
    card = setup.dir / "rep3.id.json"
    other.ok("id", "card", "--out", str(card))
    real = enroll_args(card)[-1]
    flags = [real if f == "FPR" else f for f in flags]
    before = setup.coordinator.ok("org", "show", "--json").stdout
    result = setup.coordinator("org", "enroll", str(card), *flags)
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == line
    assert setup.coordinator.ok("org", "show", "--json").stdout == before
