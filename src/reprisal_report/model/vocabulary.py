"""The versioned controlled vocabularies of the case record.

The terms live in ``model/vocab/v<N>.json`` (package data), not in code, so that a
new vocabulary version is a reviewed data change. Term order is part of the data:
for ``consent`` and ``risk`` it is an ordering (least to most permissive, least to
most severe) that policy code compares with :meth:`Vocabulary.rank`.

Acts, perpetrator types and victim kinds also carry their HURIDOCS micro-thesaurus
code (Events Standard Formats, 2001 edition) where a faithful one exists, or ``None``
and the reason there is none; the mapping is tabled in ``docs/vocabulary.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final, Literal, TypeGuard, get_args, overload

VocabKind = Literal[
    "mechanisms",
    "modes",
    "acts",
    "perpetrator_types",
    "victim_kinds",
    "consent",
    "risk",
]

VOCAB_KINDS: Final[tuple[VocabKind, ...]] = get_args(VocabKind)
CURRENT_VERSION: Final = 1

# Terms end up in file names, CSV headers and error messages, so keep them tame.
_TERM_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")

HuridocsKind = Literal["acts", "perpetrator_types", "victim_kinds"]
# The HURIDOCS micro-thesaurus each mapped vocabulary draws its codes from.
HURIDOCS_LISTS: Final[MappingProxyType[str, int]] = MappingProxyType(
    {"acts": 4, "perpetrator_types": 24, "victim_kinds": 23}
)
HURIDOCS_INTENT_LIST: Final = 38
HuridocsMatch = Literal["exact", "broader"]
_HURIDOCS_MATCHES: Final[tuple[HuridocsMatch, ...]] = get_args(HuridocsMatch)
# Twelve digits, two per level: a non-zero top level, then levels that once zero stay zero.
_HURIDOCS_CODE_RE: Final = re.compile(r"(?!00)\d\d(?:(?!00)\d\d)*(?:00)*")
_ENTRY_KEYS: Final = frozenset({"huridocs", "huridocs_reason", "huridocs_intent"})


@dataclass(frozen=True)
class HuridocsCode:
    """One HURIDOCS micro-thesaurus term a vocabulary term maps to."""

    list_code: int  # the micro-thesaurus: 4 acts, 24 perpetrators, 23 victims, 38 intent
    code: str  # the 12-digit huri_code (unique within its list only)
    term: str  # the thesaurus's English term, verbatim
    match: HuridocsMatch  # "exact": same meaning; "broader": a broader parent
    note: str | None = None  # why this code (required when broader)

    @property
    def vocab_number(self) -> str:
        """``code`` followed by the two-digit list number: unique across lists."""
        return f"{self.code}{self.list_code:02d}"


@dataclass(frozen=True)
class Vocabulary:
    """One version of every controlled vocabulary, terms in their defined order."""

    version: int
    mechanisms: tuple[str, ...]
    modes: tuple[str, ...]
    acts: tuple[str, ...]
    perpetrator_types: tuple[str, ...]
    victim_kinds: tuple[str, ...]
    consent: tuple[str, ...]
    risk: tuple[str, ...]
    # kind -> term -> English label; read-only views, left out of eq/hash.
    labels: MappingProxyType[str, MappingProxyType[str, str]] = field(compare=False, repr=False)
    # kind -> term -> HURIDOCS code (None where none is faithful); acts, perpetrator
    # types and victim kinds only.
    huridocs: MappingProxyType[str, MappingProxyType[str, HuridocsCode | None]] = field(
        compare=False, repr=False
    )
    # kind -> term -> why there is no HURIDOCS code (terms whose code is None only).
    huridocs_reasons: MappingProxyType[str, MappingProxyType[str, str]] = field(
        compare=False, repr=False
    )
    # act term -> HURIDOCS intent (list 38), for acts the thesaurus records as an intent.
    huridocs_intents: MappingProxyType[str, HuridocsCode] = field(compare=False, repr=False)

    def terms(self, kind: VocabKind) -> tuple[str, ...]:
        """The terms of one vocabulary, in order."""
        if kind not in VOCAB_KINDS:
            raise KeyError(f"unknown vocabulary {kind!r}")
        terms: tuple[str, ...] = getattr(self, kind)
        return terms

    def has(self, kind: VocabKind, term: str) -> bool:
        return term in self.labels[kind]

    def label(self, kind: VocabKind, term: str) -> str:
        """The human label of a term (for prompts and human output)."""
        try:
            return self.labels[kind][term]
        except KeyError:
            raise KeyError(f"{kind}: unknown term {term!r}") from None

    def rank(self, kind: VocabKind, term: str) -> int:
        """Position of ``term`` in its vocabulary; meaningful for consent and risk."""
        try:
            return self.terms(kind).index(term)
        except ValueError:
            raise KeyError(f"{kind}: unknown term {term!r}") from None

    @overload
    def huridocs_code(self, act: str, /) -> str | None: ...
    @overload
    def huridocs_code(self, kind: HuridocsKind, term: str, /) -> HuridocsCode | None: ...
    def huridocs_code(
        self, kind_or_act: str, term: str | None = None, /
    ) -> HuridocsCode | str | None:
        """The HURIDOCS code of a term, or None where no faithful code exists.

        ``huridocs_code(kind, term)`` gives the full :class:`HuridocsCode`;
        ``huridocs_code(act)`` (the older form) gives just the act's list-4 code.
        """
        if term is None:
            found = self.huridocs_code("acts", kind_or_act)
            return None if found is None else found.code
        codes = self._huridocs_kind(kind_or_act)
        if term not in codes:
            raise KeyError(f"{kind_or_act}: unknown term {term!r}")
        return codes[term]

    def huridocs_reason(self, kind: HuridocsKind, term: str) -> str | None:
        """Why ``term`` has no HURIDOCS code (None when it has one)."""
        if self.huridocs_code(kind, term) is not None:
            return None
        return self.huridocs_reasons[kind][term]

    def huridocs_intent(self, act: str) -> HuridocsCode | None:
        """The HURIDOCS intent (list 38) an act is recorded as, if any."""
        self.huridocs_code("acts", act)  # KeyError on an unknown act
        return self.huridocs_intents.get(act)

    def _huridocs_kind(self, kind: str) -> MappingProxyType[str, HuridocsCode | None]:
        try:
            return self.huridocs[kind]
        except KeyError:
            raise KeyError(f"vocabulary {kind!r} has no HURIDOCS codes") from None


@cache
def load_vocabulary(version: int = CURRENT_VERSION) -> Vocabulary:
    """Load (once) the vocabulary file shipped in the package."""
    resource = files("reprisal_report.model") / "vocab" / f"v{version}.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    return _build(data, version)


def label(kind: VocabKind, term: str) -> str:
    """Shortcut: the label of ``term`` in the current vocabulary."""
    return load_vocabulary().label(kind, term)


def _build(data: Any, version: int) -> Vocabulary:
    # The file is package data, not user input: a malformed one is a packaging bug,
    # reported as ValueError rather than a user-facing ReportError.
    if not isinstance(data, dict) or data.get("version") != version:
        raise ValueError(f"vocabulary file v{version} is malformed")
    labels: dict[str, MappingProxyType[str, str]] = {}
    huridocs: dict[str, MappingProxyType[str, HuridocsCode | None]] = {}
    reasons: dict[str, MappingProxyType[str, str]] = {}
    intents: dict[str, HuridocsCode] = {}
    for kind in VOCAB_KINDS:
        entries = data.get(kind)
        pairs: list[tuple[str, str]] = []
        if kind == "acts" and isinstance(entries, dict):
            items = [(term, info) for term, info in entries.items() if isinstance(term, str)]
            if len(items) != len(entries):
                raise ValueError("vocabulary acts is malformed")
        elif kind != "acts" and isinstance(entries, list):
            items = []
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("term"), str):
                    raise ValueError(f"vocabulary {kind} has a malformed entry")
                items.append((entry["term"], {k: v for k, v in entry.items() if k != "term"}))
        else:
            raise ValueError(f"vocabulary {kind} is missing or malformed")
        codes: dict[str, HuridocsCode | None] = {}
        kind_reasons: dict[str, str] = {}
        for term, info in items:
            where = f"vocabulary {kind}.{term}"
            if not isinstance(info, dict) or not isinstance(info.get("label"), str):
                raise ValueError(f"{where} is malformed")
            extra = set(info) - {"label"}
            if kind not in HURIDOCS_LISTS:
                if extra:
                    raise ValueError(f"{where} has unknown keys")
            else:
                allowed = _ENTRY_KEYS if kind == "acts" else _ENTRY_KEYS - {"huridocs_intent"}
                if "huridocs" not in info or not extra <= allowed:
                    raise ValueError(f"{where} has missing or unknown keys")
                codes[term], reason = _huridocs_entry(info, HURIDOCS_LISTS[kind], where)
                if reason is not None:
                    kind_reasons[term] = reason
                if "huridocs_intent" in info:
                    intents[term] = _huridocs_code(
                        info["huridocs_intent"], HURIDOCS_INTENT_LIST, f"{where}.huridocs_intent"
                    )
            pairs.append((term, info["label"]))
        if kind in HURIDOCS_LISTS:
            huridocs[kind] = MappingProxyType(codes)
            reasons[kind] = MappingProxyType(kind_reasons)
        terms = [term for term, _ in pairs]
        if not terms or len(set(terms)) != len(terms):
            raise ValueError(f"vocabulary {kind} is empty or has duplicate terms")
        if not all(_TERM_RE.fullmatch(term) for term in terms):
            raise ValueError(f"vocabulary {kind} has a term outside [a-z0-9_]")
        labels[kind] = MappingProxyType(dict(pairs))
    return Vocabulary(
        version=version,
        mechanisms=tuple(labels["mechanisms"]),
        modes=tuple(labels["modes"]),
        acts=tuple(labels["acts"]),
        perpetrator_types=tuple(labels["perpetrator_types"]),
        victim_kinds=tuple(labels["victim_kinds"]),
        consent=tuple(labels["consent"]),
        risk=tuple(labels["risk"]),
        labels=MappingProxyType(labels),
        huridocs=MappingProxyType(huridocs),
        huridocs_reasons=MappingProxyType(reasons),
        huridocs_intents=MappingProxyType(intents),
    )


def _huridocs_entry(
    info: dict[str, Any], list_code: int, where: str
) -> tuple[HuridocsCode | None, str | None]:
    """A term's code, or None and the (required) reason there is none."""
    reason = info.get("huridocs_reason")
    if info["huridocs"] is None:
        if not _is_text(reason):
            raise ValueError(f"{where}: a null huridocs code needs a huridocs_reason")
        return None, reason
    if reason is not None:
        raise ValueError(f"{where}: huridocs_reason is only for a null huridocs code")
    return _huridocs_code(info["huridocs"], list_code, f"{where}.huridocs"), None


def _huridocs_code(value: Any, list_code: int, where: str) -> HuridocsCode:
    if not isinstance(value, dict) or not set(value) <= {"list", "code", "term", "match", "note"}:
        raise ValueError(f"{where} is malformed")
    listed, code, term = value.get("list"), value.get("code"), value.get("term")
    match, note = value.get("match"), value.get("note")
    if type(listed) is not int or listed != list_code:
        raise ValueError(f"{where}: list must be {list_code}")
    if not isinstance(code, str) or len(code) != 12 or not _HURIDOCS_CODE_RE.fullmatch(code):
        raise ValueError(f"{where}: code must be a 12-digit HURIDOCS code")
    if not _is_text(term):
        raise ValueError(f"{where}: term must be the thesaurus's English term")
    if match not in _HURIDOCS_MATCHES:
        raise ValueError(f"{where}: match must be one of {', '.join(_HURIDOCS_MATCHES)}")
    if not (note is None or _is_text(note)) or (match == "broader" and note is None):
        raise ValueError(f"{where}: a broader match needs a note saying why")
    return HuridocsCode(list_code=listed, code=code, term=term, match=match, note=note)


def _is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip()) and value.isprintable()
