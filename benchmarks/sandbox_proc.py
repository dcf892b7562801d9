"""A provider sandbox in its own process, so its CPU and memory stay out of the stage numbers.

Run by benchmarks/stagebench.py's `Sandbox`:
    python benchmarks/sandbox_proc.py clever '<DistrictSpec kwargs as JSON>'
    python benchmarks/sandbox_proc.py oneroster '<TenantSpec kwargs as JSON>' '<OneRosterFaults kwargs as JSON>'
Prints one JSON line (Clever: api_base, oauth_base, client_id, client_secret, district_id, records,
changed counts; OneRoster: district_id, secret (the ONEROSTER secret's value), records served per
collection), then answers line commands on stdin: `log <since>` -> the request log from index
<since> as JSON rows [method, path, query, status]; `quit` (or EOF) stops.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.config import KIND_SECTION, KIND_STUDENT, KIND_TEACHER
from rostersync_cli.sandbox.oneroster import OneRosterFaults, OneRosterSandbox, TenantSpec


def _clever(spec_json: str) -> tuple[dict[str, Any], Callable[[int], tuple[int, list[list[Any]]]], Any]:
    spec = DistrictSpec(**json.loads(spec_json))
    sandbox = CleverSandbox(SandboxConfig(districts=(spec,))).start()
    data = sandbox.district(spec.id)
    changed = {
        "students": sum(data.changed(KIND_STUDENT, i) for i in range(spec.students)),
        "teachers": sum(data.changed(KIND_TEACHER, i) for i in range(spec.teachers)),
        "sections": sum(data.changed(KIND_SECTION, i) for i in range(spec.sections)),
    }
    hello = {
        "api_base": sandbox.api_base,
        "oauth_base": sandbox.oauth_base,
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "district_id": spec.id,
        "records": spec.record_count(),
        "changed": changed,
    }

    def log(since: int) -> tuple[int, list[list[Any]]]:
        entries = sandbox.requests[since:]
        return len(sandbox.requests), [[e.method, e.path, e.query, e.status] for e in entries]

    return hello, log, sandbox


def _oneroster(
    spec_json: str, faults_json: str
) -> tuple[dict[str, Any], Callable[[int], tuple[int, list[list[Any]]]], Any]:
    spec = TenantSpec(**json.loads(spec_json))
    sandbox = OneRosterSandbox([spec], OneRosterFaults(**json.loads(faults_json or "{}"))).start()
    hello = {
        "district_id": spec.district_id,
        "secret": sandbox.secret_value(),
        "records_served": {k: len(v) for k, v in sandbox.data[spec.district_id].items()},
    }

    def log(since: int) -> tuple[int, list[list[Any]]]:
        entries = sandbox.log[since:]
        rows = [["GET", f"/{e.tenant}/{e.collection}", e.query, e.status] for e in entries]
        return len(sandbox.log), rows

    return hello, log, sandbox


def main() -> None:
    source, spec_json = sys.argv[1], sys.argv[2]
    faults_json = sys.argv[3] if len(sys.argv) > 3 else "{}"
    if source == "clever":
        hello, log, sandbox = _clever(spec_json)
    elif source == "oneroster":
        hello, log, sandbox = _oneroster(spec_json, faults_json)
    else:
        raise SystemExit(f"sandbox_proc.py: unknown source {source!r} (clever or oneroster)")
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "log":
            total, rows = log(int(arg or 0))
            print(json.dumps({"total": total, "entries": rows}), flush=True)
        elif command == "quit":
            break
    sandbox.stop()


if __name__ == "__main__":
    main()
