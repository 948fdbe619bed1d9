"""Delivering bundles: ``sync push`` (reporter) and ``sync pull`` (coordinator).

Both are idempotent and resumable. A bundle is marked delivered only after the folder
copy reads back correctly or the relay's receipt arrived; a pulled bundle is
acknowledged to the relay only after it was imported (or found already imported). A
crash at any point therefore leaves work that the next run finishes, with no bundle
lost and none imported twice.

Several requests are in flight at once (``transport.inflight``: uploads on push,
fetches on pull, ``IN_FLIGHT`` by default), but their results are handled on this
thread in order, so the vault sees the same sequence of steps as with one request at
a time. Pulled bundles are acknowledged in one request per vault transaction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reprisal_report.crashpoints import crash_point
from reprisal_report.errors import (
    InvalidInput,
    NotFound,
    PlainHttpRefused,
    RelayAnswerInvalid,
    RelayFailed,
    ReportError,
    VerificationError,
    WrongRole,
)
from reprisal_report.identity import pinning
from reprisal_report.identity.fingerprint import key_id
from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.model.states import CaseState, ImportStatus, OutboxState, Role
from reprisal_report.transport import folder as folder_transport
from reprisal_report.transport.inflight import DEFAULT_WORKERS, in_flight
from reprisal_report.vault import cases as case_store
from reprisal_report.vault import outbox
from reprisal_report.vault.attachments import case_blobs
from reprisal_report.vault.blobs import remove_blobs
from reprisal_report.vault.blobs import remove_orphans as remove_orphan_blobs
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.evidence import EvidenceBatch
from reprisal_report.vault.inbox import find_by_sha256, imported_hashes
from reprisal_report.vault.lock import profile_lock
from reprisal_report.vault.profile import ProfilePaths
from reprisal_report.vault.store import Vault

if TYPE_CHECKING:
    from reprisal_report.protocol.receipts import Receipt, SignedTreeHead
    from reprisal_report.protocol.wire import BundleEntry
    from reprisal_report.transport.relay_client import RelayClient
    from reprisal_report.workflows.inbox import ImportOutcome

PURGE_SETTING = "purge_after_delivery"
# Bundles per vault commit. Every step is idempotent (a re-upload returns the same
# receipt; an unacknowledged bundle is fetched again and found already imported), so a
# crash inside a batch only repeats work; it loses and duplicates nothing.
BATCH = 50
# Requests in flight at once (uploads or fetches); the relay takes 8 uploads at a time.
IN_FLIGHT = DEFAULT_WORKERS


@dataclass
class DeliveryReport:
    done: int = 0
    skipped: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Pull: every bundle not imported and not failed, with why (``{"id", "reason"}``).
    skipped_entries: list[dict[str, str]] = field(default_factory=list)
    # Bundles left pending because they are addressed to another org than the one this
    # destination serves (push only).
    pending: int = 0
    # Pull from a relay: receipts (tree head + inclusion proof) kept for new bundles.
    receipts: int = 0
    # The worst exit code among failures (0 when none).
    exit_code: int = 0

    def fail(self, ident: str, exc: ReportError) -> None:
        self.failed.append({"id": ident, "reason": exc.message})
        self.exit_code = max(self.exit_code, int(exc.exit_code))


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def pending_count(vault: Vault) -> int:
    return len(outbox.entries(vault, OutboxState.PENDING))


def purge_enabled(vault: Vault) -> bool:
    value = vault.get_meta(PURGE_SETTING)
    if value is None:
        return vault.get_meta("role") == Role.REPORTER
    return value == "on"


def set_purge(vault: Vault, enabled: bool) -> None:
    with vault.transaction():
        vault.set_meta(PURGE_SETTING, "on" if enabled else "off")


def purge_case(vault: Vault, entry: outbox.OutboxEntry) -> bool:
    """Keep only a stub (case id, bundle id, receipt): the plaintext leaves the device.

    Only what the delivered bundle holds is purged: the case must still be at the
    revision that was sealed into it (an edit or a new attachment bumps the revision)
    and that bundle must be its latest. A case with unsealed changes is kept whole and
    False is returned.

    The case's blobs are unlinked once the purge committed; called inside a caller's
    transaction, they are left to the caller (``remove_orphan_blobs`` after its commit,
    or the next writing open of the profile).
    """
    with vault.transaction():
        blobs = case_blobs(vault, entry.case_id)
        purged = case_store.purge_if_unchanged(
            vault, entry.case_id, entry.bundle_id, entry.case_revision
        )
    if purged and not vault.conn.in_transaction:
        remove_blobs(vault, blobs)
    return purged


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
        raise PlainHttpRefused(
            f"refusing plain http to {host}: the network would see this device's key id",
            hint="use an https:// relay URL or a .onion address over a proxy, or allow plain "
            "http explicitly",
        )


def _relay_client(
    vault: Vault, url: str, proxy: str | None, connections: int = IN_FLIGHT
) -> tuple[RelayClient, bytes | None, SignedTreeHead]:
    """A client for ``url`` with the relay's key if an org card enrols it, and the
    (not yet verified) tree head it answered with."""
    from reprisal_report.transport.relay_client import RelayClient, find_relay_key

    me = public_identity(vault)
    client = RelayClient(url, signing_key(vault), me.key_id, None, proxy, connections=connections)
    sth = client.sth()
    relay_key = None
    for org in pinning.all_orgs(vault):
        relay_key = relay_key or find_relay_key(org.signed.card, sth.relay_key_id)
    client.relay_public_key = relay_key
    return client, relay_key, sth


def _check_log(
    vault: Vault,
    client: RelayClient,
    relay_key: bytes | None,
    head: SignedTreeHead | None = None,
) -> SignedTreeHead:
    """Prove the relay's tree head (``head``, or a fresh one) extends the last one this
    profile saw, and store it."""
    from reprisal_report.protocol.receipts import (
        SignedTreeHead,
        check_consistency,
        verify_tree_head,
    )

    new = client.sth() if head is None else head
    if relay_key is not None:
        new = verify_tree_head(new, relay_key)
    name = f"relay-sth:{client.base_url}"
    stored = vault.get_meta(name)
    if stored is not None:
        old = SignedTreeHead.from_json(json.loads(stored))
        if old.tree_size > new.tree_size:
            # No proof can exist (the relay would refuse to make one): this is a log
            # that lost entries, a verification failure, not a refused request.
            check_consistency(old, new, [], relay_public_key=relay_key)
        if 0 < old.tree_size < new.tree_size:
            proof = client.consistency(old.tree_size, new.tree_size)
            check_consistency(old, new, proof, relay_public_key=relay_key)
        elif old.tree_size == new.tree_size:
            # Equal sizes: the proof is empty and the roots must be equal (RFC 9162).
            check_consistency(old, new, [], relay_public_key=relay_key)
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
    org_id: str | None = None,
    connections: int = IN_FLIGHT,
) -> DeliveryReport:
    """Deliver pending bundles to a relay or a folder.

    A relay gets only the bundles addressed to an org whose pinned card enrols that
    relay's key; a folder gets every pending bundle when they are all for one org (or
    those of ``org_id``). Bundles for other orgs stay pending and are counted.
    """
    if vault.get_meta("role") != Role.REPORTER:
        raise WrongRole("sync push is for reporter profiles")
    if org_id is not None:
        pinning.get(vault, org_id)  # NotFound for an org this profile has not joined
    with profile_lock(home):
        report = DeliveryReport()
        pending = outbox.entries(vault, OutboxState.PENDING)
        report.skipped = len(outbox.entries(vault)) - len(pending)
        box = ProfilePaths(home).outbox
        if is_url(target):
            check_transport_security(target, allow_http)
            _push_relay(vault, box, target, proxy, pending, report, on_bundle, org_id, connections)
        else:
            folder = Path(target)
            folder_transport.require_folder(folder)
            _push_folder(
                vault, box, folder, _for_folder(pending, org_id, report), report, on_bundle
            )
        return report


def _hold(
    entries: list[outbox.OutboxEntry], keep: set[str], report: DeliveryReport
) -> list[outbox.OutboxEntry]:
    """The entries addressed to ``keep``; the others stay pending and are counted."""
    chosen = [e for e in entries if e.org_id in keep]
    report.pending += len(entries) - len(chosen)
    return chosen


def _for_folder(
    pending: list[outbox.OutboxEntry], org_id: str | None, report: DeliveryReport
) -> list[outbox.OutboxEntry]:
    if org_id is not None:
        chosen = _hold(pending, {org_id}, report)
    else:
        orgs = {e.org_id for e in pending}
        if len(orgs) > 1:
            # A folder goes to one org's coordinator; marking another org's bundles
            # delivered there would keep them from ever reaching their own org.
            raise InvalidInput(
                f"the pending bundles are addressed to {len(orgs)} orgs; "
                "a folder is delivered to one org",
                hint="name the org the folder is for ('reprisal-report org show' lists them)",
            )
        chosen = pending
    if report.pending:
        report.notes.append(f"{report.pending} bundle(s) for other orgs stay pending in the outbox")
    return chosen


def _push_folder(
    vault: Vault,
    box: Path,
    folder: Path,
    pending: list[outbox.OutboxEntry],
    report: DeliveryReport,
    on_bundle: Callable[[str], None] | None,
) -> None:
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


def _relay_orgs(vault: Vault, relay_key: bytes | None) -> set[str]:
    """The joined orgs whose pinned card enrols (and has not revoked) this relay key."""
    from reprisal_report.transport.relay_client import find_relay_key

    if relay_key is None:
        return set()
    relay_id = key_id(relay_key)
    return {
        org.org_id
        for org in pinning.all_orgs(vault)
        if find_relay_key(org.signed.card, relay_id) is not None
    }


def _outbox_size(box: Path, entry: outbox.OutboxEntry) -> int:
    try:
        return (box / f"{entry.bundle_id}.rrb").stat().st_size
    except OSError:
        return 0  # reported when its upload tries to read it


def _delivered_unpurged(vault: Vault, relay_key: bytes, orgs: set[str]) -> list[outbox.OutboxEntry]:
    """Delivered bundles of ``orgs`` whose case still holds plaintext and whose stored
    receipt verifies against this relay's key (a receipt from another relay does not)."""
    from reprisal_report.protocol.receipts import Receipt, verify_receipt

    found = []
    for entry in outbox.entries(vault, OutboxState.DELIVERED):
        if entry.org_id not in orgs or entry.receipt is None:
            continue
        row = case_store.get_case(vault, entry.case_id)
        if row.state != CaseState.SEALED or row.needs_sealing:
            continue
        try:
            verify_receipt(Receipt.from_json(json.loads(entry.receipt)), entry.sha256, relay_key)
        except (ReportError, ValueError):
            continue
        found.append(entry)
    return found


