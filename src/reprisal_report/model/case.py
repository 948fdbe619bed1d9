"""The case record: schema, strict validation, the case-file reader, field paths.

A case record is a plain ``dict`` of JSON values. :func:`validate_case` is the only
way one is made from outside input; it returns the *normalised* form every other
package relies on:

- keys in schema order (``CASE_FIELDS``), absent optional fields omitted;
- an optional field given as ``null``, ``""`` or ``[]`` counts as absent;
- every leaf is a ``str``: dates as written (``YYYY``, ``YYYY-MM``,
  ``YYYY-MM-DD``), the country upper-cased, vocabulary terms as in the vocabulary;
- text is never trimmed or Unicode-normalised, so it round-trips byte for byte.

Error messages name the field (``victims[0].kind: unknown term 'foo'``) and never
echo a value from the case, except a vocabulary term or country code, and then only
when it looks like one (short, no spaces), because a value typed into the wrong
field may be a name.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from reprisal_report.errors import InvalidCase
from reprisal_report.model.vocabulary import VocabKind, load_vocabulary

TITLE_MAX: Final = 300
SHORT_TEXT_MAX: Final = 500
LONG_TEXT_MAX: Final = 100_000
MAX_CASE_FILE_BYTES: Final = 1 << 20  # 1 MiB; a real case file is a few KiB
MAX_YAML_DEPTH: Final = 16  # a case nests 5 deep (victims[0].aliases[0])

Shape = Literal["text", "date", "country", "term", "term_list", "text_list", "records"]
Scalar = str | int | bool | None


@dataclass(frozen=True)
class FieldSpec:
    """One key of the case record (or of a record nested in a list)."""

    name: str
    shape: Shape
    required: bool = False  # lists: present *and* non-empty
    vocab: VocabKind | None = None  # for "term" and "term_list"
    max_length: int = SHORT_TEXT_MAX  # for text, in code points
    multiline: bool = False  # also allows "\r" (text pasted from Windows)
    sensitive: bool = False  # never leaves the vault unredacted
    fields: tuple[FieldSpec, ...] = ()  # for "records"


# The schema of docs/cli.md ("Case file"). Nested rules: a cooperation entry needs
# its mechanism and mode (body and date are often unknown); a perpetrator needs a
# type (the name is often unknown); a victim needs a kind only, because reporters
# may deliberately leave a victim unnamed.
CASE_FIELDS: Final[tuple[FieldSpec, ...]] = (
    FieldSpec("title", "text", required=True, max_length=TITLE_MAX),
    FieldSpec("incident_date", "date", required=True),
    FieldSpec("country", "country", required=True),
    FieldSpec("location", "text", sensitive=True),
    FieldSpec(
        "cooperation",
        "records",
        required=True,
        fields=(
            FieldSpec("mechanism", "term", required=True, vocab="mechanisms"),
            FieldSpec("body", "text"),
            FieldSpec("mode", "term", required=True, vocab="modes"),
            FieldSpec("date", "date"),
        ),
    ),
    FieldSpec("acts", "term_list", required=True, vocab="acts"),
    FieldSpec(
        "perpetrators",
        "records",
        fields=(
            FieldSpec("type", "term", required=True, vocab="perpetrator_types"),
            FieldSpec("name", "text", sensitive=True),
        ),
    ),
    FieldSpec(
        "victims",
        "records",
        required=True,
        fields=(
            FieldSpec("name", "text", sensitive=True),
            FieldSpec("aliases", "text_list", sensitive=True),
            FieldSpec("kind", "term", required=True, vocab="victim_kinds"),
            FieldSpec("contact", "text", sensitive=True),
            FieldSpec("organisation", "text", sensitive=True),
        ),
    ),
    FieldSpec("narrative", "text", max_length=LONG_TEXT_MAX, multiline=True, sensitive=True),
    FieldSpec("public_summary", "text", max_length=LONG_TEXT_MAX, multiline=True),
    FieldSpec("consent", "term", required=True, vocab="consent"),
    FieldSpec("risk", "term", required=True, vocab="risk"),
)

REQUIRED: Final[tuple[str, ...]] = tuple(f.name for f in CASE_FIELDS if f.required)


def _sensitive_patterns(specs: Sequence[FieldSpec], prefix: str) -> list[str]:
    out: list[str] = []
    for spec in specs:
        path = f"{prefix}{spec.name}"
        if spec.sensitive:
            out.append(path)
        out.extend(_sensitive_patterns(spec.fields, f"{path}[]."))
    return out


# Path patterns ("victims[].name"): a field path matches after its indices are
# blanked (see path_pattern); a pattern also covers everything beneath it.
SENSITIVE_FIELDS: Final[tuple[str, ...]] = tuple(_sensitive_patterns(CASE_FIELDS, ""))

# --- validation --------------------------------------------------------------------

# C0 controls except \t and \n, DEL, C1 controls (0x9b is a one-byte CSI in some
# terminals), and lone surrogates (json accepts "\ud800"; UTF-8 cannot hold it).
_BAD_CHAR: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_CHAR_MULTILINE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_DATE: Final = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_ALPHA2: Final = re.compile(r"[A-Za-z]{2}")
# Values this tame may be repeated in a message: they look like a term or a key.
_ECHO_SAFE: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")


def validate_case(raw: object, *, partial: bool = False) -> dict[str, Any]:
    """Check ``raw`` against the schema and return its normalised form.

    ``partial=True`` (drafts) skips the "required" checks, at every level, but
    validates every field that is present. Raises :class:`InvalidCase`.
    """
    if not isinstance(raw, dict):
        raise InvalidCase("case", f"expected a mapping, got {_describe(raw)}")
    return _validate_record(raw, CASE_FIELDS, "", partial)


def _validate_record(
    raw: dict[Any, Any], specs: Sequence[FieldSpec], prefix: str, partial: bool
) -> dict[str, Any]:
    names = [spec.name for spec in specs]
    for key in raw:
        if not isinstance(key, str):
            raise InvalidCase(prefix or "case", f"keys must be text, got {_describe(key)}")
        if key not in names:
            if _ECHO_SAFE.fullmatch(key):
                hint = _did_you_mean(key, names) or f"valid keys: {', '.join(names)}"
                raise InvalidCase(_join(prefix, key), "unknown key", hint)
            raise InvalidCase(prefix or "case", "unknown key", f"valid keys: {', '.join(names)}")
    out: dict[str, Any] = {}
    for spec in specs:
        path = _join(prefix, spec.name)
        value = _validate_value(spec, raw.get(spec.name), path, partial)
        if value is None:
            if spec.required and not partial:
                problem = (
                    "at least one entry is required"
                    if spec.shape in ("records", "term_list", "text_list")
                    else "required field is missing"
                )
                raise InvalidCase(path, problem)
            continue
        out[spec.name] = value
    return out


def _validate_value(spec: FieldSpec, value: object, path: str, partial: bool) -> Any:
    """The normalised value, or None when the field counts as absent."""
    if value is None:
        return None
    if spec.shape in ("records", "term_list", "text_list"):
        if not isinstance(value, list):
            raise InvalidCase(path, f"expected a list, got {_describe(value)}", _LIST_HINT)
        if not value:
            return None
        if spec.shape == "records":
            return [
                _validate_item(item, spec, f"{path}[{i}]", partial) for i, item in enumerate(value)
            ]
        if spec.shape == "term_list":
            return _validate_term_list(value, spec, path)
        return [_validate_list_text(item, spec, f"{path}[{i}]") for i, item in enumerate(value)]
    if spec.shape == "date" and isinstance(value, int) and not isinstance(value, bool):
        # YAML reads "incident_date: 2026" as a number; a bare year is fine.
        if not 0 < value < 10_000:
            raise InvalidCase(path, "not a date", _DATE_HINT)
        value = str(value)
    if not isinstance(value, str):
        expected, hint = _EXPECTED[spec.shape]
        if spec.shape == "text" and not isinstance(value, (bool, int, float)):
            hint = None
        raise InvalidCase(path, f"expected {expected}, got {_describe(value)}", hint)
    if value == "":
        return None
    if spec.shape == "text":
        _check_text(value, spec, path)
        if spec.required and not value.strip():
            raise InvalidCase(path, "must not be blank")
        return value
    if spec.shape == "date":
        return _check_date(value, path)
    if spec.shape == "country":
        return _check_country(value, path)
    if spec.vocab is None:  # a schema bug, not bad input
        raise TypeError(f"field {spec.name} has no vocabulary")
    return _check_term(value, spec.vocab, path)


_LIST_HINT: Final = "write a list, for example [a, b] or one '- item' per line"
_QUOTE_HINT: Final = "put the value in quotes"
_DATE_HINT: Final = "use YYYY, YYYY-MM or YYYY-MM-DD"
_COUNTRY_HINT: Final = "two letters, for example BI or CO"
# What a scalar field wants, in words, and a hint for when it got something else.
_EXPECTED: Final[dict[str, tuple[str, str | None]]] = {
    "text": ("text", _QUOTE_HINT),
    "date": ("a date", _DATE_HINT),
    "country": ("a country code", _COUNTRY_HINT),
    "term": ("a term", None),
}


def _validate_item(item: object, spec: FieldSpec, path: str, partial: bool) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidCase(path, f"expected a mapping, got {_describe(item)}")
    return _validate_record(item, spec.fields, path, partial)


def _validate_term_list(items: list[Any], spec: FieldSpec, path: str) -> list[str]:
    if spec.vocab is None:
        raise TypeError(f"field {spec.name} has no vocabulary")
    out: list[str] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        if not isinstance(item, str):
            raise InvalidCase(item_path, f"expected a term, got {_describe(item)}")
        term = _check_term(item, spec.vocab, item_path)
        if term in out:
            raise InvalidCase(item_path, f"duplicate term '{term}'")
        out.append(term)
    return out


def _validate_list_text(item: object, spec: FieldSpec, path: str) -> str:
    if not isinstance(item, str):
        hint = _QUOTE_HINT if isinstance(item, (bool, int, float)) else None
        raise InvalidCase(path, f"expected text, got {_describe(item)}", hint)
    if item == "":
        raise InvalidCase(path, "must not be empty")
    _check_text(item, spec, path)
    return item


def _check_text(value: str, spec: FieldSpec, path: str) -> None:
    bad = (_BAD_CHAR_MULTILINE if spec.multiline else _BAD_CHAR).search(value)
    if bad is not None:
        code = ord(bad.group())
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidCase(path, "is not valid unicode text")
        raise InvalidCase(path, f"contains a control character (U+{code:04X})")
    if len(value) > spec.max_length:
        raise InvalidCase(path, f"too long (at most {spec.max_length} characters)")


def _check_date(value: str, path: str) -> str:
    match = _DATE.fullmatch(value)
    if match is None:
        raise InvalidCase(path, "not a date", _DATE_HINT)
    year, month, day = (int(part) if part else 1 for part in match.groups())
    if not _is_calendar_date(year, month, day):
        raise InvalidCase(path, "not a real calendar date")
    return value


def _is_calendar_date(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _check_country(value: str, path: str) -> str:
    import pycountry  # slow to import; only case validation needs it

    if _ALPHA2.fullmatch(value) is None:
        hint = _COUNTRY_HINT
        try:
            found = pycountry.countries.lookup(value)
        except LookupError:
            pass
        else:
            hint = f"did you mean {found.alpha_2}?"
        raise InvalidCase(path, "expected an ISO 3166-1 alpha-2 code", hint)
    code = value.upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise InvalidCase(path, f"unknown ISO 3166-1 alpha-2 code '{code}'")
    return code


def _check_term(value: str, kind: VocabKind, path: str) -> str:
    vocab = load_vocabulary()
    if vocab.has(kind, value):
        return value
    terms = vocab.terms(kind)
    listing = ", ".join(terms[:6]) + (f", … ({len(terms)} in all)" if len(terms) > 6 else "")
    if _ECHO_SAFE.fullmatch(value):
        hint = _did_you_mean(value, terms) or f"valid terms: {listing}"
        raise InvalidCase(path, f"unknown term '{value}'", hint)
    raise InvalidCase(path, "unknown term", f"valid terms: {listing}")


def _did_you_mean(value: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'?" if close else None


def _describe(value: object) -> str:
    """A value's type in words; never the value itself."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return "an unsupported value"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# --- the case-file reader ---------------------------------------------------------


