"""Export profiles: data (TOML), not code. A profile says which cases may leave (consent,
risk and status levels) and, field by field, what leaves of them; the built-in ones
ship in ``profiles/``, an organisation adds its own with ``--profile-file``.

Whatever a profile file says, some cases never leave: rejected cases, consent ``none``,
and (except for counts) consent ``internal_only`` (``NEVER_*`` below). A field the
profile does not name is dropped.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

from reprisal_report.errors import InvalidInput
from reprisal_report.model import triage as rules
from reprisal_report.model.case import CASE_FIELDS, FieldSpec

BUILT_IN: Final = ("public", "un-confidential", "stats")
ACTIONS: Final = ("keep", "drop", "coarsen", "pseudonymise", "pseudonymise-unless-named")
STAT_FIELDS: Final = ("country", "year", "act", "mechanism", "status", "risk")
NEVER_STATUS: Final = frozenset({rules.Status.REJECTED.value})
NEVER_CONSENT: Final = frozenset({"none"})
NEVER_CONSENT_CASES: Final = frozenset({"none", "internal_only"})
MAX_PROFILE_BYTES: Final = 64 * 1024

# Which fields a "coarsen" applies to, and how (the workflow does the coarsening).
COARSENABLE: Final = {
    "incident_date": "month",
    "cooperation[].date": "month",
    "location": "country",
}


def _patterns(specs: tuple[FieldSpec, ...], prefix: str = "") -> list[str]:
    out: list[str] = []
    for spec in specs:
        name = f"{prefix}{spec.name}"
        if spec.shape == "records":
            out += _patterns(spec.fields, f"{name}[].")
        elif spec.shape in ("term_list", "text_list"):
            out.append(f"{name}[]")
        else:
            out.append(name)
    return out


# Every leaf field of a case, in the form ``victims[].aliases[]``.
FIELD_PATTERNS: Final[tuple[str, ...]] = tuple(_patterns(CASE_FIELDS))


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    kind: str  # "cases" or "stats"
    consent: frozenset[str]
    risk: frozenset[str]
    risk_with_reason: frozenset[str]
    status: frozenset[str]
    fields: Mapping[str, str]
    disclose: bool
    k: int
    tables: tuple[tuple[str, ...], ...]

    def action(self, pattern: str) -> str:
        return self.fields.get(pattern, "drop")


def _bad(source: str, problem: str) -> InvalidInput:
    return InvalidInput(f"export profile {source}: {problem}")


def _levels(
    source: str, allow: Mapping[str, Any], key: str, levels: tuple[str, ...]
) -> frozenset[str]:
    value = allow.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(source, f"allow.{key} must be a list of names")
    unknown = [v for v in value if v not in levels]
    if unknown:
        raise _bad(source, f"allow.{key}: unknown {unknown[0]!r}; one of: {', '.join(levels)}")
    return frozenset(value)


def parse_tables(source: str, value: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise _bad(source, "stats.tables must be a non-empty list of lists of fields")
    out: list[tuple[str, ...]] = []
    for table in value:
        if not isinstance(table, list) or not table or not all(isinstance(d, str) for d in table):
            raise _bad(source, "stats.tables must be a non-empty list of lists of fields")
        unknown = [d for d in table if d not in STAT_FIELDS]
        if unknown:
            raise _bad(
                source,
                f"stats.tables: unknown field {unknown[0]!r}; one of: {', '.join(STAT_FIELDS)}",
            )
        if len(set(table)) != len(table):
            raise _bad(source, "stats.tables: a field is named twice in one table")
        out.append(tuple(table))
    return tuple(out)


def parse_profile(data: bytes, source: str) -> Profile:
    """A profile from TOML bytes; every problem is exit 2 naming the key."""
    if len(data) > MAX_PROFILE_BYTES:
        raise _bad(source, "larger than 64 KiB")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad(source, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise _bad(source, f"not valid TOML ({exc})") from None
    known = {"name", "description", "kind", "disclose", "allow", "fields", "stats"}
    extra = sorted(set(doc) - known)
    if extra:
        raise _bad(source, f"unknown key {extra[0]!r}")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise _bad(source, "name must be a short text")
    kind = doc.get("kind", "cases")
    if kind not in ("cases", "stats"):
        raise _bad(source, "kind must be 'cases' or 'stats'")
    allow = doc.get("allow", {})
    if not isinstance(allow, dict):
        raise _bad(source, "allow must be a table")
    extra = sorted(set(allow) - {"consent", "risk", "risk_with_reason", "status"})
    if extra:
        raise _bad(source, f"unknown key allow.{extra[0]!r}")
    consent = _levels(source, allow, "consent", rules.CONSENT_LEVELS)
    statuses = tuple(s.value for s in rules.STATUS_ORDER)
    fields = doc.get("fields", {})
    if not isinstance(fields, dict):
        raise _bad(source, "fields must be a table")
    for pattern, action in fields.items():
        if pattern not in FIELD_PATTERNS:
            raise _bad(source, f"fields: unknown field {pattern!r}")
        if action not in ACTIONS:
            raise _bad(
                source, f"fields.{pattern}: unknown action {action!r}; one of: {', '.join(ACTIONS)}"
            )
        if action == "coarsen" and pattern not in COARSENABLE:
            raise _bad(source, f"fields.{pattern}: only dates and the location can be coarsened")
    stats = doc.get("stats", {})
    if not isinstance(stats, dict) or sorted(set(stats) - {"k", "tables"}):
        raise _bad(source, "stats must be a table with k and tables")
    k = stats.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool) or not 2 <= k <= 100:
        raise _bad(source, "stats.k must be a whole number from 2 to 100")
    disclose = doc.get("disclose", False)
    if not isinstance(disclose, bool):
        raise _bad(source, "disclose must be true or false")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise _bad(source, "description must be text")
    return Profile(
        name=name.strip(),
        description=description,
        kind=kind,
        consent=consent,
        risk=_levels(source, allow, "risk", rules.RISK_LEVELS),
        risk_with_reason=_levels(source, allow, "risk_with_reason", rules.RISK_LEVELS),
        status=_levels(source, allow, "status", statuses),
        fields=dict(fields),
        disclose=disclose,
        k=k,
        tables=parse_tables(source, stats["tables"]) if "tables" in stats else DEFAULT_TABLES,
    )


DEFAULT_TABLES: Final = (("country", "year"), ("country", "act"), ("country", "mechanism"))


def built_in(name: str) -> Profile:
    if name not in BUILT_IN:
        raise InvalidInput(f"unknown export profile {name!r}; one of: {', '.join(BUILT_IN)}")
    data = resources.files("reprisal_report.redact").joinpath(f"profiles/{name}.toml").read_bytes()
    return parse_profile(data, name)