def _push_relay(
    vault: Vault,
    box: Path,
    url: str,
    proxy: str | None,
    pending: list[outbox.OutboxEntry],
    report: DeliveryReport,
    on_bundle: Callable[[str], None] | None,
    org_id: str | None = None,
    connections: int = IN_FLIGHT,
) -> None:
    client, relay_key, head = _relay_client(vault, url, proxy, connections)
    try:
        _check_log(vault, client, relay_key, head)
        orgs = _relay_orgs(vault, relay_key)
        if relay_key is None:
            joined = {org.org_id for org in pinning.all_orgs(vault)}
            if len(joined) == 1:
                # One org only: the relay can be serving nobody else's bundles.
                orgs = joined
                report.notes.append(
                    "the relay's key is not in any org card: its receipts cannot be "
                    "verified, so nothing is purged"
                )
            else:
                report.notes.append(
                    "the relay's key is not in any org card and this profile has joined "
                    "several orgs: no bundle is sent to it"
                )
        if org_id is not None:
            orgs &= {org_id}
        pending = _hold(pending, orgs, report)
        if report.pending:
            report.notes.append(
                f"{report.pending} bundle(s) for orgs this relay does not serve stay "
                "pending in the outbox"
            )
        purge = purge_enabled(vault) and relay_key is not None
        done: list[tuple[outbox.OutboxEntry, Receipt]] = []
        purgeable: list[outbox.OutboxEntry] = []
        if purge and relay_key is not None:
            # Deliveries an earlier run finished but did not live to purge.
            purgeable.extend(_delivered_unpurged(vault, relay_key, orgs))

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

        def upload(entry: outbox.OutboxEntry) -> Receipt:
            return client.upload((box / f"{entry.bundle_id}.rrb").read_bytes())

        uploads = in_flight(
            upload, pending, workers=connections, size=lambda e: _outbox_size(box, e)
        )
        with closing(uploads):
            for entry, result in uploads:
                # One bad bundle (gone from the outbox, too large for this relay,
                # refused) fails alone; an unreachable relay stops the run
                # (RelayUnreachable). Uploads are idempotent: the ones still in flight
                # when a run stops are uploaded again next time, same receipts.
                try:
                    receipt = result.result()
                except FileNotFoundError:
                    report.fail(entry.bundle_id, NotFound("bundle file is missing from the outbox"))
                    continue
                except (VerificationError, RelayFailed) as exc:
                    report.fail(entry.bundle_id, exc)
                    continue
                crash_point("push.after-upload")
                done.append((entry, receipt))
                if len(done) >= BATCH:
                    commit()
        commit()
        if pending:
            # Purge only once the log after these uploads extends the one seen before:
            # a relay caught rewriting its log in this run gets no plaintext purged.
            _check_log(vault, client, relay_key)
        crash_point("push.before-purge")
        purged: list[outbox.OutboxEntry] = []
        with vault.transaction():
            for entry in purgeable:
                if purge_case(vault, entry):
                    purged.append(entry)
                    report.purged.append(entry.case_id)
                elif case_store.get_case(vault, entry.case_id).needs_sealing:
                    report.notes.append(
                        f"case {entry.case_id} changed after it was sealed: it was kept on "
                        "this device; seal it again to deliver the changes"
                    )
        for entry in purged:
            (box / f"{entry.bundle_id}.rrb").unlink(missing_ok=True)
        if purged:
            remove_orphan_blobs(vault)  # the purged cases' blobs, now that no row names them
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
    connections: int = IN_FLIGHT,
) -> DeliveryReport:
    from reprisal_report.workflows import inbox

    if vault.get_meta("role") != Role.COORDINATOR:
        raise WrongRole("sync pull is for coordinator profiles")
    report = DeliveryReport()
    if not is_url(source):
        for path in folder_transport.bundles_in(Path(source)):
            outcome = inbox.import_bundle(vault, path)
            _count(report, outcome)
            if (
                outcome.status in (ImportStatus.IMPORTED, ImportStatus.DUPLICATE)
                and remove_after_import
            ):
                path.unlink(missing_ok=True)
            if on_bundle is not None:
                on_bundle(path.name)
        return report
    check_transport_security(source, allow_http)
    client, relay_key, head = _relay_client(vault, source, proxy, connections)
    try:
        head = _check_log(vault, client, relay_key, head)
        listed, advance_cursor = _pull_relay(vault, client, report, on_bundle, connections)
        # The cursor moves past the settled entries only once their receipts are kept:
        # a run stopped before (a network failure, a proof that does not verify) lists
        # them again next time and asks again.
        _keep_receipts(vault, client, relay_key, head, listed, report)
        advance_cursor()
    finally:
        client.close()
    return report


