"""The export writers' fast paths write exactly what the plain ways of writing them do:
indented JSON as ``json.dumps``, Markdown text and CSV cells as a walk over each
character's Unicode category."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report.redact import writers

_SCALARS = st.one_of(
    st.text(),
    st.integers(),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=30,
)


@given(_DOCS)
def test_json_is_json_dumps(doc: object) -> None:
    plain = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True)
    assert writers.json_bytes(doc) == plain.encode("utf-8") + b"\n"


_HEADERS = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key != "cases"), _DOCS, max_size=5
)
_CASES = st.lists(st.dictionaries(st.text(max_size=6), _DOCS, max_size=4), max_size=5)


@given(_HEADERS, _CASES)
def test_case_export_json_is_the_document_a_case_per_line(
    header: dict[str, object], cases: list[dict[str, object]]
) -> None:
    data = writers.cases_json(header, cases)
    assert json.loads(data) == json.loads(json.dumps({**header, "cases": cases}))
    assert data.endswith(b"\n")
    if cases:
        lines = data.decode("utf-8").split("\n")
        start = lines.index('  "cases": [')
        body = lines[start + 1 : start + 1 + len(cases)]
        assert [json.loads(line.strip().removesuffix(",")) for line in body] == json.loads(
            json.dumps(cases)
        )
        assert lines[start + 1 + len(cases)].startswith("  ]")


def test_case_export_json_refuses_a_header_with_cases() -> None:
    with pytest.raises(ValueError, match="no 'cases' key"):
        writers.cases_json({"cases": []}, [])


def _md_text(value: object) -> str:
    out: list[str] = []
    for char in str(value or ""):
        if char in "\r\n\t":
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif char in writers._MD_SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    return " ".join("".join(out).split())


def _cell(value: str) -> str:
    text = "".join(c for c in value if unicodedata.category(c) != "Cc" or c in "\n\t")
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@given(st.text())
def test_markdown_text_and_csv_cells_are_the_category_walk(text: str) -> None:
    assert writers.md_text(text) == _md_text(text)
    assert writers._cell(text) == _cell(text)
