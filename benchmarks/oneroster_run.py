"""A ~50k-record ClassLink (OneRoster 1.1) district through the nightly state machine, stage by stage.

    .venv/bin/python benchmarks/oneroster_run.py --schools 25 --students-per-school 1900 \
        --teachers-per-school 90 [--version 1.1|1.2] [--auth oauth1|oauth2] [--floor-repeats 3]
        [--runs first,unchanged] [--profile] [--tag NAME]

The same measurement as benchmarks/run.py (Clever), from the same code (benchmarks/stagebench.py):
a moto server and the OneRoster sandbox (benchmarks/sandbox_proc.py; pages capped at 1,000 records,
the page size the client asks for; the providers' habits on, as the sandbox has them by default)
run in their own processes. Each run is one night of statemachine/nightly.asl.json in the state
machine runner (`LocalNight`), whose Lambda tasks each run in a fresh child that reports its own
wall time, CPU seconds and peak RSS, so neither the servers, the runner nor earlier stages count in
a stage's numbers. Two runs: the first sync and an unchanged re-run (no roster writes expected).
The floor, on the same servers right after the first sync: (a) the raw fetch: the very requests
the fetch stage made (same collections and queries: `sort`, `limit`, `offset`), signed like the
client's (OAuth 1.0a HMAC-SHA256; with `--auth oauth2`, one client-credentials token from the
sandbox's token endpoint and a Bearer header), bodies parsed and discarded; (b) a BatchWriteItem of exactly the
items the first sync wrote (stagebench's `floor_items`), 25 a request on the import's threads,
`--floor-repeats` times into a fresh table (the median is the floor: moto's write rate moves).

Writes benchmarks/results/oneroster-<N>k-stages[-<tag>].json and .md; `--profile` runs every stage
under cProfile and writes benchmarks/results/oneroster-<N>k-<run>-<stage>.txt.
Every stage's DynamoDB calls feed the capacity model, as in run.py (benchmarks/stagebench.py).
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
    RESULTS,
    ROOT,
    STAGES,
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

DISTRICT_ID = "4200050"
# Provisioning wants Clever credentials: a one-school Clever district nobody syncs tonight.
TINY_CLEVER = {"name": "Tiny Clever SD", "seed": 1, "schools": 1, "students": 2, "teachers": 1, "sections": 1}


def floor_fetch(payload: dict[str, Any], *, prepare: bool = False, prepared: Any = None) -> Any:
    """The fetch stage's requests again (collection and query each), signed; bodies parsed, dropped."""
    import requests
    from requests_oauthlib import OAuth1

    if prepare:
        return requests.Session()
    session = prepared
    auth: Any
    if payload.get("token_url"):  # OAuth 2.0 client credentials: one token, then Bearer requests
        answer = session.post(
            payload["token_url"],
            data={"grant_type": "client_credentials"},
            auth=(payload["client_id"], payload["client_secret"]),
            timeout=60,
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]

        def auth(request: Any) -> Any:
            request.headers["Authorization"] = f"Bearer {token}"
            return request
    else:
        auth = OAuth1(
            payload["client_id"],
            client_secret=payload["client_secret"],
            signature_method="HMAC-SHA256",
            signature_type="AUTH_HEADER",
        )
    base = payload["base_url"].rstrip("/")
    made = records = 0
    for _method, path, query in payload["requests"]:
        collection = path.rsplit("/", 1)[-1]
        if collection == "token":  # the client's token requests: the floor asked for its own
            continue
        response = session.get(f"{base}/{collection}", params=query, auth=auth, timeout=60)
        response.raise_for_status()
        made += 1
        records += len(response.json().get(collection, []))
    return {"requests": made, "records": records}