# Import failures a newer org card can cure (unknown device or org, expired card) keep
# the bundle on the relay, unacknowledged, for the next pull. Every other failure is a
# property of the bytes (tampered, malformed, not addressed to this coordinator,
# replayed, from a revoked key...): the bundle is quarantined (see docs/relay.md).
QUARANTINE_PREFIX = "quarantine:"
CURSOR_PREFIX = "relay-cursor:"


BATCH_ACK_REFUSED = (
    "the relay does not take batch acknowledgements (it is older than this client): "
    "bundles were acknowledged one by one"
)


def _pull_relay(
    vault: Vault,
    client: RelayClient,
    report: DeliveryReport,
    on_bundle: Callable[[str], None] | None,
    connections: int = IN_FLIGHT,
) -> tuple[list[BundleEntry], Callable[[], None]]:
    """Collect what this coordinator has not acknowledged yet, oldest first; return
    every entry the relay listed and the function that moves the cursor past them.

    Acknowledgements are per coordinator: acknowledging tells the relay that this
    coordinator has the bundle; the relay deletes the bytes only when every active
    coordinator has. A cursor (the highest log index up to which every entry is
    settled for this profile) keeps later pulls from listing the whole log again and
    from reporting the same skipped entry twice.
    """
    from reprisal_report.errors import CardExpired, UnknownDevice, UnknownOrg

    retried = (UnknownDevice, UnknownOrg, CardExpired)
    cursor_name = f"{CURSOR_PREFIX}{client.base_url}"
    cursor = int(vault.get_meta(cursor_name) or "-1")
    listed = client.list(cursor)
    settled: set[str] = set()
    waiting = []
    for entry in listed:
        if entry.acknowledged:
            settled.add(entry.sha256)
        elif not entry.held:
            settled.add(entry.sha256)
            report.skipped += 1
            report.skipped_entries.append(
                {
                    "id": entry.sha256[:16],
                    "reason": "the relay deleted it before this coordinator collected it"
                    " (its retention period ended)",
                }
            )
        else:
            waiting.append(entry)

    def fetch(entry: BundleEntry) -> bytes | None:
        # fetch() checks the bytes against the hash; bundles are capped (64 MiB by
        # default). A bundle already imported is not fetched again.
        return None if entry.sha256 in known else client.fetch(entry.sha256)

    known = imported_hashes(vault, [e.sha256 for e in waiting])
    fetched = in_flight(
        fetch,
        waiting,
        workers=connections,
        size=lambda e: 0 if e.sha256 in known else e.size,
    )
    # Acknowledgements go out on their own thread, one batch after the other, while
    # the next batch is imported; each is sent only after its batch committed.
    acks: list[tuple[list[str], Future[list[BundleEntry]]]] = []
    sent = False

    def settle(finished_only: bool) -> None:
        while acks and (acks[0][1].done() or not finished_only):
            hashes, answer = acks.pop(0)
            answer.result()  # the first failure stops the pull, as a failed ack did
            for sha256 in hashes:
                settled.add(sha256)
                if on_bundle is not None:
                    on_bundle(sha256[:16])

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-ack") as acker:
        with closing(fetched):
            while True:
                collected: list[str] = []
                seen = 0
                # Each import is a savepoint inside the batch: a bad bundle leaves
                # nothing. The batch's evidence files are fsynced once, last before the
                # commit. The next fetches go on meanwhile.
                with EvidenceBatch(vault).guard() as files, vault.transaction():
                    for entry, result in itertools.islice(fetched, BATCH):
                        seen += 1
                        outcome = _pull_one(vault, entry.sha256, result.result(), files)
                        _count(report, outcome)
                        if outcome.status in (ImportStatus.IMPORTED, ImportStatus.DUPLICATE):
                            collected.append(entry.sha256)
                        elif outcome.error is not None and not isinstance(outcome.error, retried):
                            _quarantine(vault, entry.sha256, client.base_url, outcome.error)
                            report.notes.append(
                                f"bundle {entry.sha256[:16]} was quarantined: it is"
                                " acknowledged and will not be fetched again"
                            )
                            collected.append(entry.sha256)
                    files.sync()
                if not seen:
                    break
                # Acknowledged only once the imports (or quarantine records) committed.
                crash_point("pull.after-import")
                if collected:
                    acks.append((collected, acker.submit(client.ack_many, collected)))
                    sent = True
                settle(finished_only=True)
        settle(finished_only=False)
    if sent and not client.batch_acks:
        report.notes.append(BATCH_ACK_REFUSED)
    new_cursor = cursor
    for entry in listed:
        if entry.sha256 not in settled:
            break
        new_cursor = entry.index

    def advance() -> None:
        if new_cursor != cursor:
            with vault.transaction():
                vault.set_meta(cursor_name, str(new_cursor))

    return listed, advance


