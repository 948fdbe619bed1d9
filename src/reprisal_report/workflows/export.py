"""The do-no-harm export: select, redact, count, write the bytes in memory, run the leak
gate (and for counts the disclosure audit) on exactly those bytes, sign them, and only
then write the file and its ``.minisig``. A refusal writes nothing at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reprisal_report import clock
from reprisal_report.audit.checkpoint import make_checkpoint
from reprisal_report.errors import GateFailed, InvalidInput
from reprisal_report.identity import encoding as enc
from reprisal_report.identity.keys import public_identity, signing_key
from reprisal_report.model import canonical
from reprisal_report.model import triage as rules
from reprisal_report.redact import minisign, profiles, verify, worker, writers
from reprisal_report.redact.leakgate import (
    FORMS_VERSION,
    STORED_SHAPE,
    Gated,
    Leak,
    LeakGate,
    Stored,
    check,
    fold_digest,
    forms,
    refuse,
    without,
)
from reprisal_report.redact.profiles import Profile
from reprisal_report.redact.pseudonym import pseudonym
from reprisal_report.redact.records import (
    CaseForms,
    ExportCase,
    Parsed,
    Selection,
    case_forms,
    case_from_text,
    case_text,
    gate_split,
    redact,
    redacted_keys,
    select,
    select_by_triage,
    stats_dims,
)
from reprisal_report.vault import export as store
from reprisal_report.vault.cases import record_event
from reprisal_report.vault.store import Vault
from reprisal_report.workflows.files import read_user_file, write_user_file, write_user_files

FORMAT_NAME = "reprisal-report export v1"
WITHHELD_REASONS = ("status", "consent", "risk", "profile")
MAX_EXPORT_BYTES = 1 << 30
# From this many cases in the vault, the gate is built in a forked worker while the
# export redacts and writes, and its scan is shared by GATE_WORKERS processes.
PARALLEL_FROM = 5_000
GATE_WORKERS = 2


@dataclass(frozen=True)
class ExportRequest:
    profile: str | None = None
    profile_file: Path | None = None
    format: str = "json"
    out: Path = Path("export.json")
    by: str | None = None  # "country,year;country,act"
    country: str | None = None
    since: str | None = None
    include_high_risk: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class ExportResult:
    out: Path
    signature: Path
    profile: str
    format: str
    cases: int
    withheld: dict[str, int]
    sha256: str
    signer: str
    gate_values: int
    trusted_comment: str
    tables: int = 0
    high_risk: int = 0


def load_profile(request: ExportRequest) -> Profile:
    if request.profile_file is not None:
        data = read_user_file(request.profile_file, "an export profile", profiles.MAX_PROFILE_BYTES)
        profile = profiles.parse_profile(data, str(request.profile_file))
        if request.profile is not None and request.profile != profile.name:
            raise InvalidInput(
                f"the profile file is named {profile.name!r}, not {request.profile!r}"
            )
        return profile
    if request.profile is None:
        raise InvalidInput("name an export profile: public, un-confidential or stats")
    return profiles.built_in(request.profile)


def _tables(request: ExportRequest, profile: Profile) -> tuple[tuple[str, ...], ...]:
    """The tables to count: ``--by country,year;country,act`` or the profile's."""
    if request.by is None:
        return profile.tables
    tables = [[d.strip() for d in t.split(",") if d.strip()] for t in request.by.split(";")]
    return profiles.parse_tables("(the tables asked for)", tables)


def _selection(request: ExportRequest, profile: Profile) -> Selection:
    if request.include_high_risk:
        if not request.reason or not request.reason.strip():
            raise InvalidInput("including high-risk cases needs a reason, kept in the vault")
        if not profile.risk_with_reason:
            raise InvalidInput(f"the {profile.name} profile never includes high-risk cases")
    elif request.reason is not None:
        raise InvalidInput("a reason is only taken with including high-risk cases")
    country = request.country.upper() if request.country is not None else None
    since = None
    if request.since is not None:
        rules.parse_day(request.since, "since")
        since = rules.incident_interval(request.since)[0]
    return Selection(request.include_high_risk, country, since)


_Fresh = list[tuple[str, str, str, str]]


