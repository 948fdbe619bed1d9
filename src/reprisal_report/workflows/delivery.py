"""Delivering bundles: ``sync push`` (reporter) and ``sync pull`` (coordinator).

Both are idempotent and resumable. A bundle is marked delivered only after the folder
copy reads back correctly or the relay's receipt arrived; a pulled bundle is
acknowledged to the relay only after it was imported (or found already imported). A
crash at any point therefore leaves work that the next run finishes, with no bundle
lost and none imported twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprisal_report.errors import (
    InvalidInput,
    NotFound,
    RelayFailed,
    ReportError,
    VerificationError,
    WrongRole,
)
from reprisal_report.identity import pinning
from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.transport import folder as folder_transport
from reprisal_report.vault import outbox
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.profile import ProfilePaths
from reprisal_report.vault.store import Vault

if TYPE_CHECKING:
    from reprisal_report.protocol.receipts import SignedTreeHead
    from reprisal_report.transport.relay_client import RelayClient

PURGE_SETTING = "purge_after_delivery"
# Bundles per vault commit. Every step is idempotent (a re-upload returns the same
# receipt; an unacknowledged bundle is fetched again and found already imported), so a
# crash inside a batch only repeats work; it loses and duplicates nothing.
BATCH = 50


@dataclass
class DeliveryReport:
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The worst exit code among failures (0 when none).
    exit_code: int = 0

    def fail(self, ident: str, exc: ReportError) -> None:
        self.failed.append({"id": ident, "reason": exc.message})
        self.exit_code = max(self.exit_code, int(exc.exit_code))


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def pending_count(vault: Vault) -> int:
    return len(outbox.entries(vault, "pending"))


def purge_enabled(vault: Vault) -> bool:
    value = vault.get_meta(PURGE_SETTING)
    if value is None:
        return vault.get_meta("role") == "reporter"
    return value == "on"


def set_purge(vault: Vault, enabled: bool) -> None:
    with vault.transaction():
        vault.set_meta(PURGE_SETTING, "on" if enabled else "off")


def purge_case(vault: Vault, case_id: str, bundle_id: str) -> None:
    """Keep only a stub (case id, bundle id, receipt): the plaintext leaves the device."""
    with vault.transaction():
        vault.conn.execute("DELETE FROM attachments WHERE case_id = ?", (case_id,))
        vault.conn.execute(
            "UPDATE cases SET record = '{}', state = 'purged' WHERE id = ?", (case_id,)
        )
        record_event(vault, case_id, "purged", {"bundle_id": bundle_id})


# --- relay plumbing ----------------------------------------------------------------------


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_transport_security(url: str, allow_http: bool) -> None:
    """Plain http only to this machine or an onion service, unless the user insists.

    The bundles are encrypted either way, but every request carries the device's key
    id in the clear over http: a watched network learns which device talks, and when.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    remote = host not in LOCAL_HOSTS and not host.endswith(".onion")
    if parts.scheme == "http" and remote and not allow_http:
        raise InvalidInput(
            f"refusing plain http to {host}: the network would see this device's key id",
            hint="use an https:// relay URL, a .onion address over --proxy, or --allow-http",
        )


def _relay_client(vault: Vault, url: str, proxy: str | None) -> tuple[RelayClient, Any]:
    from reprisal_report.transport.relay_client import RelayClient, find_relay_key

    me = public_identity(vault)
    client = RelayClient(url, signing_key(vault), me.key_id, None, proxy)
    sth = client.sth()
    relay_key = None
    for org in pinning.all_orgs(vault):
        relay_key = relay_key or find_relay_key(org.signed.card, sth.relay_key_id)
    client.relay_public_key = relay_key
    return client, relay_key


def _check_log(vault: Vault, client: RelayClient, relay_key: bytes | None) -> SignedTreeHead:
    """Fetch the tree head and prove it extends the last one this profile saw."""
    from reprisal_report.protocol.receipts import (
        SignedTreeHead,
        check_consistency,
        verify_tree_head,
    )

    new = client.sth()
    if relay_key is not None:
        new = verify_tree_head(new, relay_key)
    name = f"relay-sth:{client.base_url}"
    stored = vault.get_meta(name)
    if stored is not None:
        old = SignedTreeHead.from_json(json.loads(stored))
        if old.tree_size > 0:
            proof = client.consistency(old.tree_size, new.tree_size)
            check_consistency(old, new, proof, relay_public_key=relay_key)
    with vault.transaction():
        vault.set_meta(name, json.dumps(new.to_json(), sort_keys=True))
    return new


# --- push ----------------------------------------------------------------------------------


def push(
    vault: Vault,
    home: Path,
    target: str,
    *,
    proxy: str | None = None,
    on_bundle: Callable[[str], None] | None = None,
    allow_http: bool = False,
) -> DeliveryReport:
    if vault.get_meta("role") != "reporter":
        raise WrongRole("sync push is for reporter profiles")
    report = DeliveryReport()
    pending = outbox.entries(vault, "pending")
    report.skipped = len(outbox.entries(vault)) - len(pending)
    box = ProfilePaths(home).outbox
    if is_url(target):
        check_transport_security(target, allow_http)
        _push_relay(vault, box, target, proxy, pending, report, on_bundle)
    else:
        folder = Path(target)
        folder_transport.require_folder(folder)
        for entry in pending:
            try:
                folder_transport.deliver(box / f"{entry.bundle_id}.rrb", folder, entry.sha256)
            except FileNotFoundError:
                report.fail(entry.bundle_id, NotFound("bundle file is missing from the outbox"))
                continue
            except ReportError as exc:
                report.fail(entry.bundle_id, exc)
                continue
            with vault.transaction():
                outbox.mark_delivered(vault, entry.bundle_id, None)
                record_event(
                    vault,
                    entry.case_id,
                    "delivered",
                    {"bundle_id": entry.bundle_id, "to": "folder"},
                )
            report.done += 1
            if on_bundle is not None:
                on_bundle(entry.bundle_id)
        if pending:
            report.notes.append("a folder gives no receipt: the local copies are kept")
    return report


