"""Schemathesis against the relay's own ``/openapi.json``: no input may cause a 5xx.

Two runs, each with a bounded number of examples:

- the ``st run`` CLI, as an outsider would fuzz it: random values for everything,
  including the authentication headers (so it mostly exercises the header parser);
- the Python API with every request validly signed (a reporter for uploads, a
  coordinator otherwise), so the fuzzed paths, queries and bodies reach the handlers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from reprisal_report.protocol.requests_auth import sign_request
from tests.integration.relay_fixtures import (  # noqa: F401 - pytest fixtures
    Device,
    RunningRelay,
    bundle,
    relay_env_fixture,
    relay_fixture,
)

EXAMPLES = 15
# schemathesis types an operation by its parameter, response and schema classes.
Operation: TypeAlias = schemathesis.APIOperation[Any, Any, Any, Any]


def test_st_run_finds_no_server_error(relay: RunningRelay, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{relay.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "20260131",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=600,
        check=False,
    )
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 0, output[-6000:]
    assert "11 selected" in output and "passed" in output, output[-6000:]


class SigningAuth(requests.auth.AuthBase):
    """Signs each prepared request exactly as it will go on the wire."""

    def __init__(self, relay: RunningRelay) -> None:
        self.relay = relay

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes):
            body = b"".join(body)  # type: ignore[arg-type]
            request.body = body
        method = request.method or "GET"
        org = self.relay.org
        device: Device = (
            org.reporter
            if method == "POST" and request.path_url == "/v1/bundles"
            else org.coordinator
        )
        request.headers.update(
            sign_request(
                device.key, device.key_id, method, request.path_url.encode("latin-1"), body
            )
        )
        return request


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_signed_fuzzing_finds_no_server_error(relay: RunningRelay, mode: GenerationMode) -> None:
    with relay.client(relay.org.reporter) as reporter:
        reporter.upload(bundle(1))  # something to list, fetch and prove
    schema = schemathesis.openapi.from_url(f"{relay.url}/openapi.json")
    session = requests.Session()
    session.auth = SigningAuth(relay)
    statuses: set[int] = set()
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case[Operation]) -> None:
            response = case.call(base_url=relay.url, session=session, timeout=20)
            statuses.add(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}

        try:
            run()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (e.g. /health): nothing to do.
            assert mode is GenerationMode.NEGATIVE
    # The signatures got the requests past authentication into the handlers.
    assert statuses & {200, 201}
