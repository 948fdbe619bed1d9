"""Full-text search over received cases: an FTS5 index inside the SQLCipher vault.

All search SQL lives here. The index holds the *folded* terms of each case
(:func:`reprisal_report.model.fold.terms`, the one normalisation used for indexing
and for queries), written space-separated into FTS5 columns whose ``ascii``
tokenizer cuts only at those spaces, so SQLite never applies its own rules to any
script. Queries are parsed here (:func:`parse_query`) and handed to FTS5 as quoted
terms only. The original text is never copied into the index: snippets are cut,
for the returned page only, from the case's own fields (the latest bundle's record
and the notes), read again with the same queries that built the entry.

FTS5 ``secure-delete`` is on, so replacing or removing a case's entry (an edited or
deleted note, a newer bundle) removes its old terms from the index's pages at once
rather than leaving delete markers; the vault's ``PRAGMA secure_delete`` zeroes the
freed pages. docs/search.md is the user-facing description.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from reprisal_report.errors import InvalidInput
from reprisal_report.model.fold import fold, index_terms, terms

if TYPE_CHECKING:
    from reprisal_report.vault.store import Vault

# Indexed fields, in the order a hit's field is reported (the first that matches).
FIELDS: Final = (
    "title",
    "victims",
    "organisations",
    "perpetrators",
    "locations",
    "public_summary",
    "narrative",
    "notes",
)
# One more column, never reported as a field: every Han, kana and Hangul character of
# the case alone, so that a one-character query is one exact lookup.
_CJK_COLUMN: Final = "cjk"
_COLUMNS: Final = (*FIELDS, _CJK_COLUMN)
# bm25 weights, one per column: a name or the title counts more than the story.
_WEIGHTS: Final = "bm25(4.0, 4.0, 2.0, 2.0, 2.0, 1.5, 1.0, 1.0, 1.0)"
# Up to this many matching cases are ordered by relevance; a query matching more (a
# common word) lists the most recently received or updated cases first, so its cost
# does not grow with the vault.
RANKED_MATCHES: Final = 2_000
MIN_PREFIX: Final = 2
# Put between two values of one field (two victims, two notes) so that no phrase
# spans them: a term fold never produces (it removes every format character).
_BOUNDARY: Final = "\u200b"

MAX_QUERY_CHARS: Final = 1000
MAX_QUERY_TERMS: Final = 64
MAX_DEPTH: Final = 16
SNIPPET_CHARS: Final = 160
HIT_OPEN: Final = "«"
HIT_CLOSE: Final = "»"
_SLACK: Final = 12

MIGRATION: list[str | Callable[[Any], None]] = []  # filled below, after backfill


@dataclass(frozen=True)
class SearchHit:
    case_id: str
    field: str
    snippet: str
    rank: float
    title: str
    country: str
    status: str
    risk: str
    consent: str


# --- the case's own text -------------------------------------------------------------

# The text of the indexed fields of several cases (a JSON array of ids) in one query:
# (case_id, field, value), in field order, victims in order with each one's aliases
# after the names, notes by number. SQLite reads the JSON itself (json_each, ->>): the
# record is the vault's own copy. Contacts and the rest of the record are never read.
_FIELDS_SQL: Final = """
    WITH r AS (
        SELECT t.case_id AS case_id, b.record AS j
        FROM json_each(?) ids
        JOIN triage_cases t ON t.case_id = ids.value
        JOIN inbox_bundles b ON b.bundle_id = t.latest_bundle_id
    ),
    okr AS (SELECT case_id, j FROM r WHERE json_valid(j)),
    v AS (
        SELECT okr.case_id, e.key AS k, e.value AS o FROM okr, json_each(okr.j, '$.victims') e
        WHERE json_type(okr.j, '$.victims') = 'array' AND e.type = 'object'
    ),
    p AS (
        SELECT okr.case_id, e.key AS k, e.value AS o
        FROM okr, json_each(okr.j, '$.perpetrators') e
        WHERE json_type(okr.j, '$.perpetrators') = 'array' AND e.type = 'object'
    )
    SELECT case_id, '', 0, 0, 0 FROM r
    UNION ALL SELECT case_id, 'title', 1, 0, j ->> '$.title' FROM okr
    UNION ALL SELECT case_id, 'victims', 2, k * 2, o ->> '$.name' FROM v
    UNION ALL SELECT v.case_id, 'victims', 2, v.k * 2 + 1, a.value
        FROM v, json_each(v.o, '$.aliases') a WHERE a.type = 'text'
    UNION ALL SELECT case_id, 'organisations', 3, k, o ->> '$.organisation' FROM v
    UNION ALL SELECT case_id, 'perpetrators', 4, k, o ->> '$.name' FROM p
    UNION ALL SELECT case_id, 'locations', 5, 0, j ->> '$.location' FROM okr
    UNION ALL SELECT case_id, 'public_summary', 6, 0, j ->> '$.public_summary' FROM okr
    UNION ALL SELECT case_id, 'narrative', 7, 0, j ->> '$.narrative' FROM okr
    UNION ALL SELECT n.case_id, 'notes', 8, n.seq, n.text
        FROM triage_notes n JOIN r ON r.case_id = n.case_id
    ORDER BY 1, 3, 4