def bench(args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        "district_id": DISTRICT_ID,
        "name": "Benchmark ClassLink SD",
        "seed": 50,
        "schools": args.schools,
        "students_per_school": args.students_per_school,
        "teachers_per_school": args.teachers_per_school,
        "gaps": False,
        "version": args.version,
        "auth": args.auth,
    }
    users = args.schools * (args.students_per_school + args.teachers_per_school)
    label = f"oneroster-{round(users / 1000)}k" if users >= 1000 else f"oneroster-{users}"
    runs = tuple(r.strip() for r in args.runs.split(",") if r.strip())
    moto = Moto()
    clever = Sandbox("clever", TINY_CLEVER)
    classlink = Sandbox("oneroster", spec, {"max_page": 1000})
    env = {
        **aws_env(moto.endpoint),
        "CLEVER_API_BASE": clever.info["api_base"],
        "CLEVER_OAUTH_BASE": clever.info["oauth_base"],
    }
    if args.auth == "oauth2":
        # The sandbox's token endpoint is http on loopback: oauthlib refuses it unless told (the
        # sandbox sets this in its own process; the stages run in theirs).
        env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "layers" / "rostersync")]
    from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
    from rostersync.settings import get_settings
    from rostersync_cli.provision import provision

    get_settings.cache_clear()
    resources = provision(
        clever_credentials={
            "client_id": clever.info["client_id"],
            "client_secret": clever.info["client_secret"],
        },
        oneroster_tenants=classlink.info["secret"],
    )
    env.update(resources.environment())
    tenant = next(t for t in classlink.info["secret"]["tenants"] if t["district_id"] == DISTRICT_ID)
    out: dict[str, Any] = {
        "source": "oneroster",
        "size": label,
        "records": sum(classlink.info["records_served"].values()),
        "records_served": classlink.info["records_served"],
        "spec": spec,
        "runs": {},
        "floor": {},
    }
    print(f"== {label}: {out['records_served']}", flush=True)
    try:
        first = out["runs"]["first_sync"] = pipeline_run(
            "first", env, classlink, DISTRICT_ID, args.profile, label, STAGES, out["records"]
        )
        fetch_log = first["stages"]["fetch"].pop("oneroster_request_log")
        classlink.log()
        payload = {
            "requests": fetch_log,
            "base_url": tenant["base_url"],
            "client_id": tenant["client_id"],
            "client_secret": tenant["client_secret"],
            "token_url": tenant.get("token_url"),
        }
        fetch_floor = run_child("oneroster_run:floor_fetch", payload, env)
        fetch_floor["oneroster_requests"] = len(classlink.log())
        print(
            f"  floor      fetch     {fetch_floor.get('wall_s', 0):8.1f} s  {fetch_floor.get('error') or ''}"
        )
        items = first["stages"].get("import", {}).get("ddb_roster_items_written", 0)
        writes: list[dict[str, Any]] = []
        for _ in range(max(1, args.floor_repeats) if items else 0):
            floor_name = floor_table(resources.roster_table)
            payload = {
                "items": items,
                "workers": DynamoRosterTable.__init__.__kwdefaults__["workers"],  # type: ignore[index]
                "roster_table": resources.roster_table,
                "floor_table": floor_name,
                "district_id": DISTRICT_ID,
                "run_id": first["results"].get("import", {}).get("run_id"),
            }
            writes.append(run_child(FLOOR_WRITE_TARGET, payload, env))
            drop_table(floor_name)
            print(
                f"  floor      write     {writes[-1].get('wall_s', 0):8.1f} s  {writes[-1].get('error') or ''}",
                flush=True,
            )
        writes.sort(key=lambda w: w.get("wall_s") or 0)
        write_floor = writes[len(writes) // 2] if writes else {"wall_s": 0.0}
        out["floor"] = {
            "fetch": floor_summary(fetch_floor, "oneroster"),
            "write": floor_summary(write_floor, "oneroster"),
            "write_walls_s": [w.get("wall_s") for w in writes],
            "end_to_end_wall_s": round(
                (fetch_floor.get("wall_s") or 0) + (write_floor.get("wall_s") or 0), 3
            ),
        }
        if "unchanged" in runs:
            unchanged = out["runs"]["unchanged"] = pipeline_run(
                "unchanged", env, classlink, DISTRICT_ID, args.profile, label, STAGES, out["records"]
            )
            unchanged["stages"]["fetch"].pop("oneroster_request_log", None)
    finally:
        out["moto_rss_mb_at_end"] = moto.rss_mb()
        out["sandbox_rss_mb_at_end"] = classlink.rss_mb()
        for stop in (classlink.stop, clever.stop, moto.stop):
            try:
                stop()
            except Exception as exc:  # never lose the measured numbers
                print(f"  cleanup: {exc!r}", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schools", type=int, default=25)
    parser.add_argument("--students-per-school", type=int, default=1900)
    parser.add_argument("--teachers-per-school", type=int, default=90)
    parser.add_argument(
        "--version", choices=("1.1", "1.2"), default="1.1", help="the OneRoster version served"
    )
    parser.add_argument(
        "--auth", choices=("oauth1", "oauth2"), default="oauth1", help="how the tenant signs in"
    )
    parser.add_argument("--floor-repeats", type=int, default=3, help="write-floor measurements (median used)")
    parser.add_argument("--runs", default="first,unchanged", help="first always runs; unchanged optional")
    parser.add_argument("--profile", action="store_true", help="run every stage under cProfile")
    parser.add_argument("--tag", default="", help="suffix for the result files")
    args = parser.parse_args()
    start_forkserver()  # now, while this process is small (see benchmarks/stagebench.py)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    out = bench(args)
    out["machine"] = {"nproc": os.cpu_count(), "python": sys.version.split()[0]}
    out["bench_wall_s"] = round(time.perf_counter() - started, 1)
    out["profiled"] = args.profile
    suffix = "-stages" + ("-profile" if args.profile else "") + (f"-{args.tag}" if args.tag else "")
    (RESULTS / f"{out['size']}{suffix}.json").write_text(
        json.dumps(out, indent=2, default=str), encoding="utf-8"
    )
    table = markdown(out)
    (RESULTS / f"{out['size']}{suffix}.md").write_text(table, encoding="utf-8")
    print(table, flush=True)
    stop_forkserver()
    return 0


if __name__ == "__main__":
    sys.exit(main())
