"""Named points where a test can kill the process, so a crash test reproduces.

Set ``REPRISAL_REPORT_CRASH_AT`` to one name from :data:`POINTS` and the process sends
itself SIGKILL when it reaches that point: no cleanup handler, ``finally`` block or
buffered write runs, exactly as after a power cut. Unset (always, outside tests), a
crash point costs one dictionary lookup. The variable only ever ends the process, so
it grants nothing to whoever can set it.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "REPRISAL_REPORT_CRASH_AT"

# Every name a test may use; reaching an unlisted name is a programming error.
POINTS = frozenset(
    {
        "attach.after-blob",
        "attach.before-commit",
        "seal.after-bundle-file",
        "seal.before-commit",
        "import.after-evidence-file",
        "import.before-commit",
        "push.after-upload",
        "push.before-purge",
        "pull.after-import",
        "pull.before-receipts",
    }
)


def crash_point(name: str) -> None:
    """Die here, at once, if the test hook names this point."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
