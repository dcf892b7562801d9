"""The fault-injection suite's world: the sandbox, the embedded AWS, the handlers, an alert inbox.

`FaultWorld.night()` runs the night the one way it runs locally: statemachine/nightly.asl.json in
the state machine runner the CLI uses (`LocalNight`: moto's Step Functions engine, the template's
handlers in process), so every fault meets the definition's own Retry and Catch. A stage that
raises is retried as its retriers say and, once they are exhausted, caught into the one
`sync_failed` the definition's NotifyDistrictFailed publishes; stage results that say "failed" are
alerted by the handlers themselves.

Faults last a number of attempts, so a test says what the retries absorb:
`world.fault("ValidateFunction", error, times=N)` makes the district's next N invocations of the
function raise `error` (N up to the retrier's `MaxAttempts`: the district succeeds, no alert; one
more: exactly one sync_failed). `retries(state)` reads those `MaxAttempts` from the definition.
Retry waits do not pass for real; `world.time_passes(seconds)` hears each one and ages the roster
leases by it (a dead import's 20-minute lease has expired by the Import retrier's 21 minutes).

AWS faults moto cannot produce are injected at the botocore layer (`AwsFaults`: handlers on the
default session's `before-parameter-build` events, so the adapters' own error handling runs) or by
wrapping the roster table adapter.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.local_states import LambdaTimedOut
from rostersync_cli.nightly import DistrictOutcome, LocalNight, nightly_definition
from rostersync_cli.nightly import Night as Execution
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.template import load_template
from tests.integration.alert_inbox import AlertInbox, ReceivedAlert
from tests.integration.invariants import Roster, snapshot

# The invocation was killed at its timeout: the task fails with Sandbox.Timedout (the runner's).
LambdaTimeout = LambdaTimedOut


@dataclass
class Night:
    """One night's outcomes, the alerts it published, and what its invocations raised."""

    outcomes: list[DistrictOutcome]
    alerts: list[ReceivedAlert]
    errors: dict[str, BaseException] = field(default_factory=dict)  # district id -> last exception
    raised: list[BaseException] = field(default_factory=list)  # every exception, in order
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (function, district) -> calls
    execution: Execution | None = None

    def outcome(self, district_id: str) -> DistrictOutcome:
        return next(o for o in self.outcomes if o.district_id == district_id)

    def alerts_for(self, district_id: str) -> list[ReceivedAlert]:
        return [a for a in self.alerts if a.attributes.get("district_id") == district_id]

    def sync_failed(self, district_id: str) -> list[ReceivedAlert]:
        return [a for a in self.alerts_for(district_id) if a.event_type == "sync_failed"]


@cache
def _parsed_template() -> dict[str, Any]:
    return load_template()


def _template(path: Any = None) -> dict[str, Any]:
    """template.yaml parsed once per session (a deep copy each time: callers may not share it)."""
    assert path is None
    return copy.deepcopy(_parsed_template())


def definition() -> dict[str, Any]:
    """The nightly definition as it runs locally (its substitutions resolved)."""
    return dict(json.loads(nightly_definition(_template())))


def district_states(document: Mapping[str, Any]) -> dict[str, Any]:
    """The states of the per-district Map (the one whose item processor has the Fetch task)."""
    for state in document["States"].values():
        processor = state.get("ItemProcessor") or {}
        if "Fetch" in processor.get("States", {}):
            return dict(processor["States"])
    raise AssertionError("nightly.asl.json has no per-district Map with a Fetch state")


def retries(state: str, error: str = "States.ALL") -> int:
    """How many times the definition retries the district's `state` (Fetch, Validate, Import) after
    `error`: the MaxAttempts of the first retrier naming it (or States.ALL); 0 when none does."""
    for retrier in district_states(definition())[state].get("Retry", []):
        if error in retrier["ErrorEquals"] or "States.ALL" in retrier["ErrorEquals"]:
            return int(retrier.get("MaxAttempts", 3))
    return 0


def _district_of(event: Mapping[str, Any]) -> str | None:
    ids = event.get("district_ids") or [event.get("district_id")]
    return ids[0] if len(ids) == 1 and isinstance(ids[0], str) else None


@dataclass
class StageFault:
    """The district's next `times` invocations of `function` raise `error()` before doing anything."""

    function: str
    error: Callable[[], BaseException]
    times: int
    district_id: str | None
    fired: int = 0


