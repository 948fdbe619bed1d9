# ruff: noqa: RUF002, RUF003 - this module is about look-alike characters
"""One text normalisation for search, duplicate detection and the export leak gate.

:func:`fold` maps every way a person (or an adversary) could write the same words to
one string, so equal folds mean "the same text" for indexing, querying, comparing
victim names and scanning export bytes. The rules, in order (docs/search.md lists
them with examples):

1. NFKC: compatibility forms (full-width letters and digits, ligatures such as ``ﬁ``,
   circled and superscript digits, Arabic presentation forms) become their plain form.
2. ``casefold`` (``ß`` → ``ss``, ``ς`` → ``σ``, ``İ`` → ``i`` + dot, which step 3
   strips).
3. Canonical decomposition (NFD), then every combining mark is dropped (nonspacing
   and enclosing marks, categories Mn and Me, in every script: Latin accents, Greek
   tonos, Cyrillic ``ё`` → ``е`` and ``й`` → ``и``, Hebrew points, Arabic harakat
   U+064B–U+065F and the superscript alef U+0670, the hamza and madda carried above or
   below a letter, Japanese dakuten, variation selectors). Spacing marks (Mc, such as
   the Devanagari vowel sign ``ा``) are part of the spelling and stay.
4. One character table (:data:`_TABLE`):

   - Latin letters that do not decompose become their ASCII spelling (``ł`` → ``l``,
     ``ø`` → ``o``, ``đ`` → ``d``, ``ı`` → ``i``, ``þ`` → ``th``, ``æ`` → ``ae``,
     ``œ`` → ``oe``, ``ŋ`` → ``ng``), through anyascii, for Latin letters only: no
     other script is transliterated (Cyrillic, Greek, Arabic, CJK stay as they are);
   - Arabic letter variants: ``ٱ ٲ ٳ ٵ`` → ``ا`` (``آ أ إ`` already lost their mark
     in step 3), ``ى`` and Persian/Urdu ``ی`` → ``ي``, ``ة ە ۃ ہ ھ`` → ``ه``, Persian
     ``ک`` and ``ڪ`` → ``ك``; tatweel U+0640 and the standalone hamza ``ء`` (and high
     hamza U+0674) are dropped, so ``ؤ`` → ``و``, ``ئ`` → ``ي`` and ``سماء`` = ``سما``;
   - decimal digits of every script (``٣``, ``۳``, ``३``, ``৩``) → ASCII ``3``;
   - dashes and hyphens of every kind (category Pd, the minus sign, the hyphen
     bullet) → a space: ``Jean-Pierre`` = ``Jean Pierre``;
   - apostrophes (``’ ‘ ʼ ʻ ´ ` ′``) → ASCII ``'``;
   - invisible characters → removed: format characters (Cf: zero-width space, joiner
     and non-joiner, word joiner, soft hyphen, bidi embeddings, overrides and
     isolates, BOM, tags), the other default-ignorable code points (Hangul fillers),
     controls other than whitespace, surrogates and unassigned code points;
   - every whitespace character (tabs, line breaks, no-break and ideographic spaces)
     → a space.
5. NFC (recomposes Hangul syllables split in step 3), then runs of spaces become
   one and the ends are trimmed.

``fold`` is idempotent: ``fold(fold(x)) == fold(x)``.

:func:`terms` splits text into the search terms the index holds (see its docstring).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from anyascii import anyascii

_ARABIC: Final[dict[int, str]] = {
    0x0671: "\u0627",  # ٱ alef wasla
    0x0672: "\u0627",  # ٲ alef with wavy hamza above
    0x0673: "\u0627",  # ٳ alef with wavy hamza below
    0x0675: "\u0627",  # ٵ high hamza alef
    0x0649: "\u064a",  # ى alef maksura
    0x06CC: "\u064a",  # ی Farsi yeh
    0x06D2: "\u064a",  # ے yeh barree (Urdu)
    0x0629: "\u0647",  # ة ta marbuta
    0x06D5: "\u0647",  # ە ae
    0x06C3: "\u0647",  # ۃ ta marbuta goal
    0x06C1: "\u0647",  # ہ heh goal
    0x06BE: "\u0647",  # ھ heh doachashmee
    0x06A9: "\u0643",  # ک keheh
    0x06AA: "\u0643",  # ڪ swash kaf
    0x0640: "",  # tatweel
    0x0621: "",  # ء hamza
    0x0674: "",  # ٴ high hamza
}

_APOSTROPHES: Final = "\u2019\u2018\u02bc\u02bb\u00b4\u0060\u2032\u02b9\u02bd\u201b\uff07"
_DASHES_EXTRA: Final = "\u2212\u2043\u02d7\u2796\ufe63\uff0d"
# Default-ignorable code points that are not format characters (Cf) or marks.
_IGNORABLE_LETTERS: Final = "\u115f\u1160\u3164\uffa0"


def _map_char(cp: int) -> str | None:
    """The table entry of one code point (after NFKC, casefold and NFD)."""
    if cp in _ARABIC:
        return _ARABIC[cp]
    char = chr(cp)
    if cp < 0x80:
        if char.isspace():
            return " "
        if char == "-":
            return " "
        if char == "`":
            return "'"
        if unicodedata.category(char) == "Cc":
            return ""
        return char
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf", "Cs", "Cn") or char in _IGNORABLE_LETTERS:
        return ""
    if char.isspace() or category in ("Zs", "Zl", "Zp"):
        return " "
    if category == "Cc":
        return ""
    if category == "Pd" or char in _DASHES_EXTRA:
        return " "
    if char in _APOSTROPHES:
        return "'"
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category[0] == "L" and unicodedata.name(char, "").startswith("LATIN"):
        return anyascii(char).lower()
    return char


class _Table(dict[int, str]):
    """``str.translate`` table filled on first use of each code point."""

    def __missing__(self, cp: int) -> str:
        value = _map_char(cp)
        result = chr(cp) if value is None else value
        self[cp] = result
        return result


_TABLE: Final = _Table()
_SPACES: Final = re.compile(" {2,}")


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFD", text).translate(_TABLE)
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip(" ")


def fold(text: str) -> str:
    """``text`` normalised for comparison (the rules are in the module docstring)."""
    if text.isascii():
        # Fast path, same result: ASCII only needs case, dashes, controls, spaces.
        text = text.lower().translate(_TABLE)
        return _SPACES.sub(" ", text).strip(" ")
    once = _fold_once(text)
    # A rare character can need a second pass (casefold output that NFKC changes).
    if not once.isascii():
        twice = _fold_once(once)
        if twice != once:
            return twice
    return once


# --- search terms ---------------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    """Han, kana and Hangul: scripts written without spaces between words (or, for
    Korean, with particles glued to the word), indexed as character bigrams."""
    cp = ord(char)
    return (
        0x3040 <= cp <= 0x30FF  # hiragana, katakana (with ー)
        or 0x31F0 <= cp <= 0x31FF  # katakana phonetic extensions
        or 0x3005 <= cp <= 0x3007  # 々 〆 〇
        or 0x3400 <= cp <= 0x4DBF  # CJK extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= cp <= 0x3FFFF  # CJK extensions B and later
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables
        or 0x1100 <= cp <= 0x11FF  # Hangul jamo
        or 0x3130 <= cp <= 0x318F  # Hangul compatibility jamo
    )


def _is_word_char(char: str) -> bool:
    """Letters, digits and marks make words; everything else separates them."""
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Co"


def _joins(char: str) -> bool:
    """Characters fold removes: they neither make nor break a word (``Zo\\u0308e``,
    a soft hyphen or a zero-width joiner inside a name)."""
    category = unicodedata.category(char)
    return category in ("Mn", "Me", "Cf") or char in _IGNORABLE_LETTERS


@dataclass(frozen=True, slots=True)
class Term:
    """One indexed term and the span of original text it came from."""

    text: str
    start: int
    end: int
    cjk: bool = False
    last_of_run: bool = False


def _split_folded(folded: str) -> list[tuple[str, bool]]:
    """A folded word cut into Latin-like words and CJK runs: (text, is_cjk)."""
    parts: list[tuple[str, bool]] = []
    current: list[str] = []
    current_cjk = False
    for char in folded:
        if not _is_word_char(char):
            if current:
                parts.append(("".join(current), current_cjk))
                current = []
            continue
        cjk = _is_cjk(char)
        if current and cjk != current_cjk:
            parts.append(("".join(current), current_cjk))
            current = []
        current_cjk = cjk
        current.append(char)
    if current:
        parts.append(("".join(current), current_cjk))
    return parts


def _raw_words(text: str) -> list[tuple[int, int]]:
    """Spans of the original text that make one word before folding."""
    spans: list[tuple[int, int]] = []
    start = -1
    for index, char in enumerate(text):
        if _is_word_char(char) or (start >= 0 and _joins(char)):
            if start < 0:
                start = index
        elif start >= 0 and not _joins(char):
            spans.append((start, index))
            start = -1
    if start >= 0:
        spans.append((start, len(text)))
    return spans


def terms(text: str) -> list[Term]:
    """The search terms of ``text``, in order, each with its span in ``text``.

    A word is a run of letters, digits and marks (invisible characters inside it do not
    cut it); it is folded, and the fold cut again where it holds a separator. A run of
    Han, kana or Hangul becomes its overlapping character bigrams followed by its last
    character alone (``保护人权`` → ``保护 护人 人权 权``), so any two consecutive
    characters are found inside a longer run, and any single character is the start of
    some term (a one-character query is a prefix query).
    """
    result: list[Term] = []
    for start, end in _raw_words(text):
        for part, cjk in _split_folded(fold(text[start:end])):
            if not cjk:
                result.append(Term(part, start, end))
                continue
            # Spans: map character i of the part to the original only approximately
            # (NFKC may change lengths); the whole word's span bounds them.
            exact = len(part) == end - start
            for index in range(len(part) - 1):
                s, e = (start + index, start + index + 2) if exact else (start, end)
                result.append(Term(part[index : index + 2], s, e, cjk=True))
            s, e = (end - 1, end) if exact else (start, end)
            result.append(Term(part[-1], s, e, cjk=True, last_of_run=True))
    return result