def _push_relay(
    vault: Vault,
    box: Path,
    url: str,
    proxy: str | None,
    pending: list[outbox.OutboxEntry],
    report: DeliveryReport,
    on_bundle: Callable[[str], None] | None,
) -> None:
    client, relay_key = _relay_client(vault, url, proxy)
    try:
        _check_log(vault, client, relay_key)
        if relay_key is None:
            report.notes.append(
                "the relay's key is not in any org card: its receipts cannot be verified, "
                "so nothing is purged"
            )
        purge = purge_enabled(vault) and relay_key is not None
        done: list[tuple[outbox.OutboxEntry, Any]] = []
        purgeable: list[outbox.OutboxEntry] = []

        def commit() -> None:
            with vault.transaction():
                for entry, receipt in done:
                    outbox.mark_delivered(
                        vault, entry.bundle_id, json.dumps(receipt.to_json(), sort_keys=True)
                    )
                    record_event(
                        vault,
                        entry.case_id,
                        "delivered",
                        {
                            "bundle_id": entry.bundle_id,
                            "to": url,
                            "log_index": receipt.index,
                            "receipt_verified": receipt.verified,
                        },
                    )
                    if purge and receipt.verified:
                        purgeable.append(entry)
            report.done += len(done)
            if on_bundle is not None:
                for entry, _ in done:
                    on_bundle(entry.bundle_id)
            done.clear()

        for entry in pending:
            # One bad bundle (gone from the outbox, too large for this relay, refused)
            # fails alone; an unreachable relay stops the run (RelayUnreachable).
            try:
                data = (box / f"{entry.bundle_id}.rrb").read_bytes()
                receipt = client.upload(data)
            except FileNotFoundError:
                report.fail(entry.bundle_id, NotFound("bundle file is missing from the outbox"))
                continue
            except (VerificationError, RelayFailed) as exc:
                report.fail(entry.bundle_id, exc)
                continue
            done.append((entry, receipt))
            if len(done) >= BATCH:
                commit()
        commit()
        if pending:
            # Purge only once the log after these uploads extends the one seen before:
            # a relay caught rewriting its log in this run gets no plaintext purged.
            _check_log(vault, client, relay_key)
        with vault.transaction():
            for entry in purgeable:
                purge_case(vault, entry.case_id, entry.bundle_id)
                report.purged.append(entry.case_id)
        for entry in purgeable:
            (box / f"{entry.bundle_id}.rrb").unlink(missing_ok=True)
    finally:
        client.close()


# --- pull ----------------------------------------------------------------------------------


def pull(
    vault: Vault,
    source: str,
    *,
    proxy: str | None = None,
    remove_after_import: bool = False,
    on_bundle: Callable[[str], None] | None = None,
    allow_http: bool = False,
) -> DeliveryReport:
    from reprisal_report.workflows import inbox

    if vault.get_meta("role") != "coordinator":
        raise WrongRole("sync pull is for coordinator profiles")
    report = DeliveryReport()
    if not is_url(source):
        for path in folder_transport.bundles_in(Path(source)):
            outcome = inbox.import_bundle(vault, path)
            _count(report, outcome)
            if outcome.status in ("imported", "duplicate") and remove_after_import:
                path.unlink(missing_ok=True)
            if on_bundle is not None:
                on_bundle(path.name)
        return report
    check_transport_security(source, allow_http)
    client, relay_key = _relay_client(vault, source, proxy)
    try:
        _check_log(vault, client, relay_key)
        waiting = [e for e in client.list(-1) if not e.acknowledged]
        for start in range(0, len(waiting), BATCH):
            collected: list[str] = []
            # Each import is a savepoint inside the batch: a bad bundle leaves nothing.
            with vault.transaction():
                for entry in waiting[start : start + BATCH]:
                    outcome = _pull_one(vault, client, entry.sha256)
                    _count(report, outcome)
                    if outcome.status in ("imported", "duplicate"):
                        collected.append(entry.sha256)
            # Acknowledged only once the imports are committed.
            for sha256 in collected:
                client.ack(sha256)
                if on_bundle is not None:
                    on_bundle(sha256[:16])
    finally:
        client.close()
    return report


def _pull_one(vault: Vault, client: RelayClient, sha256: str) -> Any:
    from reprisal_report.vault.inbox import find_by_sha256
    from reprisal_report.workflows import inbox

    if find_by_sha256(vault, sha256) is not None:
        return inbox.ImportOutcome(path=Path(sha256), status="duplicate")
    # fetch() checked the bytes against the hash; bundles are capped (64 MiB by default).
    return inbox.import_fetched(vault, client.fetch(sha256), sha256, sha256[:16])


def _count(report: DeliveryReport, outcome: Any) -> None:
    if outcome.status == "imported":
        report.done += 1
    elif outcome.status == "duplicate":
        report.skipped += 1
    elif outcome.error is not None:
        report.fail(outcome.bundle_id or outcome.path.name, outcome.error)


def publish_card(
    vault: Vault, url: str, *, proxy: str | None = None, allow_http: bool = False
) -> tuple[int, bool]:
    """Upload this coordinator's current org card to a relay (newer versions only)."""
    from reprisal_report.workflows.coordinator import current_card

    check_transport_security(url, allow_http)
    client, _ = _relay_client(vault, url, proxy)
    try:
        return client.update_org_card(current_card(vault))
    finally:
        client.close()
