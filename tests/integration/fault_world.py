"""The fault-injection suite's world: the sandbox, the embedded AWS, the handlers, an alert inbox.

`FaultWorld.night()` runs one night the way the nightly state machine does, per district:
Fetch -> (complete?) Validate -> (validated?) Import (one attempt per stage: the definition's
retries are not replayed). When a stage *raises*, the harness takes the path the product's
definition takes: `catch_path` reads statemachine/nightly.asl.json (with its local
substitutions), follows the failed task's `States.ALL` Catch and runs the state it leads to when
that is an SNS publish (NotifyDistrictFailed), with the parameters the definition gives. So the
`sync_failed` alert invariant 4 finds comes from the definition: a Catch removed, or a notify
state that no longer publishes it, fails the invariant. Stage results that say "failed" are
alerted by the handlers themselves.

AWS faults moto cannot produce are injected at the botocore layer (`AwsFaults`: handlers on the
default session's `before-parameter-build` events, so the adapters' own error handling runs) or by
wrapping the roster table adapter.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rostersync.adapters.s3_page_store import S3PageStore
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import DistrictOutcome, nightly_definition
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.template import load_template
from tests.integration.alert_inbox import AlertInbox, ReceivedAlert
from tests.integration.invariants import Roster, snapshot


@dataclass
class Night:
    """One night's outcomes, the alerts it published and the exceptions its stages raised."""

    outcomes: list[DistrictOutcome]
    alerts: list[ReceivedAlert]
    errors: dict[str, BaseException] = field(default_factory=dict)  # district id -> stage exception

    def outcome(self, district_id: str) -> DistrictOutcome:
        return next(o for o in self.outcomes if o.district_id == district_id)

    def alerts_for(self, district_id: str) -> list[ReceivedAlert]:
        return [a for a in self.alerts if a.attributes.get("district_id") == district_id]


@cache
def _parsed_template() -> dict[str, Any]:
    return load_template()


def _template(path: Any = None) -> dict[str, Any]:
    """template.yaml parsed once per session (a deep copy each time: callers may not share it)."""
    assert path is None
    return copy.deepcopy(_parsed_template())


class LambdaTimeout(BaseException):
    """The invocation was killed: no `except Exception` cleanup runs (as when Lambda times out)."""


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
        self.functions = LocalFunctions(_template())
        self.inbox = AlertInbox(get_settings().alert_topic_arn)
        self.nights: list[Night] = []

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

    # ------------------------------------------------------------------------ nights

    def night(self, district_ids: list[str], *, run_id: str | None = None) -> Night:
        """One night for the named districts, stage by stage, as the state machine runs it."""
        event: dict[str, Any] = {"district_ids": district_ids}
        if run_id:
            event["run_id"] = run_id
        night = Night(outcomes=[], alerts=[])
        try:
            fetched = self.functions.invoke("FetchFunction", event)
        except (Exception, LambdaTimeout) as exc:  # the fetch invocation failed as a whole
            for district_id in district_ids:
                night.errors[district_id] = exc
                night.outcomes.append(
                    DistrictOutcome(
                        district_id, run_id or "", fetch={"status": "error", "error": type(exc).__name__}
                    )
                )
                catch_path("Fetch", district_id, run_id or "", exc)
            fetched = {"districts": []}
        for result in fetched["districts"]:
            outcome = DistrictOutcome(
                district_id=result["district_id"], run_id=result["run_id"], fetch=result
            )
            night.outcomes.append(outcome)
            if result["status"] != "complete":
                continue
            stage = "Validate"
            try:
                validated = self.functions.invoke("ValidateFunction", result)
                outcome.stages["validate"] = validated
                if validated["status"] == "validated":
                    stage = "Import"
                    # As the state machine does: the source and name travel from the fetch's result.
                    carried = {"source": result["source"], "district_name": result.get("district_name")}
                    outcome.stages["import"] = self.functions.invoke("ImportFunction", validated | carried)
            except (Exception, LambdaTimeout) as exc:  # the definition's Catch of that task
                night.errors[outcome.district_id] = exc
                outcome.stages["error"] = {"status": "failed", "error": type(exc).__name__}
                catch_path(stage, outcome.district_id, outcome.run_id, exc, source=result["source"])
        night.alerts = self.inbox.receive()
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
        return {"district_id": district_id, "run_id": run_id, "source": "clever"}

    def fetch_and_validate(self, district_id: str, run_id: str | None = None) -> dict[str, Any]:
        """Fetch and validate one district (no import); returns validate's result with the
        district's source and name (the import's event)."""
        event: dict[str, Any] = {"district_ids": [district_id]}
        if run_id:
            event["run_id"] = run_id
        [fetched] = self.functions.invoke("FetchFunction", event)["districts"]
        assert fetched["status"] == "complete", fetched
        validated: dict[str, Any] = self.functions.invoke("ValidateFunction", fetched)
        assert validated["status"] == "validated", validated
        # The import's event, as the state machine builds it: the source and name from the fetch.
        return validated | {"source": fetched["source"], "district_name": fetched.get("district_name")}

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


