"""Export formats: JSON, CSV for Uwazi's import, and a Markdown annex in the style of the
Secretary-General's reprisals report (country by country, new cases then follow-ups).

Writers turn already-redacted data into bytes; they decide nothing about what may
leave. Case text is untrusted: in Markdown every character that means something is
escaped and control characters are dropped, so a title cannot become a link, a heading
or hidden text; CSV cells that a spreadsheet would run as a formula are prefixed.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from reprisal_report.model.vocabulary import load_vocabulary

FORMATS: Final = ("json", "csv", "md")

# Uwazi thesauri may group their values; the CSV import names a grouped value
# ``Group::Value``. The groups of acts, for a thesaurus built from this export.
ACT_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "Threats and harassment": (
        "threat",
        "death_threat",
        "intimidation",
        "harassment",
        "surveillance",
        "smear_campaign",
        "stigmatisation",
        "hate_speech",
        "attack_on_family",
    ),
    "Digital": ("online_attack", "hacking", "censorship"),
    "Movement": ("travel_ban", "passport_confiscation", "denied_accreditation", "deportation"),
    "Deprivation of liberty": (
        "arbitrary_arrest",
        "arbitrary_detention",
        "house_arrest",
        "enforced_disappearance",
    ),
    "Judicial": ("judicial_harassment", "criminal_charges", "prison_sentence", "disbarment"),
    "Physical integrity": ("ill_treatment", "torture", "killing"),
    "Work, property and association": (
        "dismissal",
        "asset_freeze",
        "raid",
        "property_seizure",
        "ngo_deregistration",
        "restrictive_legislation",
    ),
    "Other": ("other",),
}
_GROUP_OF: Final = {act: group for group, acts in ACT_GROUPS.items() for act in acts}


def json_bytes(doc: object) -> bytes:
    """``json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True)`` and a line end,
    the same text made faster (the standard library writes indented JSON in Python,
    a generator step per token): strings by its C string encoder, the structure here;
    anything but str keys and str, int, bool, None, list and dict values goes to
    ``json.dumps`` itself."""
    out: list[str] = []
    try:
        _json_value(doc, "\n", out)
    except (_NotPlain, RecursionError):
        text = json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True)
    else:
        text = "".join(out)
    return text.encode("utf-8") + b"\n"


class _NotPlain(Exception):
    """A value :func:`_json_value` leaves to ``json.dumps``."""


_encode_string: Final = json.encoder.encode_basestring


def _json_value(value: object, newline: str, out: list[str]) -> None:
    # The order of the checks is json.encoder's: str, None, True, False, int, then
    # containers (a bool is an int, so it is told apart first).
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif type(value) is int:
        out.append(int.__repr__(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        out.append("[")
        first = True
        for item in value:
            out.append(inner if first else "," + inner)
            first = False
            _json_value(item, inner, out)
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        if not all(type(key) is str for key in value):
            raise _NotPlain
        inner = newline + "  "
        out.append("{")
        first = True
        for key, item in sorted(value.items()):
            out.append(inner if first else "," + inner)
            first = False
            out.append(_encode_string(key))
            out.append(": ")
            _json_value(item, inner, out)
        out.append(newline + "}")
    else:
        raise _NotPlain


def cases_json(header: Mapping[str, Any], cases: Sequence[Mapping[str, Any]]) -> bytes:
    """The header indented as :func:`json_bytes` writes it, each case on a line of its
    own (compact, keys sorted): one JSON document that reads a case per line, written
    by the standard library's C encoder (a large export holds tens of thousands of
    cases, and indenting them would add a fifth to the bytes the leak gate scans)."""
    if "cases" in header:
        raise ValueError("the header of a case export holds no 'cases' key")
    if not cases:
        return json_bytes({**header, "cases": []})
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    lines = ",\n    ".join(encode(case) for case in cases)
    members: list[str] = []
    for key in sorted([*header, "cases"]):
        if key == "cases":
            text = f"[\n    {lines}\n  ]"
        else:
            text = json_bytes(header[key]).decode("utf-8")[:-1].replace("\n", "\n  ")
        members.append(f"  {_encode_string(key)}: {text}")
    return ("{\n" + ",\n".join(members) + "\n}\n").encode("utf-8")


def _label(kind: str, term: object) -> str:
    vocabulary = load_vocabulary()
    try:
        return vocabulary.label(kind, str(term))  # type: ignore[arg-type]
    except KeyError:
        return str(term)


def _uwazi_date(value: object) -> tuple[str, str]:
    """``YYYY/MM/DD`` (Uwazi's import) and the precision the source date had."""
    text = str(value or "")
    parts = text.split("-")
    if len(parts) == 3:
        return "/".join(parts), "day"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}/01", "month"
    if len(parts) == 1 and text:
        return f"{text}/01/01", "year"
    return "", ""


