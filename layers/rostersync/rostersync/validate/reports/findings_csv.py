"""findings.csv: one row per finding, UTF-8 with BOM so Excel opens it right, written incrementally.

Open the target with `encoding="utf-8", newline=""` (or wrap a binary stream in
`io.TextIOWrapper(raw, encoding="utf-8", newline="")`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from rostersync.spreadsheet import safe_cell
from rostersync.validate.summary import FINDING_FIELDS, Finding

BOM = "\ufeff"
__all__ = ["BOM", "FindingsCsvWriter", "safe_cell", "write_findings_csv"]


class FindingsCsvWriter:
    """Writes the BOM and header on creation, then one row per `write`. Usable as a findings sink."""

    def __init__(self, out: TextIO) -> None:
        out.write(BOM)
        self._csv = csv.writer(out, lineterminator="\r\n")
        self._csv.writerow(FINDING_FIELDS)
        self.rows = 0

    def write(self, finding: Finding) -> None:
        data = finding.model_dump(mode="json")
        self._csv.writerow([safe_cell(data[f]) for f in FINDING_FIELDS])
        self.rows += 1

    finding = write  # so a writer can serve as the `finding` half of a ValidationSink


def write_findings_csv(findings: Iterable[Finding], out: TextIO) -> int:
    """Write all findings (streamed); returns the number of rows written."""
    writer = FindingsCsvWriter(out)
    for f in findings:
        writer.write(f)
    return writer.rows
