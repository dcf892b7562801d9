"""What benchmarks/run.py (Clever) and benchmarks/oneroster_run.py (ClassLink) share: one night of
statemachine/nightly.asl.json in the state machine runner (`LocalNight`), each Lambda invocation in a
fresh child that measures its own wall time, CPU seconds and peak RSS; the AWS calls it makes; the
moto server in its own process; and the write floor (BatchWriteItem of the items the first sync
wrote, rebuilt with the import's own mapping).

Children are forked from a fork server started before the parent imports anything heavy
(`start_forkserver`): a child spawned from a big parent would start with its peak RSS (Linux keeps
ru_maxrss across exec). A child runs `target` ("module:function", a module of benchmarks/), called
once with `prepare=True` (imports and setup, outside the timing) and once with `prepared=` (timed).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PY = sys.executable
CHILD_START = "forkserver"
STAGE_TARGET = "stagebench:stage_target"
FLOOR_WRITE_TARGET = "stagebench:floor_write"


class SourceSandbox(Protocol):
    """A provider sandbox in its own process (benchmarks/sandbox_proc.py)."""

    source: str  # "clever", "oneroster": the measures' `<source>_requests` and `<source>_request_log`

    def log(self) -> list[list[Any]]:
        """[method, path, query, status] of every request since the last call."""
        ...


OPERATIONAL_PREFIXES = ("RUN#", "RUNLOG", "LEASE#", "HOLD#", "CONFIG#")
DDB_WRITES = ("BatchWriteItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems")
STAGE_ENV = {
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "rostersync",
    "POWERTOOLS_METRICS_NAMESPACE": "RosterSync",
}


# ----------------------------------------------------------------------------- child side


def _install_counters() -> tuple[Counter[str], threading.Lock]:
    """Count every AWS call the child makes (botocore's one entry point for API calls)."""
    from botocore.client import BaseClient

    counts: Counter[str] = Counter()
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def _pk(values: dict[str, Any]) -> str:
        return str((values.get("pk") or {}).get("S", ""))

    def counted(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        local: Counter[str] = Counter({f"{service}.{operation_name}": 1})
        if service == "dynamodb" and operation_name in DDB_WRITES:
            local["ddb.write_requests"] += 1
            keys: list[str] = []
            if operation_name == "BatchWriteItem":
                for requests in api_params.get("RequestItems", {}).values():
                    for request in requests:
                        body = request.get("PutRequest", {}).get("Item") or request.get(
                            "DeleteRequest", {}
                        ).get("Key", {})
                        keys.append(_pk(body))
            elif operation_name == "TransactWriteItems":
                for entry in api_params.get("TransactItems", []):
                    for body in entry.values():
                        keys.append(_pk(body.get("Item") or body.get("Key") or {}))
            else:
                keys.append(_pk(api_params.get("Item") or api_params.get("Key") or {}))
            for pk in keys:
                if pk.startswith(("STATEID#", "STATEIDCONFLICT#")):
                    local["ddb.registry_writes"] += 1  # the PA Secure ID registry (issue 22)
                local["ddb.items"] += 1
                operational = pk.startswith(OPERATIONAL_PREFIXES)
                local["ddb.items.operational" if operational else "ddb.items.roster"] += 1
        if service == "dynamodb" and operation_name == "BatchGetItem":  # registry reads (issue 22)
            for request in api_params.get("RequestItems", {}).values():
                local["ddb.batch_get_keys"] += len(request.get("Keys", []))
                local["ddb.registry_reads"] += sum(
                    1 for k in request.get("Keys", []) if _pk(k).startswith("STATEID#")
                )
        if service == "s3" and operation_name in ("PutObject", "UploadPart"):
            local["s3.put_requests"] += 1
        if service == "s3" and operation_name == "GetObject":
            local["s3.get_requests"] += 1
        with lock:
            counts.update(local)
        response = original(self, operation_name, api_params)
        if service == "dynamodb" and CAPACITY:
            started = time.perf_counter()
            with lock:
                CAPACITY[0].record(operation_name, api_params, response)
                counts["ddb.capacity_model_us"] += round((time.perf_counter() - started) * 1e6)
        return response

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    return counts, lock


# The capacity model of the child's DynamoDB calls (src/rostersync_cli/capacity.py), fed from the
# same entry point as the counters after each call answers (a failed call raises: nothing
# recorded). Its time inside the stage's timing is measured (`capacity_model_s`).
CAPACITY: list[Any] = []
RECORD_CAPACITY = [True]  # --no-capacity: to measure what the model costs


def _start_capacity_model() -> None:
    from rostersync.settings import get_settings
    from rostersync_cli.capacity import CapacityModel, indexes_of
    from rostersync_cli.template import load_template

    indexes = indexes_of(load_template()["Resources"]["RosterTable"]["Properties"])
    CAPACITY[:] = [CapacityModel(get_settings().roster_table, indexes)]


def _child(target: str, payload: dict[str, Any], env: dict[str, str], profile: str, conn: Any) -> None:
    """One measured stage (or floor) in a fresh process; sends back its numbers. `target` is
    "module:function" (a module of benchmarks/)."""
    import resource

    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "layers" / "rostersync")]
    import logging

    logging.basicConfig(level=logging.WARNING)
    counts, _lock = _install_counters()
    module, _, name = target.partition(":")
    measured = getattr(importlib.import_module(module), name)
    prepared = measured(payload, prepare=True)  # imports and setup, outside the timing
    if target == STAGE_TARGET and payload.get("capacity", True):
        _start_capacity_model()
    setup = resource.getrusage(resource.RUSAGE_SELF)
    rss_before, cpu_before = setup.ru_maxrss, setup.ru_utime + setup.ru_stime
    counts.clear()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    try:
        result = measured(payload, prepared=prepared)
        error = None
    except Exception as exc:
        import traceback

        result, error = None, traceback.format_exc()
        print(error, file=sys.stderr)
        del exc
    wall = time.perf_counter() - started
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        out.write(f"# {target} {payload.get('stage', '')}: {wall:.1f} s under cProfile\n")
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(35)
        Path(profile).write_text(out.getvalue(), encoding="utf-8")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    conn.send(
        {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
            "peak_rss_mb": round(peak / 1024, 1),
            "rss_after_setup_mb": round(rss_before / 1024, 1),
            "aws": dict(counts),
            "capacity": CAPACITY[0].export() if CAPACITY else None,
            "result": result,
            "error": error,
        }
    )
    conn.close()


