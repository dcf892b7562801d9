"""No student data, token or secret leaks while things go wrong: the PII scan of
test_no_pii_in_logs.py, extended to the fault scenarios and to every channel they produce.

At DEBUG, across Clever faults (401 refresh, revoked token, HTML 5xx, truncated JSON, records
without ids, an off-host link), AWS faults (S3, DynamoDB, SNS failures, an import that dies) and
names that are markup, right-to-left text or emoji, the scan covers: every log record and
stdout/stderr, every SNS subject and body, every exception a stage raised (message and repr),
every handler result and every failed step's error and cause (what Step Functions stores in its
execution history: the nights run through the state machine runner).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from rostersync_cli.sandbox.generator import EXOTIC_NAMES
from tests.integration.fault_world import FaultWorld, LambdaTimeout, client_error, fault_world, retries
from tests.integration.test_no_pii_in_logs import _sensitive_values

LEAKY = DistrictSpec.small(
    "Bedford Faults SD",
    9404,
    students=len(EXOTIC_NAMES) + 6,
    exotic_names=len(EXOTIC_NAMES),
    gaps=Gaps(missing_student_state_id=2, short_student_state_id=1, user_without_name=1),
)


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    monkeypatch.setenv("CLEVER_PAGE_LIMIT", "7")
    monkeypatch.setenv("CLEVER_MAX_RETRIES", "1")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with fault_world(SandboxConfig(districts=(LEAKY,)), monkeypatch) as w:
        yield w


def _faulty_nights(world: FaultWorld, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Runs the scenarios; returns everything a handler returned or raised."""
    sandbox, faults, d = world.sandbox, world.sandbox.faults, LEAKY.id
    seen: list[Any] = []

    def night() -> None:
        n = world.night([d])
        seen.extend([o.fetch for o in n.outcomes] + [s for o in n.outcomes for s in o.stages.values()])
        # What Step Functions keeps of a failed step: its error and cause (message, stack trace).
        seen.extend(o.error for o in n.outcomes if o.error)
        seen.extend(n.raised)

    night()  # clean, with findings naming students in the report
    faults.unauthorized_once = {d}
    night()
    for fault in (
        {"server_errors": 50, "html_errors": True},
        {"truncated_json": 1},
        {"garbage_200": 1, "garbage_mode": "no_id"},
        {"off_host_next": True},
    ):
        faults.reset()
        faults.match_path = "role=student"
        for name, value in fault.items():
            setattr(faults, name, value)
        night()
    faults.reset()
    s3 = world.aws.fail("s3", "PutObject", client_error("AccessDenied", "PutObject"), times=1)
    sns = world.aws.fail("sns", "Publish", client_error("InternalError", "Publish"), times=1000)
    night()
    s3.times = sns.times = 0
    # One failing write per import attempt, one more than the Import step's retries: the import fails.
    world.aws.fail(
        "dynamodb",
        "BatchWriteItem",
        client_error("ValidationException", "BatchWriteItem"),
        times=retries("Import") + 1,
    )
    world.serve(dataclasses.replace(LEAKY, revision=1, changed_percent=60.0))
    night()  # the import fails on a DynamoDB error
    with monkeypatch.context() as patch:
        patch.setattr(DynamoRosterTable, "write", _die)
        night()  # the import invocation dies, and its retry too
    world.expire_lease(d)
    night()
    world.sandbox.revoke(d)
    night()
    assert sandbox is not world.sandbox
    return seen


def _die(self: DynamoRosterTable, puts: Any, deletes: Any) -> int:
    raise LambdaTimeout("Task timed out after 900.00 seconds")


def test_no_student_data_token_or_secret_in_logs_alerts_exceptions_or_results_under_faults(
    world: FaultWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("rostersync").setLevel(logging.DEBUG)
    first: CleverSandbox = world.sandbox
    sensitive = _sensitive_values(first) | set(first._tokens)

    results = _faulty_nights(world, monkeypatch)

    sensitive |= _sensitive_values(world.sandbox) | set(first._tokens) | set(world.sandbox._tokens)
    for first_name, last_name in EXOTIC_NAMES:  # exotic names too, however they would be written
        sensitive |= {first_name, last_name} - {""}
    alerts = [a for n in world.nights for a in n.alerts]
    assert {a.event_type for a in alerts} >= {"sync_failed", "district_disconnected", "validation_findings"}
    exceptions = [e for e in results if isinstance(e, BaseException)]
    assert exceptions, "the scenarios raised from at least one stage"

    captured = capsys.readouterr()
    channels = {
        "logs": "\n".join(
            [
                captured.out,
                captured.err,
                *(r.getMessage() for r in caplog.records),
                *(str(r.__dict__) for r in caplog.records),
            ]
        ),
        "alerts": "\n".join(f"{a.subject}\n{a.body}" for a in alerts),
        "exceptions": "\n".join(f"{e}\n{e!r}\n{e.__cause__!r}" for e in exceptions),
        "results": json.dumps([r for r in results if not isinstance(r, BaseException)], ensure_ascii=False),
    }
    assert len(channels["logs"]) > 1000
    # The scan can see a leak: the report (whose job is to name students) trips it.
    report_key = next(r["report_key"] for r in results if isinstance(r, dict) and r.get("report_key"))
    report = world.store._s3.get_object(Bucket=world.store.bucket, Key=report_key)["Body"].read().decode()
    assert any(v in report for v in sensitive if len(v) >= 4)
    for channel, text in channels.items():
        leaked = sorted(v for v in sensitive if len(v) >= 4 and v in text)
        assert not leaked, f"{len(leaked)} sensitive values in {channel}, e.g. {leaked[0][:3]}..."
