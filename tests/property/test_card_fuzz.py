"""Hostile input for the org-card and identity-card readers.

Invariants:

- whatever the bytes, ``orgcard.parse_card``, ``orgcard.verify_card`` and
  ``idcard.parse_card`` either return or raise a ``ReportError`` with exit code 3 and a
  one-line message; never any other exception;
- a mutated example card (bytes flipped, inserted or deleted; fields changed, added or
  removed; the same content re-encoded) never verifies, unless the mutation left the
  bytes exactly as they were.

A card without its final newline is a second encoding and is rejected (last test).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import nacl.signing
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reprisal_report.errors import ExitCode, ReportError
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import idcard, orgcard
from reprisal_report.model.canonical import canonical_json

KEYS = Path(__file__).resolve().parents[2] / "keys"
ORG_CARD = (KEYS / "example-org.card.json").read_bytes()
ID_CARDS = {
    role: (KEYS / f"example-{role}.id.json").read_bytes()
    for role in ("coordinator", "reporter", "auditor")
}
EXAMPLE_ROOT = orgcard.parse_card(ORG_CARD).card.root_keys[0]
NOW = datetime(2026, 6, 1, tzinfo=UTC)

fuzz = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

Reader = Callable[[bytes], object]


def verify_org_card(data: bytes) -> object:
    return orgcard.verify_card(data, now=NOW, pinned_roots=(EXAMPLE_ROOT,))


ORG_VERIFIERS: dict[str, Reader] = {"orgcard.verify_card": verify_org_card}
ID_VERIFIERS: dict[str, Reader] = {"idcard.parse_card": idcard.parse_card}
READERS: dict[str, Reader] = {
    "orgcard.parse_card": orgcard.parse_card,
    **ORG_VERIFIERS,
    **ID_VERIFIERS,
}


def accepts(reader: Reader, data: bytes) -> bool:
    """True if ``reader`` accepts ``data``; fails the test on any non-exit-3 error."""
    try:
        reader(data)
    except ReportError as err:
        assert err.exit_code == ExitCode.VERIFICATION, (type(err).__name__, err.message)
        assert err.message and "\n" not in err.message
        assert err.hint is None or "\n" not in err.hint
        return False
    return True


def only_exit_3(data: bytes) -> None:
    for reader in READERS.values():
        accepts(reader, data)


def never_verifies_unless_unchanged(data: bytes, original: bytes) -> None:
    """The invariant for a mutation of ``original``, checked with every reader."""
    org = original == ORG_CARD
    for name, reader in READERS.items():
        accepted = accepts(reader, data)
        verifies = name in (ORG_VERIFIERS if org else ID_VERIFIERS)
        if accepted and verifies:
            assert data == original, f"{name} accepted a changed card"
        if accepted and not verifies and name != "orgcard.parse_card":
            pytest.fail(f"{name} accepted a card of the other kind")


# --- strategies -------------------------------------------------------------------------

ORG_DOC: dict[str, Any] = json.loads(ORG_CARD)
ID_DOCS: dict[str, dict[str, Any]] = {r: json.loads(d) for r, d in ID_CARDS.items()}


def _field_names(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_field_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_field_names(v) for v in node))
    return set()


def _strings(node: object) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set().union(*(_strings(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_strings(v) for v in node))
    return set()


FIELD_NAMES = sorted(_field_names([ORG_DOC, *ID_DOCS.values()]))
# Real values from the cards (keys, signatures, recipients, times, formats), so that
# fields often hold something of the right shape but in the wrong place.
CARD_STRINGS = sorted(_strings([ORG_DOC, *ID_DOCS.values()]))
TRICKY_STRINGS = [
    "",
    " ",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2099-01-01T00:00:00+00:00",
    "٢٠٢٦-01-01T00:00:00Z",  # Arabic-Indic digits
    "9999-12-31T23:59:59Z",
    "reprisal-report/org-card/2",
    "reprisal-report/identity-card/1 ",
    "age1",
    "AGE1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARC0SAVHH7M",
    "age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0savhh7m",
    "AAAA",
    "AAAA=",
    "A" * 43 + "=",
    "A" * 86 + "==",
    "ftp://relay.example.org",
    "coordinator ",
    "relay",
    "x" * 501,
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, 1, 2, -1, 2**53 - 1, 2**53, -(2**53), 10**400])
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(CARD_STRINGS + TRICKY_STRINGS)
)
field_keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(field_keys, inner, max_size=6),
    max_leaves=20,
)


def encode(doc: object, newline: bool = True) -> bytes:
    """Canonical bytes where the value allows it, else the nearest JSON text."""
    try:
        body = canonical_json(doc)
    except TypeError:
        body = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    return body + b"\n" if newline else body


Path_ = tuple[str | int, ...]


def paths(node: object, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix]
    if isinstance(node, dict):
        for key in sorted(node):
            found += paths(node[key], (*prefix, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += paths(item, (*prefix, index))
    return found


def get(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def tweak(draw: st.DrawFn, value: Any) -> Any:
    """A near miss for ``value``: the same kind of thing, slightly different."""
    if isinstance(value, bool) or value is None:
        return draw(st.sampled_from([True, False, None, 0, 1, "", "null"]))
    if isinstance(value, int):
        near = [value + 1, value - 1, -value, str(value), True, 2**53]
        # An int beyond the float range has no float twin to offer.
        if abs(value) < 2**1023:
            near.append(float(value))
        return draw(st.sampled_from(near))
    if isinstance(value, str):
        at = draw(st.integers(0, len(value)))
        char = draw(st.characters(codec="utf-8"))
        return draw(
            st.sampled_from(
                [
                    value[:at] + char + value[at:],
                    value[:at] + value[at + 1 :],
                    value[:at] + char + value[at + 1 :],
                    value.upper(),
                    value.lower(),
                    value.swapcase(),
                    value + " ",
                    " " + value,
                    value + "=",
                    value.rstrip("="),
                    value.replace("—", "--"),
                    value.replace("Z", "+00:00"),
                    value.replace("+", "-").replace("/", "_"),
                    [value],
                ]
            )
        )
    if isinstance(value, list):
        if not value:
            return draw(st.sampled_from([[None], [""], [{}], {}]))
        return draw(
            st.sampled_from([[], value[::-1], value + value[:1], value[1:], value[:1] * 2, {}])
        )
    if isinstance(value, dict):
        return draw(st.sampled_from([{}, [value], dict(list(value.items())[1:])]))
    return value


@st.composite
def structural_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """Change, add or remove fields or list items, anywhere, then encode canonically."""
    doc: Any = copy.deepcopy(json.loads(original))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(doc)))
        node = get(doc, path)
        op = draw(st.sampled_from(["tweak", "replace", "delete", "add", "swap"]))
        if op == "add":
            if isinstance(node, dict):
                node[draw(field_keys)] = draw(json_values | st.sampled_from(CARD_STRINGS))
                continue
            if isinstance(node, list):
                item = draw(st.sampled_from(node) if node else json_values)
                node.insert(draw(st.integers(0, len(node))), copy.deepcopy(item))
                continue
            op = "tweak"
        if op == "delete" and path:
            del get(doc, path[:-1])[path[-1]]
            continue
        new: Any
        if op == "swap":
            new = draw(st.sampled_from(CARD_STRINGS))
        elif op == "replace":
            new = draw(json_values)
        else:
            new = draw(tweak(node))
        if path:
            get(doc, path[:-1])[path[-1]] = new
        else:
            doc = new
    return encode(doc)


@st.composite
def byte_mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """Flip, insert, delete, replace or duplicate bytes."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(["flip", "insert", "delete", "replace", "duplicate"]))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4) | st.sampled_from(STRUCTURAL))
        elif op == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        else:
            end = at + draw(st.integers(1, 16))
            data[end:end] = data[at:end]
    return bytes(data)