def stage_target(payload: dict[str, Any], *, prepare: bool = False, prepared: Any = None) -> Any:
    from rostersync_cli.local_functions import PIPELINE_FUNCTIONS, LocalFunctions

    if prepare:
        functions = LocalFunctions()
        for logical_id in PIPELINE_FUNCTIONS:
            functions.handler(logical_id)  # loaded before the timer starts
        return functions
    return prepared.invoke(payload["stage"], payload["event"])


def floor_write(payload: dict[str, Any], *, prepare: bool = False, prepared: Any = None) -> Any:
    """BatchWriteItem of `items` real-shaped items (25 a request, `workers` threads), nothing else."""
    import boto3
    from botocore.config import Config

    # The import's client configuration (DynamoRosterTable): retries, no client-side validation.
    client = boto3.client(
        "dynamodb",
        config=Config(retries={"mode": "standard", "max_attempts": 5}, parameter_validation=False),
    )
    table = payload["floor_table"]
    if prepare:
        return floor_items(client, payload)
    from concurrent.futures import ThreadPoolExecutor

    chunks = [prepared[i : i + 25] for i in range(0, len(prepared), 25)]

    def write(chunk: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests:
            response = client.batch_write_item(RequestItems={table: requests})
            requests = response.get("UnprocessedItems", {}).get(table, [])

    with ThreadPoolExecutor(max_workers=payload["workers"]) as pool:
        list(pool.map(write, chunks))
    return {"items": len(prepared), "requests": len(chunks)}


def floor_items(client: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The first sync's roster, membership and PA Secure ID holder items, rebuilt from its accepted
    records before the timer.

    Built with the import's own mapping (roster_item, desired_edges, edge_item, serialize), so the
    floor writes the same items the import wrote, in DynamoDB's wire shape; not read back from moto,
    whose Query is O(table) per page.
    """
    from rostersync.adapters.dynamodb_roster_table import serialize
    from rostersync.adapters.s3_page_store import S3PageStore
    from rostersync.records import Kind
    from rostersync.roster_items import desired_edges, edge_item, roster_item
    from rostersync.run_artifacts import accepted_records, load_result
    from rostersync.settings import get_settings
    from rostersync.state_id_registry import TRUSTED, first_entry

    district, run_id = payload["district_id"], payload["run_id"]
    store = S3PageStore(get_settings().raw_bucket)
    every: list[dict[str, Any]] = []
    now = "2026-11-28T07:00:00+00:00"
    for kind, record in accepted_records(store, load_result(store, district, run_id))():
        item = roster_item(kind, record, run_id=run_id, now=now)
        if kind is Kind.STUDENT and item.get("state_id"):
            item[TRUSTED] = True  # a first sync trusts every student (no other district holds them)
        every.append(serialize(item))
        for pk, member in sorted(desired_edges(kind, record)):
            every.append(serialize(edge_item(pk, member, district, run_id)))
        if kind is Kind.STUDENT and item.get("state_id"):  # its PA Secure ID's registry entry
            every.append(serialize(first_entry(str(item["state_id"]), district, record.id, run_id, now)))
    wanted = payload["items"]
    while len(every) < wanted:  # pad with copies under new keys (never expected: same mapping)
        extra = dict(every[len(every) % max(1, len(every))])
        extra["sk"] = {"S": f"PAD#{len(every)}"}
        every.append(extra)
    return every[:wanted]


# ---------------------------------------------------------------------------- parent side


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Moto:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto server did not start")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # werkzeug threads busy on a big table
            self.proc.kill()
            self.proc.wait(timeout=30)


class Sandbox:
    """A provider sandbox in its own process (benchmarks/sandbox_proc.py `source` `spec`), so its
    CPU and memory stay out of the stages' numbers; `info` is its first line (bases, credentials)."""

    def __init__(self, source: str, spec: dict[str, Any], faults: dict[str, Any] | None = None) -> None:
        self.source = source
        self.proc = subprocess.Popen(
            [
                PY,
                str(ROOT / "benchmarks" / "sandbox_proc.py"),
                source,
                json.dumps(spec),
                json.dumps(faults or {}),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'layers' / 'rostersync'}"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {source} sandbox process did not start (exit {self.proc.wait()})")
        self.info = json.loads(line)
        self.seen = 0

    def log(self) -> list[list[Any]]:
        """Requests since the last call: [method, path, query, status] each."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"log {self.seen}\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        self.seen = answer["total"]
        return list(answer["entries"])

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=30)


def start_forkserver() -> None:
    """The fork server the stage children come from, started while this process is small."""
    multiprocessing.set_forkserver_preload([])
    multiprocessing.get_context(CHILD_START)
    from multiprocessing import forkserver

    forkserver.ensure_running()


def stop_forkserver() -> None:
    """Reaped: its children's CPU counts in ours."""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # type: ignore[attr-defined]


def aws_env(endpoint: str) -> dict[str, str]:
    """The stage children's environment for a moto endpoint (before the resources' names)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        **STAGE_ENV,
    }


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def run_child(target: str, payload: dict[str, Any], env: dict[str, str], profile: str = "") -> dict[str, Any]:
    ctx = multiprocessing.get_context(CHILD_START)
    receive, send = ctx.Pipe(duplex=False)
    started = time.perf_counter()
    proc = ctx.Process(target=_child, args=(target, payload, env, profile, send))
    proc.start()
    send.close()
    try:
        outcome: dict[str, Any] = receive.recv()
    except EOFError:
        outcome = {"error": f"child died with exit code {proc.join() or proc.exitcode}"}
    proc.join()
    outcome["process_s"] = round(time.perf_counter() - started, 3)
    return outcome


def _bucket_listing(env: dict[str, str]) -> dict[str, tuple[str, int]]:
    import boto3

    # A session of its own: this runs in the state machine engine's thread.
    s3 = boto3.session.Session().client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    out: dict[str, tuple[str, int]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=env["RAW_BUCKET"]):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["ETag"], int(obj["Size"]))
    return out


def _s3_written(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]]) -> dict[str, int]:
    written = {key: value for key, value in after.items() if before.get(key) != value}
    return {"objects": len(written), "bytes": sum(size for _etag, size in written.values())}


def _summarize(
    outcome: dict[str, Any], source: str, requests: list[list[Any]], s3: dict[str, int]
) -> dict[str, Any]:
    aws = outcome.get("aws", {})
    return {
        "wall_s": outcome.get("wall_s"),
        "process_s": outcome.get("process_s"),
        "cpu_s": outcome.get("cpu_s"),
        "loadavg_1m_at_end": outcome.get("loadavg_1m_at_end"),
        "peak_rss_mb": outcome.get("peak_rss_mb"),
        "rss_after_setup_mb": outcome.get("rss_after_setup_mb"),
        f"{source}_requests": len(requests),
        "s3_put_requests": aws.get("s3.put_requests", 0),
        "s3_get_requests": aws.get("s3.get_requests", 0),
        "s3_objects_written": s3["objects"],
        "s3_bytes_written": s3["bytes"],
        "ddb_write_requests": aws.get("ddb.write_requests", 0),
        "ddb_items_written": aws.get("ddb.items", 0),
        "ddb_roster_items_written": aws.get("ddb.items.roster", 0),
        "ddb_operational_items_written": aws.get("ddb.items.operational", 0),
        # The PA Secure ID registry (issue 22): keys read (entries and former holder items) and items written.
        "ddb_registry_keys_read": aws.get("ddb.registry_reads", 0),
        "ddb_registry_items_written": aws.get("ddb.registry_writes", 0),
        "aws_calls": {k: v for k, v in sorted(aws.items()) if "." in k and not k.startswith(("ddb.", "s3."))},
        # Time the capacity model spent recording inside the stage's timing (included in wall_s).
        "capacity_model_s": round(aws.get("ddb.capacity_model_us", 0) / 1e6, 3),
        "error": outcome.get("error"),
    }


# Which step of the night an invocation is, from the function and its event.
def _step(logical_id: str, event: dict[str, Any]) -> str:
    if logical_id == "FetchFunction":
        return "discover" if event.get("discover") else "fetch"
    if logical_id == "ValidateFunction":
        return "index" if event.get("index") else "validate"
    return "import"


STAGES = ("fetch", "validate", "import")


class MeasuredFunctions:
    """The pipeline's functions as the state machine runner calls them, each invocation in a fresh
    `spawn` child that measures itself (`_child`), with the provider's requests and the S3 objects
    written around it. A stage left out of `only` is not run: its task answers a status the
    definition's choice states end the district on (`not_run`)."""

    def __init__(
        self, env: dict[str, str], sandbox: SourceSandbox, profile_prefix: str, only: tuple[str, ...]
    ) -> None:
        from rostersync_cli.local_functions import LocalFunctions

        self._local = LocalFunctions()
        self.env, self.sandbox, self.profile_prefix, self.only = env, sandbox, profile_prefix, only
        self.calls: list[tuple[str, dict[str, Any], Any]] = []  # (step, measures, result)
        self.capacity: list[dict[str, Any]] = []  # each invocation's capacity model, exported

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        step = _step(logical_id, event)
        if step in STAGES and step not in self.only:
            return {"status": "not_run", "district_id": event.get("district_id")}
        before = _bucket_listing(self.env)
        self.sandbox.log()
        prof = f"{self.profile_prefix}-{step}.txt" if self.profile_prefix else ""
        payload = {"stage": logical_id, "event": event, "capacity": RECORD_CAPACITY[0]}
        outcome = run_child(STAGE_TARGET, payload, self.env, prof)
        requests = self.sandbox.log()
        source = self.sandbox.source
        measures = _summarize(outcome, source, requests, _s3_written(before, _bucket_listing(self.env)))
        if step == "fetch":
            measures[f"{source}_request_log"] = [row[:3] for row in requests]
        result = outcome.get("result")
        if outcome.get("capacity"):
            self.capacity.append(outcome["capacity"])
        self.calls.append((step, measures, result))
        wall, peak = outcome.get("wall_s") or 0, outcome.get("peak_rss_mb") or 0
        error = outcome.get("error")
        print(f"    {step:<9} {wall:8.1f} s  {peak:7.0f} MB  {error or ''}", flush=True)
        if error:  # the state machine sees the function's error: its Retry and Catch decide
            raise RuntimeError(
                f"{logical_id} failed in the benchmark child: {error.strip().splitlines()[-1]}"
            )
        return result

    def by_arn(self, region: str = "us-east-1") -> dict[str, Any]:
        from rostersync_cli.local_functions import PIPELINE_FUNCTIONS, local_function_arn

        def caller(logical_id: str) -> Any:
            return lambda event: self.invoke(logical_id, event)

        return {local_function_arn(lid, region): caller(lid) for lid in PIPELINE_FUNCTIONS}


_SUMMED = (
    "wall_s",
    "process_s",
    "cpu_s",
    "clever_requests",
    "oneroster_requests",
    "s3_put_requests",
    "s3_get_requests",
    "s3_objects_written",
    "s3_bytes_written",
    "ddb_write_requests",
    "ddb_items_written",
    "ddb_roster_items_written",
    "ddb_operational_items_written",
    "capacity_model_s",
)


def merged(invocations: list[dict[str, Any]]) -> dict[str, Any]:
    """A step's measures over its invocations (a resumed fetch, a retried task): summed, peaks maxed."""
    if len(invocations) == 1:
        return {**invocations[0], "invocations": 1}
    out = dict(invocations[-1])
    for key in _SUMMED:
        if any(key in i for i in invocations):
            out[key] = round(sum(i.get(key) or 0 for i in invocations), 3)
    out["peak_rss_mb"] = max(i.get("peak_rss_mb") or 0 for i in invocations)
    for log in ("clever_request_log", "oneroster_request_log"):
        if any(log in i for i in invocations):
            out[log] = [row for i in invocations for row in i.get(log, [])]
    out["invocations"] = len(invocations)
    return out


def pipeline_run(
    name: str,
    env: dict[str, str],
    sandbox: SourceSandbox,
    district_id: str,
    profile: bool,
    label: str,
    only: tuple[str, ...] = STAGES,
    records: int = 1,
) -> dict[str, Any]:
    """One night for the district through the state machine runner (`LocalNight`: the definition in
    moto's Step Functions engine, Retry and Catch included), each Lambda invocation measured in its
    own child. The stages' numbers are the children's; `night` adds the steps around them
    (discovery, the index page) and the whole night as the runner ran it. `--profile` files are
    benchmarks/results/<label>-<name>-<step>.txt."""
    import resource

    from rostersync.settings import get_settings
    from rostersync_cli.nightly import LocalNight

    os.environ.update(env)
    get_settings.cache_clear()
    functions = MeasuredFunctions(env, sandbox, str(RESULTS / f"{label}-{name}") if profile else "", only)
    print(f"  {name}: the night through the state machine", flush=True)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    night = LocalNight(functions).run([district_id])
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    runner_cpu = usage.ru_utime + usage.ru_stime - cpu.ru_utime - cpu.ru_stime
    by_step: dict[str, list[dict[str, Any]]] = {}
    last: dict[str, Any] = {}
    for step, measures, result in functions.calls:
        by_step.setdefault(step, []).append(measures)
        last[step] = result
    stages = {step: merged(by_step[step]) for step in STAGES if step in by_step}
    results: dict[str, Any] = {}
    if "fetch" in last:
        results["fetch"] = (last["fetch"] or {}).get("districts", [{}])[0]
    if "validate" in last:
        results["validate"] = {k: v for k, v in (last["validate"] or {}).items() if k != "rule_counts"}
    if "import" in last:
        results["import"] = last["import"]
    outcome = night.districts.get(district_id)
    keys = ("wall_s", "cpu_s", f"{sandbox.source}_requests", "s3_put_requests", "s3_objects_written")
    keys += ("s3_bytes_written",)
    keys += ("ddb_write_requests", "ddb_items_written", "ddb_roster_items_written", "capacity_model_s")
    total: dict[str, Any] = {key: sum(stage.get(key) or 0 for stage in stages.values()) for key in keys}
    total["peak_rss_mb"] = max(stage.get("peak_rss_mb") or 0 for stage in stages.values())
    total["process_s"] = round(sum(stage.get("process_s") or 0 for stage in stages.values()), 3)
    total["wall_s"] = round(total["wall_s"], 3)
    total["cpu_s"] = round(total["cpu_s"], 3)
    steps = {step: merged(by_step[step]) for step in ("discover", "index") if step in by_step}
    for measures in steps.values():
        measures.pop(f"{sandbox.source}_request_log", None)
    night_summary = {
        "status": night.status,
        "error": night.error,
        "district_failed": outcome.failed if outcome else None,
        "wall_s": round(wall, 3),
        "runner_cpu_s": round(runner_cpu, 3),  # this process: the engine, the children's bookkeeping
        "steps": steps,
    }
    print(f"  {name}: night {night.status} in {wall:.1f} s (runner {runner_cpu:.1f} CPU s)", flush=True)
    capacity = capacity_summary(functions.capacity, records) if functions.capacity else None
    if capacity:
        print(capacity_text(name, capacity), flush=True)
    return {
        "stages": stages,
        "end_to_end": total,
        "night": night_summary,
        "results": results,
        "capacity": capacity,
    }


# The targets and scale: a 190k-record district's first import, one of 10 first imports
# sharing a new on-demand table's 4,000 write units a second.
SCALE_RECORDS = 190_000
TABLE_UNITS_PER_SECOND = 4000.0
CONCURRENT_IMPORTS = 10
NIGHT_SECONDS = 8 * 3600  # the night's window (the state machine allows 20 h; 8 h is the night)


def capacity_summary(exported: list[dict[str, Any]], records: int) -> dict[str, Any]:
    """The run's capacity model (every invocation's, merged): units per roster record, the busiest
    keys by kind, and the time the writes need on DynamoDB, here and extrapolated to 190k records."""
    from rostersync_cli.capacity import KEY_WRITE_UNITS_PER_SECOND, CapacityModel

    model = CapacityModel("", [])
    for one in exported:
        model.merge(one)
    share = TABLE_UNITS_PER_SECOND / CONCURRENT_IMPORTS
    out = model.summary(records=records, table_share=share)
    out["records"] = records
    out["index_write_units_per_record"] = {
        index: round(units / records, 2) for index, units in sorted(out["index_write_units"].items())
    }
    out["table_write_units_per_record"] = round(out["table_write_units"] / records, 2)
    pk_units = out["busiest_partition_key"]["write_units"]
    index_key_units = out["busiest_index_key"]["write_units"]
    out["seconds_at_key_limit"] = round(max(pk_units, index_key_units) / KEY_WRITE_UNITS_PER_SECOND, 1)
    out["seconds_at_share"] = round(out["write_units"] / share, 1)
    # Linear in the district's size: its roster shares one partition key, so the busiest key grows
    # with it (an upper bound for an index key, which is one person's or one school's).
    factor = SCALE_RECORDS / records
    scaled = {
        "records": SCALE_RECORDS,
        "write_units": round(out["write_units"] * factor),
        "busiest_partition_key_units": round(pk_units * factor),
        "busiest_index_key_units_upper_bound": round(index_key_units * factor),
    }
    scaled["seconds_at_share"] = round(scaled["write_units"] / share, 1)
    scaled["seconds_at_key_limit"] = round(
        max(scaled["busiest_partition_key_units"], scaled["busiest_index_key_units_upper_bound"])
        / KEY_WRITE_UNITS_PER_SECOND,
        1,
    )
    scaled["seconds"] = max(scaled["seconds_at_share"], scaled["seconds_at_key_limit"])
    scaled["fits_night"] = scaled["seconds"] <= NIGHT_SECONDS
    out["at_190k"] = scaled
    return out


def capacity_text(name: str, c: dict[str, Any]) -> str:
    indexes = ", ".join(f"{i} {u}" for i, u in c["index_write_units_per_record"].items())
    pk, ik = c["busiest_partition_key"], c["busiest_index_key"]
    at = c["at_190k"]
    return (
        f"  {name} capacity: {c['write_units']:,} write units, {c['write_units_per_record']} per roster "
        f"record (table {c['table_write_units_per_record']}, {indexes}); {c['read_units']:,.1f} read "
        f"units, {c['read_units_per_record']} per record; busiest partition key {pk['key']} "
        f"{pk['write_units']:,} units, busiest index key {ik['index']}/{ik['key']} "
        f"{ik['write_units']:,}; on DynamoDB {c['write_seconds_at_share']:,.1f} s "
        f"({c['seconds_at_share']:,.1f} s at a {c['table_share_units_per_second']:.0f}/s share, "
        f"{c['seconds_at_key_limit']:,.1f} s at 1,000/s per key); at 190k records "
        f"{at['write_units']:,} units, {at['seconds']:,.0f} s"
    )


def floor_table(roster_table: str) -> str:
    import boto3

    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName=roster_table)["Table"]
    name = f"{roster_table}-floor"
    gsis = [
        {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
        for g in table.get("GlobalSecondaryIndexes", [])
    ]
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    ddb.create_table(**kwargs)
    return name


def drop_table(name: str) -> None:
    import boto3

    boto3.client("dynamodb").delete_table(TableName=name)


def floor_summary(outcome: dict[str, Any], source: str) -> dict[str, Any]:
    aws = outcome.get("aws", {})
    return {
        "wall_s": outcome.get("wall_s"),
        "cpu_s": outcome.get("cpu_s"),
        "peak_rss_mb": outcome.get("peak_rss_mb"),
        "result": outcome.get("result"),
        f"{source}_requests": outcome.get(f"{source}_requests"),
        "ddb_write_requests": aws.get("ddb.write_requests", 0),
        "ddb_items_written": aws.get("ddb.items", 0),
        "error": outcome.get("error"),
    }


# ------------------------------------------------------------------------------- report


def _fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def markdown(out: dict[str, Any]) -> str:
    """The tables of a result (`out["source"]`: whose requests the request column counts)."""
    source = out.get("source", "clever")
    provider = {"clever": "Clever", "oneroster": "OneRoster"}.get(source, source)
    lines = [
        f"### {out['size']}: {out['records']:,} records",
        "",
        "| run | stage | wall s | stage CPU s | peak RSS MB | "
        + provider
        + " req | S3 PUTs | S3 objects | S3 bytes "
        "| DDB write req | DDB items | roster+membership items |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run, data in out["runs"].items():
        rows = [*data["stages"].items(), ("**end to end**", data["end_to_end"])]
        for stage, s in rows:
            lines.append(
                f"| {run} | {stage} | {s.get('wall_s') or 0:.1f} | {s.get('cpu_s') or 0:.1f} "
                f"| {s.get('peak_rss_mb') or 0:.0f} "
                f"| {s.get(f'{source}_requests', 0)} | {s.get('s3_put_requests', 0)} "
                f"| {s.get('s3_objects_written', 0)} | {_fmt_bytes(s.get('s3_bytes_written', 0))} "
                f"| {s.get('ddb_write_requests', 0):,} | {s.get('ddb_items_written', 0):,} "
                f"| {s.get('ddb_roster_items_written', 0):,} |"
            )
    floor = out.get("floor") or {}
    if floor:
        ff, fw = floor["fetch"], floor["write"]
        lines += [
            f"| floor | fetch raw | {ff.get('wall_s') or 0:.1f} | {ff.get('cpu_s') or 0:.1f} "
            f"| {ff.get('peak_rss_mb') or 0:.0f} "
            f"| {ff.get(f'{source}_requests')} | | | | | | |",
            f"| floor | batch write | {fw.get('wall_s') or 0:.1f} | {fw.get('cpu_s') or 0:.1f} "
            f"| {fw.get('peak_rss_mb') or 0:.0f} "
            f"| | | | | {fw.get('ddb_write_requests', 0):,} | {fw.get('ddb_items_written', 0):,} | |",
            f"| floor | **end to end** | {floor['end_to_end_wall_s']:.1f} | | | | | | | | | |",
        ]
    lines.append("")
    for run, data in out["runs"].items():
        night = data.get("night") or {}
        if night:
            steps = ", ".join(
                f"{step} {m.get('wall_s') or 0:.1f} s / {m.get('cpu_s') or 0:.1f} CPU s"
                for step, m in night.get("steps", {}).items()
            )
            lines.append(
                f"- {run}: the night through the state machine runner {night['status']} in "
                f"{night['wall_s']:.1f} s (runner process {night['runner_cpu_s']:.1f} CPU s; {steps})"
            )
    first = out["runs"].get("first_sync", {})
    if floor and first:
        e2e = first["end_to_end"]["wall_s"]
        stages = first["stages"]
        lines += [
            f"- first sync / floor: **{e2e / floor['end_to_end_wall_s']:.2f}x** "
            f"({e2e:.1f} s vs {floor['end_to_end_wall_s']:.1f} s); "
            f"fetch / raw fetch {stages['fetch']['wall_s'] / max(floor['fetch']['wall_s'], 1e-9):.2f}x, "
            f"import / batch write "
            f"{stages.get('import', {}).get('wall_s', 0) / max(floor['write']['wall_s'], 1e-9):.2f}x",
        ]
        walls = [w for w in floor.get("write_walls_s") or [] if w]
        if len(walls) > 1:
            fetch_floor = floor["fetch"]["wall_s"] or 0
            lines.append(
                f"- write floor over {len(walls)} measurements: {min(walls):.1f} / {walls[len(walls) // 2]:.1f} / "
                f"{max(walls):.1f} s (min / median / max); first sync / floor against those: "
                f"{e2e / (fetch_floor + min(walls)):.2f}x / {e2e / (fetch_floor + walls[len(walls) // 2]):.2f}x / "
                f"{e2e / (fetch_floor + max(walls)):.2f}x"
            )
    unchanged = out["runs"].get("unchanged", {})
    if unchanged and first:
        lines.append(
            f"- unchanged re-run: {unchanged['end_to_end']['ddb_roster_items_written']} roster item writes, "
            f"{unchanged['end_to_end']['wall_s'] / first['end_to_end']['wall_s']:.0%} of the first sync's time "
            f"(diff source: {unchanged['results'].get('import', {}).get('diff_source')})"
        )
    changed = out["runs"].get("changed_1pct", {})
    if changed:
        expected = sum(out.get("changed_in_revision_1", {}).values())
        lines.append(
            f"- 1% changed: {changed['end_to_end']['ddb_roster_items_written']} roster item writes for "
            f"{expected} changed records in the source ({out.get('changed_in_revision_1')}), "
            f"{changed['end_to_end']['wall_s'] / first['end_to_end']['wall_s']:.0%} of the first sync's time "
            f"(diff source: {changed['results'].get('import', {}).get('diff_source')})"
        )
    lines.append("")
    lines += capacity_markdown(out)
    return "\n".join(lines)


def capacity_markdown(out: dict[str, Any]) -> list[str]:
    runs = {run: data["capacity"] for run, data in out["runs"].items() if data.get("capacity")}
    if not runs:
        return []
    indexes = sorted({i for c in runs.values() for i in c["index_write_units_per_record"]})
    lines = [
        f"Capacity on DynamoDB (model: src/rostersync_cli/capacity.py; per roster record of {out['records']:,}; "
        f"time at 1,000 write units/s per key and a {TABLE_UNITS_PER_SECOND / CONCURRENT_IMPORTS:.0f}/s "
        f"share of a {TABLE_UNITS_PER_SECOND:,.0f}/s table among {CONCURRENT_IMPORTS} imports):",
        "",
        "| run | write units | per record | table | "
        + " | ".join(indexes)
        + " | busiest partition key | busiest index key | read units | per record | s on DynamoDB "
        "| model's own s |",
        "|---|---:|---:|---:|" + "---:|" * len(indexes) + "---|---|---:|---:|---:|---:|",
    ]
    for run, c in runs.items():
        pk, ik = c["busiest_partition_key"], c["busiest_index_key"]
        model_s = out["runs"][run]["end_to_end"].get("capacity_model_s") or 0
        lines.append(
            f"| {run} | {c['write_units']:,} | {c['write_units_per_record']} | {c['table_write_units_per_record']} | "
            + " | ".join(str(c["index_write_units_per_record"].get(i, 0)) for i in indexes)
            + f" | `{pk['key']}` {pk['write_units']:,} | `{ik['index']}`/`{ik['key']}` {ik['write_units']:,} "
            f"| {c['read_units']:,.1f} | {c['read_units_per_record']} | {c['write_seconds_at_share']:,.1f} "
            f"| {model_s:.1f} |"
        )
    first = runs.get("first_sync")
    if first:
        at = first["at_190k"]
        lines += [
            "",
            f"- first sync at {at['records']:,} records (linear): {at['write_units']:,} write units, "
            f"{at['seconds_at_share']:,.0f} s at the share, {at['seconds_at_key_limit']:,.0f} s at the busiest "
            f"key's 1,000/s: **{at['seconds']:,.0f} s** ({'within' if at['fits_night'] else 'past'} an 8 h night)",
            "- first sync by item kind (items; write units on the table and each index): "
            + "; ".join(
                f"`{kind}` {spent.get('items', 0):,} items"
                + (f" ({spent['items_over_1kb']:,} over 1 KB)" if spent.get("items_over_1kb") else "")
                + f", table {spent.get('table', 0):,}"
                + "".join(f", {i} {spent[i]:,}" for i in indexes if spent.get(i))
                for kind, spent in first["by_item_kind"].items()
            ),
        ]
    lines.append("")
    return lines
