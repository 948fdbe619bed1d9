"""The export leak gate: every way of writing a forbidden value is caught, in every
output format; short and common values follow their documented rules; the refusal
names the case and field, never the value."""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import pytest

from reprisal_report.errors import ExitCode, InvalidInput, LeakBlocked
from reprisal_report.redact.leakgate import (
    Leak,
    LeakGate,
    Sensitive,
    check,
    digit_view,
    marked_fold,
    patterns,
    vocabulary_words,
)

NAME = Sensitive("case-a", "victims[0].name", "José Núñez", "name")
PHONE = Sensitive("case-b", "victims[0].contact", "+257 79 000 000", "contact")


def found(gate: LeakGate, text: str) -> list[tuple[str, str]]:
    return [(leak.case_id, leak.field) for leak in gate.scan(text.encode("utf-8"))]


def gate_of(value: str, kind: str = "name") -> LeakGate:
    return LeakGate([Sensitive("c", "f", value, kind)])


def caught(value: str, output: str, kind: str = "name") -> bool:
    return found(gate_of(value, kind), output) == [("c", "f")]


# --- one value, many spellings ------------------------------------------------------------

NAME_SPELLINGS = [
    "JOSE NUNEZ",
    "jose nunez",
    "jose-nunez",
    "Jose\u2013Nunez",
    "José\u00a0Núñez",
    "Jose\u200bNunez",
    "Jo\u200bsé Nú\u00adñez",
    "J\u0301ose Nun\u0303ez",
    unicodedata.normalize("NFD", "José Núñez"),
    "\uff2a\uff2f\uff33\uff25 \uff2e\uff35\uff2e\uff25\uff3a",  # full-width
    "José\nNúñez",
    "José \r\n\t  Núñez",
    "JOSE  NUNEZ",
    "JoseNunez",
    "José, Núñez",
    "José **Núñez**",
    "Jo**sé** Núñez",
    "*José* _Núñez_",
    "Jo<b>sé</b> Núñez",
    "José Núñ-\nez",
    "José Núñ-\n   ez",
    "Jo-sé Nú\u2013ñez",
    "Jo**sé**-Núñez",
    "Jos&eacute; N&#250;&#xF1;ez",
]


@pytest.mark.parametrize("spelling", NAME_SPELLINGS)
def test_a_name_is_caught_however_it_is_written(spelling: str) -> None:
    gate = LeakGate([NAME])
    text = f"The summary says {spelling} was seen."
    assert found(gate, text) == [("case-a", "victims[0].name")]


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ("Łukasiewicz", "LUKASIEWICZ"),
        ("Østergaard", "ostergaard"),
        ("Đorđe Petrović", "DORDE PETROVIC"),
        ("Kıvanç Yılmaz", "KIVANC YILMAZ"),
        ("Straße Gruß", "STRASSE GRUSS"),
        ("Þórdís Ægisdóttir", "thordis aegisdottir"),
        ("Пётр Иванов", "ПЕТР ИВАНОВ"),
        ("ПЕТРОВА Наталья", "петрова наталья"),
        ("Ζωή Παπαδοπούλου", "ΖΩΗ ΠΑΠΑΔΟΠΟΥΛΟΥ"),
        ("مُحَمَّد عَلِيّ", "محمد علي"),
        ("محمد علي", "مُحَمَّد عَلِيّ"),
        ("محمد علي", "محـــمد عـلي"),
        ("أحمد فاطمة", "احمد فاطمه"),
        ("مصطفى", "مصطفي"),
        ("ﻓﺎﻃﻤﺔ", "فاطمة"),  # Arabic presentation forms
        ("王小明", "受害者王小明在布琼布拉"),
        ("حسین کریمی", "حسين كريمي"),  # Persian yeh and keheh
    ],
)
def test_normalisation_in_every_script(value: str, output: str) -> None:
    assert caught(value, output)


