"""One case through a profile: may it leave at all, and what of it leaves.

``select`` answers the first (the reason a case is withheld: status, consent, risk or
profile, checked in that order); ``redact`` the second, field by field, and also
returns what the leak gate must then not find in the output: every sensitive value of
the case that did not leave as it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from reprisal_report.model.case import CASE_FIELDS, FieldSpec, iter_fields
from reprisal_report.model.case import is_sensitive as _is_sensitive
from reprisal_report.model.case import path_pattern as _path_pattern
from reprisal_report.redact import profiles
from reprisal_report.redact.leakgate import (
    Gated,
    Sensitive,
    forms,
    forms_from_text,
    forms_text,
)
from reprisal_report.redact.profiles import Profile

KIND_OF: Final = {
    "location": "place",
    "perpetrators[].name": "name",
    "victims[].name": "name",
    "victims[].aliases[]": "name",
    "victims[].contact": "contact",
    "victims[].organisation": "organisation",
    "narrative": "text",
}


@dataclass(slots=True)
class ExportCase:
    """A received case as the export reads it (the latest bundle and the triage row).
    Not frozen: an export makes one per case of the vault, and a frozen dataclass
    takes several times as long to make; nothing changes it once made."""

    case_id: str
    org_id: str
    status: str
    risk: str
    consent: str
    record: Mapping[str, Any]
    salts: Mapping[str, str]
    manifest: bytes
    signature: bytes
    author_key_id: str
    received_at: str
    follow_up_of: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)


class Parsed(Mapping[str, Any]):
    """A stored record or salts, parsed when first read (a withheld case never is)."""

    __slots__ = ("_get", "_value")

    def __init__(self, get: Callable[[], Mapping[str, Any]]) -> None:
        self._get = get
        self._value: Mapping[str, Any] | None = None

    def _data(self) -> Mapping[str, Any]:
        if self._value is None:
            self._value = self._get()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __contains__(self, key: object) -> bool:
        return key in self._data()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data().get(key, default)


@dataclass(frozen=True)
class Selection:
    include_high_risk: bool = False
    country: str | None = None
    since: str | None = None  # ISO day: incident on or after


def select(case: ExportCase, profile: Profile, selection: Selection) -> str | None:
    """Why the case may not leave under this profile (``status``, ``consent``, ``risk``,
    ``profile``), or None. The current assessment decides, not the reporter's first
    word: a newer assessment that narrowed consent or raised the risk withdraws."""
    reason = select_by_triage(case.status, case.consent, case.risk, profile, selection)
    if reason is not None:
        return reason
    if selection.country is not None and case.record.get("country") != selection.country:
        return "profile"
    if selection.since is not None:
        date = str(case.record.get("incident_date") or "")
        # An incident matches when it may have happened on or after the day.
        if not date or _last_day(date) < selection.since:
            return "profile"
    return None


def select_by_triage(
    status: str, consent: str, risk: str, profile: Profile, selection: Selection
) -> str | None:
    """What :func:`select` decides from the triage state alone (status, consent, risk),
    before it reads the record for a ``--country`` or ``--since`` selection."""
    if status in profiles.NEVER_STATUS or status not in profile.status:
        return "status"
    never = profiles.NEVER_CONSENT if profile.kind == "stats" else profiles.NEVER_CONSENT_CASES
    if consent in never or consent not in profile.consent:
        return "consent"
    if risk not in profile.risk and not (
        selection.include_high_risk and risk in profile.risk_with_reason
    ):
        return "risk"
    return None


def _last_day(date: str) -> str:
    from reprisal_report.model.triage import incident_interval

    return incident_interval(date)[1]


# Field paths repeat across cases (victims[0].name ...): look each up once.
path_pattern = functools.lru_cache(maxsize=8192)(_path_pattern)
is_sensitive = functools.lru_cache(maxsize=8192)(_is_sensitive)

_STEP = re.compile(r"([a-z_]+)|\[([0-9]+)\]")


def path_steps(path: str) -> list[str | int]:
    """``victims[0].aliases[1]`` -> ``["victims", 0, "aliases", 1]`` (the grammar of
    ``model.case.iter_fields``)."""
    return list(_steps(path))


@functools.lru_cache(maxsize=8192)
def _steps(path: str) -> tuple[str | int, ...]:
    return tuple(m.group(1) if m.group(1) else int(m.group(2)) for m in _STEP.finditer(path))


@dataclass(frozen=True)
class Redacted:
    fields: dict[str, Any]  # the case's fields as they leave (nested like the record)
    disclosed: dict[str, dict[str, str]]  # path -> {"value", "salt"} (kept as committed)
    transformed: list[str]  # paths that left changed (coarsened, pseudonymised)
    forbidden: list[Sensitive]  # sensitive values that did not leave as they are
    kept: list[str]  # sensitive values that left as they are
    kept_paths: list[str] = field(default_factory=list)  # and their field paths


def _coarsen(pattern: str, value: str, record: Mapping[str, Any]) -> str:
    if profiles.COARSENABLE[pattern] == "month":
        return value[:7]
    return str(record.get("country") or "")


def redact(case: ExportCase, profile: Profile, pseudonymise: Callable[[str], str]) -> Redacted:
    """The case's fields as they leave under ``profile``, field by field in the order
    of ``model.case.iter_fields`` (whose paths it uses), and what the gate must know."""
    walk = _Redaction(case, profile, pseudonymise)
    fields = walk.record(case.record, CASE_FIELDS, "", "")
    return Redacted(
        fields, walk.disclosed, walk.transformed, walk.forbidden, walk.kept, walk.kept_paths
    )


_GONE: Final = object()  # a field (or list, or record) of which nothing leaves


_NAMES: dict[int, tuple[tuple[FieldSpec, ...], frozenset[str]]] = {}


def _names(specs: tuple[FieldSpec, ...]) -> frozenset[str]:
    """The keys a record of ``specs`` may hold. Kept by the tuple's identity (the
    schema's tuples live as long as the program): hashing the specs themselves, each
    a dataclass of nested tuples, cost more than the walk."""
    known = _NAMES.get(id(specs))
    if known is None or known[0] is not specs:
        known = _NAMES[id(specs)] = (specs, frozenset(spec.name for spec in specs))
    return known[1]


_ACTIONS: dict[tuple[int, bool], tuple[Profile, dict[str, str]]] = {}


def resolved_action(profile: Profile, pattern: str, named: bool) -> str:
    """The profile's action for a field pattern in a case whose consent does or does
    not publish the name: ``pseudonymise-unless-named`` resolved to ``keep`` or
    ``pseudonymise``. The one rule both :func:`redact` and :func:`gate_split` follow."""
    action = profile.action(pattern)
    if action == "pseudonymise-unless-named":
        return "keep" if named else "pseudonymise"
    return action


def _actions(profile: Profile, named: bool) -> dict[str, str]:
    """pattern -> action of ``profile`` for a case with or without consent to publish
    the name, filled as the walks meet the patterns (by the profile's identity, as
    :func:`_names`: an export walks tens of thousands of cases with one profile)."""
    known = _ACTIONS.get((id(profile), named))
    if known is None or known[0] is not profile:
        if len(_ACTIONS) >= 64:  # a long-lived process (the tests) sees many profiles
            _ACTIONS.clear()
        known = _ACTIONS[(id(profile), named)] = (profile, {})
    return known[1]


class _Redaction:
    """One walk over a record: the fields that leave, built as it goes (lists keep the
    items of which something leaves, in order; a record or list of which nothing
    leaves is left out), and what was kept, changed and forbidden, path by path."""

    def __init__(
        self, case: ExportCase, profile: Profile, pseudonymise: Callable[[str], str]
    ) -> None:
        self.case = case
        self.profile = profile
        self.pseudonymise = pseudonymise
        self.named = case.consent == "publish_named"
        salts = case.salts
        # The salts are read at each kept field: the lazy mapping's own dict, once.
        self.salts: Mapping[str, str] = salts._data() if isinstance(salts, Parsed) else salts
        self.actions = _actions(profile, self.named)
        self.disclosed: dict[str, dict[str, str]] = {}
        self.transformed: list[str] = []
        self.forbidden: list[Sensitive] = []
        self.kept: list[str] = []
        self.kept_paths: list[str] = []

    def record(
        self, record: Mapping[str, Any], specs: tuple[FieldSpec, ...], path: str, pattern: str
    ) -> dict[str, Any]:
        if not _names(specs).issuperset(record):
            # As iter_fields: a key outside the schema is never silently skipped.
            raise ValueError(f"iter_fields: {path or 'case'} has keys outside the schema")
        out: dict[str, Any] = {}
        for spec in specs:
            if spec.name in record:
                name = spec.name
                inner = f"{path}.{name}" if path else name
                inner_pattern = f"{pattern}.{name}" if pattern else name
                value = self.value(record[name], spec, inner, inner_pattern)
                if value is not _GONE:
                    out[name] = value
        return out

    def value(self, value: Any, spec: FieldSpec, path: str, pattern: str) -> Any:
        if type(value) is str:  # most leaves: no isinstance over the abstract types
            return self.leaf(value, path, pattern)
        if isinstance(value, list):
            items = []
            item_pattern = f"{pattern}[]"
            for index, item in enumerate(value):
                kept = self.value(item, spec, f"{path}[{index}]", item_pattern)
                if kept is not _GONE:
                    items.append(kept)
            return items if items else _GONE
        if type(value) is dict or isinstance(value, Mapping):
            fields = self.record(value, spec.fields, path, pattern)
            return fields if fields else _GONE
        return self.leaf(value, path, pattern)

    def leaf(self, value: Any, path: str, pattern: str) -> Any:
        profile, case = self.profile, self.case
        action = self.actions.get(pattern)
        if action is None:
            action = self.actions[pattern] = resolved_action(profile, pattern, self.named)
        # The pattern of a path is its own pattern: is_sensitive caches by it.
        sensitive = isinstance(value, str) and bool(value) and is_sensitive(pattern)
        if action == "keep":
            if profile.disclose and path in self.salts:
                self.disclosed[path] = {"value": str(value), "salt": self.salts[path]}
            if sensitive:
                self.kept.append(str(value))
                self.kept_paths.append(path)
            return value
        out: Any = _GONE
        if action == "coarsen":
            out = _coarsen(pattern, str(value), case.record)
            self.transformed.append(path)
        elif action == "pseudonymise":
            out = self.pseudonymise(str(value))
            self.transformed.append(path)
        if sensitive:
            self.forbidden.append(
                Sensitive(case.case_id, path, str(value), KIND_OF.get(pattern, "text"))
            )
        return out


def stats_dims(
    record: Mapping[str, Any],
) -> tuple[str, str, str, tuple[str, ...], tuple[str, ...]]:
    """What the statistics read of a record: the country as counted and as written
    (``""`` when none), the year, the acts and the mechanisms (each sorted, once)."""
    return (
        str(record.get("country") or "unknown"),
        str(record.get("country") or ""),
        str(record.get("incident_date") or "")[:4] or "unknown",
        tuple(sorted({str(a) for a in record.get("acts") or []})),
        tuple(
            sorted(
                {
                    str(c.get("mechanism"))
                    for c in record.get("cooperation") or []
                    if isinstance(c, dict)
                }
            )
        ),
    )


def record_values(case: ExportCase) -> list[Sensitive]:
    """Every sensitive value of a case's record, in field order."""
    return [
        Sensitive(case.case_id, path, value, KIND_OF.get(path_pattern(path), "text"))
        for path, value in iter_fields(case.record)
        if isinstance(value, str) and value and is_sensitive(path)
    ]


