"""Property tests for the case-file reader, the validator and canonical JSON.

Invariants: hostile input of any shape gives InvalidCase and nothing else; valid
cases survive every encoding unchanged; errors never repeat a value that does not
look like a vocabulary term; canonical_json is deterministic and strict.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pycountry
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprisal_report.errors import InvalidCase
from reprisal_report.model.canonical import canonical_json
from reprisal_report.model.case import (
    CASE_FIELDS,
    is_sensitive,
    iter_fields,
    parse_case_bytes,
    sensitive_values,
    validate_case,
)
from reprisal_report.model.vocabulary import load_vocabulary

VOCAB = load_vocabulary()
COUNTRIES = sorted(c.alpha_2 for c in pycountry.countries)
SCHEMA_KEYS = sorted(
    {spec.name for spec in CASE_FIELDS} | {f.name for spec in CASE_FIELDS for f in spec.fields}
)
ALL_TERMS = sorted({t for kind in ("acts", "modes", "consent", "risk") for t in VOCAB.terms(kind)})
PATH_GRAMMAR = re.compile(r"[a-z_]+(?:\.[a-z_]+|\[(?:0|[1-9][0-9]*)\])*")

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies ----------------------------------------------------------------------

# Printable text in any script: no control characters (except \t, \n), no surrogates.
text_chars = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n")
short_text = st.text(text_chars, min_size=1, max_size=30)
title_text = short_text.filter(lambda s: s.strip() != "")


@st.composite
def dates(draw: st.DrawFn) -> str:
    day = draw(st.dates())
    return day.isoformat()[: draw(st.sampled_from([4, 7, 10]))]


def terms(kind: str) -> st.SearchStrategy[str]:
    return st.sampled_from(VOCAB.terms(kind))  # type: ignore[arg-type]


cooperation = st.fixed_dictionaries(
    {"mechanism": terms("mechanisms"), "mode": terms("modes")},
    optional={"body": short_text, "date": dates()},
)
perpetrator = st.fixed_dictionaries(
    {"type": terms("perpetrator_types")}, optional={"name": short_text}
)
victim = st.fixed_dictionaries(
    {"kind": terms("victim_kinds")},
    optional={
        "name": short_text,
        "aliases": st.lists(short_text, min_size=1, max_size=3),
        "contact": short_text,
        "organisation": short_text,
    },
)
long_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\r"),
    min_size=1,
    max_size=200,
)
valid_cases = st.fixed_dictionaries(
    {
        "title": title_text,
        "incident_date": dates(),
        "country": st.sampled_from(COUNTRIES),
        "cooperation": st.lists(cooperation, min_size=1, max_size=3),
        "acts": st.lists(terms("acts"), min_size=1, max_size=5, unique=True),
        "victims": st.lists(victim, min_size=1, max_size=3),
        "consent": terms("consent"),
        "risk": terms("risk"),
    },
    optional={
        "location": short_text,
        "perpetrators": st.lists(perpetrator, min_size=1, max_size=3),
        "narrative": long_text,
        "public_summary": long_text,
    },
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.text(st.characters(categories=["Cs", "Cc"]), max_size=3)
    | st.sampled_from(ALL_TERMS + COUNTRIES + ["2026", "2026-13", "2026-02-30", "XX", ""])
)
keys = st.sampled_from([*SCHEMA_KEYS, "nickname"]) | st.text(max_size=6)
json_ish = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


@st.composite
def mutated_cases(draw: st.DrawFn) -> dict[str, Any]:
    """A valid case with one value, anywhere in it, replaced by anything."""
    case: dict[str, Any] = draw(valid_cases)
    container: Any = case
    while True:
        slots = list(container) if isinstance(container, dict) else list(range(len(container)))
        slot = draw(st.sampled_from(slots))
        child = container[slot]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            container = child
            continue
        container[slot] = draw(json_ish)
        return case


# --- nothing but InvalidCase ---------------------------------------------------------


def only_invalid_case(data: bytes, source_name: str) -> None:
    try:
        result = parse_case_bytes(data, source_name=source_name, partial=True)
    except InvalidCase as err:
        assert err.message and "\n" not in err.message
        assert err.__context__ is None or err.field != "file"
    else:
        assert isinstance(result, dict)


@relaxed
@given(st.binary(max_size=400), st.sampled_from(["case.yaml", "case.json", "case"]))
def test_arbitrary_bytes_raise_only_invalid_case(data: bytes, source_name: str) -> None:
    only_invalid_case(data, source_name)


yaml_alphabet = st.sampled_from(
    [*SCHEMA_KEYS, *ALL_TERMS[:10], ":", ": ", "\n", "  ", "- ", "[", "]", "{", "}", ",", "&a",
     "*a", "!!", "!", "#", "'", '"', "|", ">", "---", "...", "?", "<<", "%YAML 1.1", "\t",
     "2026-03", "12:30", "0x1F", "1e3", ".nan", "~", "yes", "\\", "\\u", "\\x", "\ufeff", "é"]
)  # fmt: skip


@relaxed
@given(st.lists(yaml_alphabet, max_size=60).map("".join))
def test_yamlish_text_raises_only_invalid_case(text: str) -> None:
    only_invalid_case(text.encode("utf-8"), "case.yaml")


@relaxed
@given(json_ish)
def test_arbitrary_structures_raise_only_invalid_case(raw: Any) -> None:
    for partial in (False, True):
        with contextlib.suppress(InvalidCase):
            validate_case(raw, partial=partial)
    only_invalid_case(json.dumps(raw).encode("utf-8"), "case.json")
    try:
        dumped = yaml.safe_dump(raw, allow_unicode=True)
    except yaml.YAMLError:
        return  # lone surrogates and friends cannot be written as YAML at all
    only_invalid_case(dumped.encode("utf-8", "surrogatepass"), "case.yaml")


@relaxed
@given(mutated_cases())
def test_almost_valid_cases_raise_only_invalid_case(raw: dict[str, Any]) -> None:
    for partial in (False, True):
        try:
            case = validate_case(raw, partial=partial)
        except InvalidCase:
            continue
        assert validate_case(case, partial=partial) == case


# --- valid cases round-trip ----------------------------------------------------------


@relaxed
@given(valid_cases)
def test_valid_cases_round_trip(raw: dict[str, Any]) -> None:
    case = validate_case(raw)
    assert case == raw  # generated cases are already normal
    assert list(case) == [spec.name for spec in CASE_FIELDS if spec.name in raw]
    assert validate_case(case) == case

    as_json = json.dumps(case, ensure_ascii=False).encode("utf-8")
    assert parse_case_bytes(as_json, source_name="case.json") == case
    as_yaml = yaml.safe_dump(case, allow_unicode=True, sort_keys=False).encode("utf-8")
    assert parse_case_bytes(as_yaml, source_name="case.yaml") == case

    encoded = canonical_json(case)
    assert json.loads(encoded.decode("utf-8")) == case
    assert canonical_json(json.loads(encoded)) == encoded

    fields = iter_fields(case)
    assert all(PATH_GRAMMAR.fullmatch(path) for path, _ in fields)
    assert len({path for path, _ in fields}) == len(fields)
    assert all(isinstance(value, str) for _, value in fields)
    leaves = {value for path, value in fields if is_sensitive(path)}
    assert set(sensitive_values(case)) == leaves


@relaxed
@given(valid_cases, st.sampled_from(["country", "incident_date", "consent", "risk", "acts"]),
       st.text(text_chars, min_size=2, max_size=20).map(lambda s: f"{s} {s}"))  # fmt: skip
def test_errors_do_not_echo_values_that_are_not_term_shaped(
    raw: dict[str, Any], field: str, canary: str
) -> None:
    raw[field] = [canary] if field == "acts" else canary
    try:
        validate_case(raw)
    except InvalidCase as err:
        assert canary not in err.message
        assert canary not in (err.hint or "")
    else:  # with a space in it, it is no term, code or date
        raise AssertionError("a value with a space was accepted")


# --- canonical JSON ------------------------------------------------------------------

canonical_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def rebuilt_in_reverse(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rebuilt_in_reverse(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [rebuilt_in_reverse(v) for v in value]
    return value


@given(canonical_values)
def test_canonical_json_is_deterministic(value: Any) -> None:
    encoded = canonical_json(value)
    assert canonical_json(rebuilt_in_reverse(value)) == encoded
    decoded = json.loads(encoded.decode("utf-8"))
    assert decoded == value
    assert canonical_json(decoded) == encoded
    assert b"\n" not in encoded  # json escapes every control character


@given(canonical_values, st.floats(allow_nan=True, allow_infinity=True))
def test_canonical_json_rejects_floats_anywhere(value: Any, number: float) -> None:
    for poisoned in ([value, number], {"k": [number]}, number):
        try:
            canonical_json(poisoned)
        except TypeError:
            continue
        raise AssertionError("a float was encoded")