class _Cases:
    """Every received case as the export reads it. The triage rows, notes, links and
    kept gate forms are read at once; a case's latest bundle only when it is needed
    (:meth:`fetch` first, for all the cases that will be, in one query): a withheld
    case needs only its gate forms, unless a ``--country`` or ``--since`` selection
    reads its record."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.rows = store.triage_rows(vault)
        self.notes = store.notes(vault)
        self.follows = store.follow_ups(vault)
        self.kept = store.gate_rows(vault)
        self.bundles: dict[str, store.BundleRow] = {}
        self.fresh: _Fresh = []  # forms computed now, to keep
        self.texts = {row.case_id: self._current(row) for row in self.rows}
        self.kept = {}  # checked: the rows are not needed again
        # The cases whose forms must be computed now read their records.
        self.fetch([row for row in self.rows if self.texts[row.case_id] is None])

    def check_shapes(self) -> None:
        """Drop each kept forms text not of the exact shape this release writes (its
        forms are then computed again). An export whose gate runs in a worker leaves
        this to the worker, off the export's own path (``_gate_worker``)."""
        bad = [
            row
            for row in self.rows
            if (text := self.texts[row.case_id]) is not None and not STORED_SHAPE.fullmatch(text[1])
        ]
        for row in bad:
            self.texts[row.case_id] = None
        self.fetch(bad)

    def fetch(self, rows: Sequence[store.TriageRow]) -> None:
        wanted = [r.bundle_id for r in rows if r.bundle_id not in self.bundles]
        if wanted:
            self.bundles.update(store.bundles(self.vault, wanted))

    def bundle(self, row: store.TriageRow) -> store.BundleRow:
        if row.bundle_id not in self.bundles:
            self.fetch([row])
        return self.bundles[row.bundle_id]

    def case(self, row: store.TriageRow, *, full: bool) -> ExportCase:
        """The case; ``full``: with its bundle's fields (read now), else only what
        selecting it reads (the record is read if and when it is looked at)."""
        bundle = self.bundle(row) if full else None
        return ExportCase(
            case_id=row.case_id,
            org_id=bundle.org_id if bundle else "",
            status=row.status,
            risk=row.risk,
            consent=row.consent,
            record=bundle.record if bundle else Parsed(lambda: self.bundle(row).record),
            salts=Parsed(lambda: self.bundle(row).salts),  # only disclosures read them
            manifest=bundle.manifest if bundle else b"",
            signature=bundle.signature if bundle else b"",
            author_key_id=bundle.author_key_id if bundle else "",
            received_at=row.received_at,
            follow_up_of=self.follows.get(row.case_id),
            notes=tuple(self.notes.get(row.case_id, ())),
        )

    def source(self, row: store.TriageRow) -> str:
        return store.gate_source(row.bundle_id, self.notes.get(row.case_id, ()))

    def _current(self, row: store.TriageRow) -> tuple[str, str] | None:
        """The kept row's (dims, forms) texts, only if computed from this very content
        and normalisation (their shape is checked apart: :meth:`check_shapes`)."""
        kept = self.kept.get(row.case_id)
        if kept is None or kept[1] != FORMS_VERSION or kept[0] != self.source(row):
            return None
        return store.split_row(kept[2])

    def text(self, row: store.TriageRow, case: ExportCase | None) -> str:
        found = self.texts.get(row.case_id)
        if found is None:
            dims, forms_text = _computed(case or self.case(row, full=False))
            found = (store.dims_text(dims) or "", forms_text)
            self.fresh.append(
                (row.case_id, self.source(row), FORMS_VERSION, store.row_text(dims, forms_text))
            )
            self.texts[row.case_id] = found
        return found[1]

    def every(self, row: store.TriageRow, case: ExportCase | None) -> Stored:
        """Every sensitive value of the case, for the gate (``case``: None unless
        already made; it is made only if the forms must be computed)."""
        return Stored(row.case_id, self.text(row, case))

    def forms(self, row: store.TriageRow, case: ExportCase) -> CaseForms:
        """The case's forms value by value."""
        try:
            return case_from_text(row.case_id, self.text(row, case))
        except ValueError:  # pragma: no cover - the text was checked or just made
            return case_forms(case)

    def dims(self, row: store.TriageRow, case: ExportCase) -> store.Dims:
        """What the statistics count of the case's record: kept with its forms."""
        self.text(row, case)
        kept = self.texts.get(row.case_id)
        found = store.parse_dims(kept[0]) if kept is not None else None
        return found if found is not None else stats_dims(case.record)


def _computed(case: ExportCase) -> tuple[store.Dims, str]:
    return stats_dims(case.record), case_text(case_forms(case))