def withheld_values(case: ExportCase) -> list[Sensitive]:
    """Every sensitive value of a case that does not leave at all (and its notes)."""
    return record_values(case) + note_values(case)


def note_values(case: ExportCase) -> list[Sensitive]:
    return [
        Sensitive(case.case_id, f"notes[{i}]", text, "text")
        for i, text in enumerate(case.notes)
        if text.strip()
    ]


# --- gate forms kept in the vault ------------------------------------------------------


@dataclass(frozen=True)
class CaseForms:
    """The leak gate's forms of every sensitive value of one case: its record's (in
    field order, as :func:`record_values`) and its notes' (as :func:`note_values`)."""

    record: list[Gated]
    notes: list[Gated]

    def every(self) -> list[Gated]:
        """As :func:`withheld_values` lists them."""
        return self.record + self.notes


def case_forms(case: ExportCase) -> CaseForms:
    """Compute the forms of a case (what the vault keeps, ``vault/export.py``)."""
    return CaseForms(
        [Gated(v.case_id, v.field, forms(v)) for v in record_values(case)],
        [Gated(v.case_id, v.field, forms(v)) for v in note_values(case)],
    )


def case_text(case: CaseForms) -> str:
    """The text the vault keeps for a case's forms (``leakgate.forms_text``)."""
    return forms_text(case.record, case.notes)


