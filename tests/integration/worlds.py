"""Test helper: a coordinator and a reporter in one org, with cases written, sealed,
carried over a folder and imported through the real CLI, each at a chosen day."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprisal_report import clock
from tests.integration.enrolment import found_org

if TYPE_CHECKING:
    from tests.conftest import Cli


@dataclass
class World:
    coordinator: Cli
    reporter: Cli
    ids: dict[str, str]

    def list(self, *args: str) -> list[str]:
        rows = json.loads(self.coordinator.ok("triage", "list", "--json", *args).stdout)
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r["id"]] for r in rows]

    def show(self, name: str) -> dict[str, Any]:
        out = self.coordinator.ok("triage", "show", self.ids[name], "--json").stdout
        doc: dict[str, Any] = json.loads(out)
        return doc

    def deliver_edit(self, name: str, record: Mapping[str, object], tmp_path: Path) -> None:
        """The reporter replaces case ``name`` with ``record``, seals the follow-up and
        carries it over a folder; the coordinator imports it."""
        path = tmp_path / "edited.json"
        path.write_text(json.dumps(record), encoding="utf-8")
        self.reporter.ok("case", "edit", self.ids[name], "--from", str(path))
        self.reporter.ok("seal", self.ids[name])
        folder = tmp_path / "follow-up"
        folder.mkdir()
        self.reporter.ok("sync", "push", "--to", str(folder))
        self.coordinator.ok("inbox", "import", str(folder))


def _at(day: str) -> Callable[[], datetime]:
    moment = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
    return lambda: moment


@contextmanager
def build_world(
    make_cli: Callable[[str], Cli],
    tmp_path: Path,
    cases: Mapping[str, tuple[str, Mapping[str, object]]],
) -> Iterator[World]:
    """``cases``: name -> (day it is received, case record)."""
    coordinator, reporter = make_cli("coordinator"), make_cli("reporter")
    coordinator.ok("init", "--role", "coordinator")
    reporter.ok("init", "--role", "reporter")
    found_org(coordinator, [reporter], tmp_path, "Test Org")
    ids: dict[str, str] = {}
    try:
        for name, (day, record) in cases.items():
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(record), encoding="utf-8")
            ids[name] = reporter.ok("case", "new", "--from", str(path)).stdout.strip()
            out = tmp_path / f"out-{name}"
            out.mkdir()
            reporter.ok("seal", ids[name])
            reporter.ok("sync", "push", "--to", str(out))
            clock.set_clock(_at(day))
            coordinator.ok("inbox", "import", str(out))
            clock.set_clock(None)
        yield World(coordinator, reporter, ids)
    finally:
        clock.set_clock(None)
