"""A ~50k-record ClassLink (OneRoster 1.1) district through the local nightly state machine.

    .venv/bin/python benchmarks/oneroster_run.py [--schools 25 --students-per-school 1500]

A lighter harness than benchmarks/run.py (issue 12 asks for the 50k OneRoster district beside
it): the embedded AWS (moto server), the OneRoster sandbox (capped at 1,000 records a page, the
page size the client asks for) and the handlers all run in this process, through
statemachine/nightly.asl.json (`LocalNight`), so the numbers are end-to-end wall times of the
whole night, not per-stage isolated ones; the capacity model (run.py's) is attached to every
DynamoDB call of each run. Two runs: the first sync and an unchanged re-run (no
roster writes expected). Then the floor, on the same servers, as in run.py: (a) the raw fetch:
every collection's pages, signed like the client's (OAuth 1.0a HMAC-SHA256), paged by the records
each page returned, bodies parsed and discarded; (b) a BatchWriteItem of exactly the items the
first sync wrote (rebuilt from its accepted records with the import's mapping, run.py's
`_floor_items`), 25 a request on the import's threads, measured `--floor-repeats` times into a
fresh table (the median is the floor: moto's write rate moves between runs). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "rostersync"), str(ROOT / "src")]

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RosterSync")

sys.path.insert(0, str(ROOT / "benchmarks"))

import requests  # noqa: E402
from requests_oauthlib import OAuth1  # noqa: E402
from run import _drop_table, _floor_table, _floor_write, capacity_summary, capacity_text  # noqa: E402

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable  # noqa: E402
from rostersync.settings import get_settings  # noqa: E402
from rostersync.sources.oneroster.resources import Resource  # noqa: E402
from rostersync_cli.capacity import CapacityModel, indexes_of  # noqa: E402
from rostersync_cli.embedded import EmbeddedAws  # noqa: E402
from rostersync_cli.local_functions import LocalFunctions  # noqa: E402
from rostersync_cli.nightly import LocalNight  # noqa: E402
from rostersync_cli.provision import provision  # noqa: E402
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig  # noqa: E402
from rostersync_cli.sandbox.oneroster import OneRosterFaults, OneRosterSandbox, TenantSpec  # noqa: E402
from rostersync_cli.template import load_template  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--students-per-school", type=int, default=1500)
    parser.add_argument("--teachers-per-school", type=int, default=90)
    parser.add_argument("--floor-repeats", type=int, default=3)
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
            with _capacity_model(resources.roster_table) as (model, model_seconds):
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
                "run_id": outcome.run_id,
            }
            # Per roster record: the records fetched (the district's size).
            out[run]["capacity"] = capacity_summary([model.export()], max(1, out[run]["fetched"]))
            out[run]["capacity_model_s"] = round(model_seconds[0], 3)  # inside `seconds`
            print(f"{run}: {out[run]['seconds']} s", file=sys.stderr, flush=True)
            print(capacity_text(run, out[run]["capacity"]), file=sys.stderr, flush=True)
        out["floor"] = _floor(classlink, spec.district_id, resources.roster_table, out, args.floor_repeats)
    print(json.dumps(out, indent=2))
    return 0


@contextmanager
def _capacity_model(table: str) -> Iterator[tuple[CapacityModel, list[float]]]:
    """The capacity model of every DynamoDB call this process makes meanwhile (botocore's one entry
    point, as run.py's children do), with the seconds it spent recording."""
    from botocore.client import BaseClient

    model = CapacityModel(table, indexes_of(load_template()["Resources"]["RosterTable"]["Properties"]))
    spent = [0.0]
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def recorded(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        response = original(self, operation_name, api_params)
        if self.meta.service_model.service_name == "dynamodb":
            started = time.perf_counter()
            with lock:
                model.record(operation_name, api_params, response)
                spent[0] += time.perf_counter() - started
        return response

    BaseClient._make_api_call = recorded  # type: ignore[method-assign]
    try:
        yield model, spent
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _floor_fetch(classlink: OneRosterSandbox, district_id: str, page_limit: int = 1000) -> dict[str, Any]:
    """Every collection's pages, signed, paged by what each page returned; nothing kept."""
    tenant = next(t for t in classlink.secret_value()["tenants"] if t["district_id"] == district_id)
    auth = OAuth1(
        tenant["client_id"],
        client_secret=tenant["client_secret"],
        signature_method="HMAC-SHA256",
        signature_type="AUTH_HEADER",
    )
    base = tenant["base_url"].rstrip("/")
    requests_made = records = 0
    started = time.perf_counter()
    with requests.Session() as session:
        for resource in Resource:
            offset = 0
            while True:
                response = session.get(
                    f"{base}/{resource.value}",
                    params={"limit": page_limit, "offset": offset},
                    auth=auth,
                    timeout=60,
                )
                requests_made += 1
                response.raise_for_status()
                page = response.json()[resource.value]
                records += len(page)
                offset += len(page)
                total = response.headers.get("X-Total-Count")
                if not page or (total is not None and offset >= int(total)):
                    break
    return {"wall_s": round(time.perf_counter() - started, 3), "requests": requests_made, "records": records}


def _floor(
    classlink: OneRosterSandbox, district_id: str, roster_table: str, out: dict[str, Any], repeats: int
) -> dict[str, Any]:
    first: dict[str, Any] = out["first"]  # type: ignore[assignment]
    fetch = _floor_fetch(classlink, district_id)
    print(f"floor fetch: {fetch['wall_s']} s", file=sys.stderr, flush=True)
    workers = DynamoRosterTable.__init__.__kwdefaults__["workers"]  # type: ignore[index]
    writes: list[float] = []
    items: list[dict[str, Any]] | None = None
    for _ in range(max(1, repeats)):
        table = _floor_table(roster_table)
        payload = {
            "items": first["roster_writes"],
            "workers": workers,
            "roster_table": roster_table,
            "floor_table": table,
            "district_id": district_id,
            "run_id": first["run_id"],
        }
        if items is None:
            items = _floor_write(payload, prepare=True)  # before the timer
        started = time.perf_counter()
        _floor_write(payload, prepared=items)
        writes.append(round(time.perf_counter() - started, 3))
        _drop_table(table)
        print(f"floor write: {writes[-1]} s", file=sys.stderr, flush=True)
    median = sorted(writes)[len(writes) // 2]
    floor_s = round(fetch["wall_s"] + median, 3)
    return {
        "fetch": fetch,
        "write_s": writes,
        "write_items": len(items or []),
        "write_median_s": median,
        "end_to_end_s": floor_s,
        "first_sync_over_floor": round(first["seconds"] / floor_s, 2) if floor_s else None,
        "first_sync_over_floor_range": [round(first["seconds"] / (fetch["wall_s"] + w), 2) for w in writes],
    }


if __name__ == "__main__":
    sys.exit(main())
