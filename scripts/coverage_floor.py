"""Fail when statement or branch coverage is under its floor (`make test` runs this after pytest).

coverage.py's own `fail_under` is one number (statements and branches combined); the floors
here are separate, in pyproject.toml under [tool.rostersync.coverage]. Reads the JSON report
pytest-cov wrote (`--cov-report=json:<path>`). Exit status 1 under a floor, 2 on a bad report.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def floors(pyproject: Path = REPO / "pyproject.toml") -> dict[str, float]:
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    section = config["tool"]["rostersync"]["coverage"]
    return {"statements": float(section["statements"]), "branches": float(section["branches"])}


def measured(report: dict) -> dict[str, float]:
    totals = report["totals"]
    statements = 100.0 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100.0 * totals["covered_branches"] / max(totals["num_branches"], 1)
    return {"statements": statements, "branches": branches}


def check(report: dict, minimum: dict[str, float]) -> list[str]:
    """One line per measure under its floor (empty: all at or above)."""
    got = measured(report)
    return [
        f"{name} coverage {got[name]:.2f}% is under the floor of {minimum[name]:g}%"
        for name in ("statements", "branches")
        if got[name] < minimum[name]
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: coverage_floor.py COVERAGE_JSON", file=sys.stderr)
        return 2
    try:
        report = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        got = measured(report)
    except (OSError, ValueError, KeyError) as exc:
        print(f"coverage_floor: cannot read {argv[1]}: {exc}", file=sys.stderr)
        return 2
    minimum = floors()
    failures = check(report, minimum)
    print(
        f"coverage: statements {got['statements']:.2f}% (floor {minimum['statements']:g}%), "
        f"branches {got['branches']:.2f}% (floor {minimum['branches']:g}%)"
    )
    for line in failures:
        print(f"FAIL: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
