"""The role and state enums hold exactly the values the vault schema allows."""

from __future__ import annotations

import json
import re

from reprisal_report.model.states import (
    CARD_ROLES,
    PROFILE_ROLES,
    CaseState,
    ImportStatus,
    OutboxState,
    Role,
)
from reprisal_report.vault.migrations import MIGRATIONS


def _check_values(table: str) -> set[str]:
    """The values the CHECK constraint on ``<table>.state`` allows, from the migrations."""
    for script in MIGRATIONS:
        for statement in script:
            if not isinstance(statement, str):
                continue
            if not re.match(rf"\s*CREATE TABLE {table} \(", statement):
                continue
            found = re.search(r"state TEXT NOT NULL CHECK \(state IN \(([^)]*)\)\)", statement)
            assert found is not None, f"no CHECK on {table}.state"
            return set(re.findall(r"'([a-z_]+)'", found.group(1)))
    raise AssertionError(f"no CREATE TABLE {table} in the migrations")


def test_case_states_are_the_cases_check_constraint() -> None:
    assert {s.value for s in CaseState} == _check_values("cases")


def test_outbox_states_are_the_outbox_check_constraint() -> None:
    assert {s.value for s in OutboxState} == _check_values("outbox")


def test_values_are_the_stored_and_printed_strings() -> None:
    stored: str = "ready"  # typed as str: a member must equal the plain stored string
    assert stored == CaseState.READY
    assert f"{OutboxState.PENDING}" == "pending"
    assert json.dumps({"status": ImportStatus.DUPLICATE}) == '{"status": "duplicate"}'
    assert [s.value for s in ImportStatus] == ["imported", "duplicate", "failed", "skipped"]


def test_roles() -> None:
    assert [r.value for r in PROFILE_ROLES] == ["reporter", "coordinator", "auditor"]
    assert set(CARD_ROLES) == set(Role)
    assert Role.RELAY not in PROFILE_ROLES
