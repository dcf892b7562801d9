"""summary.json: the Summary model as JSON."""

from __future__ import annotations

from typing import TextIO

from rostersync.validate.summary import Summary


def write_summary_json(summary: Summary, out: TextIO) -> None:
    """Write the summary: per record type fetched/accepted/rejected, per rule its count (and up to
    5 examples, never state id values), per school students/teachers/sections shared/accepted/rejected."""
    out.write(summary.model_dump_json(indent=2))
    out.write("\n")