@pytest.mark.parametrize(
    "output",
    [
        "+257-79-000-000",
        "+257 79 000 000",
        "(79) 000000",
        "79.00.00.00",
        "79000000",
        "0025779000000",
        "tel:+25779000000",
        "phone 79 000 000.",
        "\u0667\u0669 \u0660\u0660\u0660 \u0660\u0660\u0660",  # Arabic-Indic digits
        "\u06f7\u06f9\u06f0\u06f0\u06f0\u06f0\u06f0\u06f0",  # Persian digits
        "\uff17\uff19\uff10\uff10\uff10\uff10\uff10\uff10",  # full-width digits
        "79\u200b000\u200b000",
        "79\u2013000\u2013000",
    ],
)
def test_a_phone_number_is_caught_with_any_spacing_and_digits(output: str) -> None:
    gate = LeakGate([PHONE])
    assert found(gate, f"Call {output} now") == [("case-b", "victims[0].contact")]


def test_a_contact_in_other_digits_matches_ascii_output() -> None:
    assert caught("+257 \u0667\u0669 \u0660\u0660\u0660 \u0660\u0661\u0662", "79000012", "contact")
    assert caught("٠١٢ ٣٤٥ ٦٧٨ ٩", "0123456789", "contact")


def test_a_national_number_matches_its_international_form_and_back() -> None:
    assert caught("79000000", "+257 79 000 000", "contact")
    assert caught("0025779000000", "(79) 00-00-00", "contact")
    # Numbers of 6-7 digits: the whole run, or after at most 5 more digits.
    assert caught("712 345", "+257 712345", "contact")
    assert not caught("712 345", "99999999712345", "contact")
    assert not caught("712 345", "7123456", "contact")


def test_several_numbers_in_one_contact_are_each_gated() -> None:
    gate = gate_of("79 000 000 / 71 111 111", "contact")
    assert found(gate, "71111111") == [("c", "f")]
    assert found(gate, "79000000") == [("c", "f")]


def test_an_email_contact_is_gated_as_words() -> None:
    assert caught("jose.nunez@example.org", "write to JOSE.NUNEZ@EXAMPLE.ORG", "contact")
    assert caught("jose.nunez@example.org", "Jose Nunez (example.org)", "contact")


# --- the output formats -------------------------------------------------------------------


def test_json_escaped_output() -> None:
    gate = LeakGate([NAME])
    for text in (
        json.dumps({"summary": "met José Núñez"}),  # ensure_ascii: \u00e9 escapes
        '{"summary": "Jos\\u00e9 N\\u00fa\\u00f1ez"}',
        '{"summary": "Jos\\u00c9\\nN\\u00da\\u00d1EZ"}',
        '{"summary": "Jos\\\\u00e9 N\\\\u00fa\\\\u00f1ez"}',  # escaped twice
    ):
        assert found(gate, text) == [("case-a", "victims[0].name")], text


def test_csv_quoted_output() -> None:
    out = io.StringIO()
    csv.writer(out).writerow(["title", 'He said "José" Núñez', "José\nNúñez"])
    gate = LeakGate([NAME])
    assert found(gate, out.getvalue()) == [("case-a", "victims[0].name")]


def test_markdown_split_and_escaped() -> None:
    gate = LeakGate([NAME])
    for text in ("José **Núñez**", "**Jo**sé Núñez", "José N\\*úñez", "`José` `Núñez`"):
        assert found(gate, f"- {text}\n") == [("case-a", "victims[0].name")], text


def test_invalid_utf8_does_not_hide_a_value() -> None:
    gate = LeakGate([NAME])
    assert found(gate, "\ufffd") == []
    data = b"\xff\xfe junk \xc3 " + "José Núñez".encode()
    assert [(x.case_id, x.field) for x in gate.scan(data)] == [("case-a", "victims[0].name")]


