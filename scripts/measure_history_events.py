"""History events per district in a batch execution, and per batch in the night's execution.

Runs statemachine/nightly.asl.json in moto's engine with stand-in handlers (the count of events
depends on the path a district takes, not on what a handler does):
`PYTHONPATH=src:layers/rostersync .venv/bin/python scripts/measure_history_events.py`. docs/ARCHITECTURE.md quotes its output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.local_states import LocalStepFunctions
from rostersync_cli.nightly import follow_night, start_night

DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "nightly.asl.json"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def measure(
    topic: str,
    districts: int,
    per_batch: int,
    *,
    continuations: int = 0,
    validate_errors: int = 0,
    import_raises: bool = False,
) -> tuple[int, list[int]]:
    """(events in the night's history, events in each batch's history)."""
    calls: dict[str, int] = {}

    def fetch(event: dict[str, Any]) -> dict[str, Any]:
        if event.get("discover"):
            return {"run_id": "r", "district_ids": [f"d{i}" for i in range(districts)]}
        [district] = event["district_ids"]
        calls[f"fetch {district}"] = calls.get(f"fetch {district}", 0) + 1
        status = "in_progress" if calls[f"fetch {district}"] <= continuations else "complete"
        return {"run_id": "r", "districts": [{"district_id": district, "run_id": "r", "status": status}]}

    def validate(event: dict[str, Any]) -> dict[str, Any]:
        key = f"validate {event['district_id']}"
        calls[key] = calls.get(key, 0) + 1
        if calls[key] <= validate_errors:
            raise OSError("transient")
        return {**event, "status": "validated"}

    def import_(event: dict[str, Any]) -> dict[str, Any]:
        if import_raises:
            raise RuntimeError("import failed")
        return {**event, "status": "succeeded"}

    substitutions = {
        "FetchFunctionArn": ARN.format("fetch"),
        "ValidateFunctionArn": ARN.format("validate"),
        "ImportFunctionArn": ARN.format("import"),
        "AlertTopicArn": topic,
        "MaxConcurrency": "10",
        "DistrictsPerBatch": str(per_batch),
    }
    definition = DEFINITION.read_text(encoding="utf-8")
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    handlers = {ARN.format("fetch"): fetch, ARN.format("validate"): validate, ARN.format("import"): import_}
    with LocalStepFunctions(handlers, retry_wait_scale=0) as engine:
        sfn = engine.client()
        machine = sfn.create_state_machine(
            name=f"measure-{len(calls)}-{districts}-{per_batch}-{continuations}-{validate_errors}-{import_raises}",
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/measure",
        )["stateMachineArn"]
        night = follow_night(sfn, start_night(sfn, machine, {}), poll_seconds=0.2)
        return night.events[night.execution_arn], [night.events[b] for b in night.batch_executions]


def main() -> None:
    with EmbeddedAws() as aws:
        aws.apply_environment()
        topic = boto3.client("sns").create_topic(Name="measure")["TopicArn"]
        paths: list[tuple[str, dict[str, Any]]] = [
            ("complete", {}),
            ("1 fetch continuation", {"continuations": 1}),
            ("2 fetch continuations", {"continuations": 2}),
            ("20 fetch continuations (the bound)", {"continuations": 20}),
            ("validate retried twice", {"validate_errors": 2}),
            ("import raises (3 attempts, 1 alert)", {"import_raises": True}),
        ]
        for label, path in paths:
            _, [one] = measure(topic, 1, 50, **path)
            night, [ten] = measure(topic, 10, 50, **path)
            print(
                f"{label:38} batch of 1: {one:5}  of 10: {ten:5}  per district: {(ten - one) / 9:6.1f}  night: {night}"
            )
        night, batches = measure(topic, 6, 2)
        print(
            f"night of 3 batches: {night} events (batches: {batches}); night of 1 batch: {measure(topic, 2, 2)[0]}"
        )


if __name__ == "__main__":
    main()