# Every control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) but
# line feed and tab.
_CELL_CONTROLS: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]+")


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula.
    text = _CELL_CONTROLS.sub("", value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _items(case: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = case.get(key) or []
    return [v for v in value if isinstance(v, Mapping)]


CSV_COLUMNS: Final = (
    "title",
    "case_id",
    "country",
    "incident_date",
    "date_precision",
    "location",
    "un_mechanisms",
    "un_bodies",
    "modes_of_cooperation",
    "acts",
    "perpetrator_types",
    "perpetrators",
    "victims",
    "victim_kinds",
    "victim_organisations",
    "public_summary",
    "narrative",
    "consent",
    "status",
    "follow_up_of",
)


def _csv_row(case: Mapping[str, Any]) -> dict[str, str]:
    date, precision = _uwazi_date(case.get("incident_date"))
    coop = _items(case, "cooperation")
    perps = _items(case, "perpetrators")
    victims = _items(case, "victims")

    def join(values: Sequence[object]) -> str:
        return "|".join(str(v) for v in values if v not in (None, ""))

    return {
        "title": str(case.get("title") or ""),
        "case_id": str(case.get("id") or ""),
        "country": str(case.get("country") or ""),
        "incident_date": date,
        "date_precision": precision,
        "location": str(case.get("location") or ""),
        "un_mechanisms": join([_label("mechanisms", c.get("mechanism")) for c in coop]),
        "un_bodies": join([c.get("body") for c in coop]),
        "modes_of_cooperation": join([_label("modes", c.get("mode")) for c in coop]),
        "acts": join(
            [
                f"{_GROUP_OF.get(str(a), 'Other')}::{_label('acts', a)}"
                for a in case.get("acts") or []
            ]
        ),
        "perpetrator_types": join([_label("perpetrator_types", p.get("type")) for p in perps]),
        "perpetrators": join([p.get("name") for p in perps]),
        "victims": join([v.get("name") for v in victims]),
        "victim_kinds": join([_label("victim_kinds", v.get("kind")) for v in victims]),
        "victim_organisations": join([v.get("organisation") for v in victims]),
        "public_summary": str(case.get("public_summary") or ""),
        "narrative": str(case.get("narrative") or ""),
        "consent": str(case.get("consent") or ""),
        "status": str(case.get("status") or ""),
        "follow_up_of": str(case.get("follow_up_of") or ""),
    }


def cases_csv(cases: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    """Uwazi's CSV import: ``title`` first, one column per property, multi-values
    joined with ``|``, dates ``YYYY/MM/DD``, grouped thesaurus values ``Group::Term``."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for case in cases:
        row = _csv_row(case)
        writer.writerow([_cell(row[c]) for c in columns])
    return out.getvalue().encode("utf-8")


_MD_SPECIAL: Final = set("\\`*_{}[]<>()#+-.!|~")


class _MarkdownTable(dict[int, "str | None"]):
    """``str.translate`` table of :func:`md_text`, filled one character at a time:
    line breaks and tabs become spaces, controls and format characters (bidi, zero
    width) go, Markdown specials are escaped."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        out: str | None = char
        if char in "\r\n\t":
            out = " "
        elif unicodedata.category(char) in ("Cc", "Cf"):
            out = None
        elif char in _MD_SPECIAL:
            out = "\\" + char
        if len(self) >= 1 << 16:  # texts in many scripts: bounded all the same
            self.clear()
        self[code] = out
        return out


_MD_TABLE: Final = _MarkdownTable()


def md_text(value: object) -> str:
    """Untrusted text as inert Markdown: specials escaped, controls and bidi dropped,
    lines joined with a space."""
    return " ".join(str(value or "").translate(_MD_TABLE).split())


def country_name(code: str) -> str:
    import pycountry  # slow to import; only the annex needs names

    found = pycountry.countries.get(alpha_2=code)
    return str(found.name) if found is not None else code


def _case_md(case: Mapping[str, Any]) -> list[str]:
    lines = [f"#### {md_text(case.get('title'))}", ""]
    facts = [
        ("Case", case.get("id")),
        ("Date", case.get("incident_date")),
        ("Location", case.get("location")),
        (
            "Cooperation with the UN",
            "; ".join(
                " ".join(
                    str(x)
                    for x in (
                        _label("mechanisms", c.get("mechanism")),
                        c.get("body") or "",
                        f"({_label('modes', c.get('mode'))})" if c.get("mode") else "",
                    )
                    if x
                )
                for c in _items(case, "cooperation")
            ),
        ),
        ("Acts", ", ".join(_label("acts", a) for a in case.get("acts") or [])),
        (
            "Alleged perpetrators",
            ", ".join(
                " ".join(
                    str(x) for x in (_label("perpetrator_types", p.get("type")), p.get("name")) if x
                )
                for p in _items(case, "perpetrators")
            ),
        ),
        (
            "Victims",
            ", ".join(
                " ".join(
                    str(x)
                    for x in (v.get("name"), f"({_label('victim_kinds', v.get('kind'))})")
                    if x
                )
                for v in _items(case, "victims")
            ),
        ),
        ("Follow-up of", case.get("follow_up_of")),
    ]
    for label, value in facts:
        if value:
            lines.append(f"- {label}: {md_text(value)}")
    for key, label in (("public_summary", "Summary"), ("narrative", "Account")):
        if case.get(key):
            lines += ["", f"{label}: {md_text(case.get(key))}"]
    return [*lines, ""]


def cases_md(
    title: str, cases: Sequence[Mapping[str, Any]], withheld_line: str, footer: Sequence[str]
) -> bytes:
    """The annex; ``title``, ``withheld_line`` and ``footer`` are this program's own
    Markdown (anything untrusted in them escaped by the caller)."""
    lines = [f"# {title}", "", withheld_line, ""]
    countries = sorted({str(c.get("country") or "") for c in cases})
    for code in countries:
        mine = [c for c in cases if str(c.get("country") or "") == code]
        lines += [f"## {md_text(country_name(code))} ({md_text(code)})", ""]
        for heading, group in (
            ("New cases", [c for c in mine if not c.get("follow_up_of")]),
            ("Follow-up cases", [c for c in mine if c.get("follow_up_of")]),
        ):
            if group:
                lines += [f"### {heading}", ""]
                for case in group:
                    lines += _case_md(case)
    lines += list(footer)
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


def stats_csv(doc: Mapping[str, Any]) -> bytes:
    """One row per cell of every table: its dimensions and values, count, suppression."""
    width = max((len(t["by"]) for t in doc["tables"]), default=1)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["table", "unit"]
    for i in range(1, width + 1):
        header += [f"dimension_{i}", f"value_{i}"]
    writer.writerow([*header, "count", "suppressed"])
    for table in doc["tables"]:
        by = list(table["by"])
        for cell in table["cells"]:
            dims: list[str] = []
            for d in by:
                dims += [d, str(cell[d])]
            dims += [""] * (2 * width - len(dims))
            count = cell.get("count")
            shown = "" if count is None else str(count)
            writer.writerow(
                ["x".join(by), table["unit"], *dims, shown, cell.get("suppressed") or ""]
            )
    return out.getvalue().encode("utf-8")


def stats_md(doc: Mapping[str, Any], withheld_line: str) -> bytes:
    lines = ["# Reprisals: counts", "", withheld_line, ""]
    lines.append(
        f"Cells below {doc['k']} are suppressed (marked x), and further cells where "
        "needed so that none can be recomputed from the others. `*` is the total."
    )
    lines.append("")
    for table in doc["tables"]:
        by = list(table["by"])
        lines += [f"## By {' and '.join(by)} (one {md_text(table['unit'])} each)", ""]
        lines.append("| " + " | ".join([*by, "count"]) + " |")
        lines.append("|" + " --- |" * (len(by) + 1))
        for cell in table["cells"]:
            count = cell.get("count")
            shown = "x" if count is None else str(count)
            lines.append("| " + " | ".join([*(md_text(cell[d]) for d in by), shown]) + " |")
        lines.append("")
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")