# --- no false alarms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "output"),
    [
        ("Ana", "banana"),
        ("Ana", "Anastasia"),
        ("Núñez", "Nunezville"),
        ("Nunez", "nunezes"),
        ("José Núñez", "José Núñezová"),
        ("José Núñez", "Josée Núñez"),
        ("Kamenge", "Kamengeza"),
        ("王小明", "王小"),
    ],
)
def test_no_match_inside_a_longer_word(value: str, output: str) -> None:
    assert not caught(value, output)


def test_hashes_and_dates_are_not_phone_numbers() -> None:
    gate = gate_of("+1 202 603 1500", "contact")  # last 8 digits: 26031500
    assert (
        found(
            gate, '{"sha256": "a1b2c3d4e5f6a7b8c9d026031500e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2"}'
        )
        == []
    )
    assert found(gate, "2603-15-00") == [("c", "f")]  # not a date: a number
    gate = gate_of("2026 0315", "contact")
    assert found(gate, '"incident_date": "2026-03-15"') == []
    assert found(gate, "2026/03/15") == []
    assert found(gate, "2026 03 15") == [("c", "f")]


def test_digit_view() -> None:
    def view(text: str) -> str:
        return digit_view(marked_fold(text))

    assert view("a +257 (79) 000-000, b 12 c") == "|25779000000|12|"
    assert view("2026-03-15 and 0123456789ABCDEF0123 | 7\n8") == "|7|8|"
    assert view("no digits") == "|"


# --- short and common values -------------------------------------------------------------------


def test_a_short_name_is_matched_only_as_a_whole_field() -> None:
    gate = gate_of("Ana")
    assert [p.rule for p in patterns(Sensitive("c", "f", "Ana", "name"))] == ["whole-field"]
    for text in (
        '{"name": "Ana"}',
        "title,Ana,x",
        "| Ana |",
        "Victims: Ana, Bo",
        "**ANA**",
        "(ana)",
    ):
        assert found(gate, text) == [("c", "f")], text
    for text in ("Ana was arrested", "banana", "ana bo", '{"name": "Ana Maria"}'):
        assert found(gate, text) == [], text


def test_a_single_han_character_is_matched_only_as_a_whole_field() -> None:
    gate = gate_of("王")
    assert found(gate, '{"name": "王"}') == [("c", "f")]
    assert found(gate, "王小明") == []


def test_a_value_equal_to_a_public_word_is_not_matched_alone() -> None:
    police = Sensitive("c", "victims[0].organisation", "Police", "organisation")
    assert "police" in vocabulary_words()
    assert patterns(police, vocabulary_words()) == []
    gate = LeakGate([police])
    assert found(gate, '{"perpetrators": [{"type": "police"}]}') == []
    # A longer value that contains it is matched as a whole.
    assert caught("Police of Kamenge", "the POLICE OF KAMENGE said")
    # Words the caller declares public (the annex's country names).
    gate = LeakGate([Sensitive("c", "location", "Burundi", "place")], public_words=["Burundi"])
    assert found(gate, "## Burundi (BI)") == []


def test_narrative_sentences_are_gated_and_fragments_are_not() -> None:
    narrative = (
        "On 3 March he was taken from his home in Kamenge by two men in uniform. "
        "He fled. Since then his family, who stayed in the house near the market, "
        "has received threatening calls every night."
    )
    gate = LeakGate([Sensitive("c", "narrative", narrative, "text")])
    rules = [p.rule for p in patterns(Sensitive("c", "narrative", narrative, "text"))]
    assert rules.count("sentence") == 2 and "clause" in rules
    assert found(
        gate, "ON 3 MARCH HE WAS TAKEN FROM HIS HOME IN KAMENGE BY TWO MEN IN UNIFORM"
    ) == [("c", "narrative")]
    assert found(gate, "On 3 March he was\ntaken from his home in Kamenge by two men in uniform.")
    # a clause of six words or more of a long sentence
    assert found(gate, "who stayed in the house near the market")
    # fragments shorter than six words are not gated
    assert found(gate, "He fled.") == []
    assert found(gate, "taken from his home") == []


