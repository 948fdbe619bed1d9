"""Progress bars on stderr for long work; silent for small jobs and --json."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

SHOW_ABOVE_BYTES = 8 * 1024 * 1024


@contextlib.contextmanager
def byte_progress(
    label: str, total: int, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    if not enabled or total < SHOW_ABOVE_BYTES:
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
