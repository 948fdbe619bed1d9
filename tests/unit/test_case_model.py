"""Unit tests for the case model: vocabulary, validation, the case-file reader,
canonical JSON and field paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reprisal_report.errors import ExitCode, InvalidCase
from reprisal_report.model.canonical import canonical_json
from reprisal_report.model.case import (
    CASE_FIELDS,
    MAX_CASE_FILE_BYTES,
    REQUIRED,
    SENSITIVE_FIELDS,
    case_summary_row,
    case_title,
    is_sensitive,
    iter_fields,
    parse_case_bytes,
    path_pattern,
    sensitive_values,
    validate_case,
)
from reprisal_report.model.vocabulary import VOCAB_KINDS, label, load_vocabulary

DATA = Path(__file__).resolve().parent.parent / "data"

# Copied by hand from CLI.md ("Case file"), in the order written there. If
# this and v1.json disagree, one of them is wrong.
CLI_MD_TERMS: dict[str, list[str]] = {
    "mechanisms": [
        "treaty_body", "special_procedures", "upr", "hrc_session", "ohchr_field",
        "un_country_team", "peace_operation", "security_council", "general_assembly",
        "ngo_committee", "other",
    ],
    "modes": [
        "testimony", "submission", "communication", "briefing", "attendance", "attempted",
        "perceived",
    ],
    "acts": [
        "threat", "death_threat", "intimidation", "harassment", "surveillance",
        "online_attack", "hacking", "smear_campaign", "stigmatisation", "hate_speech",
        "censorship", "travel_ban", "passport_confiscation", "denied_accreditation",
        "arbitrary_arrest", "arbitrary_detention", "house_arrest", "judicial_harassment",
        "criminal_charges", "prison_sentence", "ill_treatment", "torture",
        "enforced_disappearance", "killing", "attack_on_family", "dismissal", "disbarment",
        "asset_freeze", "raid", "property_seizure", "ngo_deregistration",
        "restrictive_legislation", "deportation", "other",
    ],
    "perpetrator_types": [
        "state_security", "police", "military", "judiciary", "executive", "legislature",
        "state_media", "pro_government_group", "non_state_armed_group", "private_individual",
        "corporation", "unknown",
    ],
    "victim_kinds": [
        "human_rights_defender", "lawyer", "journalist", "family_member", "ngo", "witness",
        "community", "other",
    ],
    "consent": [
        "none", "internal_only", "share_un_confidential", "publish_anonymised", "publish_named",
    ],
    "risk": ["low", "medium", "high", "critical"],
}  # fmt: skip


def minimal_case(**overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "title": "Travel ban",
        "incident_date": "2026-03",
        "country": "BI",
        "cooperation": [{"mechanism": "treaty_body", "mode": "briefing"}],
        "acts": ["travel_ban"],
        "victims": [{"kind": "human_rights_defender"}],
        "consent": "internal_only",
        "risk": "high",
    }
    case.update(overrides)
    return case


def example_bytes() -> bytes:
    return (DATA / "case-example.yaml").read_bytes()


def error_of(data: bytes | str, source_name: str = "case.yaml", **kw: Any) -> InvalidCase:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(InvalidCase) as info:
        parse_case_bytes(raw, source_name=source_name, **kw)
    return info.value


# --- vocabulary ----------------------------------------------------------------------


def test_vocabulary_matches_cli_md_exactly_and_in_order() -> None:
    vocab = load_vocabulary()
    assert set(CLI_MD_TERMS) == set(VOCAB_KINDS)
    for kind, terms in CLI_MD_TERMS.items():
        assert list(vocab.terms(kind)) == terms, kind  # type: ignore[arg-type]


def test_vocabulary_file_shape() -> None:
    path = Path(__file__).resolve().parents[2] / "src/reprisal_report/model/vocab/v1.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert "_note" in data
    # HURIDOCS keys: see tests/unit/test_vocabulary_huridocs.py.
    mapped = {"label", "huridocs", "huridocs_reason", "huridocs_intent"}
    for term, info in data["acts"].items():
        assert {"label", "huridocs"} <= set(info) <= mapped, term
    for kind in VOCAB_KINDS:
        if kind in ("perpetrator_types", "victim_kinds"):
            required = {"term", "label", "huridocs"}
            assert all(required <= set(e) <= mapped | {"term"} for e in data[kind]), kind
        elif kind != "acts":
            assert all(set(entry) == {"term", "label"} for entry in data[kind]), kind


def test_every_term_has_a_label() -> None:
    vocab = load_vocabulary()
    for kind in VOCAB_KINDS:
        for term in vocab.terms(kind):
            assert vocab.label(kind, term).strip()
    assert label("acts", "travel_ban") == "Travel ban"
    with pytest.raises(KeyError):
        vocab.label("acts", "nope")


def test_consent_and_risk_are_ordered() -> None:
    vocab = load_vocabulary()
    consent = ["none", "internal_only", "share_un_confidential", "publish_anonymised",
               "publish_named"]  # fmt: skip
    assert [vocab.rank("consent", term) for term in consent] == [0, 1, 2, 3, 4]
    assert [vocab.rank("risk", t) for t in ("low", "medium", "high", "critical")] == [0, 1, 2, 3]
    with pytest.raises(KeyError):
        vocab.rank("risk", "extreme")


def test_load_vocabulary_is_cached() -> None:
    assert load_vocabulary() is load_vocabulary()


# --- the CLI.md example ----------------------------------------------------------------


def test_cli_md_example_parses() -> None:
    case = parse_case_bytes(example_bytes(), source_name="case-example.yaml")
    assert case == {
        "title": "Travel ban after briefing the Committee against Torture",
        "incident_date": "2026-03",
        "country": "BI",
        "location": "Bujumbura, Rohero",
        "cooperation": [
            {"mechanism": "treaty_body", "body": "CAT", "mode": "briefing", "date": "2026-02"}
        ],
        "acts": ["threat", "travel_ban"],
        "perpetrators": [{"type": "state_security", "name": "Colonel Example"}],
        "victims": [
            {
                "name": "Example Person",
                "aliases": ["EP"],
                "kind": "human_rights_defender",
                "contact": "+257 79 000 000",
                "organisation": "Example NGO",
            }
        ],
        "narrative": "What happened, in the reporter's words.\n",
        "public_summary": (
            "A defender was banned from travelling after briefing a UN committee.\n"
        ),
        "consent": "share_un_confidential",
        "risk": "medium",
    }
    assert list(case) == [spec.name for spec in CASE_FIELDS]


def test_example_as_json_gives_the_same_record() -> None:
    case = parse_case_bytes(example_bytes(), source_name="case-example.yaml")
    as_json = json.dumps(case, ensure_ascii=False).encode("utf-8")
    assert parse_case_bytes(as_json, source_name="case.json") == case
    # A leading "{" means JSON whatever the name says.
    assert parse_case_bytes(b"  \n" + as_json, source_name="case.txt") == case


def test_schema_constants() -> None:
    assert REQUIRED == (
        "title", "incident_date", "country", "cooperation", "acts", "victims", "consent", "risk"
    )  # fmt: skip
    assert set(SENSITIVE_FIELDS) == {
        "location", "narrative", "perpetrators[].name", "victims[].name",
        "victims[].aliases", "victims[].contact", "victims[].organisation",
    }  # fmt: skip


# --- Unicode round trip --------------------------------------------------------------

SCRIPTS = {
    "arabic": "حظر السفر بعد إحاطة لجنة مناهضة التعذيب",
    "chinese": "在向禁止酷刑委员会通报情况后被禁止出境",
    "cyrillic": "Запрет на выезд после брифинга Комитета против пыток",
    "emoji": "🧑🏽‍⚖️ 👨‍👩‍👧 🇧🇮 ✊🏿",
    "decomposed": "Se\u0301ne\u0301gal cafe\u0301",  # NFD must stay NFD
    "bidi": "\u202bمرحبا\u202c and \u200fRLM\u200e",
}


@pytest.mark.parametrize("text", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_any_script_round_trips_byte_for_byte(text: str) -> None:
    raw = minimal_case(
        title=text,
        location=text,
        narrative=f"{text}\r\n{text}\n\t{text}",
        victims=[{"name": text, "aliases": [text, text[:3]], "kind": "journalist"}],
    )
    case = validate_case(raw)
    back = json.loads(canonical_json(case).decode("utf-8"))
    assert back == case
    assert back["title"].encode("utf-8") == text.encode("utf-8")
    assert back["victims"][0]["name"] == text
    # ... and through the file readers, YAML and JSON.
    yaml_text = (
        f'title: "{text}"\nincident_date: 2026\ncountry: bi\n'
        f"cooperation: [{{mechanism: upr, mode: submission}}]\n"
        f"acts: [threat]\nvictims:\n  - kind: lawyer\n"
        f"    name: {json.dumps(text, ensure_ascii=False)}\n"
        f"narrative: |\n  {text}\n  {text}\nconsent: none\nrisk: low\n"
    )
    from_yaml = parse_case_bytes(yaml_text.encode("utf-8"), source_name="c.yaml")
    assert from_yaml["title"] == text
    assert from_yaml["victims"][0]["name"] == text
    assert from_yaml["narrative"] == f"{text}\n{text}\n"
    from_json = parse_case_bytes(json.dumps(raw).encode("ascii"), source_name="c.json")
    assert from_json == case


# --- failures name the field ---------------------------------------------------------

FULL = example_bytes().decode("utf-8")


def replace_line(prefix: str, new: str) -> str:
    lines = FULL.splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[idx] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("line", "replacement", "message"),
    [
        ("country:", "country: XX", "country: unknown ISO 3166-1 alpha-2 code 'XX'"),
        ("country:", "country: Burundi", "country: expected an ISO 3166-1 alpha-2 code"),
        ("country:", "country: BDI", "country: expected an ISO 3166-1 alpha-2 code"),
        ("incident_date:", "incident_date: 2026-13", "incident_date: not a real calendar date"),
        ("incident_date:", "incident_date: 2026-02-30", "incident_date: not a real calendar date"),
        ("incident_date:", "incident_date: 0000", "incident_date: not a real calendar date"),
        ("incident_date:", "incident_date: 2026-3", "incident_date: not a date"),
        ("incident_date:", "incident_date: 03/2026", "incident_date: not a date"),
        ("incident_date:", "incident_date: 26", "incident_date: not a date"),
        ("incident_date:", "incident_date: '２０２６'", "incident_date: not a date"),
        (
            "incident_date:",
            "incident_date: 2026.03",
            "incident_date: expected a date, got a number",
        ),
        ("    date:", "    date: 2026-02-29", "cooperation[0].date: not a real calendar date"),
        ("risk:", "risk: medium\nnickname: x", "nickname: unknown key"),
        ("acts:", "acts: [threat, tortue]", "acts[1]: unknown term 'tortue'"),
        ("acts:", "acts: [threat, threat]", "acts[1]: duplicate term 'threat'"),
        ("acts:", "acts: threat", "acts: expected a list, got text"),
        ("acts:", "acts: []", "acts: at least one entry is required"),
        ("    organisation:", "    organization: x", "victims[0].organization: unknown key"),
        ("    kind:", "    kind: hrd", "victims[0].kind: unknown term 'hrd'"),
        ("    mode:", "    mode: 7", "cooperation[0].mode: expected a term, got a number"),
        ("    aliases:", "    aliases: EP", "victims[0].aliases: expected a list, got text"),
        ("    aliases:", "    aliases: [EP, '']", "victims[0].aliases[1]: must not be empty"),
        (
            "    aliases:",
            "    aliases: [EP, 7]",
            "victims[0].aliases[1]: expected text, got a number",
        ),
        (
            "    name: Colonel",
            "  - name: Someone",
            "perpetrators[1].type: required field is missing",
        ),
        ("consent:", "consent: yes", "consent: unknown term 'yes'"),
        ("consent:", "consent: true", "consent: expected a term, got true/false"),
        ("risk:", "risk:", "risk: required field is missing"),
        ("title:", "title: 2026", "title: expected text, got a number"),
        ("title:", "title: '   '", "title: must not be blank"),
        ("title:", "title: " + "x" * 301, "title: too long (at most 300 characters)"),
        ("location:", "location: " + "x" * 501, "location: too long (at most 500 characters)"),
        ("location:", 'location: "a\\x1b[2Jb"', "location: contains a control character (U+001B)"),
        ("location:", 'location: "a\\rb"', "location: contains a control character (U+000D)"),
        ("location:", 'location: "a\\u009bb"', "location: contains a control character (U+009B)"),
        ("location:", 'location: "a\\0b"', "location: contains a control character (U+0000)"),
        ("victims:", "victims:\n  - just a name\nx_victims:", "x_victims: unknown key"),
    ],
)
def test_failures_name_the_field(line: str, replacement: str, message: str) -> None:
    err = error_of(replace_line(line, replacement))
    assert err.message == message
    assert err.exit_code == ExitCode.INVALID_INPUT


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"title: [unclosed\n", "file: not valid YAML"),
        (b"title: x\n\tfoo: y\n", "file: not valid YAML"),
        (b"title: x\ntitle: y\n", "file: duplicate key 'title' (line 2)"),
        (b'{"title": "x", "title": "y"}', "file: duplicate key 'title'"),
        (b'{"title": NaN}', "file: not valid JSON: NaN and Infinity are not allowed"),
        (b'{"title": }', "file: not valid JSON: expecting value (line 1, column 11)"),
        (b"\xff\xfetitle: x", "file: not valid UTF-8"),
        (b"title: \xe9t\xe9", "file: not valid UTF-8"),
        (b"", "file: is empty"),
        (b"# only a comment\n", "file: is empty"),
        (b"- title: x\n", "file: top level must be a mapping, got a list"),
        (b"just text\n", "file: top level must be a mapping, got text"),
        (b"a: &anchor x\nb: *anchor\n", "file: anchors and aliases are not allowed (line 1)"),
        (b"title: !!python/object/apply:os.system [id]\n", "file: tags are not allowed (line 1)"),
        (b"title: !!str x\n", "file: tags are not allowed (line 1)"),
        (b"title: ! x\n", "file: tags are not allowed (line 1)"),
        (b"--- {title: a}\n--- {title: b}\n", "file: not valid YAML"),
        (b"x: " + b"9" * 5000 + b"\n", "file: not valid YAML: number too long"),
        (b"[" * 100_000, "file: nested too deeply (line 1)"),
        (b'{"a":' * 100_000, "file: nested too deeply"),
        (b"title: x\x00\n", "file: not valid YAML: character U+0000 is not allowed"),
        (b"1: x\n", "case: keys must be text, got a number"),
        (b"<<: {title: x}\n", "case: unknown key"),
    ],
)
def test_file_level_failures(data: bytes, message: str) -> None:
    err = error_of(data)
    assert err.message.startswith(message), err.message
    assert "\n" not in err.message
    # Parser exceptions quote the input; none may ride along on the error.
    assert err.__context__ is None
    assert err.__cause__ is None


def test_size_limit() -> None:
    big = b"title: x\nnarrative: |\n  " + b"x" * MAX_CASE_FILE_BYTES
    assert error_of(big).message == "file: too large (at most 1 MiB)"


def test_bom_is_ignored() -> None:
    case = parse_case_bytes(b"\xef\xbb\xbf" + example_bytes(), source_name="case.yaml")
    assert case["country"] == "BI"


def test_yaml_1_1_surprises_stay_text() -> None:
    case = parse_case_bytes(
        FULL.replace("country: BI", "country: no")  # Norway, not false
        .replace('contact: "+257 79 000 000"', "contact: 0790000")  # not octal
        .replace("body: CAT", "body: 12:30")  # not sexagesimal 750
        .replace("name: Colonel Example", "name: on")  # not true
        .replace("incident_date: 2026-03", "incident_date: 2026-03-01")  # not a date object
        .encode(),
        source_name="c.yaml",
    )
    assert case["country"] == "NO"
    assert case["victims"][0]["contact"] == "0790000"
    assert case["cooperation"][0]["body"] == "12:30"
    assert case["perpetrators"][0]["name"] == "on"
    assert case["incident_date"] == "2026-03-01"


def test_year_only_dates_given_as_numbers() -> None:
    text = FULL.replace("incident_date: 2026-03", "incident_date: 2026")
    case = parse_case_bytes(text.encode(), source_name="c.yaml")
    assert case["incident_date"] == "2026"
    assert validate_case(minimal_case(incident_date=1999))["incident_date"] == "1999"
    with pytest.raises(InvalidCase, match="^incident_date: expected a date, got true/false$"):
        validate_case(minimal_case(incident_date=True))


def test_country_is_normalised_to_upper_case() -> None:
    assert validate_case(minimal_case(country="bi"))["country"] == "BI"
    assert validate_case(minimal_case(country="Co"))["country"] == "CO"


def test_errors_never_echo_sensitive_values() -> None:
    canary = "Canary Person Zq"
    for field in ("country", "incident_date", "consent", "risk"):
        with pytest.raises(InvalidCase) as info:
            validate_case(minimal_case(**{field: canary}))
        assert canary not in info.value.message
        assert canary not in (info.value.hint or "")
    with pytest.raises(InvalidCase) as info:
        validate_case(minimal_case(victims=[{"kind": canary}]))
    assert info.value.message == "victims[0].kind: unknown term"
    assert canary not in (info.value.hint or "")
    with pytest.raises(InvalidCase) as info:
        validate_case(minimal_case(**{canary: "x"}))
    assert canary not in info.value.message


def test_hints_suggest_fixes() -> None:
    assert error_of(FULL.replace("organisation:", "organization:")).hint == (
        "did you mean 'organisation'?"
    )
    assert error_of(FULL.replace("country: BI", "country: Burundi")).hint == "did you mean BI?"
    assert error_of(FULL.replace("title:", "title: 12 #")).hint == "put the value in quotes"
    hint = error_of(FULL.replace("acts: [threat", "acts: [zzz")).hint or ""
    assert hint.startswith("valid terms: threat, death_threat")
    assert "tabs" in (error_of(b"title: x\n\tfoo: y\n").hint or "")


# --- partial drafts ------------------------------------------------------------------


def test_partial_skips_required_checks_only() -> None:
    assert validate_case({}, partial=True) == {}
    assert validate_case({"title": "Draft"}, partial=True) == {"title": "Draft"}
    assert validate_case({"victims": [{"name": "X"}]}, partial=True) == {"victims": [{"name": "X"}]}
    assert validate_case({"acts": [], "risk": None}, partial=True) == {}
    with pytest.raises(InvalidCase, match="^country: unknown ISO 3166-1 alpha-2 code 'XX'$"):
        validate_case({"country": "XX"}, partial=True)
    with pytest.raises(InvalidCase, match="^victims\\[0\\].nick: unknown key$"):
        validate_case({"victims": [{"nick": "x"}]}, partial=True)
    with pytest.raises(InvalidCase, match="^incident_date: required field is missing$"):
        validate_case({"title": "Draft"})
    draft = parse_case_bytes(b"title: Draft\nacts: [raid]\n", source_name="d.yaml", partial=True)
    assert draft == {"title": "Draft", "acts": ["raid"]}


def test_required_fields_are_enforced_in_order() -> None:
    case = minimal_case()
    for name in REQUIRED:
        broken = {k: v for k, v in case.items() if k != name}
        with pytest.raises(InvalidCase) as info:
            validate_case(broken)
        assert info.value.field == name


def test_absent_optional_fields_are_omitted() -> None:
    case = validate_case(minimal_case(location="", perpetrators=[], narrative=None))
    assert "location" not in case
    assert "perpetrators" not in case
    assert "narrative" not in case
    assert validate_case(case) == case


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cooperation": {"mechanism": "upr"}}, "cooperation: expected a list, got a mapping"),
        ({"cooperation": ["upr"]}, "cooperation[0]: expected a mapping, got text"),
        ({"victims": [{"kind": "ngo", "aliases": ("a",)}]},
         "victims[0].aliases: expected a list, got an unsupported value"),
        ({"victims": [{"kind": "ngo", 3: "x"}]}, "victims[0]: keys must be text, got a number"),
        ({"victims": [{"kind": "ngo", "a b": "x"}]}, "victims[0]: unknown key"),
        ({"acts": [None]}, "acts[0]: expected a term, got nothing"),
        ({"title": b"x"}, "title: expected text, got binary data"),
        ({"narrative": "a\x7fb"}, "narrative: contains a control character (U+007F)"),
        ({"narrative": "x" * 100_001}, "narrative: too long (at most 100000 characters)"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_field(overrides: dict[Any, Any], message: str) -> None:
    with pytest.raises(InvalidCase) as info:
        validate_case(minimal_case(**overrides))
    assert info.value.message == message


def test_multiline_fields_allow_carriage_returns() -> None:
    text = "line one\r\nline two\r\n\ttabbed"
    case = validate_case(minimal_case(narrative=text, public_summary=text))
    assert case["narrative"] == text
    assert case["public_summary"] == text


def test_validate_case_rejects_non_mappings() -> None:
    raw: object
    for raw in (None, [], "x", 3, b"x"):
        with pytest.raises(InvalidCase) as info:
            validate_case(raw)
        assert info.value.field == "case"


# --- canonical JSON ------------------------------------------------------------------


def test_canonical_json_bytes() -> None:
    obj = {"b": [1, True, None, "é"], "a": {"y": "\n", "x": -(2**53 - 1)}, "A": "日本"}
    assert (
        canonical_json(obj)
        == ('{"A":"日本","a":{"x":-9007199254740991,"y":"\\n"},"b":[1,true,null,"é"]}').encode()
    )


def test_canonical_json_is_independent_of_insertion_order() -> None:
    case = validate_case(minimal_case())
    shuffled = dict(reversed(list(case.items())))
    assert canonical_json(case) == canonical_json(shuffled)


@pytest.mark.parametrize(
    "bad",
    [1.0, float("nan"), 2**53, -(2**53), (1, 2), {1: "x"}, b"x", {"a": [0.5]}, "\ud800",
     {"\udfff": 1}, {"a": {1, 2}}, ExitCode.OK],
)  # fmt: skip
def test_canonical_json_rejects(bad: object) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


def test_canonical_json_rejects_cycles_and_deep_nesting() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(TypeError):
        canonical_json(loop)
    deep: list[object] = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(TypeError):
        canonical_json(deep)


# --- field paths ---------------------------------------------------------------------


def test_iter_fields_paths() -> None:
    case = parse_case_bytes(example_bytes(), source_name="case-example.yaml")
    paths = [path for path, _ in iter_fields(case)]
    assert paths == [
        "title", "incident_date", "country", "location",
        "cooperation[0].mechanism", "cooperation[0].body", "cooperation[0].mode",
        "cooperation[0].date", "acts[0]", "acts[1]",
        "perpetrators[0].type", "perpetrators[0].name",
        "victims[0].name", "victims[0].aliases[0]", "victims[0].kind",
        "victims[0].contact", "victims[0].organisation",
        "narrative", "public_summary", "consent", "risk",
    ]  # fmt: skip
    # Same order for a record read back from canonical JSON (sorted keys).
    assert iter_fields(json.loads(canonical_json(case))) == iter_fields(case)


def test_iter_fields_refuses_keys_outside_the_schema() -> None:
    with pytest.raises(ValueError):
        iter_fields({**validate_case(minimal_case()), "extra": "x"})


def test_sensitive_paths_and_values() -> None:
    assert path_pattern("victims[10].aliases[2]") == "victims[].aliases[]"
    assert is_sensitive("victims[0].aliases[1]")
    assert is_sensitive("location")
    assert not is_sensitive("victims[0].kind")
    assert not is_sensitive("public_summary")
    assert not is_sensitive("locations")
    case = parse_case_bytes(example_bytes(), source_name="case-example.yaml")
    case["victims"].append({"kind": "other", "aliases": ["EP", "Zed"]})
    assert sensitive_values(case) == [
        "Bujumbura, Rohero", "Colonel Example", "Example Person", "EP", "+257 79 000 000",
        "Example NGO", "Zed", "What happened, in the reporter's words.\n",
    ]  # fmt: skip


def test_summary_helpers() -> None:
    case = validate_case(minimal_case())
    assert case_title(case) == "Travel ban"
    assert case_title({}) == "(untitled)"
    assert case_summary_row(case) == {
        "title": "Travel ban", "country": "BI", "incident_date": "2026-03",
        "risk": "high", "consent": "internal_only",
    }  # fmt: skip
    assert case_summary_row({})["risk"] is None
