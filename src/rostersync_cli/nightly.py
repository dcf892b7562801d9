"""The nightly state machine (statemachine/nightly.asl.json), run and followed from its history.

`run_local_night` executes the definition in moto's engine on loopback (`LocalStepFunctions`),
its Lambda tasks calling the template's handlers in process; `start_night` + `follow_night`
do the same against a deployed state machine. Either way the night is read from the execution
histories (the night's and each batch's), so progress and results are the same code locally
and on AWS.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rostersync.settings import get_settings
from rostersync_cli.invoke import names_from_settings
from rostersync_cli.local_functions import PIPELINE_FUNCTIONS, LocalFunctions, local_function_arn
from rostersync_cli.local_states import LocalStepFunctions, RetryWait
from rostersync_cli.template import REPO_ROOT, load_template, resolve, resource

STATE_MACHINE_ID = "NightlyStateMachine"
# Stage statuses that mean the district was not synced tonight (the handler has alerted).
FAILED_STATUSES = frozenset({"failed", "skipped_locked", "skipped_stale"})
STAGE_OF_STATE = {"Fetch": "fetch", "Validate": "validate", "Import": "import"}
_FINISHED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


# ------------------------------------------------------------------------ the definition


def nightly_definition(
    template: Mapping[str, Any] | None = None, overrides: Mapping[str, str] | None = None
) -> str:
    """The state machine's definition with its DefinitionSubstitutions as they resolve locally:
    the functions' local ARNs, the alert topic in the environment, the template's parameters
    (`overrides` replaces any of them, e.g. MaxConcurrency)."""
    template = template if template is not None else load_template()
    properties = resource(template, STATE_MACHINE_ID)["Properties"]
    names = names_from_settings(get_settings())
    names |= {f"{logical_id}.Arn": local_function_arn(logical_id) for logical_id in PIPELINE_FUNCTIONS}
    names |= dict(overrides or {})
    text = (REPO_ROOT / properties["DefinitionUri"]).read_text(encoding="utf-8")
    for name, value in properties["DefinitionSubstitutions"].items():
        resolved = overrides[name] if overrides and name in overrides else resolve(template, value, names)
        text = text.replace("${" + name + "}", str(resolved))
    return text


def execution_input(district_ids: list[str] | None, *, dry_run: bool) -> dict[str, Any]:
    """What the schedule sends is `{}`; by hand, the districts and a dry run can be named."""
    started: dict[str, Any] = {}
    if district_ids:
        started["district_ids"] = list(district_ids)
    if dry_run:
        started["dry_run"] = True
    return started


# ------------------------------------------------------------------------ what a night is


@dataclass
class DistrictOutcome:
    """One district's night, read from its batch's history."""

    district_id: str
    run_id: str = ""
    fetch: dict[str, Any] = field(default_factory=dict)  # the last Fetch result
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # "validate", "import" results
    state: str = ""  # the state it is in (or ended in)
    fetch_invocations: int = 0
    import_invocations: int = 0  # more than one: the import paused and continued
    error: dict[str, str] | None = None  # the last step error (after its retries, when caught)
    alerted_failure: bool = False  # the state machine caught a failure and alerted sync_failed
    finished: bool = False

    @property
    def failed(self) -> bool:
        if self.alerted_failure or self.fetch.get("status") != "complete":
            return True
        if self.error is not None and not self.finished:  # a step failed and nothing caught it
            return True
        return any(stage.get("status") in FAILED_STATUSES for stage in self.stages.values())


@dataclass
class Night:
    execution_arn: str
    status: str = "RUNNING"
    error: str | None = None
    cause: str | None = None
    run_id: str = ""
    district_ids: list[str] = field(default_factory=list)
    districts: dict[str, DistrictOutcome] = field(default_factory=dict)
    batch_executions: list[str] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)  # execution ARN -> history events read

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def outcomes(self) -> list[DistrictOutcome]:
        return [self.districts[d] for d in self.district_ids if d in self.districts] + [
            o for d, o in self.districts.items() if d not in self.district_ids
        ]

    def district(self, district_id: str) -> DistrictOutcome:
        if district_id not in self.districts:
            self.districts[district_id] = DistrictOutcome(district_id)
        return self.districts[district_id]


# ------------------------------------------------------------------------ reading histories


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


class _History:
    """One execution's history, read incrementally (newest first, down to the last event seen)."""

    def __init__(self, sfn: Any, execution_arn: str) -> None:
        self.sfn = sfn
        self.execution_arn = execution_arn
        self.last_id = 0
        self.state_of: dict[int, str] = {}  # event id -> the state it belongs to
        self.district_of: dict[int, str] = {}  # event id -> the district it belongs to

    def new_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "reverseOrder": True,
            "maxResults": 1000,
        }
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            fresh = [e for e in page["events"] if e["id"] > self.last_id]
            events += fresh
            if len(fresh) < len(page["events"]) or not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        events.sort(key=lambda e: e["id"])
        if events:
            self.last_id = events[-1]["id"]
        return events

    def place(self, event: dict[str, Any]) -> tuple[str, str]:
        """The state and the district an event belongs to: its own, or its predecessor's."""
        details = _details(event)
        previous = event.get("previousEventId", 0)
        state = details.get("name") if "stateEnteredEventDetails" in event else None
        state = state or self.state_of.get(previous, "")
        district = ""
        if "stateEnteredEventDetails" in event:
            entered = _json(details.get("input"))
            if isinstance(entered, dict) and isinstance(entered.get("district_id"), str):
                district = entered["district_id"]
        district = district or self.district_of.get(previous, "")
        self.state_of[event["id"]] = state
        self.district_of[event["id"]] = district
        return state, district


