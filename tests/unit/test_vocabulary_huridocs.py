"""The HURIDOCS micro-thesaurus mapping of acts, perpetrator types and victim kinds.

The codes were checked against the thesaurus when they were written; these tests hold
the shipped data to its shape, spot-check chosen codes, and keep docs/vocabulary.md in
step with the data. They never read the thesaurus files themselves.
"""

from __future__ import annotations

import copy
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from reprisal_report.model import vocabulary
from reprisal_report.model.vocabulary import (
    HURIDOCS_LISTS,
    HuridocsCode,
    HuridocsKind,
    load_vocabulary,
)

KINDS: tuple[HuridocsKind, ...] = ("acts", "perpetrator_types", "victim_kinds")
DOC = Path(__file__).resolve().parents[2] / "docs" / "vocabulary.md"
CODE_RE = re.compile(r"[0-9]{12}")


def _raw() -> dict[str, Any]:
    resource = files("reprisal_report.model") / "vocab" / "v1.json"
    data: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return data


def _entry(data: dict[str, Any], kind: str, term: str) -> dict[str, Any]:
    if kind == "acts":
        found: dict[str, Any] = data["acts"][term]
        return found
    return next(e for e in data[kind] if e["term"] == term)


# --- the shipped mapping -------------------------------------------------------------


def test_lists_are_the_ones_of_the_thesaurus() -> None:
    assert dict(HURIDOCS_LISTS) == {"acts": 4, "perpetrator_types": 24, "victim_kinds": 23}
    assert vocabulary.HURIDOCS_INTENT_LIST == 38


@pytest.mark.parametrize("kind", KINDS)
def test_every_term_has_a_valid_code_or_a_reason(kind: HuridocsKind) -> None:
    vocab = load_vocabulary()
    for term in vocab.terms(kind):
        code = vocab.huridocs_code(kind, term)
        reason = vocab.huridocs_reason(kind, term)
        if code is None:
            assert reason is not None and reason.strip(), term
            continue
        assert reason is None, term
        assert code.list_code == HURIDOCS_LISTS[kind], term
        assert CODE_RE.fullmatch(code.code), term
        assert code.vocab_number == code.code + f"{HURIDOCS_LISTS[kind]:02d}"
        assert code.term.strip() == code.term and code.term, term
        assert code.match in ("exact", "broader"), term
        if code.match == "broader":
            assert code.note, f"{term}: a broader parent must say why"


@pytest.mark.parametrize("kind", KINDS)
def test_codes_are_unique_within_each_list(kind: HuridocsKind) -> None:
    vocab = load_vocabulary()
    codes = [c.code for t in vocab.terms(kind) if (c := vocab.huridocs_code(kind, t))]
    assert codes and len(codes) == len(set(codes)), kind


def test_vocab_numbers_are_unique_across_lists() -> None:
    vocab = load_vocabulary()
    numbers = [
        c.vocab_number for k in KINDS for t in vocab.terms(k) if (c := vocab.huridocs_code(k, t))
    ]
    numbers += [c.vocab_number for t in vocab.acts if (c := vocab.huridocs_intent(t))]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize(
    ("kind", "term", "expected"),
    [
        ("acts", "travel_ban", (4, "050106000000", "Restriction on travel", "exact")),
        ("acts", "death_threat", (4, "020103020000", "Death threats", "exact")),
        ("acts", "threat", (4, "020103010000", "Threats (not including death threats)", "exact")),
        ("acts", "torture", (4, "020111110000", "Torture", "exact")),
        ("acts", "censorship", (4, "100101000000", "Censorship", "exact")),
        ("acts", "house_arrest", (4, "030105000000", "House arrest", "exact")),
        ("acts", "deportation", (4, "330101000000", "Expulsion; deportation", "exact")),
        # Surveillance and raid appear twice in list 4: the personal-integrity and the
        # privacy parents fit these terms, not the association-and-assembly ones.
        ("acts", "surveillance", (4, "020103030000", "Surveillance", "exact")),
        ("acts", "raid", (4, "040101000000", "Illegal search / raid", "exact")),
        ("acts", "smear_campaign", (4, "140101000000", "Defamation", "broader")),
        ("perpetrator_types", "police", (24, "010104000000", "Police", "exact")),
        ("perpetrator_types", "military", (24, "010103000000", "Armed forces", "exact")),
        ("perpetrator_types", "unknown", (24, "990000000000", "Unknown", "exact")),
        (
            "victim_kinds",
            "family_member",
            (23, "050101000000", "Relatives of persons targeted for repression", "exact"),
        ),
        ("victim_kinds", "witness", (23, "050201000000", "Witnesses", "exact")),
    ],
)
def test_spot_checks(kind: HuridocsKind, term: str, expected: tuple[int, str, str, str]) -> None:
    code = load_vocabulary().huridocs_code(kind, term)
    assert code is not None
    assert (code.list_code, code.code, code.term, code.match) == expected


