"""vault.search on a real vault file: the query parser, the FTS5 expression it builds,
matching in every script, snippets, and the index after notes change (secure-delete).

Cases are put straight into the triage tables here; tests/integration/test_search.py
receives them through the real CLI."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report.errors import InvalidInput
from reprisal_report.vault import search
from reprisal_report.vault.store import Vault


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault.open(tmp_path / "vault.db", os.urandom(32)) as opened:
        yield opened


def put_case(vault: Vault, case_id: str, record: dict[str, object]) -> None:
    """A received case as the triage import leaves it, then indexed."""
    bundle_id = f"bundle-{case_id}"
    at = "2027-01-01T00:00:00Z"
    with vault.transaction() as conn:
        conn.execute(
            "INSERT INTO inbox_bundles(bundle_id, bundle_sha256, case_id, org_id, author_key_id,"
            " manifest, signature, record, salts, received_at)"
            " VALUES (?, ?, ?, 'org', 'key', x'', x'', ?, '{}', ?)",
            (bundle_id, bundle_id, case_id, json.dumps(record, ensure_ascii=False), at),
        )
        conn.execute(
            "INSERT INTO triage_cases(case_id, latest_bundle_id, title, country, status,"
            " first_received_at, received_at, updated_at)"
            " VALUES (?, ?, ?, 'BI', 'received', ?, ?, ?)",
            (case_id, bundle_id, str(record.get("title", "")), at, at, at),
        )
        search.reindex_case(vault, case_id)


def add_note(vault: Vault, case_id: str, text: str) -> int:
    with vault.transaction() as conn:
        seq = conn.execute(
            "INSERT INTO triage_notes(case_id, at, actor, text) VALUES (?, 'now', 'me', ?)",
            (case_id, text),
        ).lastrowid
        search.reindex_case(vault, case_id)
    return int(seq)


def found(vault: Vault, query: str) -> list[str]:
    return sorted(hit.case_id for hit in search.search(vault, query, limit=50))


RECORDS: dict[str, dict[str, object]] = {
    "latin": {
        "title": "Travel ban after briefing the Committee",
        "narrative": "Zoë Łukasiewicz was stopped at the airport in İstanbul by the police.",
        "public_summary": "A defender was banned from travelling.",
        "location": "Đorđe Vajferta street, Beograd",
        "victims": [
            {
                "name": "Zoë Łukasiewicz",
                "aliases": ["ZL", "Zosia"],
                "organisation": "Østergaard Foundation",
                "contact": "+257 79 123 456",
            }
        ],
        "perpetrators": [{"type": "police", "name": "Colonel Jean-Pierre O’Brien"}],
    },
    "turkish": {"title": "Detention", "narrative": "Held in ıstanbul for two days."},
    "cyrillic": {
        "title": "Слежка",
        "narrative": "Адвоката петров задержали.",
        "victims": [{"name": "Фёдор Петров"}],
    },
    "arabic_vowelled": {"title": "اعتقال", "narrative": "اُعْتُقِلَ مُحَمَّد أَحْمَد في المَدِينَة"},
    "arabic_plain": {
        "title": "تهديد",
        "narrative": "هدد محمد احمد فاطمة في مدرسة مصطفى",
        "victims": [{"name": "مســـؤول إبراهيم"}],
    },
    "chinese": {"title": "骚扰", "narrative": "他们威胁了保护人权捍卫者的律师王先生。"},
    "japanese": {"title": "監視", "narrative": "東京都のアムネスティ事務所が監視された。"},
    "torture": {"title": "Torture", "narrative": "Signs of torture; the torturers were known."},
}


@pytest.fixture
def cases(vault: Vault) -> Vault:
    for case_id, record in RECORDS.items():
        put_case(vault, case_id, record)
    return vault


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zoe", ["latin"]),
        ("ZOË", ["latin"]),
        ("lukasiewicz", ["latin"]),
        ("ostergaard", ["latin"]),
        ("østergaard", ["latin"]),
        ("dorde", ["latin"]),
        ("dorđe", ["latin"]),
        ("istanbul", ["latin", "turkish"]),
        ("İSTANBUL", ["latin", "turkish"]),
        ("ıstanbul", ["latin", "turkish"]),
        ("jean-pierre", ["latin"]),
        ('"jean pierre"', ["latin"]),
        ("o'brien", ["latin"]),
        ("zosia", ["latin"]),
        ("ПЕТРОВ", ["cyrillic"]),
        ("федор", ["cyrillic"]),
        ("محمد", ["arabic_plain", "arabic_vowelled"]),
        ("مُحَمَّد", ["arabic_plain", "arabic_vowelled"]),
        ("أحمد", ["arabic_plain", "arabic_vowelled"]),
        ("المدينة", ["arabic_vowelled"]),
        ("المدينه", ["arabic_vowelled"]),
        ("فاطمه", ["arabic_plain"]),
        ("مصطفي", ["arabic_plain"]),
        ("ابراهيم", ["arabic_plain"]),
        ("مسئول", []),  # a different spelling (hamza on ya, not waw): not folded
        ("مسؤول", ["arabic_plain"]),
        ("مسوول", ["arabic_plain"]),
        ("人权", ["chinese"]),
        ("捍卫者", ["chinese"]),
        ("王", ["chinese"]),
        ("王先生", ["chinese"]),
        ("アムネスティ", ["japanese"]),
        ("ｱﾑﾈｽﾃｨ", ["japanese"]),
        ("東京", ["japanese"]),
        ("監視", ["japanese"]),
        ("tortur*", ["torture"]),
        ("torturers", ["torture"]),
        ("luk*", ["latin"]),
        ('"travel ban"', ["latin"]),
        ('"ban travel"', []),
        ('"jean pi"*', ["latin"]),
        ("zoe AND police", ["latin"]),
        ("zoe police", ["latin"]),
        ("zoe AND torture", []),
        ("zoe OR torture", ["latin", "torture"]),
        ("istanbul NOT zoe", ["turkish"]),
        ("(zoe OR torture) AND police", ["latin"]),
        ("torture OR (istanbul NOT police)", ["torture", "turkish"]),
        ("and", []),  # lower-case operators are words
    ],
)
def test_search_finds_every_form(cases: Vault, query: str, expected: list[str]) -> None:
    assert found(cases, query) == expected


def test_contacts_and_other_record_fields_are_not_indexed(cases: Vault) -> None:
    assert found(cases, "123 456") == []
    assert found(cases, "257") == []
    assert found(cases, "received") == []  # the status column is not text of the case


def test_snippet_shows_the_original_words_around_the_hit(cases: Vault) -> None:
    (hit,) = search.search(cases, "istanbul police", limit=5)[:1]
    assert hit.case_id == "latin"
    assert hit.field == "narrative"
    assert "«İstanbul»" in hit.snippet and "«police»" in hit.snippet
    (arabic,) = [h for h in search.search(cases, "محمد", limit=5) if h.case_id.endswith("vowelled")]
    assert "«مُحَمَّد»" in arabic.snippet
    (chinese,) = search.search(cases, "人权", limit=5)
    assert "保护«人权»捍卫者" in chinese.snippet


def test_the_field_named_is_where_the_hit_is(cases: Vault) -> None:
    by_query = {
        "ostergaard": "organisations",
        "zosia": "victims",
        "beograd": "locations",
        "colonel": "perpetrators",
        "defender": "public_summary",
        "committee": "title",
    }
    for query, field in by_query.items():
        (hit,) = search.search(cases, query, limit=5)
        assert hit.field == field, query


def test_a_long_value_gives_a_bounded_snippet(vault: Vault) -> None:
    narrative = " ".join(["filler"] * 200 + ["Needle"] + ["filler"] * 200)
    put_case(vault, "long", {"title": "x", "narrative": narrative})
    (hit,) = search.search(vault, "needle", limit=5)
    assert "«Needle»" in hit.snippet
    assert len(hit.snippet) <= search.SNIPPET_CHARS + 2 * search._SLACK + 4
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")


def test_paging(vault: Vault) -> None:
    for number in range(7):
        put_case(vault, f"case{number}", {"title": f"common word {number}"})
    first = search.search(vault, "common", limit=3)
    second = search.search(vault, "common", limit=3, offset=3)
    rest = search.search(vault, "common", limit=50, offset=6)
    ids = [h.case_id for h in first + second + rest]
    assert sorted(ids) == [f"case{n}" for n in range(7)]


def test_a_phrase_never_spans_two_values(vault: Vault) -> None:
    put_case(vault, "two", {"title": "t", "victims": [{"name": "Anna Smith"}, {"name": "Jones"}]})
    assert found(vault, '"smith jones"') == []
    assert found(vault, "smith jones") == ["two"]


def test_edited_and_deleted_notes_leave_the_index(vault: Vault) -> None:
    put_case(vault, "noted", {"title": "t"})
    seq = add_note(vault, "noted", "Met zqxwitness near the market")
    assert found(vault, "zqxwitness") == ["noted"]
    (hit,) = search.search(vault, "zqxwitness", limit=5)
    assert hit.field == "notes"
    assert index_holds(vault, "zqxwitness")
    with vault.transaction() as conn:
        conn.execute("UPDATE triage_notes SET text = 'nothing here' WHERE seq = ?", (seq,))
        search.reindex_case(vault, "noted")
    assert found(vault, "zqxwitness") == []
    assert not index_holds(vault, "zqxwitness")
    seq = add_note(vault, "noted", "zqyinformant called")
    assert index_holds(vault, "zqyinformant")
    with vault.transaction() as conn:
        conn.execute("DELETE FROM triage_notes WHERE seq = ?", (seq,))
        search.reindex_case(vault, "noted")
    assert found(vault, "zqyinformant") == []
    assert not index_holds(vault, "zqyinformant")


def test_a_removed_case_leaves_the_index(cases: Vault) -> None:
    assert index_holds(cases, "lukasiewicz")
    search.remove_case(cases, "latin")
    assert found(cases, "zoe") == []
    assert not index_holds(cases, "lukasiewicz")


def test_a_deleted_triage_row_takes_its_entry(cases: Vault) -> None:
    with cases.transaction() as conn:
        conn.execute("DELETE FROM triage_cases WHERE case_id = 'latin'")
    assert found(cases, "zoe") == []
    assert not index_holds(cases, "lukasiewicz")


def index_holds(vault: Vault, term: str) -> bool:
    """Whether the folded term's bytes are anywhere in the FTS shadow tables."""
    needle = term.encode()
    for table in ("case_search_data", "case_search_idx", "case_search_content"):
        for row in vault.conn.execute(f"SELECT * FROM {table}").fetchall():  # noqa: S608
            for value in row:
                data = value.encode() if isinstance(value, str) else value
                if isinstance(data, bytes) and needle in data:
                    return True
    return False