def _keep_receipts(
    vault: Vault,
    client: RelayClient,
    relay_key: bytes | None,
    head: SignedTreeHead,
    listed: list[BundleEntry],
    report: DeliveryReport,
) -> None:
    """Keep a receipt for each listed bundle the inbox holds without one: the relay's
    tree head (consistent with every head this profile saw) and the inclusion proof
    of the bundle's SHA-256 at its log index, asked in batches. Each is checked before
    it is kept (the head's signature too, when an org card enrols the relay's key); a proof that
    does not verify stops the pull, exit 3: the relay's log does not hold what it
    listed. One custody event per receipt, in the transaction that stores them.
    """
    from reprisal_report import clock
    from reprisal_report.model.canonical import canonical_json
    from reprisal_report.protocol.receipts import Receipt, check_inclusion
    from reprisal_report.vault import receipts as kept

    wanted = {
        sha: (bundle_id, case_id)
        for sha, bundle_id, case_id in kept.missing(vault, [e.sha256 for e in listed])
    }
    entries = [e for e in listed if e.sha256 in wanted]
    if not entries:
        return
    crash_point("pull.before-receipts")
    if max(e.index for e in entries) >= head.tree_size:
        # Listed after the head was taken: a newer head, proven consistent, covers them.
        head = _check_log(vault, client, relay_key)
    entries = [e for e in entries if e.index < head.tree_size]
    proofs = client.inclusions([e.index for e in entries], head.tree_size)
    rows: list[tuple[str, str, str]] = []
    checked: list[tuple[BundleEntry, Receipt]] = []
    for entry, (sha256, proof) in zip(entries, proofs, strict=True):
        if sha256 != entry.sha256:
            raise RelayAnswerInvalid(
                f"relay log entry {entry.index} is not the bundle it listed there"
            )
        # The head's signature was checked once, by _check_log, when the relay's key
        # is known (``head.verified``); each proof is checked against its root.
        receipt = Receipt(entry.sha256, entry.index, head, tuple(proof), head.verified)
        check_inclusion(receipt, entry.sha256)
        rows.append((entry.sha256, client.base_url, canonical_json(receipt.to_json()).decode()))
        checked.append((entry, receipt))
    with vault.transaction():
        kept.store(vault, rows, clock.now().isoformat())
        for entry, receipt in checked:
            bundle_id, case_id = wanted[entry.sha256]
            record_event(
                vault,
                case_id,
                "relay-receipt",
                {
                    "bundle_id": bundle_id,
                    "from": client.base_url,
                    "log_index": receipt.index,
                    "receipt_verified": receipt.verified,
                    "sha256": entry.sha256,
                },
            )
    report.receipts += len(checked)