@pytest.mark.parametrize(
    ("kind", "term"),
    [
        ("acts", "online_attack"),
        ("acts", "hate_speech"),
        ("acts", "other"),
        ("perpetrator_types", "state_media"),
        ("victim_kinds", "human_rights_defender"),
        ("victim_kinds", "other"),
    ],
)
def test_terms_without_a_faithful_code(kind: HuridocsKind, term: str) -> None:
    vocab = load_vocabulary()
    assert vocab.huridocs_code(kind, term) is None
    assert vocab.huridocs_reason(kind, term)


def test_intimidation_is_an_intent_not_an_act() -> None:
    vocab = load_vocabulary()
    assert vocab.huridocs_code("acts", "intimidation") is None
    assert "intent" in (vocab.huridocs_reason("acts", "intimidation") or "")
    assert vocab.huridocs_intent("intimidation") == HuridocsCode(
        list_code=38, code="020000000000", term="Intimidation", match="exact"
    )
    assert [t for t in vocab.acts if vocab.huridocs_intent(t)] == ["intimidation"]


def test_the_one_argument_form_still_gives_the_act_code() -> None:
    vocab = load_vocabulary()
    assert vocab.huridocs_code("travel_ban") == "050106000000"
    assert vocab.huridocs_code("intimidation") is None
    with pytest.raises(KeyError):
        vocab.huridocs_code("nope")


def test_unknown_terms_and_unmapped_vocabularies_are_key_errors() -> None:
    vocab = load_vocabulary()
    with pytest.raises(KeyError, match="unknown term 'activist'"):
        vocab.huridocs_code("victim_kinds", "activist")
    with pytest.raises(KeyError):
        vocab.huridocs_reason("perpetrator_types", "nope")
    with pytest.raises(KeyError):
        vocab.huridocs_intent("nope")
    with pytest.raises(KeyError, match="has no HURIDOCS codes"):
        vocab.huridocs_code("risk", "low")  # type: ignore[call-overload]


def test_note_gives_the_provenance() -> None:
    note = _raw()["_note"]
    assert "2f734af969b557ed0684e5691bcb0259937bc994" in note
    assert "schema/mysql-dbpopulate-mt.sql" in note
    assert "null on purpose" not in note


# --- the loader refuses a malformed mapping -----------------------------------------


