# ruff: noqa: RUF002 - this module is about look-alike characters
"""The export leak gate: refuse bytes that hold a value the profile forbids.

The gate is built once from every sensitive value of the vault that must not leave
(:class:`Sensitive`), and scans the exact bytes about to be written
(:meth:`LeakGate.scan`). Both sides go through one normalisation, so a value is found
however it was written; the rules are in docs/export-profiles.md ("Leak gate"). In
short:

- the output is decoded first (JSON ``\\uXXXX`` and backslash escapes, Markdown
  backslash escapes, HTML character references, CSV's doubled quotes, HTML tags),
  repeatedly; markup, dashes and line breaks are marked; then it is folded as
  :func:`reprisal_report.model.fold.fold` does (:func:`fold_text`);
- words are letters, digits and spacing marks; everything else (spaces, line breaks,
  punctuation, Markdown markup, dashes) only separates words, so a value of several
  words matches whatever stands between them, and only at word boundaries;
- four views of the folded output are scanned: the words (*word view*); the words
  with markup between two letters removed (``Jo**sé**``, ``Núñ-\\nez``: two *joined
  views*, built only around such spots); the text cut at every punctuation mark
  (*field view*, for values matched only as a whole field); and its digit runs
  (*digit view*, for phone numbers).

Cost: one Aho–Corasick automaton per view kind over all patterns, one pass per view;
long patterns enter the automaton by their first :data:`ANCHOR` characters and are
confirmed by one string comparison at the hit.
"""

from __future__ import annotations

import gc
import hashlib
import html
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import ahocorasick  # type: ignore[import-not-found]

from reprisal_report.errors import InvalidInput, LeakBlocked
from reprisal_report.model.fold import fold, is_cjk
from reprisal_report.model.vocabulary import VOCAB_KINDS, load_vocabulary

if TYPE_CHECKING:
    from reprisal_report.redact.worker import Worker

KINDS: Final = frozenset({"name", "contact", "text", "place", "organisation"})

PHRASE_WORDS: Final = 6  # a sentence (or clause) of a text is gated from this many words
CLAUSES_FROM: Final = 2 * PHRASE_WORDS  # sentences this long also gate their clauses
SHORT_LETTERS: Final = 4  # a one-word value shorter than this is matched as a whole field
COMPACT_LETTERS: Final = 8  # a value's words written together are matched from this length
PHONE_DIGITS: Final = 6  # a contact's digit run is gated from this many digits
PHONE_TAIL: Final = 8  # longer numbers are gated by their last 8 digits
PHONE_MAX: Final = 15  # E.164: a longer run holds several numbers
PREFIX_DIGITS: Final = 5  # a shorter number may follow this many more digits (country code)
ANCHOR: Final = 48  # longer patterns enter the automaton by this many characters (about
# six words: a shorter start is shared by many sentences, each a check at every hit)
_DECODE_ROUNDS: Final = 3

FIELD: Final = "\x01"  # field view: a punctuation run (fold never outputs controls)


@dataclass(frozen=True)
class Sensitive:
    """One value of the vault that must not appear in an export."""

    case_id: str
    field: str  # field path, e.g. "victims[0].name", "narrative", "notes[2]"
    value: str
    kind: str  # "name" | "contact" | "text" | "place" | "organisation"


@dataclass(frozen=True)
class Leak:
    """Where a forbidden value came from; never the value itself."""

    case_id: str
    field: str


# --- decoding the output -------------------------------------------------------------

_ESCAPE: Final = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # surrogate pair
    r"|\\u([0-9a-fA-F]{4})"
    r"|\\([nrtbf])"
    r"|\\([!-/:-@\[-`{-~])"  # JSON \" \\ \/ and every Markdown backslash escape
)
_CONTROL_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_TAG: Final = re.compile(r"<[A-Za-z/!?][^<>]{0,200}>")


def _unescape(match: re.Match[str]) -> str:
    high, low, single, control, char = match.groups()
    if high is not None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
    if single is not None:
        return chr(int(single, 16))
    if control is not None:
        return _CONTROL_ESCAPES[control]
    return str(char)


def decode(text: str) -> str:
    """``text`` with the encodings of the export formats undone, up to three layers
    deep: JSON and Markdown backslash escapes, HTML character references, CSV's
    doubled quotes."""
    for _ in range(_DECODE_ROUNDS):
        before = text
        if "\\" in text:
            text = _ESCAPE.sub(_unescape, text)
        if "&" in text:
            text = html.unescape(text)
        if '""' in text:
            text = text.replace('""', '"')
        if text == before:
            break
    return text


# Before folding: markup that may split a word becomes "*" (code spans, like emphasis;
# tags become "*" too), dashes "^", line breaks "|". All three separate words in the
# word view and end fields in the field view; the joined views remove them between
# two letters. Plain replacements for the ASCII ones, one rarely matching regex for
# the others (both far faster than a translate table over mixed-script text).
_DASHES: Final = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe63\uff0d"
# One character class (a fast scan), the replacement told apart by the character.
_OTHER_MARKUP: Final = re.compile(
    "[\u2010-\u2015\u2212\u2043\ufe63\uff0d\x0b\x0c\x1c-\x1f\x85\u2028\u2029]"
)


def _other_markup(match: re.Match[str]) -> str:
    return "^" if match.group() in _DASHES else "|"


_NON_ASCII: Final = re.compile(r"([^\x00-\x7f]+)")
_ASCII_CONTROLS: Final = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]+")  # not whitespace
_FOLDED: dict[str, str] = {}  # non-ASCII runs already folded (exports repeat words)
_FOLDED_MAX: Final = 1 << 18


def _fold_run(run: str) -> str:
    """``fold`` of a run of non-ASCII characters inside a text: folded between two
    ``a`` (which hold its spaces at the ends, and absorb a leading mark as the
    letter before it would), the ``a`` taken off again."""
    out = fold(f"a{run}a")[1:-1]
    if len(_FOLDED) >= _FOLDED_MAX:
        _FOLDED.clear()
    _FOLDED[run] = out
    return out