def _quarantine(vault: Vault, sha256: str, source: str, error: ReportError) -> None:
    """Record locally that these bytes failed to import and why (no bytes are kept)."""
    from reprisal_report import clock

    record = {"reason": error.message, "from": source, "at": clock.now().isoformat()}
    vault.set_meta(f"{QUARANTINE_PREFIX}{sha256}", json.dumps(record, sort_keys=True))


def _pull_one(vault: Vault, sha256: str, data: bytes | None, files: EvidenceBatch) -> ImportOutcome:
    """Import fetched bytes (``import_fetched`` finds a duplicate itself), or report a
    bundle that was not fetched because the inbox holds it (``data`` None)."""
    from reprisal_report.workflows import inbox

    if data is not None:
        return inbox.import_fetched(vault, data, sha256, sha256[:16], files)
    known = find_by_sha256(vault, sha256)
    if known is None:
        raise ValueError("a bundle not imported yet was not fetched")
    return inbox.ImportOutcome(
        path=Path(sha256[:16]),
        status=ImportStatus.DUPLICATE,
        bundle_id=known.bundle_id,
        case_id=known.case_id,
        reason="already imported; nothing changed",
    )


def _count(report: DeliveryReport, outcome: ImportOutcome) -> None:
    if outcome.status == ImportStatus.IMPORTED:
        report.done += 1
    elif outcome.status == ImportStatus.DUPLICATE:
        report.skipped += 1
        report.skipped_entries.append(
            {
                "id": outcome.bundle_id or outcome.path.name,
                "reason": outcome.reason or "already imported; nothing changed",
            }
        )
    elif outcome.error is not None:
        report.fail(outcome.bundle_id or outcome.path.name, outcome.error)


def publish_card(
    vault: Vault, url: str, *, proxy: str | None = None, allow_http: bool = False
) -> tuple[int, bool]:
    """Upload this coordinator's current org card to a relay (newer versions only)."""
    from reprisal_report.workflows.coordinator import current_card

    check_transport_security(url, allow_http)
    client, _, _ = _relay_client(vault, url, proxy, 1)
    try:
        return client.update_org_card(current_card(vault))
    finally:
        client.close()