class _Refused(Exception):
    """The reader refuses the file; the message is user-facing and content-free."""


_TAG = "tag:yaml.org,2002:"
# YAML 1.1 turns NO (Norway), yes, on, 0755, 12:30 and 2026-03-01 into booleans,
# octal, sexagesimal numbers and dates; "=" and "<<" are special too. The case
# reader keeps only null plus YAML 1.2-style true/false, decimal integers and
# plain floats; everything else stays text.
_KEPT_RESOLVERS: Final = {f"{_TAG}null"}


class _CaseYamlLoader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases, tags, merge keys or duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = f" (line {event.start_mark.line + 1})"
        # Refusing anchors and aliases outright rules out "billion laughs" bombs.
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(f"anchors and aliases are not allowed{line}")
        if getattr(event, "tag", None) is not None:
            raise _Refused(f"tags are not allowed{line}")
        if self._depth >= MAX_YAML_DEPTH:
            raise _Refused(f"nested too deeply{line}")
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        # PyYAML keeps the last of two equal keys; in a case file that silently
        # drops data, so refuse. Keys that matter are plain text scalars.
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == f"{_TAG}str":
                if key_node.value in seen:
                    name = _echo_key(key_node.value)
                    line = key_node.start_mark.line + 1
                    raise _Refused(f"duplicate key {name} (line {line})")
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_CaseYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _KEPT_RESOLVERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Each pattern matches a subset of what PyYAML's own resolver matches, so anything
# yaml.safe_dump writes reads back unchanged.
_CaseYamlLoader.add_implicit_resolver(
    f"{_TAG}bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), list("tTfF")
)
_CaseYamlLoader.add_implicit_resolver(
    f"{_TAG}int", re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z"), list("-+0123456789")
)
_CaseYamlLoader.add_implicit_resolver(
    f"{_TAG}float",
    re.compile(
        r"(?:[-+]?[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?\Z"
        r"|[-+]?\.(?:inf|Inf|INF)\Z|\.(?:nan|NaN|NAN)\Z"
    ),
    list("-+0123456789."),
)


