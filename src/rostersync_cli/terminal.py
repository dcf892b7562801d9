"""Everything the CLI writes to a terminal goes through `say` (issue 25).

Districts name themselves (a district's name is whatever its SIS holds), and support reads those
names in a terminal: an escape sequence in a name could clear the screen, retitle the window, hide
or forge lines; a bell rings. `terminal_safe` shows every control character (C0, DEL, C1, and the
Unicode format characters that reorder text, such as U+202E) as an escape (`\\x1b`, `\\u202e`), so a
line on the screen is exactly the characters the program meant. `say` writes each argument as one
line, escaped: a newline inside a value never starts a line of its own. Support's input (district
ids) is normalized and checked here too: `district_id_arg`.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from typing import IO

from rostersync.records import DISTRICT_ID_PATTERN

_DISTRICT_ID = re.compile(DISTRICT_ID_PATTERN)


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def terminal_safe(text: object) -> str:
    """`text` with every control or format character shown as an escape; letters untouched."""
    value = str(text)
    if value.isprintable() and not any(_unsafe(c) for c in value):
        return value
    return "".join(_escaped(c) if _unsafe(c) else c for c in value)


def say(*lines: object, file: IO[str] | None = None, flush: bool = False) -> None:
    """Write each of `lines` as one line of the terminal (none: an empty line), escaped."""
    stream = file if file is not None else sys.stdout
    for line in lines or ("",):
        print(terminal_safe(line), file=stream, flush=flush)


def district_id_arg(text: str) -> str:
    """An argparse type: a district id from support's command line, surrounding spaces removed
    (a pasted `<id> ` subscribed contacts under a filter no alert matched); anything else that is
    not an id is refused, naming what was given."""
    value = text.strip().removeprefix("\ufeff")
    if not _DISTRICT_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"{terminal_safe(value[:80])!r} is not a district id (letters, digits, '-' and '_', at most 64)"
        )
    return value