def _apply(night: Night, history: _History, event: dict[str, Any]) -> None:
    state, district_id = history.place(event)
    kind = event["type"]
    details = _details(event)
    if history.execution_arn == night.execution_arn:
        _apply_night_event(night, state, kind, details)
        return
    if not district_id:
        return
    outcome = night.district(district_id)
    if kind.endswith("StateEntered"):
        outcome.state = state
        if state == "DistrictFailed":
            outcome.alerted_failure = True
        if state in ("DistrictDone", "DistrictFailed"):
            outcome.finished = True
        if state == "FetchDidNotFinish":
            outcome.error = {"state": "Fetch", "error": "FetchDidNotFinish", "cause": ""}
        if state == "ImportDidNotFinish":
            outcome.error = {"state": "Import", "error": "ImportDidNotFinish", "cause": ""}
    elif kind == "TaskScheduled" and state == "Fetch":
        outcome.fetch_invocations += 1
    elif kind == "TaskScheduled" and state == "Import":
        outcome.import_invocations += 1
    elif kind == "TaskSucceeded" and state in STAGE_OF_STATE:
        payload = (_json(details.get("output")) or {}).get("Payload") or {}
        if state == "Fetch":
            [result] = payload.get("districts") or [{}]
            outcome.fetch = result
            outcome.run_id = result.get("run_id", outcome.run_id)
        else:
            outcome.stages[STAGE_OF_STATE[state]] = payload
    elif kind == "TaskFailed" and state in STAGE_OF_STATE:
        outcome.error = {"state": state, "error": details.get("error", ""), "cause": details.get("cause", "")}


def _apply_night_event(night: Night, state: str, kind: str, details: dict[str, Any]) -> None:
    if kind == "TaskSucceeded" and state == "Discover":
        discovered = (_json(details.get("output")) or {}).get("Payload") or {}
        night.run_id = discovered.get("run_id", "")
        night.district_ids = night.district_ids or list(discovered.get("district_ids") or [])
    elif kind == "TaskSubmitted" and state == "SyncBatch":
        arn = (_json(details.get("output")) or {}).get("ExecutionArn")
        if arn and arn not in night.batch_executions:
            night.batch_executions.append(arn)
    elif kind == "PassStateExited" and state in ("NamedDistricts", "DiscoveredDistricts"):
        batches = (_json(details.get("output")) or {}).get("batches") or []
        night.district_ids = [d for batch in batches for d in batch]