def _mutated(kind: str, term: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(_raw())
    entry = _entry(data, kind, term)
    for key, value in changes.items():
        if value is ...:
            entry.pop(key, None)
        else:
            entry[key] = value
    return data


def _code(**changes: Any) -> dict[str, Any]:
    code: dict[str, Any] = {
        "list": 4,
        "code": "050106000000",
        "term": "Restriction on travel",
        "match": "exact",
    }
    code.update(changes)
    return code


@pytest.mark.parametrize(
    ("kind", "term", "changes", "message"),
    [
        ("acts", "travel_ban", {"huridocs": _code(code="05010600000")}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(code="0501060000000")}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(code="05010600000a")}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(code="000106000000")}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(code="050006000000")}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(code=50106000000)}, "12-digit"),
        ("acts", "travel_ban", {"huridocs": _code(list=24)}, "list must be 4"),
        ("acts", "travel_ban", {"huridocs": _code(list="4")}, "list must be 4"),
        ("acts", "travel_ban", {"huridocs": _code(list=True)}, "list must be 4"),
        ("acts", "travel_ban", {"huridocs": _code(term="")}, "term must be"),
        ("acts", "travel_ban", {"huridocs": _code(match="close")}, "match must be"),
        ("acts", "travel_ban", {"huridocs": _code(match="broader")}, "needs a note"),
        ("acts", "travel_ban", {"huridocs": _code(extra=1)}, "is malformed"),
        ("acts", "travel_ban", {"huridocs": "050106000000"}, "is malformed"),
        ("acts", "travel_ban", {"huridocs_reason": "both"}, "only for a null"),
        ("acts", "travel_ban", {"huridocs": ...}, "missing or unknown keys"),
        ("acts", "travel_ban", {"huridocs_typo": None}, "missing or unknown keys"),
        ("acts", "online_attack", {"huridocs_reason": ...}, "needs a huridocs_reason"),
        ("acts", "online_attack", {"huridocs_reason": "  "}, "needs a huridocs_reason"),
        ("acts", "intimidation", {"huridocs_intent": _code()}, "list must be 38"),
        ("perpetrator_types", "police", {"huridocs": _code()}, "list must be 24"),
        ("perpetrator_types", "police", {"huridocs_intent": _code()}, "unknown keys"),
        ("victim_kinds", "witness", {"huridocs": _code(list=24)}, "list must be 23"),
        ("victim_kinds", "lawyer", {"huridocs_reason": ...}, "needs a huridocs_reason"),
        ("victim_kinds", "lawyer", {"huridocs": ...}, "missing or unknown keys"),
        ("risk", "low", {"huridocs": None}, "unknown keys"),
    ],
)
def test_loader_refuses_a_malformed_mapping(
    kind: str, term: str, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        vocabulary._build(_mutated(kind, term, **changes), 1)
    assert f"{kind}.{term}" in str(info.value)


def test_loader_accepts_the_shipped_file() -> None:
    vocabulary._build(_raw(), 1)


# --- docs/vocabulary.md is the data, tabled ------------------------------------------

SECTIONS = {
    "## Acts (list 4": "acts",
    "## Intents (list 38": "intents",
    "## Perpetrator types (list 24": "perpetrator_types",
    "## Victim kinds (list 23": "victim_kinds",
}


def _doc_tables() -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = next((v for k, v in SECTIONS.items() if line.startswith(k)), None)
            if current is not None:
                tables[current] = []
        elif current is not None and line.startswith("| `"):
            tables[current].append([cell.strip() for cell in line.strip()[1:-1].split("|")])
    return tables


def _row(term: str, label: str, code: HuridocsCode | None, reason: str | None) -> list[str]:
    if code is None:
        return [f"`{term}`", label, "none", "", "", reason or ""]
    return [f"`{term}`", label, code.code, code.term, code.match, code.note or ""]


def _expected_tables() -> dict[str, list[list[str]]]:
    vocab = load_vocabulary()
    tables: dict[str, list[list[str]]] = {
        kind: [
            _row(
                t,
                vocab.label(kind, t),
                vocab.huridocs_code(kind, t),
                vocab.huridocs_reason(kind, t),
            )
            for t in vocab.terms(kind)
        ]
        for kind in KINDS
    }
    tables["intents"] = [
        _row(t, vocab.label("acts", t), intent, None)
        for t in vocab.acts
        if (intent := vocab.huridocs_intent(t)) is not None
    ]
    return tables


def test_doc_tables_match_the_data() -> None:
    expected = _expected_tables()
    assert set(_doc_tables()) == set(SECTIONS.values())
    for name, rows in _doc_tables().items():
        assert rows == expected[name], f"docs/vocabulary.md is stale: section {name}"


def test_no_mapping_text_would_break_a_table_row() -> None:
    for rows in _expected_tables().values():
        for row in rows:
            assert all("|" not in cell and "\n" not in cell for cell in row), row


def test_doc_gives_provenance_and_licence() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "2f734af969b557ed0684e5691bcb0259937bc994" in text
    assert "schema/mysql-dbpopulate-mt.sql" in text
    assert "AGPL-3.0" in text