STRUCTURAL = [b" ", b"\n", b"\t", b"\r", b",", b":", b"{", b"}", b"[", b"]", b'"', b"\\", b"0"]


def _shuffled(draw: st.DrawFn, node: Any) -> Any:
    if isinstance(node, dict):
        keys = draw(st.permutations(sorted(node)))
        return {k: _shuffled(draw, node[k]) for k in keys}
    if isinstance(node, list):
        return [_shuffled(draw, item) for item in node]
    return node


@st.composite
def re_encodings(draw: st.DrawFn, original: bytes) -> bytes:
    """The same content in another JSON spelling."""
    doc = json.loads(original)
    body = canonical_json(doc)
    style = draw(
        st.sampled_from(["indent", "spaced", "key order", "ascii", "escaped slash", "framing"])
    )
    if style == "indent":
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=draw(st.integers(0, 4)))
    elif style == "spaced":
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    elif style == "key order":
        shuffled = _shuffled(draw, doc)
        text = json.dumps(shuffled, separators=(",", ":"), ensure_ascii=False)
    elif style == "ascii":
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    elif style == "escaped slash":
        text = body.decode("utf-8").replace("/", "\\/", draw(st.integers(1, 3)))
    else:
        prefix = draw(st.sampled_from([b"", b" ", b"\n", b"\xef\xbb\xbf", b"\t"]))
        suffix = draw(st.sampled_from([b"", b"\n", b"\n\n", b" \n", b"\r\n", b"\n ", b"\x00"]))
        return prefix + body + suffix
    return text.encode("utf-8") + draw(st.sampled_from([b"\n", b""]))