def test_a_short_note_is_matched_as_a_whole_field() -> None:
    note = Sensitive("c", "notes[0]", "Lives in Gitega now", "text")
    assert [p.rule for p in patterns(note)] == ["whole-field"]
    gate = LeakGate([note])
    assert found(gate, '{"note": "Lives in Gitega now"}') == [("c", "notes[0]")]
    assert found(gate, "she lives in Gitega now with her family") == []


def test_values_that_fold_to_nothing_have_no_pattern() -> None:
    assert patterns(Sensitive("c", "f", "\u200b — ", "name")) == []


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown kind"):
        LeakGate([Sensitive("c", "f", "x", "secret")])


# --- results and the refusal ---------------------------------------------------------------


def test_distinct_case_and_field_pairs_in_the_order_given() -> None:
    values = [
        Sensitive("c2", "victims[0].name", "Zoë Müller", "name"),
        Sensitive("c1", "narrative", "x", "text"),
        Sensitive("c1", "victims[0].name", "José Núñez", "name"),
        Sensitive("c1", "victims[0].name", "JOSÉ NÚÑEZ", "name"),
        Sensitive("c3", "victims[0].aliases[0]", "Jose Nunez", "name"),
    ]
    gate = LeakGate(values)
    assert len(gate) == 5
    assert gate.scan("josé núñez and zoe muller".encode()) == [
        Leak("c2", "victims[0].name"),
        Leak("c1", "victims[0].name"),
        Leak("c3", "victims[0].aliases[0]"),
    ]
    assert LeakGate([]).scan(b"anything") == []


def test_check_refuses_with_the_case_and_field_never_the_value() -> None:
    gate = LeakGate([NAME, PHONE])
    check(gate, b'{"summary": "nothing here"}')
    with pytest.raises(LeakBlocked) as refused:
        check(gate, b"JOSE NUNEZ, +257-79-000-000")
    assert refused.value.exit_code == ExitCode.REFUSED
    assert int(refused.value.exit_code) == 4
    assert refused.value.message == (
        "leak gate: export refused: case case-a field victims[0].name appears in the "
        "output (2 sensitive values in all); nothing was written"
    )
    assert "nunez" not in refused.value.message.lower()
    assert "79" not in refused.value.message


def test_long_patterns_sharing_their_beginning_are_told_apart() -> None:
    start = "On the morning of the third of March the police"
    first = Sensitive("c1", "narrative", f"{start} arrested him at home.", "text")
    second = Sensitive("c2", "narrative", f"{start} searched the office of the union.", "text")
    gate = LeakGate([first, second])
    assert found(gate, f"{start} searched the office of the union") == [("c2", "narrative")]
    assert found(gate, f"{start} arrested him at home") == [("c1", "narrative")]
    assert found(gate, f"{start} came") == []


# --- forms kept in the vault -----------------------------------------------------------

PINNED = [
    Sensitive("c", "victims[0].name", "José Núñez", "name"),
    Sensitive("c", "victims[0].name", "Łukasz Øster-Đorđe", "name"),
    Sensitive("c", "victims[0].name", "محمد الأحمد", "name"),
    Sensitive("c", "victims[0].name", "李小龍", "name"),
    Sensitive("c", "victims[0].name", "Ana", "name"),
    Sensitive("c", "victims[0].contact", "+257 79 000 000, ana@example.org", "contact"),
    Sensitive("c", "victims[0].contact", "12345", "contact"),
    Sensitive("c", "location", "Burundi", "place"),
    Sensitive("c", "narrative", "He was taken at night. " * 2 + "Short one. " + "x " * 13, "text"),
    Sensitive("c", "notes[0]", "Called twice", "text"),
]
# Change this digest only together with leakgate.FORMS_VERSION: forms kept in vaults
# under the old version are then computed again. (A new Unicode database may change
# the forms too: FORMS_VERSION names it, so only the digest needs looking at then.)
PINNED_DIGEST = "8dc89c96df927d8302d9845b8147fdf354883cce70ade258da108cd136523fe8"