def fold_text(text: str) -> str:
    """What :func:`fold` makes of ``text`` (``-`` and backquote aside, which
    :func:`marked_fold` has replaced), up to whitespace (not collapsed, and ASCII
    whitespace other than tabs left as it is): ASCII lower-cased, controls removed,
    tabs made spaces; every run of non-ASCII characters folded alone (and cached).
    Folding is local: compositions and marks never reach past an ASCII character,
    and a mark after an ASCII letter is dropped either way. So this is the same
    text, several times faster on mixed-script exports, where words come back."""
    parts = _NON_ASCII.split(text)
    get = _FOLDED.get
    parts[1::2] = [_fold_run(run) if (f := get(run)) is None else f for run in parts[1::2]]
    out = "".join(parts).lower().replace("\t", " ")
    return _ASCII_CONTROLS.sub("", out)


@cache
def _punctuation() -> re.Pattern[str]:
    """Any non-ASCII character that is not part of a word after folding (not a letter,
    digit or spacing mark): punctuation and symbols."""
    ranges: list[str] = []
    start = last = -2
    for cp in range(0x80, 0x20000):
        if unicodedata.category(chr(cp)) != "Mc":
            continue
        if cp != last + 1:
            if start >= 0:
                ranges.append(_range(start, last))
            start = cp
        last = cp
    ranges.append(_range(start, last))
    return re.compile(f"[^\\x00-\\x7f\\w{''.join(ranges)}]+")


def _range(first: int, last: int) -> str:
    return f"\\U{first:08x}" if first == last else f"\\U{first:08x}-\\U{last:08x}"


def marked_fold(decoded: str) -> str:
    """Decoded text with its markup marked, folded, and every non-ASCII punctuation
    mark or symbol made FIELD: what every view is cut from. Only ASCII letters and
    digits, non-ASCII word characters, ASCII punctuation, spaces and FIELD remain."""
    if "<" in decoded:
        decoded = _TAG.sub("*", decoded)
    decoded = decoded.replace("`", "*").replace("-", "^").replace("\r\n", "|")
    decoded = decoded.replace("\n", "|").replace("\r", "|")
    decoded = _OTHER_MARKUP.sub(_other_markup, decoded)
    flat = fold_text(decoded)
    return flat if flat.isascii() else _punctuation().sub(FIELD, flat)


def _byte_table(ascii_rule: Callable[[str], bytes], high: bytes | None = None) -> bytes:
    """A ``bytes.translate`` table: ASCII by ``ascii_rule``, the bytes of UTF-8
    sequences (all >= 0x80) to themselves or to ``high``."""
    table = b"".join(ascii_rule(chr(i)) for i in range(128))
    return table + (bytes(range(128, 256)) if high is None else high * 128)


def _alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


_WORD_BYTES: Final = _byte_table(lambda c: c.encode() if _alnum(c) else b" ")
_FIELD_BYTES: Final = _byte_table(lambda c: c.encode() if _alnum(c) or c == " " else FIELD.encode())


def word_view(text_folded: str) -> str:
    """Words separated by one space, with a space at each end. Works on the UTF-8
    bytes: after :func:`marked_fold` every non-ASCII character left is a word
    character, so only ASCII bytes need mapping."""
    words = b" ".join(text_folded.encode().translate(_WORD_BYTES).split())
    return f" {words.decode()} "


def field_view(text_folded: str) -> str:
    """Words separated by one space; every run of punctuation (and each end) is
    FIELD, with no space beside it."""
    marked = b" ".join(text_folded.encode().translate(_FIELD_BYTES).split())
    marked = marked.replace(b" " + FIELD.encode(), FIELD.encode())
    marked = marked.replace(FIELD.encode() + b" ", FIELD.encode())
    return f"{FIELD}{marked.decode()}{FIELD}"


def form(text: str) -> str:
    """A value's words as the gate compares them: decoded, folded, words joined by one
    space."""
    return word_view(marked_fold(decode(text))).strip(" ")


_JOINERS: Final = "*~^"
_LINE_END: Final = re.compile(r" *\| *")


