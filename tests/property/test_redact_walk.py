"""``records.redact`` walks a record once, building what leaves as it goes. It must make
exactly what the plain way makes, kept here as the reference: every leaf from
``iter_fields`` through the profile's action, set back by its path into index maps,
then the maps made lists. Random valid cases, every built-in profile, both consents
that change pseudonymising, with and without salts to disclose."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reprisal_report.model.case import is_sensitive, iter_fields, path_pattern
from reprisal_report.redact import profiles
from reprisal_report.redact.leakgate import Sensitive
from reprisal_report.redact.records import KIND_OF, ExportCase, Redacted, _coarsen, redact
from tests.property.test_case_parser import valid_cases

_STEP = re.compile(r"([a-z_]+)|\[([0-9]+)\]")


def _set(doc: dict[Any, Any], path: str, value: object) -> None:
    steps = [m.group(1) if m.group(1) else int(m.group(2)) for m in _STEP.finditer(path)]
    node: Any = doc
    for step, nxt in itertools.pairwise(steps):
        child = node.get(step)
        if child is None:
            child = node[step] = {} if isinstance(nxt, str) else {"__list__": True}
        node = child
    node[steps[-1]] = value


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node.pop("__list__", False):
            return [_lists(node[i]) for i in sorted(k for k in node if isinstance(k, int))]
        return {k: _lists(v) for k, v in node.items()}
    return node


def reference(
    case: ExportCase, profile: profiles.Profile, pseudonymise: Callable[[str], str]
) -> Redacted:
    out: dict[Any, Any] = {}
    disclosed: dict[str, dict[str, str]] = {}
    transformed: list[str] = []
    forbidden: list[Sensitive] = []
    kept: list[str] = []
    kept_paths: list[str] = []
    named = case.consent == "publish_named"
    for path, value in iter_fields(case.record):
        pattern = path_pattern(path)
        action = profile.action(pattern)
        if action == "pseudonymise-unless-named":
            action = "keep" if named else "pseudonymise"
        sensitive = is_sensitive(path) and isinstance(value, str) and bool(value)
        if action == "keep":
            _set(out, path, value)
            if profile.disclose and path in case.salts:
                disclosed[path] = {"value": str(value), "salt": case.salts[path]}
            if sensitive:
                kept.append(str(value))
                kept_paths.append(path)
            continue
        if action == "coarsen":
            _set(out, path, _coarsen(pattern, str(value), case.record))
            transformed.append(path)
        elif action == "pseudonymise":
            _set(out, path, pseudonymise(str(value)))
            transformed.append(path)
        if sensitive:
            forbidden.append(
                Sensitive(case.case_id, path, str(value), KIND_OF.get(pattern, "text"))
            )
    return Redacted(_lists(out), disclosed, transformed, forbidden, kept, kept_paths)


def _pseudonym(name: str) -> str:
    return "P-" + hashlib.sha256(name.encode()).hexdigest()[:8]


@settings(max_examples=300, deadline=None)
@given(
    record=valid_cases,
    name=st.sampled_from(sorted(profiles.BUILT_IN)),
    consent=st.sampled_from(["publish_named", "publish_anonymised", "share_un_confidential"]),
    salted=st.booleans(),
)
def test_the_walk_redacts_exactly_as_the_plain_way(
    record: dict[str, Any], name: str, consent: str, salted: bool
) -> None:
    salts = {path: f"salt-{n}" for n, (path, _) in enumerate(iter_fields(record))}
    case = ExportCase(
        case_id="c1",
        org_id="o",
        status="verified",
        risk="low",
        consent=consent,
        record=record,
        salts=salts if salted else {},
        manifest=b"",
        signature=b"",
        author_key_id="a",
        received_at="2026-01-01T00:00:00Z",
    )
    profile = profiles.built_in(name)
    assert redact(case, profile, _pseudonym) == reference(case, profile, _pseudonym)