def test_the_forms_version_names_the_rules() -> None:
    import hashlib

    from reprisal_report.redact.leakgate import FORMS_VERSION, forms

    text = repr([tuple(forms(v)) for v in PINNED]).encode("utf-8")
    assert FORMS_VERSION.startswith("gate-forms 2, unicode ")
    assert hashlib.sha256(text).hexdigest() == PINNED_DIGEST


def test_forms_give_the_same_gate_as_the_values() -> None:
    from reprisal_report.redact.leakgate import Gated, Stored, forms, forms_text, without

    public = ["Burundi"]
    gated = [Gated(v.case_id, v.field, forms(v)) for v in PINNED]
    # Two cases: the first by its kept text, the second value by value.
    first = [Gated("a", g.field, g.forms) for g in gated[:6]]
    stored = Stored("a", forms_text(first[:4], first[4:]))
    assert stored.values() == first
    mixed: list[Gated | Stored] = [stored, *(Gated("b", g.field, g.forms) for g in gated[6:])]
    plain = [Sensitive("a", v.field, v.value, v.kind) for v in PINNED[:6]]
    plain += [Sensitive("b", v.field, v.value, v.kind) for v in PINNED[6:]]
    gates = [
        LeakGate(gated, public_words=public),
        LeakGate(mixed, public_words=public),
        LeakGate(PINNED, public_words=public),
    ]
    reference = LeakGate(plain, public_words=public)
    assert len(gates[1]) == len(reference) == len(PINNED)
    texts = ["JOSE NUNEZ", "lukasz oster dorde", "ana", "+257 79 000 000", "Burundi", "none"]
    texts.append("; ".join(texts))
    for text in texts:
        data = text.encode("utf-8")
        assert gates[1].scan(data) == reference.scan(data)
        assert [leak.field for leak in gates[0].scan(data)] == [
            leak.field for leak in gates[2].scan(data)
        ]
    # Allowed forms (a value left as it is) are taken out of a kept text as of a value.
    allowed = {gated[0].forms.folded}
    left = without(mixed, allowed)
    assert isinstance(left[0], Stored)  # still one text, less the allowed value
    assert left[0].values() == [g for g in first if g.forms.folded not in allowed]
    assert len(LeakGate(left)) == len(PINNED) - 1
    assert LeakGate(left).scan(b"JOSE NUNEZ") == []


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        ("20000100", "tel ٢٠٠٠-٠١ ٠٠."),  # a date shape with more digits after it
        ("79201211", "tel 79 2012-11."),  # ... or before it
        ("+257 79201211", "call +257 79 2012/11 now"),
    ],
)
def test_a_number_that_holds_a_date_shape_is_still_a_number(stored: str, text: str) -> None:
    gate = LeakGate([Sensitive("c", "victims[0].contact", stored, "contact")])
    assert found(gate, text) == [("c", "victims[0].contact")]


def test_a_number_written_exactly_as_a_date_is_the_documented_miss() -> None:
    gate = LeakGate([Sensitive("c", "victims[0].contact", "20121123", "contact")])
    assert found(gate, "on 2012-11-23 it happened") == []
    assert found(gate, "on 2012 11 23 it happened") == [("c", "victims[0].contact")]


@pytest.mark.parametrize("padding", [" " * 20, " " * 5000, " ," * 300, "\n" * 40, " - " * 200])
def test_padding_between_the_words_of_a_name_marked_inside_a_word(padding: str) -> None:
    # The joined view reaches as far as the words, however many characters apart.
    gate = LeakGate([Sensitive("c", "victims[0].name", "José Núñez", "name")])
    assert found(gate, f"He met Jo**sé**{padding}Núñez today") == [("c", "victims[0].name")]
    assert found(gate, f"He met José{padding}Nú**ñez** today") == [("c", "victims[0].name")]
