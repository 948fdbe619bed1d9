"""The custody log an auditor checks with public keys only (docs/audit.md).

- ``checkpoint``: signed checkpoints (C2SP tlog-checkpoint) of this profile's log;
  :func:`make_checkpoint` is what an export calls to name the log state it was made at;
- ``logfile``: the JSON Lines file of ``audit log``;
- ``verify`` / ``history`` / ``rules``: ``audit verify-log`` against the org card's
  history, needing no profile;
- ``receipts``: ``audit verify-receipts`` over the relay receipts a profile stored.

The entries themselves are written by ``vault.cases.record_event`` (``vault.custody``),
inside the transaction of the action they record.
"""

from __future__ import annotations

from reprisal_report.audit.checkpoint import make_checkpoint
from reprisal_report.audit.note import Checkpoint

__all__ = ["Checkpoint", "make_checkpoint"]
