"""One module each for file creation, strict reading and "now" (checked on the source).

- files are created, synced and shredded only in ``vault/files.py`` (``O_CREAT|O_EXCL|
  O_NOFOLLOW``, mode 0600, random temporary names): no other module calls ``os.fsync``,
  names ``os.O_CREAT``, or opens a file for writing by name;
- base64 and JSON are decoded only by ``model/canonical.py`` (``parse_canonical``,
  ``b64decode``): strict, size-checked, one spelling per value;
- the time is read only by ``clock.py`` (``clock.now()``; tests move it with
  ``clock.set_clock``), and card times are parsed only by ``identity/encoding.py``
  (``parse_time``). ``time.monotonic`` (durations, not dates) is allowed anywhere.

Each exception below is listed with its reason; an entry that no longer matches the
code fails the test too, so the lists only shrink.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from reprisal_report import clock
from reprisal_report.errors import CardInvalid, RelayRequestRejected
from reprisal_report.identity import encoding as enc
from reprisal_report.identity import idcard
from reprisal_report.relay.keys import relay_identity_card
from reprisal_report.relay.members import OrgMembers
from tests.integration.relay_fixtures import TestOrg, make_relay_dir

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "reprisal_report"

FILES = "files"
DECODE = "decode"
CLOCK = "clock"
TIME_PARSE = "time-parse"

HOME = {
    FILES: "vault/files.py",
    DECODE: "model/canonical.py",
    CLOCK: "clock.py",
    TIME_PARSE: "identity/encoding.py",
}

_FSYNC = {"os.fsync", "os.fdatasync", "os.sync"}
_CREATE_CALLS = {
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "tempfile.mkstemp",
    "tempfile.NamedTemporaryFile",
    "tempfile.TemporaryFile",
    "tempfile.SpooledTemporaryFile",
}
_WRITE_METHODS = {"write_text", "write_bytes", "touch"}
_DECODERS = {
    "base64.b64decode",
    "base64.standard_b64decode",
    "base64.urlsafe_b64decode",
    "base64.decodebytes",
    "binascii.a2b_base64",
    "json.loads",
    "json.load",
    "json.JSONDecoder",
}
_NOW = {
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "time.time",
    "time.time_ns",
}
_TIME_PARSERS = {
    "datetime.datetime.strptime",
    "datetime.datetime.fromisoformat",
    "time.strptime",
}

# (module, rule) -> why it may do this itself. Keep each reason honest and specific.
ALLOWED: dict[tuple[str, str], str] = {
    # --- files -------------------------------------------------------------------------
    ("vault/lock.py", FILES): (
        "the profile lock file is opened O_CREAT without O_EXCL on purpose: it is reused "
        "across runs and only flock()ed, never written; vault.files has no lock open"
    ),
    ("relay/service.py", FILES): (
        "the relay's data-directory lock: O_CREAT|O_NOFOLLOW without O_EXCL, reused "
        "across restarts and only flock()ed; create_new would refuse the second start"
    ),
    ("relay/auth.py", FILES): (
        "the nonce journal is reopened O_APPEND|O_CREAT|O_NOFOLLOW after each compaction "
        "(which itself goes through vault.files.atomic_write); vault.files has no "
        "append-open, and create_new's O_EXCL cannot reopen an existing journal"
    ),
    # --- decoding ----------------------------------------------------------------------
    ("model/case.py", DECODE): (
        "parses the user's own case files (JSON/YAML typed by a person, not canonical), "
        "with its own duplicate-key and constant checks"
    ),
    ("model/vocabulary.py", DECODE): "reads the vocabulary shipped as package data",
    ("transport/relay_client.py", DECODE): (
        "relay HTTP answers are plain JSON (not canonical); their shapes are checked "
        "exactly by protocol.wire and protocol.receipts, their size is capped before"
    ),
    ("identity/pinning.py", DECODE): (
        "reads back the list of pinned roots the vault stored with json.dumps "
        "(not canonical); each root then goes through canonical.b64decode"
    ),
    ("vault/keyfile.py", DECODE): (
        "the keyfile is the indented JSON document of docs/vault.md (not canonical, kept "
        "so that existing profiles open); every field is checked exactly and its base64 "
        "goes through canonical.b64decode"
    ),
    ("vault/inbox.py", DECODE): (
        "reads back JSON the vault itself wrote inside the encrypted database, not input"
    ),
    ("vault/export.py", DECODE): (
        "reads back case records and salts the vault itself wrote inside the encrypted "
        "database (the same rows vault/inbox.py reads)"
    ),
    ("redact/verify.py", DECODE): (
        "reads an export file (indented JSON, as docs/export-profiles.md gives it) for an "
        "auditor; each case's manifest and base64 then go through the canonical readers"
    ),
    ("vault/cases.py", DECODE): (
        "reads back case records the vault itself wrote inside the encrypted database, "
        "after they passed the case schema on the way in"
    ),
    ("workflows/delivery.py", DECODE): (
        "reads back receipts and tree heads stored in the encrypted vault; their shapes "
        "and signatures are then checked again by protocol.receipts"
    ),
    # --- time --------------------------------------------------------------------------
    ("bundle/manifest.py", TIME_PARSE): (
        "validates the manifest's own 'created' field, a bundle time rather than a card "
        "time, in the format docs/bundle-format.md fixes for it"
    ),
}


@dataclass(frozen=True)
class Finding:
    module: str
    rule: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.what} ({self.rule})"


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it was imported as (``dt`` -> ``datetime.datetime``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname is not None:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _qualified(node: ast.expr, names: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


def _mode_argument(call: ast.Call, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value
    return call.args[position] if len(call.args) > position else None


def _writes(mode: ast.expr | None, *, unknown: bool) -> bool:
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(flag in mode.value for flag in "wax+")
    return unknown


def _findings(module: str, tree: ast.Module) -> Iterator[Finding]:
    names = _aliases(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and _qualified(node, names) == "os.O_CREAT":
            yield Finding(module, FILES, line, "os.O_CREAT")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = _qualified(func, names)
        if name in _FSYNC or name in _CREATE_CALLS:
            yield Finding(module, FILES, line, f"{name}()")
        elif name in _DECODERS:
            yield Finding(module, DECODE, line, f"{name}()")
        elif name in _NOW:
            yield Finding(module, CLOCK, line, f"{name}()")
        elif name in _TIME_PARSERS:
            yield Finding(module, TIME_PARSE, line, f"{name}()")
        elif isinstance(func, ast.Name) and func.id == "open" and "open" not in names:
            # A mode we cannot read might be a writing one: only literal read modes pass.
            if _writes(_mode_argument(node, 1), unknown=True):
                yield Finding(module, FILES, line, "open() for writing")
        elif isinstance(func, ast.Attribute) and name is None:
            if func.attr in _WRITE_METHODS:
                yield Finding(module, FILES, line, f".{func.attr}()")
            elif func.attr == "open" and _writes(_mode_argument(node, 0), unknown=False):
                yield Finding(module, FILES, line, ".open() for writing")


def _all_findings() -> list[Finding]:
    found: list[Finding] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(f for f in _findings(module, tree) if HOME[f.rule] != module)
    return found


@pytest.mark.parametrize("rule", [FILES, DECODE, CLOCK, TIME_PARSE])
def test_only_the_home_module_does_it(rule: str) -> None:
    offenders = [
        str(f) for f in _all_findings() if f.rule == rule and (f.module, rule) not in ALLOWED
    ]
    assert offenders == [], f"use {HOME[rule]} instead:\n" + "\n".join(offenders)


def test_every_exception_is_still_needed() -> None:
    used = {(f.module, f.rule) for f in _all_findings()}
    stale = sorted(f"{module} ({rule})" for module, rule in ALLOWED if (module, rule) not in used)
    assert stale == [], "remove these from ALLOWED:\n" + "\n".join(stale)


def test_every_exception_has_a_reason() -> None:
    assert all(len(reason) > 20 for reason in ALLOWED.values())


# --- the checker itself catches what it claims to ------------------------------------

_SAMPLES = {
    "import os\nos.fsync(3)\n": FILES,
    "from os import fsync as f\nf(3)\n": FILES,
    "import os\nos.open('x', os.O_WRONLY | os.O_CREAT)\n": FILES,
    "open('x', 'wb')\n": FILES,
    "open('x', mode)\n": FILES,
    "p.open('a')\n": FILES,
    "p.write_bytes(b'')\n": FILES,
    "import base64 as b\nb.b64decode('')\n": DECODE,
    "import json\njson.loads('{}')\n": DECODE,
    "from datetime import datetime\ndatetime.now()\n": CLOCK,
    "import datetime\ndatetime.datetime.now()\n": CLOCK,
    "import time\ntime.time()\n": CLOCK,
    "from datetime import datetime as dt\ndt.strptime('', '')\n": TIME_PARSE,
}


@pytest.mark.parametrize(("source", "rule"), list(_SAMPLES.items()))
def test_the_checker_catches(source: str, rule: str) -> None:
    assert [f.rule for f in _findings("sample.py", ast.parse(source))] == [rule]


@pytest.mark.parametrize(
    "source",
    [
        "import time\ntime.monotonic()\n",
        "open('x', 'rb')\n",
        "p.open('rb')\n",
        "import os\nos.open('x', os.O_RDONLY | os.O_NOFOLLOW)\n",
        "from reprisal_report import clock\nclock.now()\n",
        "import json\njson.dumps({})\n",
    ],
)
def test_the_checker_lets_pass(source: str) -> None:
    assert list(_findings("sample.py", ast.parse(source))) == []


# --- the relay reads its card and its time through the shared modules ----------------


def test_relay_takes_now_from_the_clock(tmp_path: Path) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card(expires_in_days=30))
    members = OrgMembers(card_path, data_dir)
    assert members.lookup(org.reporter.key_id).key_id == org.reporter.key_id
    expires = enc.parse_time(members.card.card.expires)
    clock.set_clock(lambda: expires)
    try:
        with pytest.raises(RelayRequestRejected) as caught:
            members.lookup(org.reporter.key_id)
        created = idcard.parse_card(relay_identity_card(SigningKey.generate())).created
    finally:
        clock.set_clock(None)
    assert caught.value.status == 403
    assert caught.value.message == (
        f"the relay's org card expired at {members.card.card.expires}; upload a newer one"
    )
    assert created == members.card.card.expires


def test_an_oversized_org_card_file_is_refused_at_start(tmp_path: Path) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(TestOrg(relay_card).card() + b" " * enc.MAX_CARD_BYTES)
    with pytest.raises(CardInvalid) as caught:
        OrgMembers(card_path, data_dir)
    assert caught.value.message == "org card is larger than 1 MiB"


def test_an_oversized_changed_card_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir, relay_card = make_relay_dir(tmp_path)
    org = TestOrg(relay_card)
    card_path = tmp_path / "org-card.json"
    card_path.write_bytes(org.card())
    members = OrgMembers(card_path, data_dir)
    card_path.write_bytes(org.card(version=2) + b" " * enc.MAX_CARD_BYTES)
    with caplog.at_level(logging.WARNING, logger="reprisal_report.relay.members"):
        assert members.lookup(org.reporter.key_id).key_id == org.reporter.key_id
    assert members.card.card.version == 1
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring the changed org card file: org card is larger than 1 MiB"
    ]
