"""The leak gate's forms kept in the vault (migration 11): computed at import and at
every note change, read by the export only when they come from the case's current
content and normalisation; a row that is stale, missing, of another version or of
another shape is computed again, so it can never let a value through."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reprisal_report.redact.leakgate import FORMS_VERSION, STORED_SHAPE
from reprisal_report.vault import export as store
from reprisal_report.workflows.profile import open_profile
from tests.conftest import PASSPHRASE, Cli
from tests.integration.test_export import CASES, _case, _verify
from tests.integration.worlds import World, build_world

# Eight words: a sentence of a note is gated from six.
SECRET_NOTE = "The lawyer hid the ledger under the old harbour steps."
OTHER_NOTE = "Nothing in this note appears anywhere in any export."


@pytest.fixture
def world(make_cli: Callable[[str], Cli], tmp_path: Path) -> Iterator[World]:
    # A withheld case (internal only) and a public one whose summary carries the note
    # sentence that the withheld case's note will hold.
    public = _case(
        "Public case",
        consent="publish_named",
        risk="low",
        public_summary=f"Reported: {SECRET_NOTE}",
    )
    cases = {"secret": CASES["secret"], "public": ("2027-01-05", public)}
    with build_world(make_cli, tmp_path, cases) as built:
        _verify(built, "public")
        yield built


def _rows(world: World) -> dict[str, tuple[str, str, str]]:
    with open_profile(world.coordinator.home, PASSPHRASE) as vault:
        return store.gate_rows(vault)


def _sql(world: World, sql: str, *args: object) -> None:
    with open_profile(world.coordinator.home, PASSPHRASE) as vault, vault.transaction():
        vault.conn.execute(sql, args)


def _export(world: World, out: Path) -> tuple[int, str]:
    result = world.coordinator("export", "--profile", "public", "--out", str(out), "--json")
    return result.exit_code, result.stderr


def _refused_for_the_note(world: World, tmp_path: Path, name: str) -> None:
    out = tmp_path / f"{name}.json"
    code, stderr = _export(world, out)
    assert code == 4, stderr
    assert stderr.splitlines()[0].startswith(
        f"reprisal-report: error: leak gate: export refused: case {world.ids['secret']} "
        "field notes[0] appears in the output"
    )
    assert "ledger" not in stderr and not out.exists()


def test_import_keeps_each_case_s_forms(world: World) -> None:
    rows = _rows(world)
    assert set(rows) == {world.ids["secret"], world.ids["public"]}
    for source, version, text in rows.values():
        parts = store.split_row(text)
        assert parts is not None and store.parse_dims(parts[0]) is not None
        assert version == FORMS_VERSION and STORED_SHAPE.fullmatch(parts[1])
        assert "\n" not in source  # no notes yet: the latest bundle alone


def test_a_note_edited_after_an_export_is_gated_in_the_next_one(
    world: World, tmp_path: Path
) -> None:
    secret = world.ids["secret"]
    world.coordinator.ok("triage", "set", secret, "--note", OTHER_NOTE)
    assert _export(world, tmp_path / "first.json")[0] == 0
    before = _rows(world)[secret]
    world.coordinator.ok("triage", "set", secret, "--edit-note", "1", "--note", SECRET_NOTE)
    after = _rows(world)[secret]
    assert after[0] != before[0] and after[2] != before[2]  # refreshed by the note change
    _refused_for_the_note(world, tmp_path, "second")
    # Deleted, the note no longer holds anything to gate; added again, it is gated.
    world.coordinator.ok("triage", "set", secret, "--delete-note", "1")
    assert _export(world, tmp_path / "third.json")[0] == 0
    world.coordinator.ok("triage", "set", secret, "--note", SECRET_NOTE)
    _refused_for_the_note(world, tmp_path, "fourth")


@pytest.mark.parametrize(
    "damage",
    [
        "missing",  # no row at all
        "stale",  # the row of the content before the note changed
        "version",  # the current content under another normalisation
        "shape",  # the current content, a text of another shape
        "written under it",  # the note changed by a writer that does not refresh
    ],
)
def test_a_stale_or_missing_row_cannot_let_a_value_through(
    world: World, tmp_path: Path, damage: str
) -> None:
    secret = world.ids["secret"]
    world.coordinator.ok("triage", "set", secret, "--note", OTHER_NOTE)
    stale = _rows(world)[secret]
    if damage == "written under it":
        # The trigger forgets the row; the export computes the forms again.
        _sql(world, "UPDATE triage_notes SET text = ? WHERE case_id = ?", SECRET_NOTE, secret)
        assert secret not in _rows(world)
    else:
        world.coordinator.ok("triage", "set", secret, "--edit-note", "1", "--note", SECRET_NOTE)
        if damage == "missing":
            _sql(world, "DELETE FROM export_gate_forms WHERE case_id = ?", secret)
        elif damage == "stale":
            _sql(
                world,
                "UPDATE export_gate_forms SET source = ?, version = ?, forms = ? WHERE case_id = ?",
                *stale,
                secret,
            )
        elif damage == "version":
            # The forms of the note before it changed, filed under the current
            # source but another version: not read.
            _sql(
                world,
                "UPDATE export_gate_forms SET version = ?, forms = ? WHERE case_id = ?",
                "gate-forms 0",
                stale[2],
                secret,
            )
        else:
            _sql(
                world,
                "UPDATE export_gate_forms SET forms = ? WHERE case_id = ?",
                "1\x05victims[0].name",  # a field and nothing else
                secret,
            )
    _refused_for_the_note(world, tmp_path, damage.replace(" ", "-"))
    # The export kept the forms it computed: the next one reads them.
    source, version, _ = _rows(world)[secret]
    assert version == FORMS_VERSION and source != stale[0]
    _refused_for_the_note(world, tmp_path, "again")


def test_a_new_bundle_refreshes_the_case_s_forms(world: World, tmp_path: Path) -> None:
    # The reporter edits the withheld case; the imported follow-up names another
    # victim, whose name is then gated (and the old row is replaced).
    secret = world.ids["secret"]
    before = _rows(world)[secret]
    edited = {
        **CASES["secret"][1],
        "victims": [{"name": "Ilse Wâgner", "kind": "human_rights_defender"}],
    }
    world.deliver_edit("secret", edited, tmp_path)
    after = _rows(world)[secret]
    assert after[0] != before[0] and after[2] != before[2]
    assert _export(world, tmp_path / "ok.json")[0] == 0


def test_counts_read_the_kept_dims_and_the_record_when_they_are_not_of_their_shape(
    world: World, tmp_path: Path
) -> None:
    def tables(name: str) -> object:
        out = tmp_path / f"{name}.json"
        world.coordinator.ok("export", "--profile", "stats", "--out", str(out))
        return json.loads(out.read_text(encoding="utf-8"))["tables"]

    kept = tables("kept")
    secret = world.ids["secret"]
    text = _rows(world)[secret][2]
    parts = store.split_row(text)
    assert parts is not None
    damaged = f"{store.ROW_FORMAT}\x06[1, 2]\x06{parts[1]}"
    _sql(world, "UPDATE export_gate_forms SET forms = ? WHERE case_id = ?", damaged, secret)
    assert tables("damaged") == kept


@pytest.mark.parametrize(
    "dims",
    [
        ("BI", "BI", "2026", ("arrest", "travel_ban"), ("hrc_session",)),
        ("unknown", "", "unknown", (), ()),
    ],
)
def test_dims_are_kept_exactly(dims: store.Dims) -> None:
    text = store.dims_text(dims)
    assert text is not None and store.parse_dims(text) == dims


@pytest.mark.parametrize(
    "dims",
    [
        ("BI", "BI", "2026", ("",), ()),
        ("B\x04I", "B\x04I", "2026", (), ()),
        ("BI", "BI", "2", ("a\x03b",), ()),
    ],
)
def test_dims_that_would_not_read_back_are_not_kept(dims: store.Dims) -> None:
    assert store.dims_text(dims) is None
