"""RosterSync benchmark: one generated district's night through the state machine, against the floor.

    make bench                                     # 50k, 100k, 190k
    .venv/bin/python benchmarks/run.py --sizes 50k,100k,190k [--quick] [--profile] [--tag NAME]
        [--runs first,unchanged,changed] [--stages fetch,validate,import] [--floor-repeats 3]

Against moto, a 190k district's first import writes ~402k items in ~5 minutes, and each write-floor
measurement takes as long again: the full default set takes about an hour on 2 cores.

Per size: a moto server (`python -m moto.server`) and the Clever sandbox (benchmarks/sandbox_proc.py)
run in their own processes. Each run is one night of statemachine/nightly.asl.json in the state
machine runner the CLI uses (`LocalNight`: moto's Step Functions engine, Retry and Catch included),
whose Lambda tasks each run in a fresh `spawn` child that reports its own wall time, CPU seconds
and peak RSS (`ru_maxrss`), so neither the servers, the runner nor earlier stages pollute the
numbers. `--stages` leaves the later stages out (their tasks answer `not_run`, which ends the district).
Three runs: the first sync, an unchanged re-run, and a re-run against sandbox revision 1 (about 1%
of students, teachers and sections changed). The floor, on the same servers in the same run:
(a) fetching the same pages raw (requests, limit=10000, following `next`, bodies discarded), and
(b) BatchWriteItem of the items the first sync wrote (rebuilt from its accepted records with the
import's own mapping, before the timer), 25 per request, with the import's
concurrency (DynamoRosterTable.workers), nothing else, measured --floor-repeats times (default 3)
into a fresh table each time; the median is the floor (moto's write rate moves between runs).

Every stage's DynamoDB calls also feed the capacity model (src/rostersync_cli/capacity.py), printed
per run: write units per roster record on the table and each index, units by item kind, the busiest
partition and index key (by kind), read units per record, and the writes' time on DynamoDB at
1,000 units/s per key and a 400/s share of a 4,000/s table among 10 imports, here and at 190k
records. It records inside the timed stages (its own time: `capacity_model_s`); `--no-capacity`
leaves it out.

Writes benchmarks/results/<size>.json and <size>.md (the markdown tables). `--profile` runs every
stage under cProfile instead (timings then include the profiler's overhead) and writes
benchmarks/results/<size>-<run>-<stage>.txt with the top entries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from stagebench import (
    FLOOR_WRITE_TARGET,
    RECORD_CAPACITY,
    RESULTS,
    ROOT,
    Moto,
    Sandbox,
    aws_env,
    drop_table,
    floor_summary,
    floor_table,
    markdown,
    pipeline_run,
    run_child,
    start_forkserver,
    stop_forkserver,
)

# The scale district (~190k records) and two scaled-down variants.
SIZES: dict[str, dict[str, int]] = {
    "190k": {
        "schools": 200,
        "students": 120_000,
        "teachers": 10_000,
        "counselors": 400,
        "admins": 5,
        "other_staff": 1_600,
        "sections": 60_000,
        "terms": 4,
        "courses": 2_000,
    },
}
for _label, _factor in (("100k", 100 / 194), ("50k", 50 / 194), ("5k", 5 / 194)):
    SIZES[_label] = {
        key: max(2 if key in ("terms", "admins") else 1, round(value * _factor))
        for key, value in SIZES["190k"].items()
    }
    SIZES[_label]["terms"] = 4
    SIZES[_label]["admins"] = 5


# ----------------------------------------------------------------------------- child side


def _floor_fetch(payload: dict[str, Any], *, prepare: bool = False, prepared: Any = None) -> Any:
    """The same pages as the fetch stage: token call, then every resource's first page + `next`."""
    import requests

    if prepare:
        return requests.Session()
    session = prepared
    pages = 0
    body_bytes = 0
    token = None
    for method, path, query in payload["first_requests"]:
        if path == "/oauth/tokens":
            response = session.request(
                method,
                payload["oauth_base"] + path,
                params=query,
                auth=(payload["client_id"], payload["client_secret"]),
            )
            response.raise_for_status()
            for entry in response.json()["data"]:
                if entry["owner"]["id"] == payload["district_id"]:
                    token = entry["access_token"]
            pages += 1
            continue
        headers = {"Authorization": f"Bearer {token}"}
        url: str | None = payload["api_base"] + path
        params: dict[str, str] | None = query
        while url:
            response = session.get(url, params=params, headers=headers)
            response.raise_for_status()
            pages += 1
            body_bytes += len(response.content)
            links = response.json().get("links", [])
            nxt = next((link["uri"] for link in links if link.get("rel") == "next"), None)
            url, params = (payload["api_base"] + nxt if nxt else None), None
    return {"requests": pages, "bytes": body_bytes}


