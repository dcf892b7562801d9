"""Ten first imports at once against DynamoDB's published write limits, in virtual time, one of
them a 190k-record district (issue 23's first Done-when point, at full scale).

    .venv/bin/python benchmarks/first_imports_at_limits.py [--big 190k] [--others 3000,...] [--out PATH]

The simulation is the unit test's (tests/unit/test_first_imports_at_dynamodb_limits.py), shared
in tests/fakes/first_imports.py, at DynamoDB's real limits instead of a hundredth of them: 1,000
write units a second per partition key and per index key, and a new on-demand table's 4,000 a
second for the whole table, shared by the ten imports (one simulated table: throttling errors and
UnprocessedItems when exceeded). Each import writes through the real DynamoDB adapter with its
production settings (its own write rate, 8 request threads, the writer's 4 senders) and is the
real `import_district`, invoked as the state machine does: again while it answers `paused`, at
most as often as statemachine/nightly.asl.json allows, with Lambda's timeout from template.yaml,
the import's pause margin and write chunk from rostersync.settings' defaults
(IMPORT_PAUSE_MARGIN_SECONDS, IMPORT_WRITE_CHUNK), and the service's own arrival chunk.

Rosters come from the benchmark's generator (the Clever sandbox's `DistrictData`, the shape of
benchmarks/run.py's SIZES) through the Clever source's normalize and the validation engine, as a
night's fetch and validate would hand them to the import: sections carry their students lists, so
item sizes are the real ones. The big district is SIZES[--big]; the nine others are typical PA
districts of 3,000 to 20,000 records (the same shape, scaled; OTHERS).

Only DynamoDB's waits move the virtual clock: the import's own CPU work (reading the records,
diffing, serializing) is real time on this machine and is reported per invocation (`wall_s`),
not added to the virtual time (in Lambda it overlaps the writes in flight). Writes results to
benchmarks/results/first-imports-at-limits.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # a log line per district and pause, not per chunk
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "layers" / "rostersync"), str(ROOT / "benchmarks")]

from run import SIZES  # noqa: E402
from tests.factories import Clock  # noqa: E402
from tests.fakes import MemoryPageStore  # noqa: E402
from tests.fakes.first_imports import (  # noqa: E402
    Invocation,
    SharedThrottledDynamo,
    ThrottledRoster,
    import_until_done,
    senders_named_after_their_import,
)

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable  # noqa: E402
from rostersync.adapters.write_rate import WriteRate  # noqa: E402
from rostersync.contracts.importer import RunStatus  # noqa: E402
from rostersync.layout import run_pk  # noqa: E402
from rostersync.records import Kind, Record  # noqa: E402
from rostersync.settings import Settings  # noqa: E402
from rostersync.sources import profile  # noqa: E402
from rostersync.sources.clever.normalize import normalize  # noqa: E402
from rostersync.sources.clever.resources import Resource  # noqa: E402
from rostersync.validate.engine import CollectingSink, validate_district  # noqa: E402
from rostersync.validate.rules import rules_for  # noqa: E402
from rostersync_cli.capacity import KEY_WRITE_UNITS_PER_SECOND, indexes_of  # noqa: E402
from rostersync_cli.sandbox import DistrictData, DistrictSpec  # noqa: E402
from rostersync_cli.template import load_template  # noqa: E402

TABLE = "roster"
INDEXES = indexes_of(load_template()["Resources"]["RosterTable"]["Properties"])
KEY_RATE = KEY_WRITE_UNITS_PER_SECOND  # 1,000 write units a second per partition and index key
TABLE_RATE = 4000.0  # a new on-demand table, shared by the ten imports
IMPORTS = 10
SHARE = TABLE_RATE / IMPORTS  # what the capacity model assumes each import gets
# The nine other districts: roster records (the 190k shape, scaled like benchmarks/run.py's).
OTHERS = (3_000, 4_000, 5_000, 6_000, 8_000, 10_000, 12_000, 15_000, 20_000)
# docs/ARCHITECTURE.md, "The 190k first import, computed": the capacity model's estimate.
MODEL_ESTIMATE = {"seconds": 4_300, "invocations": "5-7"}
RESOURCE_LISTINGS = (
    (Resource.DISTRICTS, "districts", None),
    (Resource.SCHOOLS, "schools", None),
    (Resource.STUDENTS, "users", "student"),
    (Resource.TEACHERS, "users", "teacher"),
    (Resource.STAFF, "users", "staff"),
    (Resource.DISTRICT_ADMINS, "users", "district_admin"),
    (Resource.SECTIONS, "sections", None),
    (Resource.TERMS, "terms", None),
    (Resource.COURSES, "courses", None),
)


def lambda_timeout() -> float:
    return float(load_template()["Globals"]["Function"]["Timeout"])


def max_invocations() -> int:
    """The state machine's bound: the first invocation and its continuations."""
    asl = json.loads((ROOT / "statemachine" / "nightly.asl.json").read_text())

    def find(node: Any) -> int | None:
        if isinstance(node, dict):
            if "ContinueImport?" in node:
                (choice,) = node["ContinueImport?"]["Choices"]
                return int(choice["NumericGreaterThanEquals"]) + 1
            for value in node.values():
                if (found := find(value)) is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                if (found := find(value)) is not None:
                    return found
        return None

    bound = find(asl)
    if bound is None:
        raise SystemExit("statemachine/nightly.asl.json: no ContinueImport? choice")
    return bound