class _WorldFunctions(LocalFunctions):
    """The template's functions, each invocation counted, faulted when a StageFault says so, and
    what it raised kept for the night."""

    def __init__(self, template: Mapping[str, Any]) -> None:
        super().__init__(template)
        self.faults: list[StageFault] = []
        self.attempts: Counter[tuple[str, str]] = Counter()
        self.raised: list[tuple[str | None, BaseException]] = []

    def invoke(self, logical_id: str, event: dict[str, Any], context: Any | None = None) -> Any:
        district = _district_of(event)
        self.attempts[(logical_id, district or "")] += 1
        try:
            for fault in self.faults:
                if (
                    fault.function == logical_id
                    and fault.district_id in (None, district)
                    and fault.fired < fault.times
                    and not event.get("discover")
                    and not event.get("index")
                ):
                    fault.fired += 1
                    raise fault.error()
            return super().invoke(logical_id, event, context)
        except BaseException as exc:
            self.raised.append((district, exc))
            raise


class FaultWorld:
    def __init__(
        self, sandbox: CleverSandbox, monkeypatch: pytest.MonkeyPatch, aws: AwsFaults, stack: ExitStack
    ) -> None:
        self.sandbox = sandbox
        self.monkeypatch = monkeypatch
        self.aws = aws
        self._stack = stack
        self.use_sandbox(sandbox)
        resources = provision(
            clever_credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
            template=_template(),
        )
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        self.functions = _WorldFunctions(_template())
        self.inbox = AlertInbox(get_settings().alert_topic_arn)
        self.nights: list[Night] = []
        self.waits: list[float] = []  # every retry wait the definition asked for, in seconds

    # ------------------------------------------------------------------ environment

    def use_sandbox(self, sandbox: CleverSandbox) -> None:
        """Point the fetch stage at `sandbox` (same client credentials: the sandbox default)."""
        self.sandbox = sandbox
        self.monkeypatch.setenv("CLEVER_API_BASE", sandbox.api_base)
        self.monkeypatch.setenv("CLEVER_OAUTH_BASE", sandbox.oauth_base)
        get_settings.cache_clear()

    def serve(self, *districts: DistrictSpec) -> CleverSandbox:
        """Tomorrow's Clever: a new sandbox serving these districts (e.g. a revision), used from now on."""
        sandbox = self._stack.enter_context(CleverSandbox(SandboxConfig(districts=districts)))
        self.use_sandbox(sandbox)
        return sandbox

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    @property
    def store(self) -> S3PageStore:
        return S3PageStore(get_settings().raw_bucket)

    @property
    def table_name(self) -> str:
        return get_settings().roster_table

    # ------------------------------------------------------------------------ faults

    def fault(
        self,
        function: str,
        error: BaseException | Callable[[], BaseException],
        *,
        times: int = 1,
        district_id: str | None = None,
    ) -> StageFault:
        """The next `times` invocations of `function` (FetchFunction, ValidateFunction,
        ImportFunction) for the district (any, when None) raise `error`; discovery and the index
        page are never faulted here."""
        make = error if callable(error) and not isinstance(error, BaseException) else (lambda: error)
        rule = StageFault(function, make, times, district_id)  # type: ignore[arg-type]
        self.functions.faults.append(rule)
        return rule

    def time_passes(self, seconds: float) -> None:
        """`seconds` pass (a retry's wait): every roster lease is that much nearer its end."""
        self.waits.append(seconds)
        table = boto3.resource("dynamodb").Table(self.table_name)
        leases = table.scan(
            FilterExpression=Attr("pk").begins_with("LEASE#") & Attr("lease_expires").exists()
        )
        for lease in leases["Items"]:
            table.update_item(
                Key={"pk": lease["pk"], "sk": lease["sk"]},
                UpdateExpression="SET lease_expires = lease_expires - :passed",
                ExpressionAttributeValues={":passed": int(seconds)},
            )

    # ------------------------------------------------------------------------ nights

    def night(
        self, district_ids: list[str], *, dry_run: bool = False, definition: Mapping[str, Any] | None = None
    ) -> Night:
        """One night for the named districts through the state machine runner (`definition`: a
        changed definition instead of statemachine/nightly.asl.json, for the harness's own tests)."""
        attempts_before = Counter(self.functions.attempts)
        raised_before = len(self.functions.raised)
        runner = LocalNight(
            self.functions,
            template=_template(),
            on_retry_wait=self.time_passes,
            definition=json.dumps(definition) if definition is not None else None,
        )
        execution = runner.run(district_ids, dry_run=dry_run)
        raised = self.functions.raised[raised_before:]
        night = Night(
            outcomes=execution.outcomes,
            alerts=self.inbox.receive(),
            errors={district: exc for district, exc in raised if district},
            raised=[exc for _, exc in raised],
            attempts=Counter(self.functions.attempts) - attempts_before,
            execution=execution,
        )
        self.nights.append(night)
        return night

    def clean_night(self, district_id: str) -> tuple[Night, Roster]:
        """A night without faults; returns it and the roster it left (the baseline)."""
        night = self.night([district_id])
        outcome = night.outcome(district_id)
        assert not outcome.failed, outcome
        assert outcome.stages["import"]["status"] == "succeeded", outcome.stages
        return night, snapshot(self.table_name, district_id)

    def import_event(self, district_id: str, run_id: str) -> dict[str, Any]:
        """The Import task's payload in the definition, for a run."""
        return {"district_id": district_id, "run_id": run_id, "dry_run": False, "source": "clever"}

    def validated_run(self, district_id: str) -> dict[str, Any]:
        """A run fetched and validated by the state machine and not imported (a dry-run night, whose
        import writes nothing); returns validate's result."""
        night = self.night([district_id], dry_run=True)
        outcome = night.outcome(district_id)
        assert outcome.stages["validate"]["status"] == "validated", outcome.stages
        assert outcome.stages["import"]["status"] == "dry_run", outcome.stages
        return dict(outcome.stages["validate"])

    def expire_lease(self, district_id: str) -> None:
        """Time passes: the lease of a dead invocation (20 minutes) has expired by the next night."""
        boto3.client("dynamodb").update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"LEASE#{district_id}"}, "sk": {"S": "LEASE"}},
            UpdateExpression="SET lease_expires = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )

    # --------------------------------------------------------------------- reference

    def reference_roster(self, district_id: str, run_ids: list[str]) -> Roster:
        """The roster a clean import of these validated runs, in order, gives in a fresh table."""
        ddb = boto3.client("dynamodb")
        main = self.table_name
        described = ddb.describe_table(TableName=main)["Table"]
        fresh = f"{main}-ref{len(self.nights)}"
        ddb.create_table(
            TableName=fresh,
            KeySchema=described["KeySchema"],
            AttributeDefinitions=described["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in described.get("GlobalSecondaryIndexes", [])
            ],
        )
        self.setenv("ROSTER_TABLE", fresh)
        try:
            for run_id in run_ids:
                result = self.functions.invoke("ImportFunction", self.import_event(district_id, run_id))
                assert result["status"] == "succeeded", result
            return snapshot(fresh, district_id)
        finally:
            self.setenv("ROSTER_TABLE", main)
            self.inbox.receive()  # the reference imports' alerts are not the scenario's