def refresh_gate_forms(vault: Vault, case_id: str) -> None:
    """Compute and keep the gate forms of one case, after its content changed (a new
    bundle imported, a note added, edited or deleted), so the next export reads them.
    An export never depends on it: it checks every row against the content."""
    content = store.case_content(vault, case_id)
    if content is None:
        return
    bundle_id, record_text, notes = content
    case = ExportCase(
        case_id=case_id,
        org_id="",
        status="",
        risk="",
        consent="",
        record=store.parse_record(record_text),
        salts={},
        manifest=b"",
        signature=b"",
        author_key_id="",
        received_at="",
        notes=tuple(notes),
    )
    text = store.row_text(*_computed(case))
    with vault.transaction():
        store.store_gate_forms(
            vault, [(case_id, store.gate_source(bundle_id, notes), FORMS_VERSION, text)]
        )


def _withheld_line(withheld: Counter[str]) -> str:
    total = sum(withheld.values())
    parts = ", ".join(f"{reason} {withheld[reason]}" for reason in WITHHELD_REASONS)
    return f"Withheld: {total} case(s) by reason ({parts}); which ones is never said."


def _case_doc(case: ExportCase, fields: dict[str, object], profile: Profile) -> dict[str, object]:
    doc: dict[str, object] = {"id": case.case_id, **fields, "status": case.status}
    if profile.action("risk") == "keep":
        doc["assessed_risk"] = case.risk
    if profile.action("consent") == "keep":
        doc["assessed_consent"] = case.consent
    if case.follow_up_of is not None:
        doc["follow_up_of"] = case.follow_up_of
    return doc


def _leak_gate(
    forbidden: Sequence[Gated | Stored], allowed: set[str], public: Sequence[str]
) -> LeakGate:
    # A value that left as it is for one exported case (the same person, named with
    # consent) is not a leak when it appears; every other sensitive value of the whole
    # vault is.
    return LeakGate(without(forbidden, allowed) if allowed else forbidden, public_words=public)


def _gate(
    forbidden: Sequence[Gated | Stored], allowed: set[str], data: bytes, public: Sequence[str] = ()
) -> int:
    gate = _leak_gate(forbidden, allowed, public)
    check(gate, data)
    return len(gate)


_Keys = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def _keys_digest(keys: _Keys) -> bytes:
    """What the worker and the redaction compare of their (kept, forbidden) fields,
    case by case in export order, field by field (case ids and field paths hold no
    control character)."""
    digest = hashlib.sha256()
    for pairs in keys:
        digest.update("\n".join(f"{case_id}\x00{field}" for case_id, field in pairs).encode())
        digest.update(b"\x01")
    return digest.digest()


def _gate_worker(
    withheld: list[Gated | Stored],
    chosen: list[tuple[str, str, str]],
    profile: Profile,
    public: list[str],
) -> worker.Worker:
    """The leak gate, built in a forked worker while the export redacts and writes.

    ``withheld``: the values of the cases that do not leave; ``chosen``: (case id,
    consent, kept forms text) of each case that does. The worker splits each chosen
    case's values as :func:`redact` will (``records.gate_split``), builds the gate, and
    answers one request: the digest of the (kept, forbidden) fields the redaction
    found (32 bytes), then the export's bytes. If those fields differ from its own
    split it refuses; otherwise it scans the bytes (in pieces, shared by GATE_WORKERS
    processes) and answers with the number of values gated and the (case, field) of
    each value found."""

    def prepare() -> Callable[[bytes], bytes]:
        # The kept texts' shape, unchecked by the export (Cases.check_shapes): a text
        # of any other shape would not be read as the forms it should be.
        damaged = [
            value.case_id
            for value in withheld
            if isinstance(value, Stored) and not STORED_SHAPE.fullmatch(value.text)
        ]
        damaged += [case_id for case_id, _, text in chosen if not STORED_SHAPE.fullmatch(text)]
        if damaged:
            return lambda _request: worker.dumps(("damaged", 0, [(c, "") for c in damaged]))
        values: list[Gated | Stored] = list(withheld)
        allowed: set[str] = set()
        keys: _Keys = ([], [])
        for case_id, consent, text in chosen:
            if profile.kind == "stats":
                values.append(Stored(case_id, text))
                continue
            split = gate_split(case_id, consent, case_from_text(case_id, text), profile)
            values += split.forbidden
            allowed |= split.allowed
            keys[0].extend(split.kept_keys)
            keys[1].extend(split.forbidden_keys)
        gate = _leak_gate(values, allowed, public)
        ours = _keys_digest(keys)
        # Copies of the built gate to share the scan, forked now, while the export
        # still redacts.
        helpers = gate.helpers(GATE_WORKERS - 1)

        def answer(request: bytes) -> bytes:
            theirs, data = request[:32], request[32:]
            if profile.kind != "stats" and not hmac.compare_digest(theirs, ours):
                return worker.dumps(("differs", 0, []))
            leaks = gate.scan(data, helpers=helpers)
            return worker.dumps(("scanned", len(gate), [(x.case_id, x.field) for x in leaks]))

        return answer

    return worker.Worker(prepare)


