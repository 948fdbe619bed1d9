"""`demo`: run the whole workflow and say, step by step, what happened and what
protected whom."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprisal_report.cli.output import emit_json, info

if TYPE_CHECKING:
    from reprisal_report.workflows.demo import Step

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Work in DIR and keep what the demo wrote there (default: a temporary dir, "
        "removed at the end).",
    ),
]


def demo(
    dir: DirOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the steps and outcomes as one JSON document.")
    ] = False,
) -> None:
    """Run the whole workflow on a built-in example organisation."""
    from reprisal_report.workflows.demo import run

    steps: list[Step] = []

    def say(step: Step) -> None:
        steps.append(step)
        if not json_out:
            _panel(step, len(steps))

    outcomes = run(dir, say)
    if json_out:
        emit_json(
            {
                "steps": [
                    {"title": s.title, "happened": s.happened, "protected": s.protected}
                    for s in steps
                ],
                **outcomes,
            }
        )
    else:
        info("demo finished" + (f"; files kept in {dir}" if dir is not None else ""))


def _panel(step: Step, number: int) -> None:
    from rich.panel import Panel
    from rich.text import Text

    from reprisal_report.cli.output import console

    body = Text()
    body.append(step.happened)
    body.append("\nProtected: ", style="bold")
    body.append(step.protected)
    console().print(Panel(body, title=Text(f"{number}. {step.title}"), title_align="left"))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
