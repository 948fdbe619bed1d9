"""Progress bars on stderr for long work; only on a terminal, never for --json.

A pipe or a log file gets no progress output at all, so the error grammar (one line)
holds for scripts.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

SHOW_ABOVE_BYTES = 8 * 1024 * 1024


@contextlib.contextmanager
def byte_progress(
    label: str, total: int, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    if not enabled or total < SHOW_ABOVE_BYTES or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from reprisal_report.cli.output import console

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextlib.contextmanager
def count_progress(
    label: str, total: int | None, *, enabled: bool = True
) -> Iterator[Callable[[str], None]]:
    """A bundle counter on stderr (a bar when the total is known); silent for --json."""
    if not enabled or total == 0 or not sys.stderr.isatty():
        yield lambda _name: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from reprisal_report.cli.output import console

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _name: bar.advance(task, 1)
