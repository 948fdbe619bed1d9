"""`demo`: the whole system on a demo organisation made afresh, in throw-away profiles.

One coordinator, two field defenders and an auditor; three cases (one whose victim
agreed to be named, one for the UN only, one at critical risk) with a photo carrying
GPS coordinates; bundles carried over a "USB stick" folder and over a relay on
127.0.0.1; the coordinator imports, triages, counts and exports for the public, the
UN and statistics; the auditor verifies the custody log, the exports and the relay
receipts with public keys only. Each step says what happened and what protected whom.
Random passphrases that are never shown; real key derivation.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reprisal_report.model.case import parse_case_bytes
from reprisal_report.model.states import Role
from reprisal_report.vault.files import atomic_write
from reprisal_report.vault.store import Vault
from reprisal_report.workflows import (
    coordinator,
    delivery,
    membership,
    profile,
    reporter,
    sealing,
    triage,
)
from reprisal_report.workflows import export as exporting


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


@dataclass(frozen=True)
class Step:
    title: str
    happened: str
    protected: str


Say = Callable[[Step], None]

CASES: dict[str, dict[str, object]] = {
    "named": {
        "title": "Travel ban after briefing the Committee against Torture",
        "consent": "publish_named",
        "risk": "low",
    },
    "un-only": {
        "title": "Lawyer summoned after a submission to the Special Rapporteur",
        "country": "MV",
        "incident_date": "2026-05-14",
        "cooperation": [
            {"mechanism": "special_procedures", "body": "SR-HRD", "mode": "submission"}
        ],
        "acts": ["intimidation", "judicial_harassment"],
        "victims": [
            {
                "name": "Aminath Example",
                "kind": "lawyer",
                "contact": "+960 777 0000",
                "organisation": "Island Rights Example",
            }
        ],
        "location": "Malé, Henveiru",
        "narrative": "The lawyer was summoned by the police two days after her submission.",
        "public_summary": "A lawyer was summoned by the police after a submission to a UN expert.",
        "consent": "share_un_confidential",
        "risk": "medium",
    },
    "critical": {
        "title": "Disappearance of a witness after testimony",
        "incident_date": "2026-06",
        "acts": ["enforced_disappearance"],
        "cooperation": [{"mechanism": "hrc_session", "body": "HRC-62", "mode": "testimony"}],
        "victims": [{"name": "Witness Example-Two", "kind": "witness"}],
        "location": "Gitega",
        "narrative": "The witness did not come home after returning from Geneva.",
        "public_summary": "A witness who testified at the Human Rights Council is missing.",
        "consent": "publish_named",
        "risk": "critical",
    },
}


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


@contextlib.contextmanager
def _relay(data_dir: Path, card: Path) -> Iterator[str]:
    """A relay on 127.0.0.1 in a thread of this process, on a socket bound here."""
    from reprisal_report.relay.config import RelayConfig
    from reprisal_report.relay.server import build_server
    from reprisal_report.relay.service import RelayService

    config = RelayConfig(data_dir=data_dir, org_card=card)
    service = RelayService(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = build_server(config, service, "127.0.0.1", port, log_level="critical")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo relay did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        service.close()


def _record(name: str) -> dict[str, object]:
    base = parse_case_bytes(example_case_bytes(), source_name="case-example.yaml")
    data = json.dumps({**base, **CASES[name]}).encode("utf-8")
    return parse_case_bytes(data, source_name=f"{name}.json")


def _relay_files(data_dir: Path) -> list[Path]:
    return [
        p
        for p in data_dir.rglob("*")
        if p.is_file() and p.suffix in ("", ".rrb") and "bundle" in str(p.parent)
    ]


def run(directory: Path | None, say: Say) -> dict[str, object]:
    """Run every step, reporting each through ``say``; the outcomes."""
    out: dict[str, object] = {}
    passes = {name: secrets.token_urlsafe(24) for name in ("c", "r1", "r2", "a")}
    with _workdir(directory) as work:
        homes = {
            name: work / label
            for name, label in (
                ("c", "coordinator"),
                ("r1", "reporter-1"),
                ("r2", "reporter-2"),
                ("a", "auditor"),
            )
        }
        usb, relay_dir, exports = work / "usb-stick", work / "relay", work / "exports"
        for folder in (usb, exports):
            folder.mkdir(exist_ok=True)
        roles = {"c": Role.COORDINATOR, "r1": Role.REPORTER, "r2": Role.REPORTER, "a": Role.AUDITOR}
        for name, home in homes.items():
            profile.init_profile(home, passes[name], roles[name], f"demo {home.name}")
        relay_card, relay_kid = _init_relay(relay_dir)
        say(
            Step(
                "Profiles",
                "Created a coordinator, two field defenders and an auditor, each an encrypted "
                "vault (SQLCipher, key wrapped with Argon2id), and a relay key.",
                "A seized laptop holds only ciphertext and a wrapped key.",
            )
        )
        cards: dict[str, bytes] = {}
        for name in ("r1", "r2", "a"):
            with profile.open_profile(homes[name], passes[name]) as v:
                cards[name] = membership.identity_card(v)
        with profile.open_profile(homes["c"], passes["c"]) as c:
            card = coordinator.create_org(c, "Example Org (demo)", [], 90)
            for id_card in [cards["r1"], cards["r2"], cards["a"], relay_card]:
                seen = coordinator.preview_identity_card(id_card)
                coordinator.enroll(c, id_card, 90, role=seen.role, fingerprint=seen.fingerprint)
            org_card = coordinator.current_card(c)
        card_file = work / "org-card.json"
        atomic_write(card_file, org_card)
        for name in ("r1", "r2", "a"):
            with profile.open_profile(homes[name], passes[name]) as v:
                membership.join_org(v, org_card, card.root_fingerprint)
        say(
            Step(
                "Organisation",
                f"The coordinator created org {card.org_id} and enrolled both devices, the "
                "auditor and the relay; each member pinned the org's root key after matching "
                f"its fingerprint ({card.root_fingerprint[:14]}…) read out of band.",
                "Nobody can hand members a forged or older org card: it must be signed by "
                "the pinned root and newer than the last one seen.",
            )
        )
        photo = work / "photo.jpg"
        atomic_write(photo, example_photo())
        with profile.open_profile(homes["r1"], passes["r1"]) as r1:
            named = reporter.new_case(r1, _record("named"), None)
            [attached] = reporter.attach_files(r1, named, [photo])
            un_only = reporter.new_case(r1, _record("un-only"), None)
            for case_id in (named, un_only):
                sealing.seal_case(r1, homes["r1"], reporter.show_case(r1, case_id).row)
        photo.unlink()
        with profile.open_profile(homes["r2"], passes["r2"]) as r2:
            critical = reporter.new_case(r2, _record("critical"), None)
            sealing.seal_case(r2, homes["r2"], reporter.show_case(r2, critical).row)
        say(
            Step(
                "Cases written and sealed",
                "Defender 1 wrote two cases (one named with consent, one for the UN only) "
                "and attached a photo; defender 2 wrote one at critical risk. Each case was "
                "signed, then encrypted to the coordinator, and padded.",
                "GPS and the camera serial were removed from the photo before it entered "
                f"the vault ({attached.metadata}); the bundle's name and padded size say "
                "nothing about the case.",
            )
        )
        with _relay(relay_dir, card_file) as url:
            with profile.open_profile(homes["r1"], passes["r1"]) as r1:
                pushed = delivery.push(r1, homes["r1"], url, allow_http=True)
            with profile.open_profile(homes["r2"], passes["r2"]) as r2:
                carried = delivery.push(r2, homes["r2"], str(usb))
            stored = _relay_files(relay_dir)
            sizes = sorted({p.stat().st_size for p in stored})
            canaries = ["Aminath Example", "Travel ban", "Lawyer summoned"]
            plaintext = any(c.encode("utf-8") in p.read_bytes() for p in stored for c in canaries)
            out["relay_files"] = len(stored)
            out["relay_plaintext_found"] = plaintext
            say(
                Step(
                    "Delivery",
                    f"Defender 1 pushed {pushed.done} bundle(s) to a relay on 127.0.0.1 "
                    f"(signed receipts with Merkle inclusion proofs, stored); defender 2 "
                    f"carried {carried.done} on a USB-stick folder.",
                    f"The relay saw {len(stored)} file(s) of "
                    f"{', '.join(f'{s // 1024} KiB' for s in sizes)}, random names, "
                    "ciphertext only; it cannot read, alter or re-address them.",
                )
            )
            with profile.open_profile(homes["c"], passes["c"]) as c:
                from_relay = delivery.pull(c, url, allow_http=True)
                from_usb = delivery.pull(c, str(usb))
                out["imported"] = from_relay.done + from_usb.done
                out["relay_receipts_kept"] = from_relay.receipts
                for case_id in (named, un_only, critical):
                    triage.set_case(c, case_id, triage.Change(status="under_review"))
                    triage.set_case(c, case_id, triage.Change(status="verified"))
                triage.set_case(
                    c, critical, triage.Change(note="Family informed; do not contact directly.")
                )
                received = work / "received-attachments"
                received.mkdir(exist_ok=True)
                [written] = triage.write_attachments(c, named, received, "demo: GPS check")
                out["gps_removed"] = not _has_gps(written.path)
                written.path.unlink()
                stats = triage.stats(c, ["country"])
                say(
                    Step(
                        "Import and triage",
                        f"The coordinator verified and imported {out['imported']} bundles "
                        "(signature, enrolment, addressing, hashes, commitments), kept each "
                        f"original file as evidence and {out['relay_receipts_kept']} relay "
                        "receipts (the relay's signed proof that it logged exactly those "
                        "files), moved the cases to verified and counted "
                        + ", ".join(f"{r['country']}: {r['count']}" for r in stats.rows)
                        + ".",
                        "The photo the coordinator received has no GPS coordinates "
                        f"({'checked' if out['gps_removed'] else 'NOT removed'}). Every "
                        "triage action is a custody event naming the fields changed, never "
                        "their values.",
                    )
                )
                results: dict[str, exporting.ExportResult] = {}
                for prof in ("public", "un-confidential", "stats"):
                    results[prof] = exporting.export(
                        c,
                        exporting.ExportRequest(
                            profile=prof, format="json", out=exports / f"{prof}.json"
                        ),
                    )
                _write_audit_files(c, work)
        out["exports"] = {
            name: {"cases": r.cases, "withheld": r.withheld, "file": str(r.out.name)}
            for name, r in results.items()
        }
        out["critical_case_exported"] = any(
            critical in (exports / f"{p}.json").read_text(encoding="utf-8")
            for p in ("public", "un-confidential", "stats")
        )
        say(
            Step(
                "Exports",
                f"public: {results['public'].cases} case(s); un-confidential: "
                f"{results['un-confidential'].cases} (with the authors' signed manifests and "
                "salts); stats: counts with small cells suppressed. Each file is signed "
                "(FILE.minisig, minisign's format).",
                "The critical-risk case was withheld from the public and UN exports (in "
                "the statistics it is one count, and every cell below 5 is suppressed); "
                "the UN-only case is not public; contacts never left; the leak gate "
                f"checked every byte against {results['public'].gate_values} sensitive "
                "values of the vault.",
            )
        )
        out.update(_audit(work, exports, homes, passes, card_file))
        say(
            Step(
                "Audit",
                f"The auditor, with public keys only, verified the custody log "
                f"({out['log_entries']} signed, hash-chained entries: "
                f"{'OK' if out['log_verified'] else 'FAIL'}), every export's signature "
                f"and the UN export's {out['disclosures_verified']} disclosed fields against "
                "the authors' commitments, and the relay receipts of defender 1 and of "
                "the coordinator against the kept evidence "
                f"({'OK' if out['receipts_verified'] else 'FAIL'}).",
                "Nobody, including the coordinator, can rewrite the history or an export "
                "without it showing; the auditor never saw a case.",
            )
        )
        for name in homes:
            profile.panic(homes[name])
        say(
            Step(
                "Panic",
                "Every profile was crypto-shredded: the wrapped key first, then the files.",
                "Nobody knows the random passphrases; nothing readable is left behind.",
            )
        )
        out["case_ids"] = {"named": named, "un-only": un_only, "critical": critical}
        out["relay_key_id"] = relay_kid
    return out


def _has_gps(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        return bool(image.getexif().get_ifd(0x8825))


def _init_relay(data_dir: Path) -> tuple[bytes, str]:
    from reprisal_report.workflows.relay_operator import init_relay

    card, kid, _ = init_relay(data_dir)
    return card, kid


def _write_audit_files(c: Vault, work: Path) -> None:
    from reprisal_report.workflows import audit

    audit.export_log(c, work / "custody-log.jsonl")
    _org, _n, history = audit.org_history(c)
    atomic_write(work / "org-history.json", history)


def _audit(
    work: Path, exports: Path, homes: dict[str, Path], passes: dict[str, str], card: Path
) -> dict[str, object]:
    from reprisal_report.workflows import audit

    log = audit.verify_log_file(work / "custody-log.jsonl", work / "org-history.json")
    checks = {
        p: exporting.verify_export_file(exports / f"{p}.json", card)
        for p in ("public", "un-confidential", "stats")
    }
    with profile.open_profile(homes["r1"], passes["r1"]) as r1:
        sent = audit.verify_receipts(r1)
    with profile.open_profile(homes["c"], passes["c"]) as c:
        pulled = audit.verify_receipts(c)
    return {
        "log_verified": bool(log.ok),
        "log_entries": sum(log.events.values()),
        "exports_verified": all(ch.ok for ch in checks.values()),
        "disclosures_verified": sum(c.disclosed for c in checks["un-confidential"].cases),
        "receipts_verified": bool(sent.ok and pulled.ok),
        "coordinator_receipts_verified": sum(
            1 for i in pulled.items if i.kind == "receipt" and i.status == "verified"
        ),
    }