"""


def fields_of(conn: Any, case_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """The original text of every indexed field of each case that has a triage row."""
    result: dict[str, dict[str, list[str]]] = {}
    rows = conn.execute(_FIELDS_SQL, (json.dumps(list(case_ids)),)).fetchall()
    for case_id, field, _order, _sub, value in rows:
        fields = result.setdefault(case_id, {name: [] for name in FIELDS})
        if field and isinstance(value, str) and value.strip():
            fields[field].append(value)
    return result


def case_fields(conn: Any, case_id: str) -> dict[str, list[str]] | None:
    """The original text of every indexed field of one case, or None if the case has no
    triage row."""
    return fields_of(conn, [case_id]).get(case_id)


def _columns(fields: dict[str, list[str]]) -> list[str]:
    """The text of each FTS column: the terms of each field (values apart, see
    _BOUNDARY), then every CJK character of the case."""
    columns: list[str] = []
    singles: list[str] = []
    for name in FIELDS:
        parts: list[str] = []
        for value in fields[name]:
            found, cjk = index_terms(value)
            parts.append(" ".join(found))
            singles.extend(cjk)
        columns.append(f" {_BOUNDARY} ".join(parts))
    columns.append(" ".join(singles))
    return columns


# --- maintaining the index -----------------------------------------------------------


def _remove(conn: Any, case_id: str) -> None:
    row = conn.execute("SELECT id FROM case_search_rows WHERE case_id = ?", (case_id,)).fetchone()
    if row is None:
        return
    conn.execute("DELETE FROM case_search WHERE rowid = ?", (row[0],))
    conn.execute("DELETE FROM case_search_rows WHERE id = ?", (row[0],))


_INSERT_SQL: Final = (
    f"INSERT INTO case_search(rowid, {', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES (?, {', '.join('?' for _ in _COLUMNS)})"
)


def _reindex(conn: Any, case_id: str) -> None:
    fields = case_fields(conn, case_id)
    _remove(conn, case_id)
    if fields is None:
        return
    cursor = conn.execute("INSERT INTO case_search_rows(case_id) VALUES (?)", (case_id,))
    conn.execute(_INSERT_SQL, (cursor.lastrowid, *_columns(fields)))


def reindex_case(vault: Vault, case_id: str) -> None:
    """(Re)build the index entry of one case from its latest bundle and its notes; a
    case without a triage row loses its entry. Runs inside the caller's transaction."""
    with vault.transaction() as conn:
        _reindex(conn, case_id)


def remove_case(vault: Vault, case_id: str) -> None:
    """Drop one case's entry (its terms leave the index pages: secure-delete)."""
    with vault.transaction() as conn:
        _remove(conn, case_id)


def _backfill(conn: Any) -> None:
    for (case_id,) in conn.execute("SELECT case_id FROM triage_cases ORDER BY case_id").fetchall():
        _reindex(conn, case_id)


