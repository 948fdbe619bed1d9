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
     → a space;
   - any capital casefold left (Cherokee folds to its capitals) → lower case.
5. NFC (recomposes Hangul syllables split in step 3), then runs of spaces become
   one and the ends are trimmed.

``fold`` is idempotent: ``fold(fold(x)) == fold(x)``.

:func:`fold_compact` also drops spaces, punctuation and symbols (phone numbers, names
written together or apart). :func:`terms` splits text into the search terms the index
holds (see its docstring).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
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
    # casefold keeps a few capitals (Cherokee folds to its capital letters).
    return char.lower() if len(char.lower()) == 1 else char


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

# Han, kana and Hangul: scripts written without spaces between words (or, for Korean,
# with particles glued to the word), indexed as character bigrams.
_CJK: Final = (
    "\u3040-\u30ff"  # hiragana, katakana (with the long-vowel mark)
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3005-\u3007"  # iteration mark, closing mark, ideographic zero
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # CJK extensions B and later
    "\uac00-\ud7af"  # Hangul syllables
    "\u1100-\u11ff"  # Hangul jamo
    "\u3130-\u318f"  # Hangul compatibility jamo
)
_CJK_CHAR: Final = re.compile(f"[{_CJK}]")
_CJK_OR_NOT: Final = re.compile(f"(?P<cjk>[{_CJK}]+)|[^{_CJK}]+")
_CHUNK: Final = re.compile(r"\S+")
_ASCII_WORD: Final = re.compile(r"[A-Za-z0-9]+")
_ASCII_CONTROL: Final = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def is_cjk(char: str) -> bool:
    """True for a Han, kana or Hangul character."""
    return _CJK_CHAR.match(char) is not None


class _Separators(dict[int, str]):
    """``str.translate`` table for folded text: letters, digits, marks (the spacing
    marks of Indic scripts are part of the word) and private-use characters stay;
    everything else (punctuation, symbols, the underscore, spaces) becomes a space."""

    def __missing__(self, cp: int) -> str:
        char = chr(cp)
        category = unicodedata.category(char)
        keep = category[0] in "LNM" or category == "Co"
        result = char if keep else " "
        self[cp] = result
        return result


_SEPARATORS: Final = _Separators()


def _pieces(folded: str) -> Iterator[tuple[str, int, bool]]:
    """(term, offset in ``folded``, is_cjk) of folded text; a CJK run gives its
    overlapping bigrams, or itself when it is one character."""
    for word in _CHUNK.finditer(folded.translate(_SEPARATORS)):
        text = word.group()
        if _CJK_CHAR.search(text) is None:
            yield text, word.start(), False
            continue
        for part in _CJK_OR_NOT.finditer(text):
            run = part.group()
            at = word.start() + part.start()
            if part.group("cjk") is None:
                yield run, at, False
            elif len(run) == 1:
                yield run, at, True
            else:
                for index in range(len(run) - 1):
                    yield run[index : index + 2], at + index, True


def fold_compact(text: str) -> str:
    """``fold(text)`` with every space, punctuation mark and symbol removed: the letters
    and digits alone, in order (``+257 (79) 000-111`` → ``25779000111``,
    ``Jean-Pierre`` = ``Jean Pierre`` = ``JeanPierre`` → ``jeanpierre``). For
    comparisons where spacing and punctuation must not matter, such as phone numbers
    in the export leak gate."""
    return "".join(fold(text).translate(_SEPARATORS).split())


def index_terms(text: str) -> tuple[list[str], list[str]]:
    """What the search index holds for ``text``: its terms in order (see :func:`terms`)
    and, apart, every Han, kana and Hangul character of it."""
    folded = fold(text)
    if _CJK_CHAR.search(folded) is None:
        return folded.translate(_SEPARATORS).split(), []
    return [term for term, _at, _cjk in _pieces(folded)], _CJK_CHAR.findall(folded)


@dataclass(frozen=True, slots=True)
class Term:
    """One search term and the span of original text it came from."""

    text: str
    start: int
    end: int
    cjk: bool = False


def _trim(chunk: str) -> tuple[int, int]:
    """The chunk without the punctuation and symbols at its ends (for highlighting)."""
    start, end = 0, len(chunk)
    while start < end and unicodedata.category(chunk[start])[0] in "PSZC":
        start += 1
    while end > start and unicodedata.category(chunk[end - 1])[0] in "PSZC":
        end -= 1
    return (start, end) if start < end else (0, len(chunk))


def terms(text: str) -> list[Term]:
    """The search terms of ``text``, in order, each with a span of ``text`` holding it.

    Terms are cut from ``fold(text)``: a run of letters, digits and marks is a term; a
    run of Han, kana or Hangul becomes its overlapping character bigrams (``保护人权``
    → ``保护 护人 人权``), so any two consecutive characters are found inside a longer
    run, and a run of one character is that character. Spaces, punctuation, symbols
    and dashes separate terms; invisible characters and combining marks are gone
    before cutting, so they never cut a word. Each whitespace-separated chunk of
    ``text`` is folded alone (the same terms as folding the whole text), which is how
    a term knows its span: its chunk, or its own characters for a CJK term where
    folding kept the chunk's length.
    """
    if text.isascii() and _ASCII_CONTROL.search(text) is None:
        # What fold and the separators do to printable ASCII, with exact spans.
        return [Term(w.group().lower(), w.start(), w.end()) for w in _ASCII_WORD.finditer(text)]
    result: list[Term] = []
    for chunk in _CHUNK.finditer(text):
        raw = chunk.group()
        base = chunk.start()
        if raw.isascii() and _ASCII_CONTROL.search(raw) is None:
            # What fold and the separators do to printable ASCII, with exact spans.
            for word in _ASCII_WORD.finditer(raw):
                result.append(Term(word.group().lower(), base + word.start(), base + word.end()))
            continue
        folded = fold(raw)
        if not folded:
            continue
        trim_start, trim_end = _trim(raw)
        start, end = base + trim_start, base + trim_end
        exact = len(folded) == len(raw)
        for piece, at, cjk in _pieces(folded):
            if cjk and exact:
                result.append(Term(piece, base + at, base + at + len(piece), cjk=True))
            else:
                result.append(Term(piece, start, end, cjk=cjk))
    return result