def _gate_verdict(gate: worker.Worker, vault: Vault) -> int:
    """The worker's verdict on the data sent to it: the number of values gated, or
    LeakBlocked as :func:`check` raises it."""
    reply = worker.loads(gate.receive())
    if not isinstance(reply, tuple) or len(reply) != 3:  # pragma: no cover - our own child
        raise worker.WorkerFailed("leak gate: the gate's worker answered nonsense")
    verdict: str = reply[0]
    count: int = reply[1]
    leaks: list[tuple[str, str]] = reply[2]
    if verdict == "damaged":
        # Never expected (the rows are written in that shape, the vault authenticates
        # its pages): forget them, so the next export computes them again.
        damaged = sorted({case_id for case_id, _ in leaks})
        with vault.transaction():
            store.forget_gate_forms(vault, damaged)
        raise GateFailed(
            f"leak gate: export refused: the kept gate forms of {len(damaged)} case(s) "
            "were damaged; they were discarded and the next export computes them again; "
            "nothing was written"
        )
    if verdict != "scanned":
        raise GateFailed(
            "leak gate: export refused: the gate's split of the exported cases' values "
            "differs from the redaction's (a bug; please report it); nothing was written"
        )
    refuse([Leak(case_id, field) for case_id, field in leaks])
    return int(count)


def export(vault: Vault, request: ExportRequest) -> ExportResult:
    profile = load_profile(request)
    if request.format not in writers.FORMATS:
        raise InvalidInput(
            f"unknown export format {request.format!r}; one of: {', '.join(writers.FORMATS)}"
        )
    selection = _selection(request, profile)
    tables = _tables(request, profile) if profile.kind == "stats" else ()
    cases = _Cases(vault)
    parallel = _in_parallel(cases)
    if not parallel:
        cases.check_shapes()
    if selection.country is not None or selection.since is not None:
        cases.fetch(cases.rows)  # selecting reads every record
    withheld: Counter[str] = Counter({r: 0 for r in WITHHELD_REASONS})
    picked: list[store.TriageRow] = []
    selected: list[ExportCase] = []
    forbidden: list[Gated | Stored] = []
    by_row = selection.country is None and selection.since is None
    for row in cases.rows:
        case: ExportCase | None = None
        if by_row:  # decided by the triage row alone: no case is made for it
            reason = select_by_triage(row.status, row.consent, row.risk, profile, selection)
        else:
            case = cases.case(row, full=False)
            reason = select(case, profile, selection)
        if reason is None:
            picked.append(row)
            selected.append(case or cases.case(row, full=False))
        else:
            withheld[reason] += 1
            forbidden.append(cases.every(row, case))
    gate: worker.Worker | None = None
    dims: list[store.Dims] | None = None
    if parallel:
        # Every value's forms are at hand: the gate is built beside the redaction.
        dims = [cases.dims(row, case) for row, case in zip(picked, selected, strict=True)]
        chosen_texts = [
            (r.case_id, r.consent, text[1])
            for r in picked
            if (text := cases.texts[r.case_id]) is not None  # all are (_in_parallel)
        ]
        gate = _gate_worker(forbidden, chosen_texts, profile, _public_words(dims))
    try:
        return _export(
            vault,
            request,
            profile,
            selection,
            tables,
            cases,
            withheld,
            picked,
            selected,
            forbidden,
            gate,
            dims,
        )
    finally:
        if gate is not None:
            gate.close()


def _in_parallel(cases: _Cases) -> bool:
    """Whether the gate runs in workers: a large vault, every case's forms kept (the
    first export after a migration computes them, in one process)."""
    return (
        len(cases.rows) >= PARALLEL_FROM
        and worker.available()
        and all(text is not None for text in cases.texts.values())
    )