def case_from_text(case_id: str, text: str) -> CaseForms:
    """A case's forms from the kept text; ValueError if it is not of that shape."""
    return CaseForms(*forms_from_text(case_id, text))


@dataclass(frozen=True)
class GateSplit:
    """What :func:`redact` keeps and forbids of a case, told from its forms alone (the
    leak gate's worker builds the gate from this while the export redacts; the two are
    compared before the scan, ``workflows/export.py``)."""

    forbidden: list[Gated]  # values that do not leave as they are, notes last
    allowed: set[str]  # fold digests of the values that leave as they are
    kept_keys: list[tuple[str, str]]  # (case id, field) of those, in field order
    forbidden_keys: list[tuple[str, str]]


def gate_split(case_id: str, consent: str, case: CaseForms, profile: Profile) -> GateSplit:
    """The split :func:`redact` makes of ``case``'s sensitive values under ``profile``:
    a value is kept when its field's action is ``keep`` (``pseudonymise-unless-named``
    with consent to publish the name counts as keep), forbidden otherwise."""
    named = consent == "publish_named"
    forbidden: list[Gated] = []
    allowed: set[str] = set()
    kept_keys: list[tuple[str, str]] = []
    forbidden_keys: list[tuple[str, str]] = []
    for value in case.record:
        if resolved_action(profile, path_pattern(value.field), named) == "keep":
            allowed.add(value.forms.folded)
            kept_keys.append((case_id, value.field))
        else:
            forbidden.append(value)
            forbidden_keys.append((case_id, value.field))
    for note in case.notes:
        forbidden.append(note)
        forbidden_keys.append((case_id, note.field))
    return GateSplit(forbidden, allowed, kept_keys, forbidden_keys)


def redacted_keys(
    case: ExportCase, redacted: Redacted
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(kept, forbidden) (case id, field) pairs of a redaction, as :class:`GateSplit`
    lists them: its kept and forbidden sensitive values in field order, then the
    case's notes."""
    kept = [(case.case_id, path) for path in redacted.kept_paths]
    forbidden = [(value.case_id, value.field) for value in redacted.forbidden]
    forbidden += [(value.case_id, value.field) for value in note_values(case)]
    return kept, forbidden