MIGRATION.extend(
    [
        # Maps the FTS rowid to the case (an explicit INTEGER PRIMARY KEY: VACUUM keeps it).
        "CREATE TABLE case_search_rows (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL UNIQUE)",
        f"""CREATE VIRTUAL TABLE case_search USING fts5(
            {", ".join(_COLUMNS)}, tokenize = 'ascii', prefix = '2 3'
        )""",
        "INSERT INTO case_search(case_search, rank) VALUES ('secure-delete', 1)",
        f"INSERT INTO case_search(case_search, rank) VALUES ('rank', '{_WEIGHTS}')",  # noqa: S608
        # A triage row deleted by any path takes its index entry with it.
        """CREATE TRIGGER case_search_forget AFTER DELETE ON triage_cases BEGIN
            DELETE FROM case_search WHERE rowid IN
                (SELECT id FROM case_search_rows WHERE case_id = old.case_id);
            DELETE FROM case_search_rows WHERE case_id = old.case_id;
        END""",
        _backfill,
    ]
)


# --- queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """A word or phrase: folded terms that must follow each other in one value."""

    terms: tuple[str, ...]
    prefix: bool  # the last term is a prefix
    single: bool = False  # one Han, kana or Hangul character, looked up alone


@dataclass(frozen=True)
class Op:
    op: str  # AND, OR, NOT (NOT is binary: left and not right)
    left: Node
    right: Node


Node = Atom | Op


def _bad(problem: str) -> InvalidInput:
    return InvalidInput(
        f"search query: {problem}",
        hint='words, "quoted phrases", prefix*, AND, OR, NOT, parentheses',
    )


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, op, open, close
    text: str
    prefix: bool = False


def _lex(query: str) -> Iterator[_Token]:
    index = 0
    length = len(query)
    depth = 0
    while index < length:
        char = query[index]
        if char.isspace():
            index += 1
        elif char == "(":
            index += 1
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(f"parentheses nested deeper than {MAX_DEPTH}")
            yield _Token("open", char)
        elif char == ")":
            index += 1
            depth -= 1
            yield _Token("close", char)
        elif char == '"':
            end = query.find('"', index + 1)
            if end < 0:
                raise _bad("a quote is not closed")
            text = query[index + 1 : end]
            index = end + 1
            prefix = index < length and query[index] == "*"
            if prefix:
                index += 1
            yield _Token("phrase", text, prefix)
        else:
            end = index
            while end < length and not (query[end].isspace() or query[end] in '()"'):
                end += 1
            word = query[index:end]
            index = end
            if word in ("AND", "OR", "NOT"):
                yield _Token("op", word)
            else:
                prefix = word.endswith("*")
                yield _Token("word", word.rstrip("*"), prefix)


def _atom(token: _Token) -> Atom | None:
    """The folded terms of a word or phrase; None if it holds nothing searchable.

    One Han, kana or Hangul character alone is looked up in the column of single
    characters. Otherwise the terms form a phrase; when it ends in a one-character CJK
    run, that character is a prefix (it matches the bigrams starting with it).
    """
    found = terms(token.text)
    if not found:
        return None
    last = found[-1]
    if len(found) == 1 and last.cjk and len(last.text) == 1:
        return Atom((last.text,), prefix=False, single=True)
    if token.prefix and not last.cjk and len(last.text) < MIN_PREFIX:
        raise _bad(f"a prefix needs at least {MIN_PREFIX} letters or digits before *")
    prefix = token.prefix or (last.cjk and len(last.text) == 1)
    return Atom(tuple(t.text for t in found), prefix)