def _public_words(dims: Sequence[store.Dims]) -> list[str]:
    # The names of the countries the export writes (the Markdown annex's headings) are
    # the export's own words, not a leak of a place.
    countries = sorted({case_dims[1] for case_dims in dims} - {""})
    return [writers.country_name(code) for code in countries] + countries


def _export(
    vault: Vault,
    request: ExportRequest,
    profile: Profile,
    selection: Selection,
    tables: tuple[tuple[str, ...], ...],
    cases: _Cases,
    withheld: Counter[str],
    picked: list[store.TriageRow],
    selected: list[ExportCase],
    forbidden: list[Gated | Stored],
    gate: worker.Worker | None,
    dims: list[store.Dims] | None,
) -> ExportResult:
    # Counts read only the dims kept with each case's forms; cases leave in full.
    chosen = selected
    if profile.kind != "stats":
        cases.fetch(picked)
        chosen = [cases.case(row, full=True) for row in picked]
    if dims is None:
        dims = [cases.dims(row, case) for row, case in zip(picked, chosen, strict=True)]
    if cases.fresh:
        with vault.transaction():
            store.store_gate_forms(vault, cases.fresh)
    me = public_identity(vault)
    now = enc.format_time(clock.now())
    # The export names the custody log as it stood when it was made: a signed
    # checkpoint an auditor can hold a later log to (audit verify-log --since).
    checkpoint = make_checkpoint(vault)
    header: dict[str, object] = {
        "format": FORMAT_NAME,
        "profile": profile.name,
        "generated_at": now,
        "signer": me.key_id,
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": canonical.b64encode(checkpoint.root),
        },
        "withheld": dict(withheld),
    }
    high_risk = sum(1 for c in chosen if c.risk in profile.risk_with_reason)
    allowed: set[str] = set()
    keys: _Keys = ([], [])
    if profile.kind == "stats":
        data, table_count = _stats(chosen, dims, profile, tables, header, request.format, withheld)
        if gate is None:
            forbidden += [cases.every(r, c) for r, c in zip(picked, chosen, strict=True)]
    else:
        chosen_forms = None
        if gate is None:
            chosen_forms = [cases.forms(r, c) for r, c in zip(picked, chosen, strict=True)]
        data, allowed, keys = _cases_output(
            vault, chosen, chosen_forms, profile, header, request.format, withheld, forbidden
        )
        table_count = 0
    if gate is not None:
        # The worker scans; the signature is made meanwhile, and kept only if it passes.
        gate.send(_keys_digest(keys) + data)
    else:
        gate_values = _gate(forbidden, allowed, data, _public_words(dims))
    digest = hashlib.sha256(data).hexdigest()
    trusted = (
        f"reprisal-report export profile={profile.name} format={request.format} "
        f"sha256={digest} time={now} signer={me.key_id}"
    )
    signature = minisign.sign(signing_key(vault), data, trusted_comment=trusted)
    if gate is not None:
        gate_values = _gate_verdict(gate, vault)
    sig_path = request.out.with_name(request.out.name + ".minisig")
    write_user_files([(request.out, data, 0o600), (sig_path, signature, 0o644)])
    detail: dict[str, object] = {
        "profile": profile.name,
        "format": request.format,
        "cases": len(chosen),
        "withheld": dict(withheld),
        "sha256": digest,
        "checkpoint_size": checkpoint.size,
    }
    if request.include_high_risk:
        reason_bytes = (request.reason or "").strip().encode("utf-8")
        reason_sha = hashlib.sha256(reason_bytes).hexdigest()
        detail["high_risk_cases"] = high_risk
        detail["high_risk_reason_sha256"] = reason_sha
    with vault.transaction():
        if request.include_high_risk:
            vault.set_meta(f"export-reason:{digest}", (request.reason or "").strip())
        record_event(vault, None, "exported", detail, actor=me.key_id)
    return ExportResult(
        out=request.out,
        signature=sig_path,
        profile=profile.name,
        format=request.format,
        cases=len(chosen),
        withheld=dict(withheld),
        sha256=digest,
        signer=me.key_id,
        gate_values=gate_values,
        trusted_comment=trusted,
        tables=table_count,
        high_risk=high_risk if request.include_high_risk else 0,
    )