def card_shaped(doc: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Documents with the real envelope and field names, holding arbitrary values."""

    def fields(node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {key: st.just(value) | json_values for key, value in node.items()}
        )

    inner = next(k for k, v in doc.items() if isinstance(v, dict))
    outer = {k: st.just(v) | json_values for k, v in doc.items() if k != inner}
    return st.fixed_dictionaries({inner: fields(doc[inner]) | json_values, **outer})


# Half the examples mutate the org card, the larger and more intricate format.
examples = st.just(ORG_CARD) | st.sampled_from(list(ID_CARDS.values()))


# --- nothing but exit 3 ------------------------------------------------------------------


@fuzz
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\n")
@example(b"[" * 100_000)
@example(b"{}" + b"\n")
@example(b"\xff\xfe{}")
@example(b'{"card":1,"card":2,"signatures":[]}')
def test_arbitrary_bytes_raise_only_exit_3(data: bytes) -> None:
    only_exit_3(data)
    for reader in ORG_VERIFIERS.values():
        assert not accepts(reader, data)


@fuzz
@given(json_values, st.booleans())
@example(1.5, True)
@example(float("nan"), True)
@example(10**400, True)
@example("\ud800", True)
@example({"card": {}, "signatures": []}, True)
def test_arbitrary_json_raises_only_exit_3(value: Any, newline: bool) -> None:
    only_exit_3(encode(value, newline))
    only_exit_3(json.dumps(value).encode("utf-8"))


@fuzz
@given(card_shaped(ORG_DOC) | st.sampled_from(list(ID_DOCS.values())).flatmap(card_shaped))
def test_card_shaped_json_raises_only_exit_3(doc: dict[str, Any]) -> None:
    data = encode(doc)
    only_exit_3(data)
    if data not in (ORG_CARD, *ID_CARDS.values()):
        for reader in (*ORG_VERIFIERS.values(), *ID_VERIFIERS.values()):
            assert not accepts(reader, data)


# --- mutated example cards never verify -------------------------------------------------


def test_the_unmutated_examples_verify() -> None:
    assert accepts(verify_org_card, ORG_CARD)
    assert accepts(orgcard.parse_card, ORG_CARD)
    for data in ID_CARDS.values():
        assert accepts(idcard.parse_card, data)


@fuzz
@given(examples.flatmap(lambda card: st.tuples(byte_mutations(card), st.just(card))))
def test_byte_mutations_never_verify(case: tuple[bytes, bytes]) -> None:
    never_verifies_unless_unchanged(*case)


@fuzz
@given(examples.flatmap(lambda card: st.tuples(structural_mutations(card), st.just(card))))
def test_field_mutations_never_verify(case: tuple[bytes, bytes]) -> None:
    never_verifies_unless_unchanged(*case)


@fuzz
@given(examples.flatmap(lambda card: st.tuples(re_encodings(card), st.just(card))))
def test_re_encodings_never_verify(case: tuple[bytes, bytes]) -> None:
    never_verifies_unless_unchanged(*case)


# --- the signature list is not signed ---------------------------------------------------


@fuzz
@given(st.text(min_size=1, max_size=20), st.binary(min_size=64, max_size=64))
def test_extra_signatures_never_change_what_verifies(kid: str, signature: bytes) -> None:
    """An org card's ``signatures`` array is outside every signature, so anyone can add
    an entry for another key id. The file then differs, but it must verify as the very
    same card or not at all."""
    doc = copy.deepcopy(ORG_DOC)
    doc["signatures"].append({"key_id": kid, "signature": enc.b64(signature)})
    data = encode(doc)
    try:
        signed = orgcard.verify_card(data, now=NOW, pinned_roots=(EXAMPLE_ROOT,))
    except ReportError as err:
        assert err.exit_code == ExitCode.VERIFICATION
        return
    assert signed.card == orgcard.parse_card(ORG_CARD).card


# --- one encoding only --------------------------------------------------------------------


@pytest.mark.parametrize("card", [ORG_CARD, *ID_CARDS.values()], ids=["org", *ID_CARDS])
def test_a_card_without_its_final_newline_is_rejected(card: bytes) -> None:
    truncated = card.removesuffix(b"\n")
    for reader in (orgcard.parse_card, verify_org_card, idcard.parse_card):
        assert not accepts(reader, truncated)


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _bech32(hrp: str, data: list[int]) -> str:
    """BIP 173 encoding (a test helper: an encoding, not cryptography)."""
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = _polymod([*expanded, *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in [*data, *checksum])


def test_age_recipient_with_nonzero_padding_bits_is_rejected() -> None:
    """The stock age tool refuses such a spelling; so must we (one key, one spelling)."""
    import pyrage

    from reprisal_report.errors import CardInvalid

    canonical = str(pyrage.x25519.Identity.generate().to_public())
    data = [BECH32.index(c) for c in canonical[len("age1") : -6]]
    assert _bech32("age", data) == canonical  # the helper reproduces the real encoding
    # 32 bytes = 256 bits in 52 groups of 5: the last group carries 4 padding bits.
    padded = _bech32("age", [*data[:-1], data[-1] | 0b0001])
    assert padded != canonical
    assert str(pyrage.x25519.Recipient.from_str(padded)) == canonical  # pyrage tolerates it
    with pytest.raises(CardInvalid, match="not canonically encoded"):
        idcard.check_age_recipient(padded, "test")
    assert idcard.check_age_recipient(canonical, "test") == canonical


# --- no card with a non-printing character in a text field parses -----------------------

_NON_PRINTING_CATEGORIES: Final = ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn")
NON_PRINTING = st.characters(categories=_NON_PRINTING_CATEGORIES).filter(
    lambda c: not 0xD800 <= ord(c) <= 0xDFFF  # lone surrogates cannot be encoded at all
) | st.sampled_from(["\r", "\n", "\x1b", "\u202e", "\u2066", "\u200b", "\u2028", "\x85"])


_FUZZ_KEY = nacl.signing.SigningKey(bytes(32))  # a throw-away key for re-signed cards


def _resign_id(body: dict[str, Any]) -> bytes:
    key = _FUZZ_KEY
    body = dict(body, signing_key=enc.b64(bytes(key.verify_key)))
    return enc.dump({"identity": body, "signature": enc.b64(enc.sign(key, idcard.DOMAIN, body))})


@fuzz
@given(
    field=st.sampled_from(["label"]),
    prefix=st.text(max_size=20).filter(lambda t: t.isprintable()),
    bad=NON_PRINTING,
    suffix=st.text(max_size=20).filter(lambda t: t.isprintable()),
)
def test_no_identity_card_with_a_non_printing_character_parses(
    field: str, prefix: str, bad: str, suffix: str
) -> None:
    body = dict(ID_DOCS["reporter"]["identity"])
    body[field] = prefix + bad + suffix
    with pytest.raises(ReportError) as caught:
        idcard.parse_card(_resign_id(body))
    assert caught.value.exit_code == ExitCode.VERIFICATION
    assert "non-printing character" in caught.value.message


@fuzz
@given(
    where=st.sampled_from(["name", "org_id", "member label", "relay"]),
    bad=NON_PRINTING,
    at=st.integers(min_value=0, max_value=8),
)
def test_no_org_card_with_a_non_printing_character_parses(where: str, bad: str, at: int) -> None:
    doc = copy.deepcopy(ORG_DOC)
    card = doc["card"]
    if where == "member label":
        text = card["members"][0]["label"]
        card["members"][0]["label"] = text[:at] + bad + text[at:]
    elif where == "relay":
        card["relays"] = ["https://relay.example.org/" + "x" * at + bad]
    else:
        card[where] = card[where][:at] + bad + card[where][at:]
    # parse_card checks no signature, so the text rule is the only one broken here.
    with pytest.raises(ReportError) as caught:
        orgcard.parse_card(enc.dump(doc))
    assert caught.value.exit_code == ExitCode.VERIFICATION
    assert "non-printing character" in caught.value.message
