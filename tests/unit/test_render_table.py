"""cli/render.print_table: an id is never cut, and no cell loses text to an ellipsis."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from reprisal_report.cli import output
from reprisal_report.cli.render import print_table

ID = "ylqkszry5f7aialj"
TITLE = "Travel ban after briefing the Committee against Torture"


def _render(
    monkeypatch: pytest.MonkeyPatch, *, terminal: bool, width: int, rows: list[list[str]]
) -> str:
    buffer = io.StringIO()

    def console(stderr: bool = False) -> Console:
        return Console(
            file=buffer, force_terminal=terminal, width=width, color_system=None, markup=False
        )

    monkeypatch.setattr(output, "console", console)
    print_table(["id", "status", "title", "consent"], rows)
    return buffer.getvalue()


@pytest.mark.parametrize(("terminal", "width"), [(False, 80), (True, 80), (True, 40)])
def test_the_id_stays_whole_and_nothing_is_elided(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, width: int
) -> None:
    text = _render(
        monkeypatch,
        terminal=terminal,
        width=width,
        rows=[[ID, "submitted_to_un", TITLE, "share_un_confidential"]],
    )
    assert ID in text
    assert "…" not in text
    assert all(word in text for word in TITLE.split())  # folded between words


def test_output_that_is_not_a_terminal_is_not_folded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _render(
        monkeypatch,
        terminal=False,
        width=80,
        rows=[[ID, "submitted_to_un", TITLE, "share_un_confidential"]],
    )
    (row,) = [line for line in text.splitlines() if ID in line]
    assert TITLE in row and "share_un_confidential" in row and "submitted_to_un" in row


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=16, max_size=26),
            st.text(st.characters(blacklist_characters="…"), max_size=80),
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(min_value=20, max_value=120),
)
def test_any_row_keeps_its_id_on_one_line(
    monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str, str]], width: int
) -> None:
    text = _render(
        monkeypatch, terminal=True, width=width, rows=[[i, "ok", t, "x"] for i, t in rows]
    )
    for ident, _ in rows:
        assert ident in text
    assert "…" not in text
