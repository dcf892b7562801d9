"""summary.json: the Summary model as JSON."""

from __future__ import annotations

from typing import TextIO

from rostersync.validate.summary import Summary


def write_summary_json(summary: Summary, out: TextIO) -> None:
    """Write the summary: per record type fetched/accepted/rejected, per rule its count, per school
    students/teachers/sections shared/accepted/rejected. Counts only: the rule examples (people's
    names and SIS ids) are left out; report.html, built from the summary in memory, shows them
    to the district (docs/SECURITY.md)."""
    out.write(summary.model_dump_json(indent=2, exclude={"rules": {"__all__": {"examples"}}}))
    out.write("\n")