def _district_states(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The states of the per-district Map (the one whose item processor has the Fetch task)."""
    for state in definition["States"].values():
        processor = state.get("ItemProcessor") or {}
        if "Fetch" in processor.get("States", {}):
            return dict(processor["States"])
    raise AssertionError("nightly.asl.json has no per-district Map with a Fetch state")


def _path(document: Any, path: str) -> Any:
    """A JSONPath of the plain `$.a.b` form the notify states use."""
    assert path.startswith("$."), path
    value = document
    for name in path[2:].split("."):
        value = value[name]
    return value


_FORMAT = re.compile(r"^States\.Format\('((?:[^'\\]|\\.)*)'((?:\s*,\s*\$[.\w]+)*)\)$", re.DOTALL)


def _evaluate(parameters: Any, document: Any) -> Any:
    """An ASL Parameters block against `document`: `name.$` keys with a path or States.Format."""
    if isinstance(parameters, list):
        return [_evaluate(p, document) for p in parameters]
    if not isinstance(parameters, dict):
        return parameters
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        if not key.endswith(".$"):
            out[key] = _evaluate(value, document)
            continue
        formatted = _FORMAT.match(value)
        if formatted:
            template = formatted.group(1).replace("\\'", "'")
            args = [a.strip() for a in formatted.group(2).split(",") if a.strip()]
            for arg in args:
                template = template.replace("{}", str(_path(document, arg)), 1)
            out[key[:-2]] = template
        else:
            out[key[:-2]] = _path(document, value)
    return out


def catch_path(
    stage: str,
    district_id: str,
    run_id: str,
    exc: BaseException,
    definition: Mapping[str, Any] | None = None,
    *,
    source: str | None = None,
) -> str | None:
    """What the state machine does when the district's `stage` task (Fetch, Validate, Import)
    fails after its retries: its `States.ALL` Catch, and the SNS publish of the state that Catch
    leads to (NotifyDistrictFailed), as the definition writes it. Returns the state published
    from; None when the definition catches nothing there or the caught path publishes nothing."""
    definition = definition if definition is not None else json.loads(nightly_definition(_template()))
    states = _district_states(definition)
    catch = next(
        (c for c in states[stage].get("Catch", []) if "States.ALL" in c.get("ErrorEquals", [])), None
    )
    if catch is None:
        return None
    target_name = catch["Next"]
    target = states[target_name]
    if target.get("Type") != "Task" or target.get("Resource") != "arn:aws:states:::sns:publish":
        return None
    error = {"Error": type(exc).__name__, "Cause": str(exc)[:200]}
    document: dict[str, Any] = {"district_id": district_id, "run_id": run_id, "source": source}
    path = catch.get("ResultPath", "$")
    if path == "$":
        document = error  # type: ignore[assignment]
    else:
        document[path.removeprefix("$.")] = error
    published = _evaluate(target["Parameters"], document)
    boto3.client("sns").publish(**published)
    return str(target_name)


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