def _joins(flat: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of markup between two letters in folded text, for the two joined views:
    emphasis, or a hyphen at a line end, inside a word (``jo**se``, ``nun^|ez``); and
    any run of markup and dashes, with a line break only after a dash (``nu^nez``)."""
    marks = sorted(at for char in _JOINERS if char in flat for at in _positions(flat, char))
    markup: list[tuple[int, int]] = []
    every: list[tuple[int, int]] = []
    index = 0
    while index < len(marks):
        start = end = marks[index]
        while index < len(marks) and marks[index] == end:
            end += 1
            index += 1
        run = flat[start:end]
        dash = "^" in run
        if dash:
            line_end = _LINE_END.match(flat, end)
            if line_end is not None:
                end = line_end.end()
        if (
            start == 0
            or end >= len(flat)
            or not (flat[start - 1].isalpha() and flat[end].isalpha())
        ):
            continue
        every.append((start, end))
        if not dash or (run == "^" and end > start + 1):
            markup.append((start, end))
    return markup, every


def _positions(text: str, char: str) -> Iterator[int]:
    at = text.find(char)
    while at >= 0:
        yield at
        at = text.find(char, at + 1)


# --- digits ----------------------------------------------------------------------------

# Between the digits of one number (after folding: dashes are "^").
_DIGIT_SEPARATORS: Final = b" .()+/^"
_DIGIT_BYTES: Final = _byte_table(lambda c: c.encode() if c.isdigit() else b" ", b" ")
_HEX_BYTES: Final = _byte_table(
    lambda c: b"h" if c in "0123456789abcdef" else (b"a" if _alnum(c) else b" "), b"a"
)
_DATE_BYTES: Final = _byte_table(
    lambda c: b"d" if c.isdigit() else (b"s" if c in "^/." else b" "), b" "
)
_HEX_RUN: Final = b"h" * 16
_HEX_TAIL: Final = re.compile(b"h+")
_DATE_SHAPE: Final = b"ddddsdd"
# Dates the exporter writes (YYYY-MM, YYYY-MM-DD, YYYY/MM/DD): not phone numbers,
# unless more digits follow in the same run ("2000-01 00 12" is a number).
_DATE: Final = re.compile(
    rb"(?:1[89]|20)[0-9]{2}([\^/.])(?:0[1-9]|1[0-2])(?:\1(?:0[1-9]|[12][0-9]|3[01]))?"
    rb"(?![0-9]|[ .()+/^]+[0-9])"
)


def _not_phone_spans(data: bytes) -> list[tuple[int, int]]:
    """Spans of folded text that hold digits but no phone number: hashes, key ids and
    salts written in hex (16 or more hex characters, at least one a letter, standing
    alone), and dates (``YYYY-MM``, ``YYYY-MM-DD``, also with ``/`` or ``.``) that
    are a digit run of their own."""
    spans: list[tuple[int, int]] = []
    shape = data.translate(_HEX_BYTES)
    at = shape.find(_HEX_RUN)
    while at >= 0:
        tail = _HEX_TAIL.match(shape, at)
        end = at + len(_HEX_RUN) if tail is None else tail.end()
        alone = (at == 0 or shape[at - 1] == 32) and (end == len(shape) or shape[end] == 32)
        if alone and not data[at:end].isdigit():
            spans.append((at, end))
        at = shape.find(_HEX_RUN, end)
    shape = data.translate(_DATE_BYTES)
    at = shape.find(_DATE_SHAPE)
    while at >= 0:
        if at == 0 or shape[at - 1] != 100:  # "d"
            match = _DATE.match(data, at)
            if match is not None and not _digit_before(data, at):
                spans.append((at, match.end()))
        at = shape.find(_DATE_SHAPE, at + 1)
    return sorted(spans)


def _digit_before(data: bytes, at: int) -> bool:
    """Whether a digit stands before ``at`` in the same digit run (only the digit
    separators between): a date there is the end of a longer number."""
    at -= 1
    while at >= 0 and data[at] in _DIGIT_SEPARATORS:
        at -= 1
    return at >= 0 and 48 <= data[at] <= 57


def digit_text(text_folded: str) -> bytes:
    """Folded text as UTF-8 with its hashes and dates blanked out (each ``#``)."""
    data = text_folded.encode()
    spans = _not_phone_spans(data)
    if not spans:
        return data
    pieces: list[bytes] = []
    last = 0
    for start, end in spans:
        if start >= last:
            pieces.append(data[last:start])
            pieces.append(b"#")
            last = end
    pieces.append(data[last:])
    return b"".join(pieces)


_RUN: Final = re.compile(rb"[0-9]+(?:[ .()+/^]+[0-9]+)*")
_GROUP: Final = re.compile(rb"[0-9]+")


def digit_view(text_folded: str) -> str:
    """The digit runs of folded text once its hashes and dates are blanked: digits
    joined by any separators (spaces, dots, dashes, parentheses, ``+``, ``/``), the
    separators removed, each run between ``|``. (Folding made every script's digits
    ASCII and removed invisible characters.)"""
    runs = digit_text(text_folded).translate(_DIGIT_BYTES, _DIGIT_SEPARATORS).split()
    return f"|{b'|'.join(runs).decode()}|" if runs else "|"


# --- patterns ----------------------------------------------------------------------------

# Sentence ends in folded text (NFKC made the full-width and half-width forms ASCII,
# "…" three dots; "|" marks a line break): . ! ? before a space, a line break, and the
# CJK, Arabic and Devanagari ends anywhere.
_SENTENCE_END: Final = re.compile("(?<=[.!?]) |\\||(?<=[\u3002\u061f\u0964\u0965])")
# Clause ends: , ; : brackets, quotes, the ideographic comma.
_CLAUSE_END: Final = re.compile('[,;:()\\[\\]"\u00ab\u00bb\u201c\u201d\u3001]+')
_LETTER: Final = re.compile(r"[^\W\d_]")


def _unbounded(char: str) -> bool:
    """Scripts written without spaces between words: a value's edge in one of them
    matches without a word boundary."""
    return (
        is_cjk(char)
        or "\u0e00" <= char <= "\u0eff"  # Thai, Lao
        or "\u1000" <= char <= "\u109f"  # Myanmar
        or "\u1780" <= char <= "\u17ff"  # Khmer
    )


def _bounded_key(words: str) -> str:
    if words[0] < "\u0e00" and words[-1] < "\u0e00":
        return f" {words} "
    left = "" if _unbounded(words[0]) else " "
    right = "" if _unbounded(words[-1]) else " "
    return f"{left}{words}{right}"


def _field_key(words: str) -> str:
    return f"{FIELD}{words}{FIELD}"


_CJK_ANY: Final = re.compile(
    "[\u1100-\u11ff\u3005-\u3007\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]"
)


def _word_count(words: str) -> int:
    if words.isascii() or _CJK_ANY.search(words) is None:
        return words.count(" ") + 1
    count = 0
    for token in words.split(" "):
        cjk = sum(1 for c in token if is_cjk(c))
        count += (len(token) > cjk) + math.ceil(cjk / 2)
    return count


def _is_short(words: str) -> bool:
    if " " in words:
        return False
    return len(words) < (2 if is_cjk(words[0]) else SHORT_LETTERS)


class Pattern(NamedTuple):
    """One thing the gate looks for on behalf of a value."""

    view: str  # "word" (word and joined views), "field" or "digits"
    key: str
    rule: str  # "phrase", "compact", "whole-field", "sentence", "clause",
    #           "digits-tail", "digits-short" (ends with "|": at most PREFIX_DIGITS
    #           digits may stand before it), "digits-whole"


def _text_patterns(words: str) -> Iterator[Pattern]:
    """Names, places, organisations and the letters of a contact (``words``: the
    value's word form; a public word is taken out by :func:`chosen`)."""
    if not words:
        return
    if _is_short(words):
        yield Pattern("field", _field_key(words), "whole-field")
        return
    yield Pattern("word", _bounded_key(words), "phrase")
    compact = words.replace(" ", "")
    if compact != words and len(compact) >= COMPACT_LETTERS:
        # Written together, or with only invisible characters between the words.
        yield Pattern("word", _bounded_key(compact), "compact")


def _sentence_patterns(flat: str) -> Iterator[Pattern]:
    """Narratives and notes: each sentence (and each clause of a long sentence) of at
    least PHRASE_WORDS words; a whole text shorter than that as a whole field."""
    found: list[Pattern] = []
    seen: set[str] = set()
    total = 0
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(flat):
        words = word_view(sentence).strip(" ")
        if not words:
            continue
        pieces.append(words)
        count = _word_count(words)
        total += count
        if count >= PHRASE_WORDS and words not in seen:
            seen.add(words)
            found.append(Pattern("word", _bounded_key(words), "sentence"))
        if count < CLAUSES_FROM:
            continue
        clauses = _CLAUSE_END.split(sentence)
        if len(clauses) < 2:
            continue
        for clause in clauses:
            words = word_view(clause).strip(" ")
            if words and _word_count(words) >= PHRASE_WORDS and words not in seen:
                seen.add(words)
                found.append(Pattern("word", _bounded_key(words), "clause"))
    if 0 < total < PHRASE_WORDS:
        # Sentences never join words across their ends, so these are the text's words.
        return iter([Pattern("field", _field_key(" ".join(pieces)), "whole-field")])
    return iter(found)


def _digit_patterns(flat: str, has_letters: bool) -> Iterator[Pattern]:
    """A contact's phone numbers, as digits (docs/export-profiles.md)."""
    runs = [
        [group.decode() for group in _GROUP.findall(m.group())]
        for m in _RUN.finditer(digit_text(flat))
    ]
    digits_in_all = sum(len(group) for groups in runs for group in groups)
    for groups in runs:
        digits = "".join(groups)
        if len(digits) >= PHONE_TAIL:
            yield Pattern("digits", digits[-PHONE_TAIL:], "digits-tail")
            if len(digits) > PHONE_MAX:
                # Several numbers written together: every group boundary may end one.
                prefix = ""
                for group in groups[:-1]:
                    prefix += group
                    if len(prefix) >= PHONE_TAIL:
                        yield Pattern("digits", prefix[-PHONE_TAIL:], "digits-tail")
        elif len(digits) >= PHONE_DIGITS:
            yield Pattern("digits", f"{digits}|", "digits-short")
        elif not has_letters and digits_in_all < PHONE_DIGITS:
            yield Pattern("digits", f"|{digits}|", "digits-whole")


FORMS_VERSION: Final = f"gate-forms 2, unicode {unicodedata.unidata_version}"
"""What :func:`forms` computes depends on: the rules of this module (bump the number
with any change to decoding, folding, views or patterns; ``tests/unit/test_leakgate.py``
pins the forms of a set of values to it) and the Unicode database folding uses (a new
Python may bring a new one). Forms stored in the vault under another version are
computed again."""


class Forms(NamedTuple):
    """A value's patterns before an export's public words are known: what the vault
    keeps for each sensitive value of a case (``vault/export.py``), so an export reads
    them instead of folding every record again. Patterns are kept encoded
    (:func:`encode_patterns`): an export of a large vault reads millions of them."""

    folded: str  # fold_digest(value): an export that keeps the same value allows it
    words: str  # the value's words as the gate compares them ("" for texts)
    always: str  # digits, sentences, clauses: matched whatever is public
    unless_public: str  # matched unless ``words`` is a public word


_RULE_CODES: Final = {
    "phrase": "p",
    "compact": "c",
    "whole-field": "f",
    "sentence": "s",
    "clause": "l",
    "digits-tail": "t",
    "digits-short": "h",
    "digits-whole": "d",
}
_CODE_RULES: Final = {code: rule for rule, code in _RULE_CODES.items()}
_CODE_VIEWS: Final = {
    "p": "word",
    "c": "word",
    "s": "word",
    "l": "word",
    "f": "field",
    "t": "digits",
    "h": "digits",
    "d": "digits",
}
_SEPARATOR: Final = "\x03"  # folding removes every control but FIELD: no key holds it


def encode_patterns(found: Iterable[Pattern]) -> str:
    """Patterns as one string: each its rule's letter and its key, ``\\x03`` between."""
    out: list[str] = []
    for pattern in found:
        if not pattern.key or _SEPARATOR in pattern.key:  # pragma: no cover - folded keys
            raise InvalidInput("leak gate: a pattern key holds a control character")
        out.append(_RULE_CODES[pattern.rule] + pattern.key)
    return _SEPARATOR.join(out)


def decode_patterns(encoded: str) -> list[Pattern]:
    return [
        Pattern(_CODE_VIEWS[item[0]], item[1:], _CODE_RULES[item[0]])
        for item in encoded.split(_SEPARATOR)
        if item
    ]


def fold_digest(text: str) -> str:
    """What the gate compares to tell the same value apart: the digest of its fold."""
    return hashlib.blake2b(fold(text).encode("utf-8"), digest_size=16).hexdigest()


def forms(value: Sensitive) -> Forms:
    """The :class:`Forms` of a value (the whole normalisation of one side)."""
    if value.kind not in KINDS:
        raise InvalidInput(f"leak gate: unknown kind of value {value.kind!r} for {value.field}")
    flat = marked_fold(decode(value.value))
    folded = fold_digest(value.value)
    if value.kind == "text":
        return Forms(folded, "", encode_patterns(_sentence_patterns(flat)), "")
    words = word_view(flat).strip(" ")
    named = encode_patterns(_text_patterns(words))
    if value.kind != "contact":
        return Forms(folded, words, "", named)
    has_letters = _LETTER.search(flat) is not None
    digits = encode_patterns(_digit_patterns(flat, has_letters))
    return Forms(folded, words, digits, named if has_letters else "")


def _chosen(value_forms: Forms, public: frozenset[str]) -> list[str]:
    """The encoded patterns of a value given the export's public words."""
    always, unless_public = value_forms.always, value_forms.unless_public
    if unless_public and value_forms.words not in public:
        return [*always.split(_SEPARATOR), *unless_public.split(_SEPARATOR)]
    return always.split(_SEPARATOR)


# --- forms as the vault keeps them -----------------------------------------------------

# The text of one case's forms: how many of its values are its record's (the rest are
# its notes'), then for each value its field path, fold digest, words and its two
# encoded pattern lists, \x05 before each. Folding removes every control character
# (FIELD aside), so no part holds a separator; a text of any other shape is refused.
_ITEM: Final = "\x05"
_PART: Final = "[^\x03-\x05]"
_LIST: Final = f"(?:[pcfslthd]{_PART}+(?:\x03[pcfslthd]{_PART}+)*)?"
_ONE: Final = f"\x05[a-z_0-9.\\[\\]]+\x05[0-9a-f]{{32}}\x05{_PART}*\x05{_LIST}\x05{_LIST}"
STORED_SHAPE: Final = re.compile(f"(?:0|[1-9][0-9]{{0,5}})(?:{_ONE})*")


class Stored(NamedTuple):
    """Every value of one case by the text of its forms (:func:`forms_text`): what an
    export gives the gate for a case that does not leave, without unpacking it."""

    case_id: str
    text: str

    def items(self) -> list[str]:
        return self.text.split(_ITEM)

    def without(self, allowed: set[str]) -> Stored:
        """The same, but the values whose fold digest is in ``allowed``."""
        items = self.items()
        record = int(items[0])
        kept: list[str] = []
        count = 0
        for number, at in enumerate(range(1, len(items), 5)):
            if items[at + 1] not in allowed:
                kept += items[at : at + 5]
                count += number < record
        return Stored(self.case_id, _ITEM.join([str(count), *kept]))

    def values(self) -> list[Gated]:
        """Its values, record first, as :class:`Gated` (field order)."""
        items = self.items()
        return [
            Gated(self.case_id, items[at], Forms(*items[at + 1 : at + 5]))
            for at in range(1, len(items), 5)
        ]


def forms_text(record: Iterable[Gated], notes: Iterable[Gated]) -> str:
    """The text the vault keeps for a case's forms."""
    parts: list[str] = []
    count = 0
    for value in record:
        parts += (value.field, *value.forms)
        count += 1
    for value in notes:
        parts += (value.field, *value.forms)
    text = _ITEM.join([str(count), *parts])
    if not STORED_SHAPE.fullmatch(text):  # pragma: no cover - folded text has no controls
        raise InvalidInput("leak gate: forms hold a control character")
    return text


def forms_from_text(case_id: str, text: str) -> tuple[list[Gated], list[Gated]]:
    """A case's (record, notes) forms from the kept text; ValueError if it is not of
    the shape :func:`forms_text` writes (the caller computes them again)."""
    if not STORED_SHAPE.fullmatch(text):
        raise ValueError("not gate forms")
    values = Stored(case_id, text).values()
    count = int(text[: text.find(_ITEM)] if _ITEM in text else text)
    if count > len(values):
        raise ValueError("not gate forms")
    return values[:count], values[count:]


def patterns(value: Sensitive, public: frozenset[str] = frozenset()) -> list[Pattern]:
    """What the gate looks for on behalf of ``value`` (``public``: the forms of the
    public words, see :class:`LeakGate`). An empty list means nothing of the value can
    be matched alone: it folds to nothing, or it is a public word, or it is a text of
    PHRASE_WORDS words or more none of whose sentences is that long."""
    return decode_patterns(_SEPARATOR.join(_chosen(forms(value), public)))


@cache
def vocabulary_words() -> frozenset[str]:
    """The forms of every vocabulary term and label (public by definition)."""
    vocabulary = load_vocabulary()
    words: set[str] = set()
    for kind in VOCAB_KINDS:
        for term in vocabulary.terms(kind):
            words.add(form(term))
            words.add(form(vocabulary.label(kind, term)))
    words.discard("")
    return frozenset(words)


# --- the automata ------------------------------------------------------------------------


class _Matcher:
    """One Aho–Corasick automaton over the patterns of one view kind. A key longer
    than ANCHOR enters the automaton by its first ANCHOR characters and is confirmed
    at a hit by one comparison; each anchor holds its keys and their value indices
    (one index, or a list of them)."""

    def __init__(self) -> None:
        self._keys: dict[str, int | list[int]] = {}
        self._automaton: Any = None
        self.longest = 0

    def add(self, key: str, index: int) -> None:
        known = self._keys.get(key)
        if known is None:
            self._keys[key] = index
        elif isinstance(known, int):
            self._keys[key] = [known, index]
        else:
            known.append(index)

    def build(self) -> None:
        if not self._keys:
            return
        self.longest = max(map(len, self._keys))
        anchors: dict[str, list[tuple[str, int | list[int]]]] = {}
        for key, indices in self._keys.items():
            anchor = key[:ANCHOR]
            group = anchors.get(anchor)
            if group is None:
                anchors[anchor] = [(key, indices)]
            else:
                group.append((key, indices))
        automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for anchor, group in anchors.items():
            automaton.add_word(anchor, group)
        automaton.make_automaton()
        self._automaton = automaton
        self._keys = {}

    @property
    def active(self) -> bool:
        return self._automaton is not None

    def scan(self, text: str, found: set[int], since: int = 0, until: int | None = None) -> None:
        """Add the values found in ``text`` to ``found``; ``since`` and ``until``: only
        the keys that start at or after ``since`` and whose anchor ends before
        ``until`` (a key is still confirmed on all of ``text``)."""
        if self._automaton is None:
            return
        group: list[tuple[str, int | list[int]]]
        steps = (
            self._automaton.iter(text)
            if until is None
            else self._automaton.iter(text, since, until)
        )
        for end, group in steps:
            for key, indices in group:
                start = end + 1 - min(len(key), ANCHOR)
                if len(key) > ANCHOR and not text.startswith(key, start):
                    continue
                short = key[-1] == "|" and key[0] != "|"  # digits-short
                if short and start - (text.rfind("|", 0, start) + 1) > PREFIX_DIGITS:
                    continue  # more digits before it in the run than a country code
                if isinstance(indices, int):
                    found.add(indices)
                else:
                    found.update(indices)


# --- the gate ------------------------------------------------------------------------------


class Gated(NamedTuple):
    """A forbidden value by its :class:`Forms` (read back from the vault), where it
    came from, never the value itself."""

    case_id: str
    field: str
    forms: Forms


class LeakGate:
    """Every forbidden value of an export, compiled once; :meth:`scan` finds them.

    ``values``: each a :class:`Sensitive` (its forms computed here) or a
    :class:`Gated` (forms computed earlier by :func:`forms`, the same thing).
    ``public_words``: words the export itself writes for every case (the country
    names of the Markdown annex, say), added to the vocabulary's terms and labels; a
    value that is exactly one of them is not matched alone (docs/export-profiles.md).
    """

    def __init__(
        self,
        values: Iterable[Sensitive | Gated | Stored],
        *,
        public_words: Iterable[str] = (),
        _public: frozenset[str] | None = None,
    ) -> None:
        if _public is None:
            _public = vocabulary_words() | {f for w in public_words if (f := form(w))}
        self.public: Final = _public
        self._word = _Matcher()
        self._field = _Matcher()
        self._digits = _Matcher()
        views = {"word": self._word, "field": self._field, "digits": self._digits}
        matchers = {code: views[view] for code, view in _CODE_VIEWS.items()}
        self._where: list[tuple[str, str]] = []
        self._stored: list[Sensitive | Gated | Stored] | None = None
        self._count = 0
        bulk: set[str] = set()
        # Millions of small containers are made and all stay alive: the cyclic
        # collector would walk them again and again for nothing.
        collecting = gc.isenabled()
        gc.disable()
        try:
            listed = list(values)
            for value in listed:
                if isinstance(value, Stored):
                    self._count += self._add_stored(value, bulk)
                    continue
                index = len(self._where)
                self._where.append((value.case_id, value.field))
                value_forms = value.forms if isinstance(value, Gated) else forms(value)
                for item in _chosen(value_forms, self.public):
                    if item:
                        matchers[item[0]].add(item[1:], index)
            if len(self._where) < len(listed):
                # A case's values by its kept text: their patterns are matched as the
                # others are, and only when one is found is the gate built again
                # value by value, to name them (:meth:`scan`).
                self._stored = listed
                bulk.discard("")
                for item in bulk:
                    matchers[item[0]].add(item[1:], _STORED_HIT)
            for matcher in views.values():
                matcher.build()
        finally:
            if collecting:
                gc.enable()

    def _add_stored(self, stored: Stored, bulk: set[str]) -> int:
        """Add the patterns of a case's kept values to ``bulk``; how many values."""
        items = stored.items()
        words, always, unless = items[3::5], items[4::5], items[5::5]
        bulk.update(_SEPARATOR.join(always).split(_SEPARATOR))
        if self.public.isdisjoint(words):
            bulk.update(_SEPARATOR.join(unless).split(_SEPARATOR))
        else:
            for value_words, value_unless in zip(words, unless, strict=True):
                if value_unless and value_words not in self.public:
                    bulk.update(value_unless.split(_SEPARATOR))
        return len(always)

    def __len__(self) -> int:
        return len(self._where) + self._count

    def scan(
        self, data: bytes, *, workers: int = 1, helpers: list[Worker] | None = None
    ) -> list[Leak]:
        """The values found in ``data`` (the export's bytes, UTF-8): distinct (case,
        field) pairs, in the order the values were given. ``workers`` above 1 (or
        ``helpers``): the scan is cut into pieces (:func:`pieces`) shared among that
        many processes (:meth:`found`)."""
        found = self.found(data, workers=workers, helpers=helpers)
        if found and self._stored is not None:
            # Something was found: the same gate value by value names what.
            return LeakGate(_unpacked(self._stored), _public=self.public).scan(data)
        return self.named(found)

    def named(self, found: set[int]) -> list[Leak]:
        """The (case, field) pairs of the values found (no value of a Stored case)."""
        leaks: list[Leak] = []
        seen: set[tuple[str, str]] = set()
        for index in sorted(found):
            if index == _STORED_HIT:  # pragma: no cover - scan names them value by value
                continue
            where = self._where[index]
            if where not in seen:
                seen.add(where)
                leaks.append(Leak(*where))
        return leaks

    def helpers(self, count: int) -> list[Worker]:
        """``count`` forked copies of this gate, each waiting to scan a share of the
        data given to :meth:`found` (made ahead, so the fork is not waited for)."""
        from reprisal_report.redact.worker import Worker, dumps, loads

        def prepare() -> Callable[[bytes], bytes]:
            def answer(request: bytes) -> bytes:
                message = loads(request)
                if not isinstance(message, tuple):  # pragma: no cover - our own parent
                    raise TypeError("not a scan request")
                data: bytes = message[0]
                cuts: list[int] = message[1]
                return dumps(self._found_cuts(data, cuts))

            return answer

        return [Worker(prepare) for _ in range(count)] if _can_fork() else []

    def found(
        self, data: bytes, *, workers: int = 1, helpers: list[Worker] | None = None
    ) -> set[int]:
        """The indices of the values found in ``data``; with ``workers`` above 1 (or
        ``helpers`` made by :meth:`helpers`) and enough data, in pieces shared among
        that many processes. Helpers not needed are closed."""
        if helpers:
            try:
                return self._found(data, len(helpers) + 1, helpers)
            finally:
                for helper in helpers:
                    helper.close()
        return self._found(data, workers, None)

    def _found(self, data: bytes, workers: int, helpers: list[Worker] | None) -> set[int]:
        if len(data) < 2 * PIECE_BYTES:
            found: set[int] = set()
            self._found_flat(marked_fold(decode(data.decode("utf-8", errors="replace"))), found)
            return found
        # In pieces even in one process: folding a piece at a time is about twice as
        # fast as folding tens of megabytes at once (every step of it makes a copy).
        cuts = pieces(data, PIECE_BYTES)
        if workers < 2 or len(cuts) < 3 or not _can_fork():
            return self._found_cuts(data, cuts)
        return self._found_in_parallel(data, cuts, workers, helpers)

    def _found_in_parallel(
        self, data: bytes, cuts: list[int], workers: int, helpers: list[Worker] | None
    ) -> set[int]:
        from reprisal_report.redact.worker import WorkerFailed, dumps, loads

        share = -(-(len(cuts) - 1) // workers)
        parts = [(cuts[at : at + share + 1]) for at in range(0, len(cuts) - 1, share)]
        if helpers is None:
            helpers = self.helpers(len(parts) - 1)
        helpers = helpers[: len(parts) - 1]
        for helper, part in zip(helpers, parts[1:], strict=False):
            helper.send(dumps((data, part)))
        found = self._found_cuts(data, parts[0])
        for helper in helpers:
            theirs = loads(helper.receive())
            if not isinstance(theirs, set):  # pragma: no cover - our own child's answer
                raise WorkerFailed("leak gate: a worker answered nonsense; nothing was written")
            found |= theirs
        return found

    def _found_cuts(self, data: bytes, cuts: list[int]) -> set[int]:
        """The values found in the pieces between consecutive ``cuts`` and across each
        inner cut (the cuts' seams, see :func:`pieces`); the first and last cut of the
        whole data (0 and its length) have no seam."""
        found: set[int] = set()
        for start, end in itertools.pairwise(cuts):
            self._found_flat(_region_flat(data, start, end), found)
            if end < len(data):
                self._found_flat(self._seam(data, end), found)
        return found

    def _seam(self, data: bytes, cut: int) -> str:
        """The folded text around ``cut`` from a clean cut before it to one after it,
        each far enough away that every match across ``cut`` lies between them: at
        least the longest pattern's length of words on each side."""
        # A joined match is at most the longest pattern long; with the marks it joined
        # over, at most twice that in the word view.
        words = 2 * self._word.longest + 4
        left = _region_flat(data, _clean_before(data, cut, words), cut)
        right = _region_flat(data, cut, _clean_after(data, cut, words))
        return left + right

    def _found_flat(self, flat: str, found: set[int]) -> None:
        """Scan folded text (of the whole output, or of a region between clean cuts)."""
        self._digits.scan(digit_view(flat), found)
        markup, every = _joins(flat)
        words, junctions = _word_view_at(flat, sorted({at for at, _ in markup + every}))
        self._word.scan(words, found)
        for window, since, until in self._joined_windows(words, markup, junctions):
            self._word.scan(window, found, since, until)
        if every != markup:
            for window, since, until in self._joined_windows(words, every, junctions):
                self._word.scan(window, found, since, until)
        if self._field.active:
            self._field.scan(field_view(flat), found)

    def _joined_windows(
        self, words: str, spans: list[tuple[int, int]], junctions: dict[int, int]
    ) -> Iterator[tuple[str, int, int]]:
        """A joined view, only where it differs from the word view: the word view
        around each join with the space the join's marks became taken out, as far as
        the longest pattern reaches on either side (in words: a run of spaces or
        punctuation is one space there, so padding between the words of a name does
        not push it out of reach). With each window, where its scan may start and stop:
        a match the word view does not hold spans a join, so it starts at most the
        longest pattern before the first join of its window, and its anchor (the first
        ANCHOR characters) ends within ANCHOR characters after the last; the rest of
        the window is there for the comparison of longer keys."""
        reach = self._word.longest + 1
        windows: list[list[int]] = []  # the junctions of each window
        for at, _ in spans:
            junction = junctions[at]
            if windows and junction - windows[-1][-1] <= 2 * reach + 1:
                windows[-1].append(junction)
            else:
                windows.append([junction])
        for inside in windows:
            first, last = inside[0], inside[-1]
            # Whole words: from a space before, to a space after.
            start = words.rfind(" ", 0, max(0, first - reach) + 1)
            start = max(start, 0)
            end = words.find(" ", min(len(words) - 1, last + 1 + reach))
            end = len(words) if end < 0 else end + 1
            pieces: list[str] = []
            at = start
            for junction in inside:
                pieces.append(words[at:junction])
                at = junction + 1
            pieces.append(words[at:end])
            window = "".join(pieces)
            after_last = last - start - (len(inside) - 1)  # the first letter joined on
            yield window, max(0, first - start - reach), after_last + ANCHOR


def _word_view_at(flat: str, cuts: list[int]) -> tuple[str, dict[int, int]]:
    """The word view of ``flat``, and where in it the space stands that each join at
    ``cuts`` (a position with a letter before it and a join's mark at it) became. The
    view is made piece by piece between the cuts: a piece that ends with a letter
    followed by one that starts with a mark make the word view of both with one
    space between."""
    if not cuts:
        return word_view(flat), {}
    views: list[str] = []
    junctions: dict[int, int] = {}
    length = 0
    last = 0
    for cut in cuts:
        view = word_view(flat[last:cut])
        if views:
            view = view[1:]
        views.append(view)
        length += len(view)
        junctions[cut] = length - 1
        last = cut
    views.append(word_view(flat[last:])[1:])
    return "".join(views), junctions


_STORED_HIT: Final = -1  # the index of every pattern of a Stored value

# --- the scan in pieces ------------------------------------------------------------------

PIECE_BYTES: Final = 1 << 20  # the output is scanned in pieces of about this size
_TAG_REACH: Final = 203  # a tag (_TAG) is "<", at most 201 characters, ">"


def _can_fork() -> bool:
    from reprisal_report.redact.worker import available

    return available()


def _region_flat(data: bytes, start: int, end: int) -> str:
    return marked_fold(decode(data[start:end].decode("utf-8", errors="replace")))


def clean_cut(data: bytes, at: int) -> bool:
    """Whether the gate may cut ``data`` at ``at``: the folded text of the whole is
    then exactly that of ``data[:at]`` followed by that of ``data[at:]``, and no match
    of the digit or field view crosses ``at`` (matches of the word and joined views
    may: the seams find them, :meth:`LeakGate._seam`). So ``at`` follows a line break
    (no escape, entity or run of non-ASCII letters holds one, so decoding and folding
    on either side do not depend on the other; a line break ends every digit run and
    field), no tag spans it (a tag may hold a line break), and no join reaches over
    it (a dash or markup right before it, which a letter after it would join: each
    side alone would then make other joined views than the whole)."""
    if at in (0, len(data)):
        return True
    if not 0 < at < len(data) or data[at - 1] != 0x0A:
        return False
    # The decoded text before ``at``, from the start of an earlier line (decoding
    # between two line breaks never depends on what lies outside them).
    start, back = at, 4 * _TAG_REACH
    while True:
        start = data.rfind(b"\n", 0, max(0, at - back)) + 1
        text = decode(data[start:at].decode("utf-8", errors="replace"))
        if start == 0 or len(text) >= 4 * _TAG_REACH:
            break
        back *= 2
    if "<" in text[-_TAG_REACH:]:
        return False
    flat = marked_fold(text).rstrip(" ")
    if not flat.endswith("|"):  # pragma: no cover - a line break always folds to "|"
        return False
    before = flat[:-1].rstrip(" ")
    return not before or before[-1] not in _JOINERS


def _next_clean(data: bytes, at: int, limit: int) -> int | None:
    """The first clean cut at or after ``at`` and before ``limit``."""
    if at <= 0:
        return 0
    if data[at - 1] != 0x0A:
        found = data.find(b"\n", at, limit)
        at = found + 1 if found >= 0 else limit
    while at < limit:
        if clean_cut(data, at):
            return at
        found = data.find(b"\n", at, limit)
        at = found + 1 if found >= 0 else limit
    return None


def _clean_before(data: bytes, cut: int, words: int) -> int:
    """A clean cut before ``cut`` with at least ``words`` characters of word view
    between them, or 0."""
    back = 4 * words + 256
    while True:
        at = max(0, cut - back)
        if at == 0:
            return 0
        start = _next_clean(data, at, cut)
        if start is not None and len(word_view(_region_flat(data, start, cut))) >= words:
            return start
        back *= 2


def _clean_after(data: bytes, cut: int, words: int) -> int:
    """A clean cut after ``cut`` with at least ``words`` characters of word view
    between them, or the end of the data."""
    ahead = 4 * words + 256
    while True:
        at = cut + ahead
        if at >= len(data):
            return len(data)
        end = _next_clean(data, at, len(data))
        if end is None:
            return len(data)
        if len(word_view(_region_flat(data, cut, end))) >= words:
            return end
        ahead *= 2


def pieces(data: bytes, size: int) -> list[int]:
    """Clean cuts of ``data`` about ``size`` bytes apart: ``[0, ..., len(data)]``."""
    cuts = [0]
    at = size
    while at < len(data) - size // 2:
        cut = _next_clean(data, at, len(data) - size // 2)
        if cut is None:
            break
        cuts.append(cut)
        at = cut + size
    cuts.append(len(data))
    return cuts


def _unpacked(values: Iterable[Sensitive | Gated | Stored]) -> Iterator[Sensitive | Gated]:
    for value in values:
        if isinstance(value, Stored):
            yield from value.values()
        else:
            yield value


def without(
    values: Iterable[Sensitive | Gated | Stored], allowed: set[str]
) -> list[Sensitive | Gated | Stored]:
    """The values but those whose fold digest is in ``allowed`` (the forms of values
    that left as they are for an exported case)."""
    out: list[Sensitive | Gated | Stored] = []
    for value in values:
        if isinstance(value, Stored):
            disjoint = allowed.isdisjoint(value.items()[2::5])
            out.append(value if disjoint else value.without(allowed))
        elif isinstance(value, Gated):
            if value.forms.folded not in allowed:
                out.append(value)
        elif fold_digest(value.value) not in allowed:
            out.append(value)
    return out


def check(gate: LeakGate, data: bytes) -> None:
    """Raise :class:`LeakBlocked` when ``data`` holds any value of ``gate``."""
    refuse(gate.scan(data))


def refuse(leaks: list[Leak]) -> None:
    """Raise :class:`LeakBlocked` naming the first of ``leaks``, if there are any."""
    if leaks:
        first = leaks[0]
        raise LeakBlocked(
            f"leak gate: export refused: case {first.case_id} field {first.field} "
            f"appears in the output ({len(leaks)} sensitive values in all); "
            "nothing was written"
        )