def shape(records: int) -> dict[str, int]:
    """The 190k district's shape scaled to about `records` roster records (as run.py scales it)."""
    big = SIZES["190k"]
    factor = records / (sum(big.values()) + 1)
    counts = {k: max(2 if k in ("terms", "admins") else 1, round(v * factor)) for k, v in big.items()}
    counts["terms"], counts["admins"] = 4, 5
    return counts


def accepted_records(spec: DistrictSpec) -> tuple[list[tuple[Kind, Record]], int, int]:
    """The district's records as the import gets them: generated (Clever's shape), normalized by
    the Clever source, validated; (accepted, fetched, rejected)."""
    data = DistrictData(spec)
    records: list[Record] = []
    for resource_, listing_name, role in RESOURCE_LISTINGS:
        listing = data.listing(listing_name, role)
        if listing is None:
            continue
        for _rid, raw in listing.items(0, len(listing)):
            records.extend(normalize(resource_, raw, spec.id))
    source = profile("clever")
    sink = CollectingSink()
    summary = validate_district(
        spec.id,
        lambda: iter(records),
        sink,
        id_ok=source.id_ok,
        source_rules=source.rules,
        wording=source.wording,
        rule_ids=rules_for(source),
    )
    rejected = sum(c.rejected for c in summary.records.values())
    return sink.records, len(records), rejected


def make_adapter(client: Any, dynamo: SharedThrottledDynamo) -> DynamoRosterTable:
    """The import's adapter as Lambda builds it (rostersync.wiring: every setting its default),
    on the virtual clock."""
    rate = WriteRate(clock=dynamo.clock, sleep=dynamo.sleep)
    return DynamoRosterTable(TABLE, client, sleep=dynamo.sleep, clock=dynamo.clock, write_rate=rate)


def _busiest(counts: dict[tuple[str, str], int]) -> dict[str, Any]:
    """The busiest partition key and index key, named by kind only (index keys are state ids)."""
    out: dict[str, Any] = {}
    for space in ("table", "index"):
        keys = [(k, u) for k, u in counts.items() if (k[0] == "table") == (space == "table")]
        if keys:
            (name, key), units = max(keys, key=lambda kv: kv[1])
            kind = key.split("#")[0] + "#" if "#" in key else "(no prefix)"
            out[space] = {"space": name, "key_kind": kind, "write_units": units}
    return out


Roster = tuple[DistrictSpec, list[tuple[Kind, Record]], int, int]  # spec, accepted, fetched, rejected


