"""The Clever sandbox in its own process, so its CPU and memory stay out of the stage numbers.

Run by benchmarks/run.py: `python benchmarks/sandbox_proc.py '<DistrictSpec kwargs as JSON>'`.
Prints one JSON line (api_base, client_id, client_secret, district_id, changed counts), then
answers line commands on stdin: `log <since>` -> the request log from index <since> as JSON;
`quit` (or EOF) stops.
"""

from __future__ import annotations

import json
import sys

from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.config import KIND_SECTION, KIND_STUDENT, KIND_TEACHER


def main() -> None:
    spec = DistrictSpec(**json.loads(sys.argv[1]))
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
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "log":
            entries = sandbox.requests[int(arg or 0) :]
            rows = [[e.method, e.path, e.query, e.status] for e in entries]
            print(json.dumps({"total": len(sandbox.requests), "entries": rows}), flush=True)
        elif command == "quit":
            break
    sandbox.stop()


if __name__ == "__main__":
    main()
