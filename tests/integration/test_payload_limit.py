"""The local runner refuses a state larger than 256 KB as AWS does (src/rostersync_cli/payload_limit.py).

Small definitions in moto's engine on loopback (LocalStepFunctions), their Lambda task bound to a
handler in process: 262,144 bytes pass, one more fails with States.DataLimitExceeded, which
`States.ALL` neither retries nor catches (the execution fails), while a catcher naming the error
does catch it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync_cli.local_states import LocalStepFunctions
from rostersync_cli.nightly import Night, follow_night
from rostersync_cli.payload_limit import DATA_LIMIT_EXCEEDED, MAX_PAYLOAD_BYTES, payload_bytes, within_limit

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:big"
ROLE = "arn:aws:iam::123456789012:role/payload-limit"
CALLS: list[dict[str, Any]] = []
ANSWER: dict[str, Any] = {}


def _handler(event: dict[str, Any]) -> dict[str, Any]:
    CALLS.append(event)
    return ANSWER


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalStepFunctions]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        with LocalStepFunctions({FUNCTION: _handler}, retry_wait_scale=0.0) as local:
            yield local


@pytest.fixture(autouse=True)
def _fresh() -> None:
    CALLS.clear()
    ANSWER.clear()


def _run(engine: LocalStepFunctions, definition: dict[str, Any]) -> Night:
    sfn = engine.client()
    machine = sfn.create_state_machine(
        name=f"payload-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    return follow_night(sfn, arn, poll_seconds=0.05)


def _pass_of(size: int) -> dict[str, Any]:
    """A Pass state whose output is exactly `size` bytes of compact JSON."""
    result = {"text": ""}
    result["text"] = "x" * (size - payload_bytes(result))
    assert payload_bytes(result) == size
    return {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": result, "End": True}}}


def _task(catch: list[str], retry: list[str] | None = None) -> dict[str, Any]:
    big: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": FUNCTION, "Payload": {}},
        "ResultSelector": {"size.$": "States.JsonToString($.StatusCode)"},  # what is kept is small
        "Catch": [{"ErrorEquals": catch, "ResultPath": "$.error", "Next": "Caught"}],
        "End": True,
    }
    if retry:
        big["Retry"] = [{"ErrorEquals": retry, "IntervalSeconds": 1, "MaxAttempts": 2}]
    return {"StartAt": "Big", "States": {"Big": big, "Caught": {"Type": "Pass", "End": True}}}


def test_the_size_is_counted_as_aws_counts_it() -> None:
    assert MAX_PAYLOAD_BYTES == 262_144
    assert payload_bytes({"a": [1, 2]}) == len('{"a":[1,2]}')
    assert payload_bytes({"name": "é"}) == len('{"name":"é"}'.encode())  # UTF-8 bytes, not characters
    assert within_limit("x" * MAX_PAYLOAD_BYTES) and not within_limit("x" * (MAX_PAYLOAD_BYTES + 1))


def test_a_state_of_exactly_256_kb_passes_and_one_byte_more_fails(engine: LocalStepFunctions) -> None:
    assert _run(engine, _pass_of(MAX_PAYLOAD_BYTES)).status == "SUCCEEDED"

    night = _run(engine, _pass_of(MAX_PAYLOAD_BYTES + 1))

    assert night.status == "FAILED" and night.error == DATA_LIMIT_EXCEEDED


def test_states_all_neither_retries_nor_catches_a_result_over_the_limit(engine: LocalStepFunctions) -> None:
    """A district's fetch result of 300,514 bytes (the issue's 300,000-character name): on AWS
    the Catch on States.ALL does not apply, and the execution (a whole batch) fails."""
    ANSWER["name"] = "N" * 300_000

    night = _run(engine, _task(["States.ALL"], retry=["States.ALL"]))

    assert night.status == "FAILED" and night.error == DATA_LIMIT_EXCEEDED
    assert len(CALLS) == 1  # not retried


def test_a_catcher_naming_the_error_catches_it(engine: LocalStepFunctions) -> None:
    ANSWER["name"] = "N" * 300_000

    night = _run(engine, _task([DATA_LIMIT_EXCEEDED]))

    assert night.status == "SUCCEEDED"


def test_a_result_within_the_limit_is_untouched(engine: LocalStepFunctions) -> None:
    ANSWER["name"] = "N" * 200_000

    night = _run(engine, _task(["States.ALL"]))

    assert night.status == "SUCCEEDED" and len(CALLS) == 1