def simulate(
    rosters: list[Roster], table_rate: float, limits: dict[str, Any], started: float
) -> dict[str, Any]:
    """The rosters' first imports at once, each on its own thread, into one simulated table."""
    dynamo = SharedThrottledDynamo(TABLE, INDEXES, key_rate=KEY_RATE, table_rate=table_rate)
    table, store, clock = ThrottledRoster(dynamo, make_adapter), MemoryPageStore(), Clock()
    run_id = clock.next_run()
    finished: dict[str, float] = {}

    def one(n: int) -> list[Invocation]:
        spec, accepted, _fetched, _rejected = rosters[n]
        invocations = import_until_done(
            f"import-{n}",
            spec.id,
            lambda: accepted,
            table,
            store,
            run_id,
            clock,
            invocation_s=limits["invocation_s"],
            margin_s=limits["pause_margin_s"],
            write_chunk=limits["write_chunk"],
            max_invocations=limits["max_invocations"],
        )
        finished[spec.id] = dynamo.clock()
        last = invocations[-1]
        print(
            f"  {spec.name}: {last.result.status.value} after {len(invocations)} invocation(s),"
            f" {finished[spec.id]:.0f} s virtual ({time.perf_counter() - started:.0f} s real)",
            flush=True,
        )
        return invocations

    sim_started, sim_cpu = time.perf_counter(), time.process_time()
    with senders_named_after_their_import(), ThreadPoolExecutor(max_workers=len(rosters)) as pool:
        runs = list(pool.map(one, range(len(rosters))))
    table.close()
    sim_s, sim_cpu_s = time.perf_counter() - sim_started, time.process_time() - sim_cpu

    districts: list[dict[str, Any]] = []
    for n, ((spec, accepted, fetched, rejected), invocations) in enumerate(zip(rosters, runs, strict=True)):
        last = invocations[-1].result
        counts = dynamo.by_import[f"import-{n}"]
        roster_records = len(accepted)
        by_key = dict(counts.by_key)
        busiest = max(by_key.values(), default=0)
        districts.append(
            {
                "district": spec.name,
                "records_fetched": fetched,
                "records_accepted": roster_records,
                "records_rejected": rejected,
                "status": last.status.value,
                "run_item_status": (table.items.get((run_pk(spec.id), run_id)) or {}).get("status"),
                "invocations": len(invocations),
                "invocation_statuses": [i.result.status.value for i in invocations],
                "invocation_virtual_s": [round(i.virtual_s, 1) for i in invocations],
                "invocation_wall_s": [round(i.wall_s, 1) for i in invocations],
                # when each paused invocation first decided to pause (the margin starts at timeout - margin)
                "invocation_pause_decided_s": [
                    None if i.pause_decided_s is None else round(i.pause_decided_s, 1) for i in invocations
                ],
                "longest_invocation_virtual_s": round(max(i.virtual_s for i in invocations), 1),
                "finished_at_virtual_s": round(finished[spec.id], 1),
                "items_written": last.roster_writes,
                "write_units": counts.units,
                "write_units_per_record": round(counts.units / roster_records, 2),
                "calls": counts.calls,
                "throttled_calls": counts.throttled,
                "partial_answers": counts.partial,
                "busiest_keys": _busiest(by_key),
                "model_seconds_at_share": round(max(counts.units / SHARE, busiest / KEY_RATE), 1),
                "exactly_once": counts.accepted == dynamo.distinct_keys(f"import-{n}") == last.roster_writes,
            }
        )
    all_done = all(d["status"] == RunStatus.SUCCEEDED.value for d in districts)
    within = all(d["longest_invocation_virtual_s"] <= limits["invocation_s"] for d in districts)
    once = dynamo.accepted == len(dynamo.stored) == sum(d["items_written"] for d in districts)
    return {
        "table_units_per_s": table_rate,
        "districts": districts,
        "all_succeeded": all_done,
        "no_invocation_over_timeout": within,
        "all_items_exactly_once": once and all(d["exactly_once"] for d in districts),
        "table": {
            "virtual_s": round(dynamo.now, 1),
            "write_units": dynamo.units,
            "units_per_s": round(dynamo.units / dynamo.now, 1) if dynamo.now else None,
            "calls": dynamo.calls,
            "throttled_calls": dynamo.throttled_calls,
            "partial_answers": dynamo.partial_answers,
        },
        "simulation_wall_s": round(sim_s, 1),
        "simulation_cpu_s": round(sim_cpu_s, 1),
    }


def report(name: str, scenario: dict[str, Any], invocation_s: float) -> None:
    print(f"\n== {name}: table {scenario['table_units_per_s']:.0f} units/s")
    print(
        f"{'district':<12} {'records':>8} {'inv':>3} {'virtual s':>9} {'units':>9} {'u/rec':>5} "
        f"{'throttled':>9} {'partial':>8} {'once':>4}"
    )
    for d in scenario["districts"]:
        print(
            f"{d['district']:<12} {d['records_accepted']:>8} {d['invocations']:>3} "
            f"{d['finished_at_virtual_s']:>9.0f} {d['write_units']:>9} {d['write_units_per_record']:>5} "
            f"{d['throttled_calls']:>9} {d['partial_answers']:>8} {'yes' if d['exactly_once'] else 'NO':>4}"
        )
    big = scenario["districts"][0]
    print(
        f"{big['district']}: {big['finished_at_virtual_s']:.0f} s virtual in {big['invocations']} invocation(s);"
        f" docs/ARCHITECTURE.md's estimate ~{MODEL_ESTIMATE['seconds']} s, {MODEL_ESTIMATE['invocations']}"
        f" invocations (the model at a {SHARE:.0f}/s share for this roster: {big['model_seconds_at_share']:.0f} s)"
    )
    print(
        f"all succeeded: {scenario['all_succeeded']}; no invocation over {invocation_s:.0f} s:"
        f" {scenario['no_invocation_over_timeout']}; every item exactly once: {scenario['all_items_exactly_once']};"
        f" simulated in {scenario['simulation_wall_s']:.0f} s ({scenario['simulation_cpu_s']:.0f} s CPU)"
    )