class _Parser:
    """query := or; or := and (OR and)*; and := not ([AND] not)*; not := unary (NOT unary)*;
    unary := ( or ) | word | "phrase"."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            raise _bad("a closing parenthesis has no opening one")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            node = Op("OR", node, self.operand("OR"))
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while (token := self.peek()) is not None:
            if token.kind == "op" and token.text == "AND":
                self.take()
                node = Op("AND", node, self.operand("AND", level="not"))
            elif token.kind in ("word", "phrase", "open"):
                node = Op("AND", node, self.parse_not())
            else:
                break
        return node

    def parse_not(self) -> Node:
        node = self.parse_unary()
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "NOT":
            self.take()
            node = Op("NOT", node, self.operand("NOT", level="unary"))
        return node

    def operand(self, op: str, level: str = "and") -> Node:
        token = self.peek()
        if token is None or token.kind in ("op", "close"):
            raise _bad(f"{op} needs a word or phrase after it")
        if level == "unary":
            return self.parse_unary()
        if level == "not":
            return self.parse_not()
        return self.parse_and()

    def parse_unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise _bad("the query ends where a word or phrase was expected")
        if token.kind == "op":
            if token.text == "NOT":
                raise _bad("NOT needs a word or phrase before it (a NOT b)")
            raise _bad(f"{token.text} needs a word or phrase before it")
        if token.kind == "close":
            raise _bad("empty parentheses or a closing parenthesis without an opening one")
        self.take()
        if token.kind == "open":
            if (inner := self.peek()) is not None and inner.kind == "close":
                raise _bad("empty parentheses")
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise _bad("a parenthesis is not closed")
            self.take()
            return node
        atom = _atom(token)
        if atom is None:  # _clean dropped these; a phrase of nothing but punctuation
            raise _bad("a quoted phrase has no letters or digits")
        return atom


def _clean(tokens: list[_Token]) -> list[_Token]:
    """Bare words without letters or digits (a lone dash, an emoji) are dropped."""
    return [t for t in tokens if t.kind != "word" or terms(t.text)]


def parse_query(query: str) -> Node:
    """The user's query as a tree of atoms; InvalidInput (exit 2) naming the problem."""
    if len(query) > MAX_QUERY_CHARS:
        raise _bad(f"longer than {MAX_QUERY_CHARS} characters")
    tokens = list(_lex(query))
    if not tokens:
        raise _bad("empty")
    tokens = _clean(tokens)
    if not any(t.kind in ("word", "phrase") for t in tokens):
        raise _bad("no letters or digits to search for")
    node = _Parser(tokens).parse()
    if sum(len(a.terms) for a in _atoms(node)) > MAX_QUERY_TERMS:
        raise _bad(f"more than {MAX_QUERY_TERMS} terms")
    return node


def _atoms(node: Node, positive: bool = True, only_positive: bool = False) -> Iterator[Atom]:
    if isinstance(node, Atom):
        if positive or not only_positive:
            yield node
        return
    yield from _atoms(node.left, positive, only_positive)
    yield from _atoms(node.right, positive and node.op != "NOT", only_positive)


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def to_match(node: Node) -> str:
    """The FTS5 MATCH expression of a parsed query: every term quoted."""
    if isinstance(node, Atom):
        if node.single:
            return f"{_CJK_COLUMN} : {_quote(node.terms[0])}"
        phrase = " + ".join(_quote(t) for t in node.terms)
        return phrase + (" *" if node.prefix else "")
    return f"({to_match(node.left)}) {node.op} ({to_match(node.right)})"


# --- searching -------------------------------------------------------------------------

_PAGE_SQL: Final = """
    SELECT r.case_id, s.rank, t.title, t.country, t.status, t.risk, t.consent
    FROM (SELECT rowid AS id, {rank} FROM case_search WHERE case_search MATCH ?
          ORDER BY {order} LIMIT ? OFFSET ?) s
    JOIN case_search_rows r ON r.id = s.id
    JOIN triage_cases t ON t.case_id = r.case_id
    ORDER BY {outer}
"""
_RANKED_SQL: Final = _PAGE_SQL.format(
    rank="rank", order="rank, rowid DESC", outer="s.rank, s.id DESC"
)
# Newest first computes no bm25: its first call would scan every match for statistics.
_RECENT_SQL: Final = _PAGE_SQL.format(rank="0.0 AS rank", order="rowid DESC", outer="s.id DESC")
_MANY_SQL: Final = "SELECT rowid FROM case_search WHERE case_search MATCH ? LIMIT 1 OFFSET ?"