def bench_size(
    size: str, profile: bool, runs: tuple[str, ...], stages: tuple[str, ...], floor_repeats: int = 3
) -> dict[str, Any]:
    counts = SIZES[size]
    spec = {"name": f"Scale {size}", "seed": 190_001, **counts}
    records = sum(counts.values()) + 1
    print(f"== {size}: {records} records ({counts})", flush=True)
    moto = Moto()
    sandbox = Sandbox("clever", spec)
    env = {
        **aws_env(moto.endpoint),
        "CLEVER_API_BASE": sandbox.info["api_base"],
        "CLEVER_OAUTH_BASE": sandbox.info["oauth_base"],
    }
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "layers" / "rostersync")]
    from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
    from rostersync.settings import get_settings
    from rostersync_cli.provision import provision

    get_settings.cache_clear()
    creds = {"client_id": sandbox.info["client_id"], "client_secret": sandbox.info["client_secret"]}
    resources = provision(clever_credentials=creds)
    env.update(resources.environment())
    district_id = sandbox.info["district_id"]
    out: dict[str, Any] = {"size": size, "records": records, "spec": spec, "runs": {}, "floor": {}}
    try:
        out["runs"]["first_sync"] = pipeline_run(
            "first", env, sandbox, district_id, profile, size, stages, records
        )
        first = out["runs"]["first_sync"]
        # The floor, on the same servers.
        fetch_log = first["stages"]["fetch"].pop("clever_request_log")
        first_requests = [
            [method, path, query] for method, path, query in fetch_log if "starting_after" not in query
        ]
        floor_env = dict(env)
        payload = {
            "first_requests": first_requests,
            "api_base": sandbox.info["api_base"],
            "oauth_base": sandbox.info["oauth_base"],
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "district_id": district_id,
        }
        sandbox.log()
        fetch_floor = run_child("run:_floor_fetch", payload, floor_env)
        fetch_floor["clever_requests"] = len(sandbox.log())
        print(
            f"  floor      fetch     {fetch_floor.get('wall_s', 0):8.1f} s  {fetch_floor.get('error') or ''}"
        )
        items = first["stages"].get("import", {}).get("ddb_roster_items_written", 0)
        # moto's write rate moves between runs (one Python process): the write floor is measured
        # `floor_repeats` times, each into a fresh table, and the median is the floor.
        writes: list[dict[str, Any]] = []
        for _ in range(max(1, floor_repeats) if items else 0):
            floor_name = floor_table(resources.roster_table)
            payload = {
                "items": items,
                "workers": DynamoRosterTable.__init__.__kwdefaults__["workers"],  # type: ignore[index]
                "roster_table": resources.roster_table,
                "floor_table": floor_name,
                "district_id": district_id,
                "run_id": first["results"].get("import", {}).get("run_id"),
            }
            writes.append(run_child(FLOOR_WRITE_TARGET, payload, floor_env))
            drop_table(floor_name)
            print(
                f"  floor      write     {writes[-1].get('wall_s', 0):8.1f} s  {writes[-1].get('error') or ''}",
                flush=True,
            )
        writes.sort(key=lambda w: w.get("wall_s") or 0)
        write_floor = writes[len(writes) // 2] if writes else {"wall_s": 0.0}
        out["floor"] = {
            "fetch": floor_summary(fetch_floor, "clever"),
            "write": floor_summary(write_floor, "clever"),
            "write_walls_s": [w.get("wall_s") for w in writes],
        }
        out["floor"]["end_to_end_wall_s"] = round(
            (fetch_floor.get("wall_s") or 0) + (write_floor.get("wall_s") or 0), 3
        )
        if "unchanged" in runs:
            out["runs"]["unchanged"] = pipeline_run(
                "unchanged", env, sandbox, district_id, profile, size, stages, records
            )
            out["runs"]["unchanged"]["stages"]["fetch"].pop("clever_request_log", None)
        if "changed" not in runs:
            return out
        sandbox.stop()
        sandbox = Sandbox("clever", {**spec, "revision": 1, "changed_percent": 1.0})
        out["changed_in_revision_1"] = sandbox.info["changed"]
        env["CLEVER_API_BASE"] = sandbox.info["api_base"]
        env["CLEVER_OAUTH_BASE"] = sandbox.info["oauth_base"]
        new_creds = {"client_id": sandbox.info["client_id"], "client_secret": sandbox.info["client_secret"]}
        if new_creds != creds:
            os.environ.update(env)
            get_settings.cache_clear()
            provision(clever_credentials=new_creds)
        out["runs"]["changed_1pct"] = pipeline_run(
            "changed", env, sandbox, district_id, profile, size, stages, records
        )
        out["runs"]["changed_1pct"]["stages"]["fetch"].pop("clever_request_log", None)
    finally:
        out["moto_rss_mb_at_end"] = moto.rss_mb()
        for stop in (sandbox.stop, moto.stop):
            try:
                stop()
            except Exception as exc:  # never lose the measured numbers
                print(f"  cleanup: {exc!r}", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50k,100k,190k", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--quick", action="store_true", help="only the 5k district (a smoke test)")
    parser.add_argument("--profile", action="store_true", help="run every stage under cProfile")
    parser.add_argument("--runs", default="first,unchanged,changed", help="which runs (first always runs)")
    parser.add_argument("--stages", default="fetch,validate,import", help="stop each run after these stages")
    parser.add_argument("--tag", default="", help="suffix for the result files")
    parser.add_argument("--floor-repeats", type=int, default=3, help="write-floor measurements (median used)")
    parser.add_argument(
        "--no-capacity", action="store_true", help="leave the capacity model out (to measure its cost)"
    )
    args = parser.parse_args()
    RECORD_CAPACITY[0] = not args.no_capacity
    if "fetch" not in args.stages.split(","):
        parser.error("--stages must include fetch (the night starts with it)")
    start_forkserver()  # now, while this process is small (see benchmarks/stagebench.py)
    sizes = ["5k"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        if size not in SIZES:
            parser.error(f"unknown size {size}")
    for size in sizes:
        started = time.perf_counter()
        out = bench_size(
            size, args.profile, tuple(args.runs.split(",")), tuple(args.stages.split(",")), args.floor_repeats
        )
        out["machine"] = {"nproc": os.cpu_count(), "python": sys.version.split()[0]}
        out["bench_wall_s"] = round(time.perf_counter() - started, 1)
        out["profiled"] = args.profile
        suffix = ("-profile" if args.profile else "") + (f"-{args.tag}" if args.tag else "")
        (RESULTS / f"{size}{suffix}.json").write_text(
            json.dumps(out, indent=2, default=str), encoding="utf-8"
        )
        table = markdown(out)
        (RESULTS / f"{size}{suffix}.md").write_text(table, encoding="utf-8")
        print(table, flush=True)
    stop_forkserver()
    return 0


if __name__ == "__main__":
    sys.exit(main())
