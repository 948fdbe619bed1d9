"""model.fold: the one normalisation for search, duplicates and the leak gate, and the
search terms cut from it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reprisal_report.model import fold as fold_module
from reprisal_report.model.fold import fold, fold_compact, index_terms, terms

EQUAL = [
    # Latin: accents, letters that do not decompose, compatibility forms, case.
    ("Zoë", "zoe"),
    ("ZOË", "zoe"),
    ("Łukasiewicz", "lukasiewicz"),
    ("Østergaard", "ostergaard"),
    ("østergaard", "ostergaard"),
    ("Đorđe", "dorde"),
    ("İstanbul", "istanbul"),
    ("ıstanbul", "istanbul"),
    ("ISTANBUL", "istanbul"),
    ("Straße", "strasse"),
    ("STRAẞE", "strasse"),
    ("Þórsdóttir", "thorsdottir"),
    ("Æsa Œuvre", "aesa oeuvre"),
    ("José Núñez", "jose nunez"),
    ("Nguyễn Thị", "nguyen thi"),
    ("Ｊｏｓé", "jose"),
    ("ﬁnance", "finance"),
    ("Zo\u0308e", "zoe"),  # decomposed diaeresis
    # Greek and Cyrillic stay in their script, lower case, marks dropped.
    ("ΆΘΗΝΑ", "αθηνα"),
    ("Σίσυφος", "σισυφοσ"),
    ("ПЕТРОВ", "петров"),
    ("Фёдор", "федор"),
    ("Сергей", "сергеи"),
    # Arabic: harakat, superscript alef, tatweel, alef/hamza/ya/ta marbuta forms.
    ("مُحَمَّد", "محمد"),
    ("رحمٰن", "رحمن"),
    ("محـــمد", "محمد"),
    ("أحمد", "احمد"),
    ("إبراهيم", "ابراهيم"),
    ("آمنة", "امنه"),
    ("ٱلله", "الله"),
    ("مسؤول", "مسوول"),
    ("رئيس", "رييس"),
    ("سماء", "سما"),
    ("مصطفى", "مصطفي"),
    ("فاطمة", "فاطمه"),
    ("ﻓﺎﻃﻤﺔ", "فاطمه"),  # presentation forms
    # Persian and Urdu letters.
    ("کتاب", "كتاب"),
    ("علی", "علي"),
    # Digits of other scripts.
    ("٢٠٢٦", "2026"),
    ("۱۴۰۵", "1405"),
    ("२०२६", "2026"),
    ("２０２６", "2026"),
    # Dashes, apostrophes, invisible characters, whitespace runs.
    ("Jean-Pierre", "jean pierre"),
    ("Jean‐Pierre", "jean pierre"),
    ("Jean–Pierre", "jean pierre"),
    ("Jean—Pierre", "jean pierre"),
    ("Jean−Pierre", "jean pierre"),
    ("O’Brien", "o'brien"),
    ("Oʼbrien", "o'brien"),
    ("Jo\u200bse", "jose"),
    ("Jo\u00adse", "jose"),
    ("Jo\u200dse", "jose"),
    ("Jo\u200cse", "jose"),
    ("\u202ejose\u202c", "jose"),
    ("\u2067jose\u2069", "jose"),
    ("\ufeffjose", "jose"),
    ("jose\ufe0f", "jose"),
    ("  jose \n\t\r\n núñez\u00a0\u3000 ", "jose nunez"),
    ("jose\u2028nunez", "jose nunez"),
    # CJK keeps its characters; half-width kana become full width.
    ("人权", "人权"),
    ("ｱﾑﾈｽﾃｨ", "アムネスティ"),
]


@pytest.mark.parametrize(("text", "expected"), EQUAL)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_compact_drops_spacing_and_punctuation() -> None:
    assert fold_compact("+257 (79) 000-111") == fold_compact("25779000111") == "25779000111"
    assert fold_compact("٠٧٩ ١٢٣") == "079123"
    assert fold_compact("Jean-Pierre") == fold_compact("JEAN PIERRE") == fold_compact("JeanPierre")
    assert fold_compact("O’Brien") == fold_compact("OBrien") == "obrien"


def test_other_scripts_are_not_transliterated() -> None:
    for text in ("петров", "محمد", "人权", "αθηνα", "שלום"):
        assert not fold(text).isascii()


def test_different_words_stay_different() -> None:
    assert fold("Petrov") != fold("Петров")
    assert fold("Djordje") != fold("Đorđe")  # a spelling, not a fold
    assert fold("abc") != fold("abd")


def test_index_terms_cut_cjk_into_bigrams_and_keep_single_characters() -> None:
    found, singles = index_terms("保护人权捍卫者 Zoë-Smith 人")
    assert found == ["保护", "护人", "人权", "权捍", "捍卫", "卫者", "zoe", "smith", "人"]
    assert singles == ["保", "护", "人", "权", "捍", "卫", "者", "人"]


def test_index_terms_keep_indic_vowel_signs_in_the_word() -> None:
    found, _ = index_terms("हिन्दी भाषा")
    assert len(found) == 2


def test_terms_carry_spans_of_the_original_text() -> None:
    text = "Met (Zoë-Smith) in 保护人权."
    got = [(t.text, text[t.start : t.end]) for t in terms(text)]
    assert got == [
        ("met", "Met"),
        ("zoe", "Zoë-Smith"),
        ("smith", "Zoë-Smith"),
        ("in", "in"),
        ("保护", "保护"),
        ("护人", "护人"),
        ("人权", "人权"),
    ]


def test_every_spacing_mark_is_a_word_character() -> None:
    # The separator table keeps marks; the blocks listed for them must cover Unicode.
    marks = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Mc"]
    assert marks
    assert all(index_terms(f"a{chr(cp)}b")[0] == [fold(f"a{chr(cp)}b")] for cp in marks[:50])


# --- properties -----------------------------------------------------------------------

INVISIBLE_CATEGORIES = {"Mn", "Me", "Cf", "Cc", "Cs", "Cn", "Zl", "Zp"}
text_strategy = st.text(alphabet=st.characters(), max_size=60) | st.text(
    alphabet=st.sampled_from(
        "aAzZéÉøØłŁđĐıİßẞ ‐–—-\u200b\u200d\u00ad\u202e\ufeff\u3000\n\t"
        "ёЁйЙпП مُحَمَّدأإآٱؤئءىةـ٣۳کی 人权保护アｱﾞ한국"
    ),
    max_size=60,
)


@given(text_strategy)
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@given(text_strategy)
def test_fold_leaves_no_marks_invisibles_upper_case_or_space_runs(text: str) -> None:
    folded = fold(text)
    for char in folded:
        assert unicodedata.category(char) not in INVISIBLE_CATEGORIES, hex(ord(char))
        assert char == " " or not char.isspace(), hex(ord(char))
    assert folded == folded.lower()
    assert "  " not in folded
    assert folded == folded.strip()
    assert unicodedata.is_normalized("NFC", folded)


@given(text_strategy)
def test_terms_match_the_index(text: str) -> None:
    """Snippets find hits with the same terms the index holds."""
    assert [t.text for t in terms(text)] == index_terms(text)[0]


NAMES = ["Zoë Łukasiewicz", "Østergaard", "Đorđe", "İlker", "Петров", "محمد", "José Núñez"]


def _variant(name: str, data: st.DataObject) -> str:
    """The same name as someone else might type it: case, decomposed accents,
    compatibility forms, invisible characters inside."""
    out: list[str] = []
    for char in name:
        form = data.draw(st.sampled_from(["same", "upper", "lower", "nfd", "nfkd"]))
        if form == "upper":
            char = char.upper()
        elif form == "lower":
            char = char.lower()
        elif form == "nfd":
            char = unicodedata.normalize("NFD", char)
        else:
            char = unicodedata.normalize("NFKD", char)
        out.append(char)
        if data.draw(st.booleans()) and char.strip():
            out.append(data.draw(st.sampled_from(["\u200b", "\u00ad", "\u200d", "\ufe0f"])))
    return "".join(out)


@given(st.sampled_from(NAMES), st.data())
def test_a_name_folds_the_same_in_any_case_or_accent_form(name: str, data: st.DataObject) -> None:
    assert fold(_variant(name, data)) == fold(name)


def test_ascii_fast_path_equals_the_full_rules() -> None:
    for cp in range(0x80):
        text = f"a{chr(cp)}b"
        assert fold(text) == fold_module._fold_once(text), cp
