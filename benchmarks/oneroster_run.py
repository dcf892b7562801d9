"""A ~50k-record ClassLink (OneRoster 1.1) district through the local nightly state machine.

    .venv/bin/python benchmarks/oneroster_run.py [--schools 25 --students-per-school 1500]

A lighter harness than benchmarks/run.py (issue 12 asks for the 50k OneRoster district beside
it): the embedded AWS (moto server), the OneRoster sandbox (capped at 1,000 records a page, the
page size the client asks for) and the handlers all run in this process, through
statemachine/nightly.asl.json (`LocalNight`), so the numbers are end-to-end wall times of the
whole night, not per-stage isolated ones. Two runs: the first sync and an unchanged re-run (no
roster writes expected). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rostersync"), str(ROOT / "src")]

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RosterSync")

from rostersync.settings import get_settings  # noqa: E402
from rostersync_cli.embedded import EmbeddedAws  # noqa: E402
from rostersync_cli.local_functions import LocalFunctions  # noqa: E402
from rostersync_cli.nightly import LocalNight  # noqa: E402
from rostersync_cli.provision import provision  # noqa: E402
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig  # noqa: E402
from rostersync_cli.sandbox.oneroster import OneRosterFaults, OneRosterSandbox, TenantSpec  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--students-per-school", type=int, default=1500)
    parser.add_argument("--teachers-per-school", type=int, default=90)
    args = parser.parse_args()
    spec = TenantSpec(
        "4200050",
        "Benchmark ClassLink SD",
        seed=50,
        schools=args.schools,
        students_per_school=args.students_per_school,
        teachers_per_school=args.teachers_per_school,
        gaps=False,
    )
    tiny = DistrictSpec("Tiny Clever SD", seed=1, schools=1, students=2, teachers=1, sections=1)
    out: dict[str, object] = {}
    with (
        EmbeddedAws() as aws,
        CleverSandbox(SandboxConfig(districts=(tiny,))) as clever,
        OneRosterSandbox([spec], OneRosterFaults(max_page=1000)) as classlink,
    ):
        aws.apply_environment()
        os.environ.update({"CLEVER_API_BASE": clever.api_base, "CLEVER_OAUTH_BASE": clever.oauth_base})
        get_settings.cache_clear()
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret},
            oneroster_tenants=classlink.secret_value(),
        )
        os.environ.update(resources.environment())
        get_settings.cache_clear()
        data = classlink.data[spec.district_id]
        out["records_served"] = {k: len(v) for k, v in data.items()}
        functions = LocalFunctions()
        for run in ("first", "unchanged"):
            requests_before = len(classlink.log)
            started = time.perf_counter()
            night = LocalNight(functions).run([spec.district_id])
            seconds = time.perf_counter() - started
            outcome = night.districts[spec.district_id]
            result = outcome.stages["import"]
            out[run] = {
                "status": night.status,
                "seconds": round(seconds, 1),
                "fetched": outcome.stages["validate"]["fetched"],
                "accepted": outcome.stages["validate"]["accepted"],
                "roster_writes": result["roster_writes"],
                "phase_seconds": result.get("phase_seconds"),
                "oneroster_requests": len(classlink.log) - requests_before,
            }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