def parse_case_bytes(data: bytes, *, source_name: str, partial: bool = False) -> dict[str, Any]:
    """Read a case file (UTF-8 YAML or JSON) and validate it.

    JSON when ``source_name`` ends in ``.json`` or the text starts with ``{``,
    YAML otherwise. Raises :class:`InvalidCase` naming ``file`` for anything
    wrong with the file as a whole, or the offending field.
    """
    if len(data) > MAX_CASE_FILE_BYTES:
        raise InvalidCase("file", "too large (at most 1 MiB)")
    raw, problem, hint = _load(data, source_name)
    # Raised outside the except blocks on purpose: parser exceptions quote the
    # input (YAML marks carry a snippet), and must not ride along as __context__.
    if problem is not None:
        raise InvalidCase("file", problem, hint)
    if raw is None:
        raise InvalidCase("file", "is empty")
    if not isinstance(raw, dict):
        raise InvalidCase("file", f"top level must be a mapping, got {_describe(raw)}")
    return validate_case(raw, partial=partial)


def _load(data: bytes, source_name: str) -> tuple[object, str | None, str | None]:
    """(parsed value, problem, hint); problem is None on success."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8", None
    text = text.removeprefix("\ufeff")  # editors on Windows like to add one
    as_json = source_name.lower().endswith(".json") or text.lstrip()[:1] == "{"
    try:
        if as_json:
            return _load_json(text), None, None
        return yaml.load(text, Loader=_CaseYamlLoader), None, None  # noqa: S506 (SafeLoader subclass)
    except _Refused as exc:
        return None, str(exc), None
    except json.JSONDecodeError as exc:
        reason = _scrub(exc.msg[:1].lower() + exc.msg[1:])
        return None, f"not valid JSON: {reason} (line {exc.lineno}, column {exc.colno})", None
    except yaml.YAMLError as exc:
        return None, *_yaml_problem(exc)
    except RecursionError:
        return None, "nested too deeply", None
    except ValueError:
        # int() refuses numbers over 4300 digits; nothing else raises it here.
        return None, f"not valid {'JSON' if as_json else 'YAML'}: number too long", None


def _load_json(text: str) -> object:
    return json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Refused(f"duplicate key {_echo_key(key)}")
        obj[key] = value
    return obj


def _json_constant(name: str) -> object:
    raise _Refused("not valid JSON: NaN and Infinity are not allowed")


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, str | None]:
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        return f"not valid YAML: character U+{code:04X} is not allowed", None
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "syntax error"
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        hint = "indent with spaces: YAML does not allow tabs" if "'\\t'" in problem else None
        return f"not valid YAML: {_scrub(problem)}{where}", hint
    return "not valid YAML", None


# Quoted bits of parser messages may be input; keep only token names like
# '<scalar>' or a single punctuation character.
_QUOTED: Final = re.compile(r"'[^']*'|\"[^\"]*\"")
_TOKENISH: Final = re.compile(r"""['"](?:<[a-z ]{1,30}>|[-?:,\[\]{}#&*!|>%@`'"])['"]""")


def _scrub(message: str) -> str:
    def keep_tokens(match: re.Match[str]) -> str:
        return match.group() if _TOKENISH.fullmatch(match.group()) else "…"

    one_line = " ".join(_QUOTED.sub(keep_tokens, message).split())
    return one_line if len(one_line) <= 120 else one_line[:119] + "…"


def _echo_key(key: str) -> str:
    return f"'{key}'" if _ECHO_SAFE.fullmatch(key) else "(not shown)"


# --- field paths -------------------------------------------------------------------


def iter_fields(case: Mapping[str, Any]) -> list[tuple[str, Scalar]]:
    """The leaf fields of a validated case, with stable paths, in schema order.

    Path grammar (ABNF)::

        path  = name *( "." name / "[" index "]" )
        name  = 1*( %x61-7A / "_" )         ; a schema key: a-z and "_"
        index = "0" / ( %x31-39 *DIGIT )    ; list position, decimal, from 0

    for example ``title``, ``acts[1]``, ``victims[0].aliases[1]``. A leaf is any
    value that is not a list or mapping (in a normalised case, always a ``str``);
    empty lists and mappings contribute nothing. The order follows ``CASE_FIELDS``,
    not the dict's own order, so a case read back from canonical JSON (sorted keys)
    yields the same list. Keys outside the schema raise ``ValueError``: skipping
    them would leave data uncommitted.
    """
    out: list[tuple[str, Scalar]] = []
    _walk_record(case, CASE_FIELDS, "", out)
    return out


def _walk_record(
    record: Mapping[str, Any],
    specs: Sequence[FieldSpec],
    prefix: str,
    out: list[tuple[str, Scalar]],
) -> None:
    names = {spec.name for spec in specs}
    if not all(key in names for key in record):
        raise ValueError(f"iter_fields: {prefix or 'case'} has keys outside the schema")
    for spec in specs:
        if spec.name in record:
            _walk_value(record[spec.name], spec, _join(prefix, spec.name), out)


def _walk_value(value: Any, spec: FieldSpec, path: str, out: list[tuple[str, Scalar]]) -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk_value(item, spec, f"{path}[{i}]", out)
    elif isinstance(value, Mapping):
        _walk_record(value, spec.fields, path, out)
    else:
        out.append((path, value))


_INDEX: Final = re.compile(r"\[[0-9]+\]")


def path_pattern(path: str) -> str:
    """``victims[0].aliases[1]`` -> ``victims[].aliases[]`` (the SENSITIVE_FIELDS form)."""
    return _INDEX.sub("[]", path)


def is_sensitive(path: str) -> bool:
    """Whether a field path (from :func:`iter_fields`) holds a sensitive value."""
    pattern = path_pattern(path)
    return any(pattern == s or pattern.startswith((f"{s}[", f"{s}.")) for s in SENSITIVE_FIELDS)


def sensitive_values(case: Mapping[str, Any]) -> list[str]:
    """Every non-empty sensitive string in a case (aliases one by one), deduplicated."""
    found: dict[str, None] = {}
    for path, value in iter_fields(case):
        if isinstance(value, str) and value and is_sensitive(path):
            found.setdefault(value)
    return list(found)


# --- small views -------------------------------------------------------------------


def case_title(case: Mapping[str, Any]) -> str:
    """The title, or a placeholder for a draft that has none yet."""
    title = case.get("title")
    return title if isinstance(title, str) and title else "(untitled)"


def case_summary_row(case: Mapping[str, Any]) -> dict[str, str | None]:
    """The id-free columns of a case listing; absent fields are None."""
    return {
        key: (value if isinstance(value := case.get(key), str) else None)
        for key in ("title", "country", "incident_date", "risk", "consent")
    }
