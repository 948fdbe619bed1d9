#!/usr/bin/env python3
"""The export leak gate alone: build it from N sensitive values, scan an export of M MiB.

    python bench/leak_gate.py [--values 100000] [--mib 10] [--json FILE]

Values are shaped like a vault's: victim names and aliases in Latin (with diacritics),
Cyrillic, Arabic and Chinese, phone numbers, places, organisations, and narratives (a
fifth of the values, 3-6 sentences each). The export is JSON records (``ensure_ascii``
off, so names and text stay as UTF-8) whose public summaries are random words in four
scripts, none of them a value; a second scan has one value planted at the very end,
written another way (``JOSE NUNEZ`` for ``José Núñez``), and must find it.

The reference, in the same run: a naive gate that folds the export once and looks for
each folded value with ``str.find`` (cost values x bytes), timed on 1,000 values and
scaled to N. The context target (issue 11): the whole export of a 100,000-case vault,
gate included, in <= 10 s, so the gate's build + scan should leave most of that.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, Row, verdict, write_rows

from reprisal_report.model.fold import fold
from reprisal_report.redact.leakgate import LeakGate, Sensitive

LATIN = ["José", "Núñez", "María", "Łukasz", "Øster", "Đorđe", "Zoë", "François", "Sørensen"]
LATIN += ["Ngozi", "Amadou", "Fatoumata", "Jean-Pierre", "Nkurunziza", "Ndayishimiye"]
CYRILLIC = ["Пётр", "Иванов", "Наталья", "Сергей", "Кузнецова", "Алексей", "Смирнов"]
ARABIC = ["مُحَمَّد", "فاطمة", "عبد الله", "حسين", "مريم", "يوسف", "أحمد"]
CHINESE = ["王", "李", "张", "刘", "陈", "小明", "秀英", "建国", "丽娟"]
_WORDS = (
    "the of and to in was by his her from home police men arrested released taken after "
    "before meeting session report court lawyer family threatened office during village "
    "market station night morning week month told returned detained"
)
WORDS = _WORDS.split()


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(n))


def _name(rng: random.Random) -> str:
    script = rng.random()
    if script < 0.55:
        return f"{rng.choice(LATIN)} {_syllables(rng, 3).title()} {rng.choice(LATIN)}"
    if script < 0.75:
        return f"{rng.choice(CYRILLIC)} {rng.choice(CYRILLIC)}{rng.randint(1, 999)}"
    if script < 0.9:
        return f"{rng.choice(ARABIC)} {rng.choice(ARABIC)} {rng.choice(ARABIC)}"
    return rng.choice(CHINESE[:4]) + "".join(rng.sample(CHINESE[4:], 1)) + rng.choice(CHINESE)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    words.insert(rng.randrange(len(words)), _syllables(rng, 3))  # some rare word in each
    return " ".join(words).capitalize() + "."


def values(count: int, rng: random.Random) -> list[Sensitive]:
    out: list[Sensitive] = []
    while len(out) < count:
        case = f"c{len(out):07d}"
        out.append(Sensitive(case, "victims[0].name", _name(rng), "name"))
        phone = f"+257 {rng.randint(61, 79)} {rng.randint(0, 999):03d} {rng.randint(0, 999):03d}"
        out.append(Sensitive(case, "victims[0].contact", phone, "contact"))
        out.append(Sensitive(case, "location", f"{_syllables(rng, 3).title()} hill", "place"))
        out.append(
            Sensitive(case, "victims[0].organisation", _name(rng) + " Trust", "organisation")
        )
        narrative = " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))
        out.append(Sensitive(case, "narrative", narrative, "text"))
    out.append(Sensitive("planted", "victims[0].name", "José Núñez", "name"))
    return out[-count:]


def export(size: int, rng: random.Random) -> bytes:
    """JSON records of random words (in a disjoint vocabulary: no value appears), some
    of them in other scripts, as in a real export of named cases."""
    filler = ["report", "session", "country", "follow", "up", "mechanism", "allegation"]
    filler += ["société", "défenseur", "отчёт", "сессия", "تقرير", "جلسة", "报告", "会议"]
    records: list[str] = []
    total = 0
    index = 0
    while total < size:
        record = {
            "id": f"P-{rng.getrandbits(80):020x}",
            "country": rng.choice(["BI", "CD", "RW", "MV"]),
            "incident_date": f"20{rng.randint(18, 26)}-{rng.randint(1, 12):02d}",
            "victims": [{"name": f"P-{rng.getrandbits(64):016X}", "kind": "lawyer"}],
            "public_summary": " ".join(rng.choice(filler) for _ in range(rng.randint(30, 90))),
            "sha256": f"{rng.getrandbits(256):064x}",
        }
        line = json.dumps(record, ensure_ascii=False)
        records.append(line)
        total += len(line.encode()) + 2
        index += 1
    return ("[\n" + ",\n".join(records) + "\n]\n").encode()


def naive_seconds(gate_values: list[Sensitive], data: bytes, sample: int) -> float:
    text = fold(data.decode())
    start = time.perf_counter()
    for value in gate_values[:sample]:
        text.find(fold(value.value))
    return (time.perf_counter() - start) * len(gate_values) / sample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--mib", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    gate_values = values(args.values, rng)
    data = export(int(args.mib * MIB), rng)
    print(f"{len(gate_values):,} sensitive values; export of {len(data) / MIB:.1f} MiB")

    start, cpu = time.perf_counter(), time.process_time()
    gate = LeakGate(gate_values)
    build, build_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    clean = gate.scan(data)
    scan, scan_cpu = time.perf_counter() - start, time.process_time() - cpu
    planted = data[:-3] + b', "JOSE NUNEZ"\n]\n'
    start = time.perf_counter()
    found = gate.scan(planted)
    scan_planted = time.perf_counter() - start
    if clean or [(leak.case_id, leak.field) for leak in found] != [("planted", "victims[0].name")]:
        sys.exit(f"bench: error: wrong result: clean {clean[:3]}, planted {found[:3]}")
    naive = naive_seconds(gate_values, data, min(1000, len(gate_values)))

    print(f"build           {build:7.2f} s   (CPU {build_cpu:.2f} s)")
    rate = len(data) / MIB / scan
    print(f"scan            {scan:7.2f} s   (CPU {scan_cpu:.2f} s; {rate:.1f} MiB/s)")
    print(f"scan (planted)  {scan_planted:7.2f} s   found the planted value")
    print(f"build + scan    {build + scan:7.2f} s")
    print(f"naive find      {naive:7.2f} s   (scaled from 1,000 values)")
    total = build + scan
    # The naive gate is cheap on a tiny vault; the ratio only means something at scale.
    scaled = len(gate_values) >= 10_000
    rows = [
        Row("leak gate", "build", build, "s", "", None),
        Row("leak gate", "build (CPU)", build_cpu, "s", "", None),
        Row("leak gate", "scan", scan, "s", "", None),
        Row("leak gate", "scan (CPU)", scan_cpu, "s", "", None),
        Row("leak gate", "build + scan", total, "s", "context: export <= 10 s", None),
        Row(
            "leak gate",
            "build + scan / naive find",
            total / naive if naive else float("nan"),
            "x",
            "<= 0.1x" if scaled else "",
            total <= naive / 10 if scaled else None,
        ),
    ]
    print("verdict:", verdict(all(r.met is not False for r in rows)))
    write_rows(args.json_out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