def _cases_output(
    vault: Vault,
    chosen: list[ExportCase],
    chosen_forms: list[CaseForms] | None,
    profile: Profile,
    header: dict[str, object],
    fmt: str,
    withheld: Counter[str],
    forbidden: list[Gated | Stored],
) -> tuple[bytes, set[str], _Keys]:
    """The cases' bytes, and for the gate: with ``chosen_forms``, the forbidden values
    (added to ``forbidden``) and the digests of the values kept; without (the gate's
    worker has them), the (kept, forbidden) fields of the redaction, to compare."""
    keys: dict[str, bytes] = {}

    def pseudonymiser(org_id: str) -> Callable[[str], str]:
        if org_id not in keys:
            key = store.pseudonym_key(vault, org_id, create=True)
            if key is None:  # pragma: no cover - create=True always returns one
                raise InvalidInput("no pseudonym key")
            keys[org_id] = key
        return lambda name: pseudonym(keys[org_id], name)

    docs: list[dict[str, object]] = []
    allowed: set[str] = set()
    fields: _Keys = ([], [])
    for number, case in enumerate(chosen):
        redacted = redact(case, profile, pseudonymiser(case.org_id))
        if chosen_forms is None:
            kept, dropped = redacted_keys(case, redacted)
            fields[0].extend(kept)
            fields[1].extend(dropped)
        else:
            case_gate = chosen_forms[number]
            by_field = {g.field: g for g in case_gate.record}
            for value in redacted.forbidden:
                known = by_field.get(value.field)
                forbidden.append(known or Gated(value.case_id, value.field, forms(value)))
            forbidden += case_gate.notes
            for path, text in zip(redacted.kept_paths, redacted.kept, strict=True):
                known = by_field.get(path)
                allowed.add(known.forms.folded if known is not None else fold_digest(text))
        doc = _case_doc(case, redacted.fields, profile)
        if profile.disclose:
            doc["author"] = case.author_key_id
            doc["manifest"] = base64.b64encode(case.manifest).decode("ascii")
            doc["signature"] = base64.b64encode(case.signature).decode("ascii")
            doc["disclosed"] = redacted.disclosed
            doc["withheld_fields"] = len(case.salts) - len(redacted.disclosed)
        docs.append(doc)
    if fmt == "json":
        return writers.cases_json(header, docs), allowed, fields
    if fmt == "csv":
        columns = _csv_columns(profile)
        return writers.cases_csv(docs, columns), allowed, fields
    name = writers.md_text(profile.name)
    title = f"Reprisals: cases ({name} export, {str(header['generated_at'])[:10]})"
    footer = [f"Signed by {header['signer']}; verify with minisign and the .minisig file."]
    return writers.cases_md(title, docs, _withheld_line(withheld), footer), allowed, fields


_CSV_FIELD: dict[str, str] = {
    "location": "location",
    "perpetrators": "perpetrators[].name",
    "victims": "victims[].name",
    "victim_organisations": "victims[].organisation",
    "public_summary": "public_summary",
    "narrative": "narrative",
    "consent": "consent",
}


def _csv_columns(profile: Profile) -> list[str]:
    """Uwazi's columns, without those of fields this profile drops."""
    return [
        c
        for c in writers.CSV_COLUMNS
        if c not in _CSV_FIELD or profile.action(_CSV_FIELD[c]) != "drop"
    ]


def _value(case: ExportCase, dims: store.Dims, dimension: str) -> Sequence[str]:
    """The case's values of a dimension (``dims``: those of its record, kept)."""
    if dimension == "country":
        return [dims[0]]
    if dimension == "year":
        return [dims[2]]
    if dimension == "status":
        return [case.status]
    if dimension == "risk":
        return [case.risk]
    if dimension == "act":
        return dims[3]
    return dims[4]


