"""`demo`: the whole workflow that exists, on throw-away profiles.

A coordinator creates an org, a field defender joins it after checking the fingerprint,
writes the example case with a photo carrying GPS coordinates, seals it, and carries it
on a "USB stick" (a folder); the coordinator imports and lists it. Random passphrases
that are never shown, real key-derivation costs.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

from reprisal_report.model.case import parse_case_bytes
from reprisal_report.model.states import Role
from reprisal_report.vault.files import atomic_write
from reprisal_report.workflows import (
    coordinator,
    delivery,
    membership,
    profile,
    reporter,
    sealing,
    triage,
)


def example_case_bytes() -> bytes:
    return resources.files("reprisal_report.examples").joinpath("case-example.yaml").read_bytes()


def example_photo() -> bytes:
    """A small JPEG with (fictional) GPS coordinates and a camera serial in its EXIF."""
    from PIL import Image

    image = Image.new("RGB", (64, 48), (90, 120, 160))
    exif = Image.Exif()
    exif[0x010F] = "Example Camera Maker"
    exif[0xA431] = "SERIAL-0000-EXAMPLE"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "S", (3.0, 22.0, 0.0)
    gps[3], gps[4] = "E", (29.0, 21.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


@contextlib.contextmanager
def _workdir(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        yield directory
        return
    tmp = Path(tempfile.mkdtemp(prefix="reprisal-report-demo-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_demo(directory: Path | None, say: Callable[[str], None]) -> dict[str, object]:
    """Run every step, reporting each through ``say``; return a summary."""
    coord_pass, rep_pass = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    with _workdir(directory) as work:
        c_home, r_home, usb = work / "coordinator", work / "reporter", work / "usb-stick"
        usb.mkdir(exist_ok=True)
        profile.init_profile(c_home, coord_pass, Role.COORDINATOR, "demo coordinator")
        profile.init_profile(r_home, rep_pass, Role.REPORTER, "demo field defender")
        say("created a coordinator and a reporter profile, each an encrypted vault")
        with profile.open_profile(c_home, coord_pass) as c:
            card = coordinator.create_org(c, "Example Org (demo)", [], 90)
        say(f"coordinator created org {card.org_id}; root fingerprint {card.root_fingerprint}")
        with profile.open_profile(r_home, rep_pass) as r:
            id_card = membership.identity_card(r)
        with profile.open_profile(c_home, coord_pass) as c:
            # Both profiles are made right here, so the card is the one just written.
            seen = coordinator.preview_identity_card(id_card)
            coordinator.enroll(c, id_card, 90, role=seen.role, fingerprint=seen.fingerprint)
            org_card = coordinator.current_card(c)
        say("coordinator enrolled the reporter's identity card (org card version 2)")
        photo = work / "photo.jpg"
        atomic_write(photo, example_photo())
        record = parse_case_bytes(example_case_bytes(), source_name="case-example.yaml")
        with profile.open_profile(r_home, rep_pass) as r:
            membership.join_org(r, org_card, card.root_fingerprint)
            say("reporter joined the org after matching the fingerprint read out of band")
            case_id = reporter.new_case(r, record, None)
            [attached] = reporter.attach_files(r, case_id, [photo])
            photo.unlink()
            say(
                f"stored case {case_id} in the vault; the photo's GPS and serial were "
                f"stripped ({attached.metadata})"
            )
            sealed = sealing.seal_case(r, r_home, reporter.show_case(r, case_id).row)
            say(
                f"sealed it: {sealed.path.name} ({sealed.size} bytes, signed, then encrypted "
                "to the coordinator; the name says nothing)"
            )
            pushed = delivery.push(r, r_home, str(usb))
            say(f"carried {pushed.done} bundle(s) to the USB stick folder")
        with profile.open_profile(c_home, coord_pass) as c:
            pulled = delivery.pull(c, str(usb))
            rows = triage.list_cases(c).cases
        say(
            f"coordinator verified and imported {pulled.done} bundle(s); triage lists "
            f"{len(rows)} case(s): {rows[0]['title']!r}"
        )
        new_pass = secrets.token_urlsafe(24)
        profile.change_passphrase(r_home, rep_pass, new_pass)
        say("reporter changed the passphrase: the vault key was re-wrapped, the database untouched")
        report = profile.panic(r_home)
        say(
            f"reporter panic: key destroyed in {report.key_destroyed_seconds * 1000:.1f} ms, "
            f"profile removed in {report.seconds:.3f} s"
        )
        # Nobody knows the random passphrases: leave no profile that cannot be opened.
        profile.panic(c_home)
        say("coordinator profile destroyed too; only the USB-stick folder (ciphertext) remains")
        say(
            "not shown here: the relay ('relay serve', then 'sync push' to its URL);"
            " see docs/relay.md"
        )
        return {
            "case_id": case_id,
            "bundle_id": sealed.bundle_id,
            "panic_seconds": round(report.seconds, 3),
        }