SCENARIOS = {
    # The 190k district and nine typical ones on a new table: once the small ones are done, the big
    # one has the table to itself and its partition key binds.
    "typical": "the big district and the others, one 4,000 units/s table",
    # The capacity model's case: the big district held to a 400 units/s share all night long (nine
    # other imports as long as it, each taking its share).
    "share": "the big district alone at a 400 units/s share of the table",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--big", default="190k", choices=sorted(SIZES), help="the big district's size")
    parser.add_argument(
        "--others",
        default=",".join(str(n) for n in OTHERS),
        help="the other districts' roster records, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="which of " + ", ".join(SCENARIOS) + " (default: both)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/first-imports-at-limits.json")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    if unknown := set(scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: unknown {sorted(unknown)}")

    others = [int(n) for n in args.others.split(",") if n]
    defaults = Settings.model_fields
    limits = {
        "key_units_per_s": KEY_RATE,
        "table_units_per_s": TABLE_RATE,
        "imports": IMPORTS,
        "invocation_s": lambda_timeout(),
        "pause_margin_s": float(defaults["import_pause_margin_seconds"].default),
        "write_chunk": int(defaults["import_write_chunk"].default),
        "max_invocations": max_invocations(),
    }
    print(
        f"limits: {KEY_RATE:.0f} units/s per key, {TABLE_RATE:.0f}/s table for {IMPORTS} imports;"
        f" invocation {limits['invocation_s']:.0f} s, pause margin {limits['pause_margin_s']:.0f} s,"
        f" write chunk {limits['write_chunk']}, at most {limits['max_invocations']} invocations",
        flush=True,
    )

    started, cpu0 = time.perf_counter(), time.process_time()
    specs = [DistrictSpec(name=f"Scale {args.big}", seed=190_001, **SIZES[args.big])]
    specs += [
        DistrictSpec(name=f"Typical {n // 1000}k", seed=30_000 + i, **shape(n))  # type: ignore[arg-type]
        for i, n in enumerate(others)
    ]
    rosters: list[Roster] = []
    for spec in specs:
        accepted, fetched, rejected = accepted_records(spec)
        rosters.append((spec, accepted, fetched, rejected))
        print(f"  {spec.name}: {fetched} records, {len(accepted)} accepted, {rejected} rejected", flush=True)
    build_s = time.perf_counter() - started
    print(f"rosters built in {build_s:.0f} s", flush=True)

    results: dict[str, Any] = {}
    for name in scenarios:
        print(f"\n{name}: {SCENARIOS[name]}", flush=True)
        if name == "typical":
            results[name] = simulate(rosters, TABLE_RATE, limits, time.perf_counter())
        else:
            results[name] = simulate(rosters[:1], SHARE, limits, time.perf_counter())
        results[name]["description"] = SCENARIOS[name]
    for name, scenario in results.items():
        report(name, scenario, limits["invocation_s"])

    usage = resource.getrusage(resource.RUSAGE_SELF)
    ok = all(
        r["all_succeeded"] and r["no_invocation_over_timeout"] and r["all_items_exactly_once"]
        for r in results.values()
    )
    result: dict[str, Any] = {
        "benchmark": "first imports at DynamoDB's limits (issue 23)",
        "command": " ".join(["python", "benchmarks/first_imports_at_limits.py", *sys.argv[1:]]),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
        "machine": {"python": platform.python_version(), "cpus": len(os.sched_getaffinity(0))},
        "limits": limits,
        "architecture_estimate_190k": MODEL_ESTIMATE,
        "scenarios": results,
        "met": ok,
        "process": {
            "rosters_build_s": round(build_s, 1),
            "total_wall_s": round(time.perf_counter() - started, 1),
            "total_cpu_s": round(time.process_time() - cpu0, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    process = result["process"]
    print(
        f"\nprocess: {process['total_cpu_s']} s CPU, {process['total_wall_s']} s wall,"
        f" peak RSS {process['peak_rss_mb']} MB; wrote {args.out}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
