"""Issue 25, defect 4: support's terminal. A district names itself; its name reached
`rostersync districts` raw, so an escape sequence or a bell in it drove support's terminal (clear
the screen, retitle the window, hide lines). Every terminal line of the CLI goes through one
helper, `terminal.say`, which shows control characters as escapes (`\\x1b`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rostersync_cli.main as cli
from rostersync.overview.index_page import DistrictRow
from rostersync.overview.status import Health, SyncStatus
from rostersync_cli.terminal import terminal_safe
from tests.paths import REPO

HOSTILE = "Evil\x1b]0;pwned\x07 SD\x1b[2J\r\nfake line\x9b31m\x7f"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("bell\x07", "bell\\x07"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI
        ("\x7f", "\\x7f"),
        ("\u202eevil", "\\u202eevil"),  # right-to-left override
        ("Ça, 中学, école", "Ça, 中学, école"),  # letters stay as they are
    ],
)
def test_control_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


def test_districts_escapes_a_hostile_district_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = SyncStatus(district_id="d1", district_name=HOSTILE, source="clever")
    row = DistrictRow(status=status, health=Health.OK, connected=True, days_since_good=0)
    monkeypatch.setattr(cli, "district_overview", lambda: [row])
    monkeypatch.setattr(cli, "state_id_conflicts", lambda _ids: [])

    assert cli.main(["districts"]) == 0

    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\r\x9b\x7f")
    assert "Evil\\x1b]0;pwned\\x07 SD" in out
    assert "\nfake line" not in out  # a newline in a name does not start a line of its own


def test_no_module_of_the_cli_prints_but_through_the_helper() -> None:
    """One helper for every terminal line: `print` appears only in terminal.py."""
    offenders = []
    for path in sorted((REPO / "src" / "rostersync_cli").rglob("*.py")):
        if path.name == "terminal.py" or "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{Path(path).name}:{node.lineno}")
    assert offenders == []