def search(vault: Vault, query: str, *, limit: int, offset: int = 0) -> list[SearchHit]:
    """Cases matching ``query``: by relevance (bm25) when at most RANKED_MATCHES cases
    match, else most recently indexed first. ``field`` and ``snippet`` are computed
    for the returned page only, from the case's own text."""
    if not 1 <= limit <= 1_000_000_000 or not 0 <= offset <= 1_000_000_000:
        raise InvalidInput(
            "search: the limit must be from 1 and the offset from 0, to 1,000,000,000"
        )
    node = parse_query(query)
    match = to_match(node)
    many = vault.conn.execute(_MANY_SQL, (match, RANKED_MATCHES)).fetchone() is not None
    sql = _RECENT_SQL if many else _RANKED_SQL
    rows = vault.conn.execute(sql, (match, limit, offset)).fetchall()
    positive = list(_atoms(node, only_positive=True))
    hits: list[SearchHit] = []
    texts = fields_of(vault.conn, [row[0] for row in rows])
    for case_id, rank, title, country, status, risk, consent in rows:
        fields = texts.get(case_id, {})
        field, snippet_text = _locate(fields, positive)
        hits.append(
            SearchHit(
                case_id=case_id,
                field=field,
                snippet=snippet_text,
                rank=float(rank),
                title=title or "",
                country=country or "",
                status=status or "",
                risk=risk or "",
                consent=consent or "",
            )
        )
    return hits


def _single_spans(value: str, wanted: str) -> Iterator[tuple[int, int]]:
    """Spans of the characters of ``value`` that fold to the CJK character ``wanted``."""
    for index, char in enumerate(value):
        if not char.isascii() and _fold_char(char) == wanted:
            yield index, index + 1


@functools.lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return fold(char)


def _matches(seq: list[str], atom: Atom) -> Iterator[tuple[int, int]]:
    """(first, last) indexes in ``seq`` (term texts) where ``atom`` occurs."""
    size = len(atom.terms)
    if size == 1 and not atom.prefix:
        wanted = atom.terms[0]
        if wanted in seq:
            yield from ((index, index) for index, have in enumerate(seq) if have == wanted)
        return
    for start in range(len(seq) - size + 1):
        for offset, wanted in enumerate(atom.terms):
            have = seq[start + offset]
            last = offset == size - 1
            if not (have == wanted or (last and atom.prefix and have.startswith(wanted))):
                break
        else:
            yield start, start + size - 1


def _hit_spans(value: str, atoms: list[Atom]) -> list[tuple[int, int]]:
    """Every span of ``value`` where a positive atom occurs, in order. The cheap test
    on the index's own terms comes first; spans are computed only for a value that
    holds a hit."""
    found, singles = index_terms(value)
    hit = any(
        (atom.terms[0] in singles) if atom.single else next(_matches(found, atom), None)
        for atom in atoms
    )
    if not hit:
        return []
    seq = terms(value)
    texts = [term.text for term in seq]
    spans: list[tuple[int, int]] = []
    for atom in atoms:
        if atom.single:
            spans.extend(_single_spans(value, atom.terms[0]))
        else:
            spans.extend((seq[a].start, seq[b].end) for a, b in _matches(texts, atom))
    return sorted(spans)


def _locate(fields: dict[str, list[str]], atoms: list[Atom]) -> tuple[str, str]:
    """The first field (in FIELDS order) holding a positive atom, and a snippet of the
    value around the first hit with every hit in the window marked."""
    for name in FIELDS:
        for value in fields.get(name, []):
            spans = _hit_spans(value, atoms)
            if spans:
                return name, snippet(value, spans)
    return "", ""


def snippet(value: str, spans: Sequence[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """Up to about ``width`` characters of ``value`` around the first span, every span
    inside marked «so», whitespace runs shown as one space."""
    first_start, first_end = spans[0]
    if len(value) <= width:
        start, end = 0, len(value)
    else:
        before = max(0, (width - (first_end - first_start)) // 3)
        start = max(0, first_start - before)
        end = min(len(value), max(first_end, start + width))
        # Cut at a space near each end rather than inside a word.
        if start > 0:
            space = value.rfind(" ", max(0, start - _SLACK), start)
            start = space + 1 if space >= 0 else start
        if end < len(value):
            space = value.find(" ", end, end + _SLACK)
            end = space if space >= 0 else end
    pieces: list[str] = []
    cursor = start
    for span_start, span_end in _merge(spans):
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, cursor), min(span_end, end)
        if span_start >= span_end:
            continue
        pieces.append(value[cursor:span_start])
        pieces.append(HIT_OPEN + value[span_start:span_end] + HIT_CLOSE)
        cursor = span_end
    pieces.append(value[cursor:end])
    text = " ".join("".join(pieces).split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(value) else "")


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for span_start, span_end in sorted(spans):
        if merged and span_start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return merged