def follow_night(
    sfn: Any,
    execution_arn: str,
    *,
    on_change: Callable[[Night], None] | None = None,
    poll_seconds: float = 0.5,
) -> Night:
    """Read the night's history and its batches' until the execution ends; `on_change(night)`
    after each poll that brought events. Without `on_change` nobody watches the night as it
    goes: the histories are read once, when it has ended (a history read costs the engine
    more the longer the history, so reading it every poll would cost a long night dear)."""
    if on_change is None:
        _wait_until_finished(sfn, execution_arn, poll_seconds)
    night = Night(execution_arn=execution_arn)
    histories = {execution_arn: _History(sfn, execution_arn)}
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        changed = False
        for arn in [execution_arn, *night.batch_executions]:
            history = histories.setdefault(arn, _History(sfn, arn))
            for event in history.new_events():
                _apply(night, history, event)
                night.events[arn] = event["id"]
                changed = True
        # A batch discovered in this poll: read it before deciding the night is over.
        if any(arn not in histories for arn in night.batch_executions):
            continue
        if described["status"] in _FINISHED and not changed:
            night.status = described["status"]
            night.error = described.get("error")
            night.cause = described.get("cause")
            if on_change:
                on_change(night)
            return night
        if changed and on_change:
            on_change(night)
        time.sleep(poll_seconds if not changed else 0.05)


def _wait_until_finished(sfn: Any, execution_arn: str, poll_seconds: float) -> None:
    pause = min(0.02, poll_seconds)
    while sfn.describe_execution(executionArn=execution_arn)["status"] not in _FINISHED:
        time.sleep(pause)
        pause = min(poll_seconds, pause * 1.5)


def start_night(sfn: Any, state_machine_arn: str, started_with: Mapping[str, Any]) -> str:
    name = f"rostersync-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    started = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(started_with)
    )
    return str(started["executionArn"])


# ------------------------------------------------------------------------ locally


class FunctionsByArn(Protocol):
    """The pipeline's functions by their local ARN, each taking the event (`LocalFunctions`)."""

    def by_arn(self, region: str = ...) -> Mapping[str, Callable[[dict[str, Any]], Any]]: ...


@dataclass
class LocalNight:
    """The state machine in moto's engine on loopback, its Lambda tasks calling `functions`.

    The one way the night runs locally: the CLI (`run`, `demo`), the integration tests, the fault
    suite and the benchmark all run it through here, Retry and Catch included. `functions` is
    anything with `by_arn(region)` (a `LocalFunctions`, or one that wraps its invocations: fault
    injection, measurement); `on_retry_wait(seconds)` hears each retrier's wait (which does not
    pass for real: `retry_wait_scale` 0); `definition` replaces the definition's text (a test of
    what a changed definition would do).
    """

    functions: FunctionsByArn = field(default_factory=LocalFunctions)
    template: Mapping[str, Any] | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)  # substitutions, e.g. MaxConcurrency
    retry_wait_scale: float = 0.0  # retries happen; locally without their waits
    on_retry_wait: RetryWait | None = None
    definition: str | None = None

    @property
    def region(self) -> str:
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    def run(
        self,
        district_ids: list[str] | None = None,
        *,
        dry_run: bool = False,
        on_change: Callable[[Night], None] | None = None,
    ) -> Night:
        with self.engine() as engine:
            sfn = engine.client()
            machine = sfn.create_state_machine(
                name=f"rostersync-nightly-{uuid.uuid4().hex[:8]}",
                definition=self.definition or nightly_definition(self.template, self.overrides),
                roleArn="arn:aws:iam::123456789012:role/rostersync-nightly",
            )["stateMachineArn"]
            arn = start_night(sfn, machine, execution_input(district_ids, dry_run=dry_run))
            if on_change is None:
                engine.wait(arn)
            return follow_night(sfn, arn, on_change=on_change, poll_seconds=0.1)

    def engine(self) -> LocalStepFunctions:
        return LocalStepFunctions(
            self.functions.by_arn(self.region),
            retry_wait_scale=self.retry_wait_scale,
            on_retry_wait=self.on_retry_wait,
        )
