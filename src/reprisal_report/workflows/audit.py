"""Audit use cases: hand out the custody log and the org card history; check a log with
public data only (no profile); check the relay receipts and evidence a profile keeps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprisal_report.audit import receipts as receipt_checks
from reprisal_report.audit.history import CardHistory, parse_history
from reprisal_report.audit.logfile import write_log
from reprisal_report.audit.verify import LogReport, LogVerificationFailed, verify_log
from reprisal_report.errors import OrgNotChosen, UnknownOrg
from reprisal_report.identity import pinning
from reprisal_report.model.states import OutboxState
from reprisal_report.vault import custody, evidence, outbox
from reprisal_report.vault import receipts as relay_receipts
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.files import read_user_file, write_user_file

__all__ = ["LogReport", "LogVerificationFailed"]

# A log of a million entries is some 500 MB; far beyond what a profile writes in years.
MAX_LOG_BYTES = 1024 * 1024 * 1024
MAX_HISTORY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LogWritten:
    out: Path
    first: int
    size: int


def export_log(vault: Vault, out: Path, since: int = 0) -> LogWritten:
    """Write the custody log from entry ``since`` on, with a fresh checkpoint."""
    data, first, size = write_log(vault, since)
    write_user_file(out, data, mode=0o644)
    return LogWritten(out, first, size)


def _org(vault: Vault, org_id: str | None) -> str:
    joined = pinning.org_ids(vault)
    if org_id is not None:
        if org_id not in joined:
            raise UnknownOrg(f"this profile has not joined org {org_id}")
        return org_id
    if not joined:
        raise UnknownOrg(
            "this profile has not joined or created an org",
            hint="'reprisal-report org join' pins one",
        )
    if len(joined) > 1:
        raise OrgNotChosen(
            "this profile has joined several orgs; choose one",
            hint="'reprisal-report org show' lists them",
        )
    return joined[0]


def org_history(vault: Vault, org_id: str | None = None) -> tuple[str, int, bytes]:
    """(org id, number of versions, the history file) of every card version kept."""
    chosen = _org(vault, org_id)
    cards = custody.card_history(vault, chosen)
    return chosen, len(cards), b"".join(cards)


def load_history(path: Path) -> CardHistory:
    return parse_history(read_user_file(path, "an org card or org history", MAX_HISTORY_BYTES))


def verify_log_file(log: Path, org: Path, since: Path | None = None) -> LogReport:
    """Check a log file against the org card (history); needs no profile."""
    history = load_history(org)
    data = read_user_file(log, "a custody log", MAX_LOG_BYTES)
    earlier = None if since is None else read_user_file(since, "a custody log", MAX_LOG_BYTES)
    return verify_log(data, history, earlier)


def verify_receipts(vault: Vault) -> receipt_checks.ReceiptReport:
    """The relay receipts and kept tree heads of a reporter, the kept evidence of a
    coordinator (``audit.receipts``)."""
    histories = [
        parse_history(b"".join(custody.card_history(vault, org_id)))
        for org_id in pinning.org_ids(vault)
    ]
    sent_rows = outbox.entries(vault)
    sent = [(e.bundle_id, e.sha256, e.receipt) for e in sent_rows]
    pulled = relay_receipts.all_receipts(vault)
    received = custody.received_bundles(vault)
    sent += [(bundle_id, sha256, pulled.get(sha256)) for bundle_id, sha256, _ in received]
    heads = [
        (key.removeprefix("relay-sth:"), value)
        for key, value in custody.meta_with_prefix(vault, "relay-sth:")
    ]
    report = receipt_checks.check_receipts(histories, sent, heads)
    receipt_status = {i.name: i.status for i in report.items if i.kind == "receipt"}
    for bundle_id, sha256, name in received:
        kept = evidence.retained(vault, bundle_id)
        if name is None or kept is None:
            report.items.append(
                receipt_checks.Item(
                    "evidence",
                    bundle_id,
                    receipt_checks.NO_RECEIPT,
                    "imported before the evidence store: no file is kept",
                )
            )
            continue
        try:
            with evidence.open_retained(kept) as handle:
                digest: str | None = receipt_checks.file_digest(
                    iter(lambda: handle.read(1 << 20), b"")
                )
        except OSError:
            digest = None
        report.items.append(
            receipt_checks.evidence_item(bundle_id, sha256, digest, receipt_status.get(bundle_id))
        )
    if any(e.receipt is None and e.state != OutboxState.PENDING for e in sent_rows):
        report.notes.append("bundles delivered to a folder have no receipt")
    if any(sha256 not in pulled for _, sha256, _ in received):
        report.notes.append(
            "bundles imported from a folder, or pulled before this release kept receipts, "
            "have no relay receipt: only their kept files' hashes are checked"
        )
    if not report.items:
        report.notes.append("this profile holds no receipts, tree heads or evidence")
    return report
