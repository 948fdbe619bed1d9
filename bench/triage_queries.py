#!/usr/bin/env python3
"""Triage queries on a large generated vault: filtered ``triage list``, ``triage search``
and ``triage stats``, median time per query (the KDF excluded: the vault is opened
once), against the same queries on a plain SQLite copy of the same database in the
same run.

    python bench/triage_queries.py [--cases 100000] [--runs 21] [--keep DIR] [--json FILE]

``--keep DIR`` generates the vault into ``DIR`` once (with a file naming its size and
seed) and reuses it on later runs with the same ``--cases`` and ``--seed``: 100,000
cases take a quarter of an hour to write. A reused vault is opened as any vault is, so
migrations newer than the generator's tree run on it first (``--pristine`` keeps a copy
before that and starts each run from it).

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
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def rss_mib() -> float:
    """This process's resident set now (Linux ``/proc``; NaN elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def memory_of_queries(home: Path) -> float:
    """MiB the resident set of a new process grows by when it opens the vault and runs
    every query twice (its page cache filling, up to ``cache_size``)."""
    import json
    import subprocess

    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import triage_queries as t; "
        "print(json.dumps(t.measure_memory(sys.argv[2])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).resolve().parent), str(home)],
        capture_output=True,
        check=True,
        text=True,
        timeout=600,
    ).stdout
    before, after = json.loads(out.splitlines()[-1])
    return float(after - before)


def measure_memory(home: str) -> tuple[float, float]:
    """(MiB resident with the vault just opened, MiB after every query ran twice)."""
    os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
    from reprisal_report.workflows import profile, search, triage  # noqa: F401 - imported first

    vault = profile.unlock(Path(home), PASS)
    before = rss_mib()
    for _ in range(2):
        for fn in queries(vault).values():
            fn()
    after = rss_mib()
    vault.close()
    return before, after


def first_ms(open_db: Callable[[], Any], name: str) -> float:
    """The query's first run on a connection just opened: what one command pays, its
    page cache empty (the file itself in the OS cache, as after the command before)."""
    db = open_db()
    try:
        fn = queries(db)[name]
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000
    finally:
        db.close()


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


def _vault_home(args: argparse.Namespace, tmp: Path, rows: list[Row]) -> Path:
    """The profile to measure: generated now (into ``tmp``, or once into ``--keep``), or
    the one ``--keep`` already holds; a copy of it with ``--pristine``."""
    os.environ["REPRISAL_REPORT_INSECURE_TEST_KDF"] = "1"
    kept = Path(args.keep) / "c" if args.keep else None
    stamp = Path(args.keep) / "generated.txt" if args.keep else None
    wanted = f"cases={args.cases} seed={args.seed}\n"
    if kept is not None and stamp is not None and stamp.is_file():
        if stamp.read_text() != wanted:
            sys.exit(f"{args.keep} holds a vault of {stamp.read_text().strip()}, not {wanted}")
        print(f"reusing the vault in {kept} ({wanted.strip()})")
        home = kept
    else:
        home = kept or tmp / "c"
        start = time.perf_counter()
        rate = generate(home, args.cases, args.seed)
        seconds = time.perf_counter() - start
        print(
            f"generated {args.cases:,} cases in {seconds:.1f} s; bulk import rate "
            f"{rate:,.0f} cases/s (the first {min(args.cases, MEASURED):,}, normal settings)"
        )
        rows.append(Row("triage", "bulk import rate (cases/s)", rate, "/s", "", None))
        if stamp is not None:
            stamp.write_text(wanted)
    size = (home / "vault.db").stat().st_size
    print(f"vault size {size / MIB:.1f} MiB ({size / args.cases:,.0f} bytes per case)")
    rows.append(Row("triage", "vault size", size / MIB, "MiB", "", None))
    if args.pristine and kept is not None:
        home = tmp / "c"
        shutil.copytree(kept, home)
    from reprisal_report.workflows import profile

    start = time.perf_counter()
    with profile.open_profile(home, PASS) as vault:
        version = vault.schema_version()
    seconds = time.perf_counter() - start
    print(f"first open (schema {version}, migrations included): {seconds:.1f} s")
    return home


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR once, reuse it after")
    parser.add_argument(
        "--pristine",
        action="store_true",
        help="with --keep: keep the generated vault untouched, measure a fresh copy of it",
    )
    args = parser.parse_args()
    import sqlcipher3

    from reprisal_report.vault.store import Vault
    from reprisal_report.workflows import profile

    rows: list[Row] = []
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rr-bench-triage-", dir=args.keep) as tmp:
        home = _vault_home(args, Path(tmp), rows)
        plain = Path(tmp) / "plain.db"
        plain_copy(home, plain)
        with profile.open_profile(home, PASS) as vault:
            cache = int(vault.conn.execute("PRAGMA cache_size").fetchone()[0])

        def open_plain() -> Vault:
            # The vault's page cache size and temp store: only the encryption differs.
            conn = sqlcipher3.connect(str(plain), isolation_level=None)
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(f"PRAGMA cache_size = {cache}")
            return Vault(conn)

        def open_vault() -> Vault:
            return profile.unlock(home, PASS)

        size = f"{-cache / 1024:.0f} MiB" if cache < 0 else f"{cache} pages"
        print(f"\npage cache of each connection: {size} (PRAGMA cache_size = {cache})")
        print(
            f"{'query':62} {'vault ms':>8} {'plain ms':>8} {'ratio':>6}"
            f" {'1st vault':>9} {'1st plain':>9}"
        )
        with open_vault() as vault, open_plain() as plain_vault:
            ours, theirs = queries(vault), queries(plain_vault)
            for name, fn in ours.items():
                ms = median_ms(fn, args.runs)
                ref = median_ms(theirs[name], args.runs)
                ratio = ms / ref if ref else float("nan")
                cold, cold_ref = first_ms(open_vault, name), first_ms(open_plain, name)
                print(f"{name:62} {ms:8.1f} {ref:8.1f} {ratio:6.2f} {cold:9.1f} {cold_ref:9.1f}")
                rows.append(Row("triage", f"{name} (median)", ms, "ms", "<= 50 ms", ms <= 50))
                rows.append(
                    Row("triage", f"{name} / plain SQLite", ratio, "x", "<= 1.3x", ratio <= 1.3)
                )
                rows.append(Row("triage", f"{name} (first, new connection)", cold, "ms", "", None))
        grown = memory_of_queries(home)
        print(f"resident memory grown by one connection running every query: {grown:.1f} MiB")
        rows.append(
            Row("triage", "memory of one connection, every query run", grown, "MiB", "", None)
        )
    print()
    for r in rows:
        if r.met is False:
            print(f"NOT met: {r.measure}: {r.value:.2f} {r.unit} (target {r.target})")
    print("verdict:", verdict(all(r.met is not False for r in rows)))
    write_rows(args.json_out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