def _stats(
    chosen: list[ExportCase],
    dims: list[store.Dims],
    profile: Profile,
    tables: tuple[tuple[str, ...], ...],
    header: dict[str, object],
    fmt: str,
    withheld: Counter[str],
) -> tuple[bytes, int]:
    # Imported here: scipy takes a second to import, and only counts need it.
    from reprisal_report.redact import sdc

    built: list[sdc.Table] = []
    for by in tables:
        counts: Counter[tuple[str, ...]] = Counter()
        multi = [d for d in by if d in ("act", "mechanism")]
        # With a multi-valued dimension a case counts once per value: how many distinct
        # cases each cell and margin holds is counted too, so that 5 pairs from one
        # case are small (redact/sdc.py, Table.cases).
        cases: Counter[tuple[str, ...]] | None = Counter() if multi else None
        masks = list(itertools.product((False, True), repeat=len(by)))
        for case, case_dims in zip(chosen, dims, strict=True):
            combos: list[tuple[str, ...]] = [()]
            for dimension in by:
                combos = [(*c, v) for c in combos for v in _value(case, case_dims, dimension)]
            counts.update(combos)
            if cases is not None:
                cases.update(
                    {
                        tuple(sdc.ALL if m else v for m, v in zip(mask, combo, strict=True))
                        for combo in combos
                        for mask in masks
                    }
                )
        unit = "case"
        if multi:
            unit = "case-" + "-".join(multi) + (" pair" if len(multi) == 1 else " triple")
        built.append(
            sdc.Table(
                by=by, unit=unit, cells=dict(counts), cases=None if cases is None else dict(cases)
            )
        )
    protected = sdc.protect(built, profile.k)
    sdc.audit(protected, profile.k)
    doc = {**header, **sdc.to_json(protected, profile.k), "profile": profile.name}
    doc["withheld"] = dict(withheld)
    if fmt == "json":
        return writers.json_bytes(doc), len(built)
    if fmt == "csv":
        return writers.stats_csv(doc), len(built)
    return writers.stats_md(doc, _withheld_line(withheld)), len(built)


KEY_FORMAT = "reprisal-report pseudonym key v1"


def _own_org(vault: Vault, org: str | None) -> str:
    from reprisal_report.vault import pins

    rows = pins.all_rows(vault)
    if org is not None:
        if not any(r.org_id == org for r in rows):
            raise InvalidInput(f"this profile knows no org {org}")
        return org
    own = [r.org_id for r in rows if r.own]
    if len(own) != 1:
        raise InvalidInput("name the org (this profile has not exactly one org of its own)")
    return own[0]


def export_pseudonym_key(vault: Vault, out: Path, org: str | None) -> None:
    """Write the org's pseudonym key, made now if no export made it yet (mode 0600)."""
    org_id = _own_org(vault, org)
    key = store.pseudonym_key(vault, org_id, create=True)
    if key is None:  # pragma: no cover - create=True always returns one
        raise InvalidInput("no pseudonym key")
    doc = {"format": KEY_FORMAT, "org_id": org_id, "key": canonical.b64encode(key)}
    write_user_file(out, canonical.canonical_json(doc), mode=0o600)
    with vault.transaction():
        record_event(
            vault,
            None,
            "pseudonym-key-exported",
            {"org_id": org_id},
            actor=public_identity(vault).key_id,
        )


def import_pseudonym_key(vault: Vault, path: Path) -> str:
    """Install a pseudonym key file; a different key already installed is refused."""
    data = read_user_file(path, "a pseudonym key file", 4096)
    try:
        doc = canonical.parse_canonical(data.strip(), 4096)
        if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
            raise ValueError
        org_id = doc["org_id"]
        key = canonical.b64decode(doc["key"], 32)
        if not isinstance(org_id, str):
            raise ValueError
    except (ValueError, KeyError, canonical.CanonicalError):
        raise InvalidInput(f"{path} is not a pseudonym key file") from None
    _own_org(vault, org_id)
    if not store.set_pseudonym_key(vault, org_id, key):
        raise InvalidInput(
            f"this profile already holds a different pseudonym key for org {org_id}; "
            "it is never replaced (past pseudonyms would change)"
        )
    with vault.transaction():
        record_event(
            vault,
            None,
            "pseudonym-key-imported",
            {"org_id": org_id},
            actor=public_identity(vault).key_id,
        )
    return org_id


def verify_export_file(path: Path, card_path: Path) -> verify.ExportCheck:
    """``audit verify-export``: the export at ``path``, its ``.minisig`` beside it, and the
    org card or card history (public data only) naming the coordinator and reporter keys.
    Each card version's signatures are checked, not its expiry: an auditor checks exports
    made while it was valid."""
    from reprisal_report.audit.history import parse_history

    data = read_user_file(path, "an export", MAX_EXPORT_BYTES)
    sig_path = path.with_name(path.name + ".minisig")
    signature = read_user_file(sig_path, "a minisign signature", 4096)
    history = parse_history(read_user_file(card_path, "an org card or org history", 1 << 26))
    return verify.verify_export(data, signature, history.latest)
