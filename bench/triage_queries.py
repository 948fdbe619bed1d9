#!/usr/bin/env python3
"""Triage queries on a large generated vault: filtered ``triage list``, ``triage search``
and ``triage stats``, median time per query (the KDF excluded: the vault is opened
once), against the same queries on a plain SQLite copy of the same database in the
same run.

    python bench/triage_queries.py [--cases 100000] [--runs 21] [--json FILE]

The generator writes received cases straight into the vault through the vault layer
(``inbox.insert_bundle``, which also fills the triage tables and the search index as
an import does): a real import verifies and decrypts a bundle per case, hours for
100,000, and that is not what is measured here. Records are random but shaped like
real ones: 40 countries, 1-3 acts, 1-2 mechanisms, incident dates 2018-2026, victims
with names in Latin (with diacritics), Cyrillic and Arabic, a narrative of ~60 words.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MIB, PASS, Row, verdict, write_rows

COUNTRIES = [
    "AF",
    "BD",
    "BH",
    "BI",
    "BY",
    "CD",
    "CN",
    "CU",
    "EG",
    "ER",
    "ET",
    "GT",
    "HN",
    "ID",
    "IN",
    "IR",
    "IQ",
    "KH",
    "KZ",
    "LA",
    "MM",
    "MV",
    "MX",
    "NI",
    "NG",
    "PH",
    "PK",
    "RU",
    "RW",
    "SA",
    "SD",
    "SS",
    "SY",
    "TH",
    "TJ",
    "TM",
    "TR",
    "UZ",
    "VE",
    "VN",
]
LATIN = [
    "Zoë",
    "José",
    "Núñez",
    "Łukasz",
    "Østergaard",
    "Đorđe",
    "Ayşe",
    "Ngozi",
    "Tran",
    "Maria",
    "Pedro",
    "Aïcha",
    "Olúwa",
]
CYRILLIC = [
    "Иван",
    "Петров",
    "Ольга",
    "Сидорова",
    "Алексей",
    "Николаев",
    "Дарья",
    "Кузнецова",
    "Тимур",
]
ARABIC = ["مُحَمَّد", "أحمد", "فاطمة", "عائشة", "يوسف", "زينب", "حسين", "ليلى", "سارة", "عمر"]
WORDS = [
    "police",
    "detained",
    "defender",
    "after",
    "briefing",
    "committee",
    "family",
    "threatened",
    "passport",
    "office",
    "raid",
    "lawyer",
    "court",
    "hearing",
    "charges",
    "released",
    "bail",
    "surveillance",
    "phone",
    "hacked",
    "travel",
    "airport",
    "journalist",
    "summoned",
    "ministry",
    "warned",
    "report",
]


PLACES = ("Rohero", "Kinama", "Musaga", "Ngagara", "Buyenzi", "Kamenge", "Nyakabiga")


def _name(rng: random.Random) -> str:
    pool = rng.choice((LATIN, CYRILLIC, ARABIC))
    return f"{rng.choice(pool)} {rng.choice(pool)} {rng.randrange(1000)}"


def _record(
    rng: random.Random, acts: tuple[str, ...], mechanisms: tuple[str, ...]
) -> dict[str, object]:
    year = rng.randrange(2018, 2027)
    month = rng.randrange(1, 13)
    date = rng.choice(
        (f"{year}", f"{year}-{month:02d}", f"{year}-{month:02d}-{rng.randrange(1, 29):02d}")
    )
    return {
        "title": " ".join(rng.choices(WORDS, k=5)),
        "incident_date": date,
        "country": rng.choice(COUNTRIES),
        "location": f"{rng.choice(PLACES)} {rng.randrange(100)}",
        "cooperation": [
            {"mechanism": m, "body": "X", "mode": "briefing"}
            for m in rng.sample(mechanisms, rng.randrange(1, 3))
        ],
        "acts": rng.sample(acts, rng.randrange(1, 4)),
        "perpetrators": [{"type": "police", "name": _name(rng)}],
        "victims": [
            {"name": _name(rng), "kind": "human_rights_defender"}
            for _ in range(rng.randrange(1, 3))
        ],
        "narrative": " ".join(rng.choices(WORDS, k=60)),
        "public_summary": " ".join(rng.choices(WORDS, k=12)),
        "consent": rng.choice(("internal_only", "share_un_confidential", "publish_anonymised")),
        "risk": rng.choice(("low", "medium", "high", "critical")),
    }


MEASURED = 1000


def generate(home: Path, cases: int, seed: int) -> float:
    """Fill a new coordinator profile with ``cases`` received cases; the rate (cases per
    second) of the first ``MEASURED``, written as an import writes them (triage row,
    terms, duplicates, search index, counts)."""
    os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
    from reprisal_report.model.vocabulary import load_vocabulary
    from reprisal_report.vault import inbox
    from reprisal_report.workflows import profile

    vocabulary = load_vocabulary()
    acts, mechanisms = vocabulary.terms("acts"), vocabulary.terms("mechanisms")
    rng = random.Random(seed)
    profile.init_profile(home, PASS, "coordinator", None)
    start = time.perf_counter()
    rate = 0.0
    with profile.open_profile(home, PASS) as vault:
        for first in range(0, cases, MEASURED):
            if first == MEASURED:
                rate = first / (time.perf_counter() - start)
            with vault.transaction():
                for n in range(first, min(first + MEASURED, cases)):
                    bundle_id = f"{n:026d}"
                    inbox.insert_bundle(
                        vault,
                        inbox.InboxBundle(
                            bundle_id=bundle_id,
                            bundle_sha256=f"{n:064x}",
                            case_id=f"case{n:012d}",
                            org_id="bench",
                            author_key_id="bench-author",
                            previous_bundle_id=None,
                            manifest=b"{}",
                            signature=b"",
                            record=_record(rng, acts, mechanisms),
                            salts={},
                            received_at=f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T12:00:00Z",
                        ),
                    )
            if first and first % 20000 == 0:
                print(f"  generated {first:,} cases", flush=True)
    return rate or min(cases, MEASURED) / (time.perf_counter() - start)


def plain_copy(home: Path, target: Path) -> None:
    """The same database decrypted into a plain SQLite file (``sqlcipher_export``)."""
    from reprisal_report.workflows import profile

    with profile.open_profile(home, PASS) as vault:
        vault.conn.execute(f"ATTACH DATABASE '{target}' AS plaintext KEY ''")
        vault.conn.execute("SELECT sqlcipher_export('plaintext')")
        vault.conn.execute("DETACH DATABASE plaintext")


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # the first run warms the page cache, as a working session does
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def queries(vault: object) -> dict[str, Callable[[], object]]:
    from reprisal_report.workflows import triage

    out: dict[str, Callable[[], object]] = {
        "list --country BI --limit 50": lambda: triage.list_cases(
            vault,  # type: ignore[arg-type]
            triage.ListRequest(country="BI", limit=50),
        ),
        "list --act torture --risk high --sort -incident --limit 50": lambda: triage.list_cases(
            vault,  # type: ignore[arg-type]
            triage.ListRequest(act="torture", risk="high", sort="-incident", limit=50),
        ),
        "list --incident-from 2024 --incident-to 2024-06 --limit 50": lambda: triage.list_cases(
            vault,  # type: ignore[arg-type]
            triage.ListRequest(incident_from="2024", incident_to="2024-06", limit=50),
        ),
        "stats --by country,year": lambda: triage.stats(vault, ["country", "year"]),  # type: ignore[arg-type]
        "stats --by country,act": lambda: triage.stats(vault, ["country", "act"]),  # type: ignore[arg-type]
    }
    from reprisal_report.workflows import search

    # Names as a user types them: lower case, no diacritics (Петров, Łukasz in the data).
    out["search петров"] = lambda: search.search_cases(vault, "петров", limit=50)  # type: ignore[arg-type]
    out["search lukasz"] = lambda: search.search_cases(vault, "lukasz", limit=50)  # type: ignore[arg-type]
    out['search "passport office" OR airport'] = lambda: search.search_cases(
        vault,  # type: ignore[arg-type]
        '"passport office" OR airport',
        limit=50,
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    import sqlcipher3

    from reprisal_report.vault.store import Vault
    from reprisal_report.workflows import profile

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="rr-bench-triage-") as tmp:
        home = Path(tmp) / "c"
        start = time.perf_counter()
        rate = generate(home, args.cases, args.seed)
        seconds = time.perf_counter() - start
        size = (home / "vault.db").stat().st_size
        print(
            f"generated {args.cases:,} cases in {seconds:.1f} s; bulk import rate "
            f"{rate:,.0f} cases/s (the first {min(args.cases, MEASURED):,}, normal settings)"
        )
        print(f"vault size {size / MIB:.1f} MiB ({size / args.cases:,.0f} bytes per case)")
        rows.append(Row("triage", "bulk import rate (cases/s)", rate, "/s", "", None))
        rows.append(Row("triage", "vault size", size / MIB, "MiB", "", None))
        plain = Path(tmp) / "plain.db"
        plain_copy(home, plain)
        plain_conn = sqlcipher3.connect(str(plain), isolation_level=None)
        plain_conn.execute("PRAGMA temp_store = MEMORY")
        print(f"\n{'query':64} {'vault ms':>9} {'plain ms':>9} {'ratio':>6}")
        with profile.open_profile(home, PASS) as vault:
            plain_vault = Vault(plain_conn)
            ours, theirs = queries(vault), queries(plain_vault)
            for name, fn in ours.items():
                ms = median_ms(fn, args.runs)
                ref = median_ms(theirs[name], args.runs)
                ratio = ms / ref if ref else float("nan")
                print(f"{name:64} {ms:9.1f} {ref:9.1f} {ratio:6.2f}")
                rows.append(Row("triage", f"{name} (median)", ms, "ms", "<= 50 ms", ms <= 50))
                rows.append(
                    Row("triage", f"{name} / plain SQLite", ratio, "x", "<= 1.3x", ratio <= 1.3)
                )
        plain_conn.close()
    print()
    for r in rows:
        if r.met is False:
            print(f"NOT met: {r.measure}: {r.value:.2f} {r.unit} (target {r.target})")
    print("verdict:", verdict(all(r.met is not False for r in rows)))
    write_rows(args.json_out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
