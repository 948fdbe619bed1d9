"""Sealed bundles end to end: seal at a reporter, import at a coordinator.

Every refusal is checked against the real coordinator vault: exit code 3 and not a
single row added (nothing of a bad bundle is ever stored).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest

from reprisal_report.bundle import age_layer
from reprisal_report.bundle.seal import seal_to
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import signing_key
from reprisal_report.workflows import inbox
from reprisal_report.workflows.profile import open_profile
from tests.conftest import EXAMPLE_CASE, PASSPHRASE, Cli
from tests.integration.enrolment import enroll_args, found_org

ERR = "reprisal-report: error: "
TABLES = (
    "inbox_bundles",
    "inbox_attachments",
    "inbox_chunks",
    "triage_cases",
    "triage_verifications",
    "custody_events",
)


@dataclass
class Setup:
    coordinator: Cli
    reporter: Cli
    dir: Path
    fingerprint: str
    case_id: str

    def seal(self, *case_ids: str) -> list[Path]:
        out = json.loads(self.reporter.ok("seal", *case_ids, "--json").stdout)
        return [self.reporter.home / "outbox" / f"{b['id']}.rrb" for b in out["bundles"]]

    def counts(self) -> dict[str, int]:
        with open_profile(self.coordinator.home, PASSPHRASE) as vault:
            return {
                t: vault.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in TABLES
            }

    def identity(self) -> str:
        path = self.dir / "coordinator.age"
        if not path.exists():
            self.coordinator.ok("id", "export-age", "--out", str(path))
        return path.read_text().strip()

    def recipients(self) -> list[tuple[str, str]]:
        with open_profile(self.coordinator.home, PASSPHRASE) as vault:
            return pinning.all_orgs(vault)[0].signed.card.recipients

    def org_id(self) -> str:
        return str(json.loads(self.coordinator.ok("org", "show", "--json").stdout)["org_id"])


def key_id(cli: Cli) -> str:
    return str(json.loads(cli.ok("id", "show", "--json").stdout)["key_id"])


@pytest.fixture(name="setup")
def setup_fixture(make_cli: Callable[[str], Cli], tmp_path: Path) -> Setup:
    coordinator, reporter = make_cli("coord"), make_cli("rep")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    fpr = found_org(coordinator, [reporter], tmp_path, "Org A")
    case_id = reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    files = []
    for name, size in (("statement.txt", 1000), ("recording.bin", 300_000)):
        path = tmp_path / name
        path.write_bytes(os.urandom(size))
        files.append(str(path))
    reporter.ok("case", "attach", case_id, *files, "--keep-metadata")
    return Setup(coordinator, reporter, tmp_path, fpr, case_id)


def import_refused(setup: Setup, data: bytes, expected: str | None = None) -> None:
    """Import ``data`` through the CLI: exit 3, the message, and an unchanged vault."""
    before = setup.counts()
    path = setup.dir / "suspect.rrb"
    path.write_bytes(data)
    result = setup.coordinator("inbox", "import", str(path))
    assert result.exit_code == 3, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{ERR}suspect.rrb: "), first
    if expected is not None:
        assert expected in first, first
    assert setup.counts() == before


def test_seal_import_round_trip(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    assert bundle.stat().st_mode & 0o777 == 0o600
    shown = json.loads(setup.reporter.ok("case", "show", setup.case_id, "--json").stdout)
    assert shown["state"] == "sealed"
    result = setup.coordinator("inbox", "import", str(bundle.parent), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 1
    listed = json.loads(setup.coordinator.ok("triage", "list", "--json").stdout)
    assert [(c["id"], c["status"]) for c in listed] == [(setup.case_id, "received")]
    detail = json.loads(setup.coordinator.ok("triage", "show", setup.case_id, "--json").stdout)
    assert detail["title"] == shown["title"] and detail["victims"] == shown["victims"]
    assert {a["sha256"] for a in detail["attachments"]} == {
        a["sha256"] for a in shown["attachments"]
    }
    out = setup.dir / "out"
    out.mkdir()
    setup.coordinator.ok("triage", "attachment", setup.case_id, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == ["recording.bin", "statement.txt"]
    assert (out / "statement.txt").read_bytes() == (setup.dir / "statement.txt").read_bytes()
    # Importing the same bundle again changes nothing.
    before = setup.counts()
    again = json.loads(setup.coordinator.ok("inbox", "import", str(bundle), "--json").stdout)
    assert (again["imported"], again["skipped"]) == (0, 1)
    assert setup.counts() == before


def test_edit_after_sealing_makes_a_follow_up(setup: Setup, tmp_path: Path) -> None:
    [first] = setup.seal(setup.case_id)
    again = setup.reporter("seal", setup.case_id)
    assert again.exit_code == 2
    assert again.stderr.splitlines()[0] == (
        f"{ERR}case {setup.case_id} is already sealed at revision 2"
    )
    changed = tmp_path / "changed.json"
    record = json.loads(setup.reporter.ok("case", "show", setup.case_id, "--json").stdout)
    keep = {
        k: v
        for k, v in record.items()
        if k not in {"id", "state", "org_id", "revision", "created_at", "updated_at", "attachments"}
    }
    changed.write_text(json.dumps({**keep, "risk": "critical"}))
    setup.reporter.ok("case", "edit", setup.case_id, "--from", str(changed))
    out = json.loads(setup.reporter.ok("seal", "--all", "--json").stdout)["bundles"]
    assert [b["previous_bundle_id"] for b in out] == [first.stem]
    setup.coordinator.ok("inbox", "import", str(setup.reporter.home / "outbox"))
    detail = json.loads(setup.coordinator.ok("triage", "show", setup.case_id, "--json").stdout)
    assert detail["risk"] == "critical"
    assert [b["previous_bundle_id"] for b in detail["bundles"]] == [None, first.stem]


def test_stock_age_opens_a_sealed_bundle(setup: Setup) -> None:
    age = shutil.which("age")
    if age is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the stock age binary is required in CI")
        pytest.skip("stock age binary not installed")
    [bundle] = setup.seal(setup.case_id)
    setup.identity()
    result = subprocess.run(
        [age, "-d", "-i", str(setup.dir / "coordinator.age"), str(bundle)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"RRB\x00\x01")


def header_length(data: bytes) -> int:
    end = data.index(b"\n--- ")
    return data.index(b"\n", end + 1) + 1


def test_every_header_byte_and_random_payload_flips_are_refused(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    original = bundle.read_bytes()
    header = header_length(original)
    rng = random.Random(20261123)
    positions = list(range(header)) + rng.sample(range(header, len(original)), 1000)
    before = setup.counts()
    with open_profile(setup.coordinator.home, PASSPHRASE, "coordinator") as vault:
        for position in positions:
            mutated = bytearray(original)
            mutated[position] ^= 1 << rng.randrange(8)
            path = setup.dir / "flipped.rrb"
            path.write_bytes(bytes(mutated))
            outcome = inbox.import_bundle(vault, path)
            assert outcome.status == "failed", position
            assert outcome.error is not None and outcome.error.exit_code == 3
    assert setup.counts() == before
    # One of them through the CLI, for the exact error line.
    mutated = bytearray(original)
    mutated[len(original) // 2] ^= 0x01
    import_refused(setup, bytes(mutated))


def test_truncations_are_refused(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    original = bundle.read_bytes()
    rng = random.Random(7)
    lengths = sorted(
        {0, 1, header_length(original), len(original) - 1, *rng.sample(range(len(original)), 40)}
    )
    before = setup.counts()
    with open_profile(setup.coordinator.home, PASSPHRASE, "coordinator") as vault:
        for length in lengths:
            path = setup.dir / "cut.rrb"
            path.write_bytes(original[:length])
            outcome = inbox.import_bundle(vault, path)
            assert outcome.status == "failed" and outcome.error is not None, length
            assert outcome.error.exit_code == 3
    assert setup.counts() == before
    import_refused(setup, original[: len(original) - 100])


def test_bundle_sealed_to_another_org(setup: Setup, make_cli: Callable[[str], Cli]) -> None:
    other = make_cli("coordB")
    other.ok("init", "--role", "coordinator")
    fpr = json.loads(other.ok("org", "create", "--name", "Org B", "--json").stdout)[
        "root_fingerprint"
    ]
    card = setup.dir / "rep.id.json"
    other.ok("org", "enroll", *enroll_args(card))
    org_b = setup.dir / "org-b.json"
    other.ok("org", "card", "--out", str(org_b))
    setup.reporter.ok("org", "join", str(org_b), "--fingerprint", fpr)
    org_b_id = json.loads(other.ok("org", "show", "--json").stdout)["org_id"]
    case_b = setup.reporter.ok(
        "case", "new", "--from", str(EXAMPLE_CASE), "--org", org_b_id
    ).stdout.strip()
    [bundle] = setup.seal(case_b)
    import_refused(setup, bundle.read_bytes(), "bundle is not addressed to any key of ours")


def _container(setup: Setup, bundle: Path) -> bytes:
    out = io.BytesIO()
    age_layer.decrypt(io.BytesIO(bundle.read_bytes()), out, [setup.identity()])
    return out.getvalue()


def _encrypt(setup: Setup, container: bytes, recipients: list[str] | None = None) -> bytes:
    out = io.BytesIO()
    targets = recipients or [age for _, age in setup.recipients()]
    age_layer.encrypt(io.BytesIO(container), out, targets)
    return out.getvalue()


def _records(container: bytes) -> Iterator[tuple[int, int, int]]:
    """(type, offset of the body, length) of each container record."""
    offset = 5
    while offset < len(container):
        kind = container[offset]
        (length,) = struct.unpack(">Q", container[offset + 1 : offset + 9])
        yield kind, offset + 9, length
        offset += 9 + length


def test_manifest_changed_inside_the_encryption(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    container = bytearray(_container(setup, bundle))
    kind, body, length = next(_records(bytes(container)))
    assert kind == 0x01
    manifest = bytes(container[body : body + length])
    # Same length, other case id: the signature no longer matches.
    forged = manifest.replace(setup.case_id.encode(), b"a" * len(setup.case_id))
    container[body : body + length] = forged
    import_refused(setup, _encrypt(setup, bytes(container)), "signature")


def test_bundle_re_encrypted_to_a_coordinator_it_was_not_sealed_for(
    setup: Setup, make_cli: Callable[[str], Cli]
) -> None:
    [bundle] = setup.seal(setup.case_id)
    container = _container(setup, bundle)
    # A second coordinator, enrolled after sealing, is not among the signed recipients.
    second = make_cli("coord2")
    second.ok("init", "--role", "coordinator")
    card = setup.dir / "c2.id.json"
    second.ok("id", "card", "--out", str(card))
    setup.coordinator.ok("org", "enroll", *enroll_args(card))
    org_card = setup.dir / "org2.json"
    setup.coordinator.ok("org", "card", "--out", str(org_card))
    second.ok("org", "join", str(org_card), "--fingerprint", setup.fingerprint)
    recipient = json.loads(second.ok("id", "show", "--json").stdout)["age_recipient"]
    path = setup.dir / "readdressed.rrb"
    path.write_bytes(_encrypt(setup, container, [recipient]))
    result = second("inbox", "import", str(path))
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        f"{ERR}readdressed.rrb: bundle's signed recipients do not include this profile's key"
    )
    assert json.loads(second.ok("triage", "list", "--json").stdout) == []


def test_container_whose_declared_size_lies(setup: Setup) -> None:
    [bundle] = setup.seal(setup.case_id)
    container = bytearray(_container(setup, bundle))
    data = next((b, n) for kind, b, n in _records(bytes(container)) if kind == 0x06)
    container[data[0] - 8 : data[0]] = struct.pack(">Q", data[1] + 1)
    import_refused(setup, _encrypt(setup, bytes(container)))


def test_attachment_swapped_between_two_bundles(setup: Setup, tmp_path: Path) -> None:
    second = setup.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(1000))  # the same size as statement.txt
    setup.reporter.ok("case", "attach", second, str(other), "--keep-metadata")
    first_bundle, second_bundle = setup.seal(setup.case_id, second)
    a, b = _container(setup, first_bundle), _container(setup, second_bundle)
    a_data = next((o, n) for k, o, n in _records(a) if k == 0x06 and n == 1000)
    b_data = next((o, n) for k, o, n in _records(b) if k == 0x06 and n == 1000)
    assert a_data[1] == b_data[1] == 1000
    swapped = a[: a_data[0]] + b[b_data[0] : b_data[0] + 1000] + a[a_data[0] + 1000 :]
    import_refused(setup, _encrypt(setup, swapped), "does not match its signed hash")


def _forge(setup: Setup, key: nacl.signing.SigningKey, author: str) -> bytes:
    out = io.BytesIO()
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        record = json.loads(
            vault.conn.execute(
                "SELECT record FROM cases WHERE id = ?", (setup.case_id,)
            ).fetchone()[0]
        )
    seal_to(
        out,
        record=record,
        attachments=[],
        signing_key=key,
        author_key_id=author,
        recipients=setup.recipients(),
        org_id=setup.org_id(),
        case_id=setup.case_id,
    )
    return out.getvalue()


def test_bundle_signed_by_an_unenrolled_key(setup: Setup) -> None:
    from reprisal_report.identity.fingerprint import key_id as kid

    stranger = nacl.signing.SigningKey.generate()
    data = _forge(setup, stranger, kid(bytes(stranger.verify_key)))
    import_refused(setup, data, "is not enrolled in org Org A")


def test_bundle_signed_by_a_revoked_key(setup: Setup) -> None:
    [before_revocation] = setup.seal(setup.case_id)
    setup.coordinator.ok("org", "revoke", key_id(setup.reporter))
    with open_profile(setup.reporter.home, PASSPHRASE) as vault:
        key = signing_key(vault)
    data = _forge(setup, key, key_id(setup.reporter))
    import_refused(setup, data, "was revoked at")
    # The time a bundle claims is the author's word: without a record of this profile
    # that the bundle existed before the revocation, it is refused too.
    import_refused(setup, before_revocation.read_bytes(), "nothing this profile recorded")


# The sample JPEG carries a planted APP2 "MPF" segment (a canary to be stripped), which
# Pillow reads as a malformed multi-picture file and says so.
@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file:UserWarning")
def test_gps_and_pdf_author_never_reach_the_coordinator(setup: Setup, tmp_path: Path) -> None:
    """A JPEG with GPS EXIF and a PDF with an author name go through attach, seal,
    import and ``triage attachment``: what comes out carries neither."""
    from PIL import Image

    from tests.unit.test_sanitize_samples import (
        GPS_LATITUDE,
        jpeg_with_metadata,
        leaked,
        pdf_with_metadata,
    )

    photo, report = tmp_path / "photo.jpg", tmp_path / "report.pdf"
    photo.write_bytes(jpeg_with_metadata())
    report.write_bytes(pdf_with_metadata())
    assert leaked(photo.read_bytes()) and leaked(report.read_bytes())
    with Image.open(photo) as img:
        assert img.getexif().get_ifd(0x8825)  # the GPS IFD is really there
    case_id = setup.reporter.ok("case", "new", "--from", str(EXAMPLE_CASE)).stdout.strip()
    setup.reporter.ok("case", "attach", case_id, str(photo), str(report))
    [bundle] = setup.seal(case_id)
    setup.coordinator.ok("inbox", "import", str(bundle))
    out = tmp_path / "out"
    out.mkdir()
    setup.coordinator.ok("triage", "attachment", case_id, "--out", str(out))
    clean_photo, clean_report = (out / "photo.jpg").read_bytes(), (out / "report.pdf").read_bytes()
    assert leaked(clean_photo) == [] and leaked(clean_report) == []
    with Image.open(out / "photo.jpg") as img:
        assert len(img.getexif()) == 0
        assert img.size == (64, 48)
    assert b"Joseph Okafor" not in clean_report
    lat = str(GPS_LATITUDE[2]).encode()
    assert lat not in clean_photo
    import pikepdf

    with pikepdf.open(out / "report.pdf") as pdf:
        assert "/Author" not in pdf.docinfo and len(pdf.pages) == 3
