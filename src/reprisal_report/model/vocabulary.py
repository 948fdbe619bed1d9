"""The versioned controlled vocabularies of the case record.

The terms live in ``model/vocab/v<N>.json`` (package data), not in code, so that a
new vocabulary version is a reviewed data change. Term order is part of the data:
for ``consent`` and ``risk`` it is an ordering (least to most permissive, least to
most severe) that policy code compares with :meth:`Vocabulary.rank`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

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
    # act term -> HURIDOCS "Types of Acts" code, or None where no code is recorded.
    huridocs: MappingProxyType[str, str | None] = field(compare=False, repr=False)

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

    def huridocs_code(self, act: str) -> str | None:
        if act not in self.huridocs:
            raise KeyError(f"acts: unknown term {act!r}")
        return self.huridocs[act]


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
    huridocs: dict[str, str | None] = {}
    for kind in VOCAB_KINDS:
        entries = data.get(kind)
        pairs: list[tuple[str, str]] = []
        if kind == "acts" and isinstance(entries, dict):
            for term, info in entries.items():
                if not isinstance(info, dict) or not isinstance(info.get("label"), str):
                    raise ValueError(f"vocabulary acts.{term} is malformed")
                code = info.get("huridocs")
                if code is not None and not isinstance(code, str):
                    raise ValueError(f"vocabulary acts.{term}.huridocs is malformed")
                huridocs[term] = code
                pairs.append((term, info["label"]))
        elif kind != "acts" and isinstance(entries, list):
            for entry in entries:
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("term"), str)
                    and isinstance(entry.get("label"), str)
                ):
                    raise ValueError(f"vocabulary {kind} has a malformed entry")
                pairs.append((entry["term"], entry["label"]))
        else:
            raise ValueError(f"vocabulary {kind} is missing or malformed")
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
    )