def test_secure_delete_is_on(vault: Vault) -> None:
    rows = dict(vault.conn.execute("SELECT k, v FROM case_search_config").fetchall())
    assert rows["secure-delete"] == 1


def test_temp_store_is_memory(vault: Vault) -> None:
    assert vault.conn.execute("PRAGMA temp_store").fetchone()[0] == 2


# --- the query language ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("zoe", '"zoe"'),
        ("Zoë Łukasiewicz", '("zoe") AND ("lukasiewicz")'),
        ("tortur*", '"tortur" *'),
        ('"travel ban"', '"travel" + "ban"'),
        ('"jean pi"*', '"jean" + "pi" *'),
        ("jean-pierre", '"jean" + "pierre"'),
        ("a OR b NOT c", '("a") OR (("b") NOT ("c"))'),
        ("(a OR b) c", '(("a") OR ("b")) AND ("c")'),
        ("人权", '"人权"'),
        ("人", 'cjk : "人"'),
        ('"x 人"', '"x" + "人" *'),
        ('"NEAR"', '"near"'),
        ("col:umn", '"col" + "umn"'),
        ("a — b", '("a") AND ("b")'),
    ],
)
def test_queries_become_quoted_fts5_expressions(query: str, match: str) -> None:
    assert search.to_match(search.parse_query(query)) == match


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"travel ban', "a quote is not closed"),
        ("zoe AND", "AND needs a word or phrase after it"),
        ("zoe OR", "OR needs a word or phrase after it"),
        ("zoe NOT", "NOT needs a word or phrase after it"),
        ("AND zoe", "AND needs a word or phrase before it"),
        ("NOT zoe", "NOT needs a word or phrase before it (a NOT b)"),
        ("zoe AND OR x", "AND needs a word or phrase after it"),
        ("(zoe", "a parenthesis is not closed"),
        ("zoe)", "a closing parenthesis has no opening one"),
        ("()", "no letters or digits to search for"),
        ("x ()", "empty parentheses"),
        ("—", "no letters or digits to search for"),
        ('x "!!"', "a quoted phrase has no letters or digits"),
        ("t*", "a prefix needs at least 2 letters or digits before *"),
        ("(" * 17 + "x" + ")" * 17, "parentheses nested deeper than 16"),
        ("x" * 1001, "longer than 1000 characters"),
        (" ".join(["w"] * 65), "more than 64 terms"),
    ],
)
def test_malformed_queries_are_invalid_input(vault: Vault, query: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        search.search(vault, query, limit=10)
    assert raised.value.message == f"search query: {problem}"
    assert raised.value.exit_code == 2


def test_limit_and_offset_are_checked(vault: Vault) -> None:
    with pytest.raises(InvalidInput):
        search.search(vault, "x", limit=0)
    with pytest.raises(InvalidInput):
        search.search(vault, "x", limit=5, offset=-1)


QUERY_ALPHABET = st.sampled_from(
    [*"abzZ ()\"*-:^+.,{}[]'", "AND", "OR", "NOT", "NEAR", "人", "权", "ё", "مُ", "\u200b"]
)
query_strategy = st.lists(QUERY_ALPHABET, max_size=24).map("".join) | st.text(max_size=40)


@given(query=query_strategy)
def test_any_query_gives_results_or_invalid_input(cases: Vault, query: str) -> None:
    try:
        hits = search.search(cases, query, limit=5)
    except InvalidInput as error:
        assert error.message.startswith("search query: ")
        return
    for hit in hits:
        assert hit.case_id in RECORDS


NAMES = ["Zoë Łukasiewicz", "Фёдор Петров", "مُحَمَّد", "保护人权捍卫者", "Østergaard"]


@given(
    name=st.sampled_from(NAMES),
    before=st.text(alphabet="abc xyz.,\n", max_size=30),
    after=st.text(alphabet="abc xyz.,\n", max_size=30),
    upper=st.booleans(),
)
def test_random_text_with_a_name_matches_the_name(
    vault: Vault, name: str, before: str, after: str, upper: bool
) -> None:
    with vault.transaction() as conn:
        conn.execute("DELETE FROM triage_cases")
        conn.execute("DELETE FROM inbox_bundles")
    put_case(vault, "case", {"title": "t", "narrative": f"{before} {name} {after}"})
    typed = name.upper() if upper else name
    phrase = f'"{typed}"'
    assert found(vault, phrase) == ["case"]
    (hit,) = search.search(vault, phrase, limit=5)
    assert "«" in hit.snippet
