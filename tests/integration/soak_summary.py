"""Adds up the shards of a soak (`make soak`): `python -m tests.integration.soak_summary DIR`
prints schedules run, faults injected by kind, invariant checks and violations, dated."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.fault_schedules import SoakStats


def merged(directory: Path) -> tuple[SoakStats, int]:
    total, shards = SoakStats(), 0
    for path in sorted(directory.glob("shard-*.json")):
        total = total + SoakStats.from_json(json.loads(path.read_text(encoding="utf-8")))
        shards += 1
    return total, shards


def main(argv: list[str]) -> int:
    directory = Path(argv[1] if len(argv) > 1 else ".soak")
    stats, shards = merged(directory)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(
        f"soak summary ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit or 'unknown'}, "
        f"{shards} shard(s))"
    )
    print(stats.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
