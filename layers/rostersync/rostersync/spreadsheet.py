"""Cells of the CSV files people open in a spreadsheet (findings.csv, a hold's archive.csv).

A cell that starts with `= + - @`, a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets (CSV injection); a district controls names and SIS ids, so every cell we write
goes through `safe_cell`, which puts an apostrophe in front of such a value.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell value that spreadsheet programs will not run as a formula (CSV injection guard)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