@contextmanager
def fault_world(config: SandboxConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    with ExitStack() as stack:
        sandbox = stack.enter_context(CleverSandbox(config))
        aws = stack.enter_context(AwsFaults())
        yield FaultWorld(sandbox, monkeypatch, aws, stack)


# ---------------------------------------------------------------------------- AWS faults


def client_error(code: str, operation: str, message: str = "injected fault") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class _Rule:
    event: str
    error: Callable[[], BaseException]
    times: int
    when: Predicate
    fired: int = 0


class AwsFaults:
    """Makes botocore calls of the default session fail on demand (before they are sent).

    `fail("s3", "PutObject", client_error(...), times=1, when=lambda params: ...)`: the next
    `times` matching calls (`params`: the call's API parameters) raise the error from inside the
    client, as a service error would. Clients created after `__enter__` see the rules.
    """

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._session = boto3._get_default_session()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def fail(
        self,
        service: str,
        operation: str,
        error: BaseException | Callable[[], BaseException],
        *,
        times: int = 1,
        when: Predicate = lambda params: True,
    ) -> _Rule:
        make = error if callable(error) and not isinstance(error, BaseException) else (lambda: error)
        rule = _Rule(f"before-parameter-build.{service}.{operation}", make, times, when)  # type: ignore[arg-type]
        self._rules.append(rule)
        return rule

    def _handler(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        for rule in self._rules:
            if rule.event == event_name and rule.fired < rule.times and rule.when(params):
                rule.fired += 1
                raise rule.error()

    def __enter__(self) -> AwsFaults:
        self._session.events.register("before-parameter-build", self._handler, unique_id="fault-world")
        return self

    def __exit__(self, *exc: object) -> None:
        self._session.events.unregister("before-parameter-build", unique_id="fault-world")
        self._rules.clear()
