"""`demo`: run the example workflow and say what happened."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reprisal_report.cli.output import emit_json, info

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir", help="Work in DIR and keep the USB-stick folder there (default: a temporary dir)."
    ),
]


def demo(
    dir: DirOpt = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the steps as one JSON document.")
    ] = False,
) -> None:
    """Run the whole workflow on a built-in example organisation."""
    from reprisal_report.workflows.demo import run_demo

    steps: list[str] = []

    def say(line: str) -> None:
        steps.append(line)
        if not json_out:
            info(f"• {line}")

    summary = run_demo(dir, say)
    if json_out:
        emit_json({"steps": steps, **summary})
    else:
        info("demo finished")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
