"""Shared fixtures: real profiles on disk, the real CLI in-process or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner

from reprisal_report.cli.app import app

settings.register_profile(
    "repo",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("repo")

PASSPHRASE = "correct horse battery staple"
EXAMPLE_CASE = Path(__file__).parent / "data" / "case-example.yaml"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def _base_env(home: Path) -> dict[str, str]:
    return {
        "REPRISAL_REPORT_HOME": str(home),
        "REPRISAL_REPORT_PASSPHRASE": PASSPHRASE,
        "REPRISAL_REPORT_INSECURE_TEST_KDF": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }


class Cli:
    """Runs the real command line against one profile directory."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = _base_env(home)
        self.runner = CliRunner()

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None
    ) -> Result:
        merged: dict[str, str | None] = {**self.env, **(env or {})}
        result = self.runner.invoke(app, list(args), input=input, env=merged)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Result(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stderr)
        return result


@pytest.fixture
def make_cli(tmp_path: Path) -> Callable[[str], Cli]:
    def make(name: str) -> Cli:
        return Cli(tmp_path / name)

    return make


@pytest.fixture
def reporter(make_cli: Callable[[str], Cli]) -> Cli:
    cli = make_cli("reporter")
    cli.ok("init", "--role", "reporter")
    return cli


def run_subprocess(
    args: list[str], env: dict[str, str], input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPRISAL_REPORT_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "reprisal_report", *args],
        env=full_env,
        input=input,
        capture_output=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def subprocess_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = _base_env(tmp_path / "sub-profile")
    env["TMPDIR"] = str(tmp)
    yield env
