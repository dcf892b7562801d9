"""template.yaml's wiring: handlers import, every variable read is set, the state machine is whole."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from rostersync.settings import Settings
from rostersync_cli.template import functions, load_handler, load_template, resources_of_type
from tests.paths import REPO

LAYER = REPO / "layers" / "rostersync"
ASL = REPO / "statemachine" / "nightly.asl.json"
TEMPLATE = load_template()
SPECS = functions(TEMPLATE)

# Set by Lambda itself, or by tests/tools only.
RUNTIME_VARIABLES = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_ENDPOINT_URL",
    "_X_AMZN_TRACE_ID",
}
# Tuning knobs whose Settings defaults are the production values; the template may leave them out.
DEFAULTED_TUNING = {
    "CLEVER_CONNECT_TIMEOUT",
    "CLEVER_READ_TIMEOUT",
    "CLEVER_MAX_RETRIES",
    "CLEVER_BACKOFF_FACTOR",
    "CLEVER_MAX_RATE_LIMIT_WAIT",
    "CLEVER_PAGE_LIMIT",
    "CLEVER_MIN_PAGE_LIMIT",
    "CLEVER_SLOW_RETRIES",
    "FETCH_PAUSE_MARGIN_SECONDS",
    # Read by validation only: set for ValidateFunction (parameter DistrictSyncStaleDays), checked below.
    "DISTRICT_SYNC_STALE_DAYS",
}
# Read only by the code that makes or answers report links (rostersync.report_links); set for
# those functions alone, and checked below.
REPORT_LINK_VARIABLES = {"REPORT_LINK_BASE_URL", "REPORT_LINK_SECRET_ID"}
_ENV_READ = re.compile(
    r"""(?:os\.environ(?:\.get)?\s*[\[(]|os\.getenv\s*\(|environ\.setdefault\s*\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def _variables_read(directory: Path) -> set[str]:
    return {
        m for path in directory.rglob("*.py") for m in _ENV_READ.findall(path.read_text(encoding="utf-8"))
    }


def _settings_variables() -> set[str]:
    return {str(field.alias) for field in Settings.model_fields.values() if field.alias}


def test_the_sync_stale_limit_is_set_for_validation() -> None:
    assert SPECS["ValidateFunction"].environment.get("DISTRICT_SYNC_STALE_DAYS") == {
        "Ref": "DistrictSyncStaleDays"
    }


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_handler_imports(logical_id: str) -> None:
    spec = SPECS[logical_id]
    if not spec.module_path.exists():
        pytest.xfail(
            f"{spec.module_path.relative_to(REPO)} is not written yet (the import stage is in progress)"
        )
    assert callable(load_handler(spec))


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_variable_a_function_reads_is_set_for_it(logical_id: str) -> None:
    spec = SPECS[logical_id]
    read = _settings_variables() | _variables_read(LAYER) | _variables_read(spec.code_uri)
    required = read - RUNTIME_VARIABLES - DEFAULTED_TUNING - {v for v in read if v.startswith("POWERTOOLS_")}
    required -= REPORT_LINK_VARIABLES
    assert required, "the scan found nothing: the regex or the layout changed"
    missing = required - set(spec.environment)
    assert not missing, f"{logical_id} reads {sorted(missing)} but template.yaml does not set them"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(spec.environment)


def _policy_names(policies: list[Any]) -> set[str]:
    return {next(iter(p)) for p in policies if isinstance(p, dict)}


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_a_function_that_alerts_may_publish_to_the_alert_topic(logical_id: str) -> None:
    spec = SPECS[logical_id]
    if "AlertTopic" not in _touched_resources(logical_id):
        assert logical_id == "ReportLinkFunction", f"{logical_id} is expected to alert"
        return
    grants = [p["SNSPublishMessagePolicy"] for p in spec.policies if "SNSPublishMessagePolicy" in p]
    assert {"TopicName": {"Fn::GetAtt": ["AlertTopic", "TopicName"]}} in grants


# ------------------------------------------------------------------------------ state machine


def _machine() -> dict[str, Any]:
    (machine,) = resources_of_type(TEMPLATE, "AWS::Serverless::StateMachine").values()
    return machine["Properties"]


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state at every level (Map item processors included), by name."""
    out: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        out[name] = state
        if "ItemProcessor" in state:
            out |= _states(state["ItemProcessor"])
    return out


def test_the_state_machine_definition_is_json_and_every_substitution_is_defined() -> None:
    props = _machine()
    assert (REPO / props["DefinitionUri"]) == ASL
    text = ASL.read_text(encoding="utf-8")
    json.loads(text)
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    assert used == set(props["DefinitionSubstitutions"])


def test_the_state_machine_invokes_only_template_functions_it_is_allowed_to() -> None:
    props = _machine()
    substitutions = props["DefinitionSubstitutions"]
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    invoked = set()
    for state in _states(definition).values():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            name = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
            assert name, state
            target = substitutions[name.group(1)]
            assert target["Fn::GetAtt"][1] == "Arn" and target["Fn::GetAtt"][0] in SPECS
            invoked.add(target["Fn::GetAtt"][0])
    assert invoked == {"FetchFunction", "ValidateFunction", "ImportFunction"}
    allowed = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"] if "LambdaInvokePolicy" in p
    }
    assert invoked <= allowed
    assert "SNSPublishMessagePolicy" in _policy_names(props["Policies"])


def test_every_transition_lands_and_every_lambda_step_retries_and_ends_in_an_alert_on_failure() -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    states = _states(definition)
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} -> {target}"
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            assert "Lambda.ServiceException" in state["Retry"][0]["ErrorEquals"]
            assert state["Retry"][0]["BackoffRate"] > 1
            [catch] = state["Catch"]
            assert catch["ErrorEquals"] == ["States.ALL"]
            assert states[catch["Next"]]["Resource"] == "arn:aws:states:::sns:publish"
        if state.get("Resource") == "arn:aws:states:::sns:publish":
            attributes = state["Parameters"]["MessageAttributes"]
            assert attributes["event_type"]["StringValue"] == "sync_failed"
            assert len(state["Parameters"]["Subject"]) < 100
    districts = definition["States"]["Districts"]
    assert districts["Type"] == "Map" and districts["MaxConcurrencyPath"] == "$.max_concurrency"


def test_an_import_that_died_holding_its_lease_is_retried_once_after_the_lease_expires() -> None:
    from rostersync.importer.writer import LEASE_TTL_SECONDS

    states = _states(json.loads(ASL.read_text(encoding="utf-8")))
    retriers = states["Import"]["Retry"]
    [died] = [r for r in retriers if "Sandbox.Timedout" in r["ErrorEquals"]]
    assert "Lambda.Unknown" in died["ErrorEquals"]
    assert died["MaxAttempts"] == 1
    assert died["IntervalSeconds"] > LEASE_TTL_SECONDS
    # Retriers are tried in order: the catch-all must not shadow it.
    assert retriers.index(died) < next(
        i for i, r in enumerate(retriers) if r["ErrorEquals"] == ["States.ALL"]
    )


def test_the_nightly_schedule_starts_the_state_machine_with_bounded_concurrency() -> None:
    props = _machine()
    (event,) = props["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert props["DefinitionSubstitutions"]["MaxConcurrency"] == {"Ref": "MaxConcurrency"}
    assert TEMPLATE["Parameters"]["MaxConcurrency"]["MaxValue"] <= 40


# ------------------------------------------------------------------------------ grants


class CodeUse(NamedTuple):
    """What a function's reachable code does with the raw bucket and the roster table."""

    prefixes: frozenset[str]
    s3_actions: frozenset[str]
    dynamodb_actions: frozenset[str]
    indexes: frozenset[str]


# The adapters that reach AWS resources, and the template resource each one reaches.
ADAPTER_RESOURCES = {
    "S3PageStore": {"RawBucket"},
    "S3ReportLinks": {"RawBucket"},
    "DynamoRosterTable": {"RosterTable"},
    # The topic is encrypted with a customer managed key: publishing needs a data key from it.
    "SnsAlertPublisher": {"AlertTopic", "AlertTopicKey"},
    "clever_credentials": {"CleverSecret"},
    "report_link_key": {"ReportLinkKeySecret"},
}


WIRING = LAYER / "rostersync" / "wiring.py"


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _touched_resources(logical_id: str) -> set[str]:
    """Resources the function's code can reach: the adapters its wiring entry point builds.

    A handler makes one call into `rostersync.wiring` (the only module that builds adapters);
    from there the wiring's own functions are followed call by call, so a handler is charged
    only with the adapters its entry point actually reaches, not with the whole module."""
    spec = SPECS[logical_id]
    handler = ast.parse(spec.module_path.read_text(encoding="utf-8"))
    wiring = ast.parse(WIRING.read_text(encoding="utf-8"))
    functions = {node.name: node for node in wiring.body if isinstance(node, ast.FunctionDef)}
    pending = [name for name in _called_names(handler) if name in functions]
    assert pending, f"{logical_id}: its handler calls nothing in rostersync.wiring"
    seen: set[str] = set()
    touched: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for called in _called_names(functions[name]):
            touched |= ADAPTER_RESOURCES.get(called, set())
            if called in functions:
                pending.append(called)
    return touched


def _referenced(value: Any) -> set[str]:
    """Logical ids a policy refers to: !Ref X, !GetAtt X.Attr, ${X} and ${X.Attr} in !Sub."""
    if isinstance(value, list):
        return set().union(*map(_referenced, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"}:
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        return {value["Fn::GetAtt"][0]}
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", value["Fn::Sub"])}
    return set().union(*map(_referenced, value.values())) if value else set()


def _granted(logical_id: str) -> set[str]:
    return _referenced(SPECS[logical_id].policies) & set(TEMPLATE["Resources"])


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_resource_a_function_touches_is_granted_and_nothing_else(logical_id: str) -> None:
    touched = _touched_resources(logical_id)
    assert touched, f"{logical_id}: the scan found no adapter use: ADAPTER_RESOURCES is stale"
    granted = _granted(logical_id)
    assert touched <= granted, f"{logical_id} uses {sorted(touched - granted)} without a grant"
    assert granted <= touched, f"{logical_id} is granted {sorted(granted - touched)} it never uses"


def test_every_data_statement_names_its_resource() -> None:
    """No `*` resource for data actions in any inline statement (SAM policy templates are scoped)."""
    for logical_id, spec in SPECS.items():
        for policy in spec.policies:
            for statement in policy.get("Statement", []):
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                assert "*" not in resources, f"{logical_id}: {statement}"
                assert statement["Effect"] == "Allow" and statement["Action"]


def test_report_links_are_signed_where_alerts_link_to_reports() -> None:
    """The function that links alerts to reports gets the report-link URL and key; the function
    answering the links gets the key; no other function carries either."""
    for logical_id, spec in SPECS.items():
        expected = {
            "ValidateFunction": REPORT_LINK_VARIABLES,
            "ReportLinkFunction": {"REPORT_LINK_SECRET_ID"},
        }.get(logical_id, set())
        assert REPORT_LINK_VARIABLES & set(spec.environment) == expected, logical_id
    validate = SPECS["ValidateFunction"].environment
    assert validate["REPORT_LINK_BASE_URL"] == {"Fn::GetAtt": ["ReportLinkFunctionUrl", "FunctionUrl"]}
    assert validate["REPORT_LINK_SECRET_ID"] == {"Ref": "ReportLinkKeySecret"}
    url = TEMPLATE["Resources"]["ReportLinkFunction"]["Properties"]["FunctionUrlConfig"]
    assert url["AuthType"] == "NONE"
    secret = TEMPLATE["Resources"]["ReportLinkKeySecret"]["Properties"]
    assert "SecretString" not in secret and secret["GenerateSecretString"]["PasswordLength"] >= 32


# ------------------------------------------------------------------------ production template


def _alarms() -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").values()]


def _alarmed(namespace: str, metric: str) -> list[Any]:
    """The dimension values alarmed on for one metric (every such alarm notifies the alert topic)."""
    out = []
    for alarm in _alarms():
        if alarm["Namespace"] == namespace and alarm["MetricName"] == metric:
            assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}], alarm
            assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            out += [d["Value"] for d in alarm["Dimensions"]]
    return out


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(metric: str) -> None:
    assert sorted(v["Ref"] for v in _alarmed("AWS/Lambda", metric)) == sorted(SPECS)


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut"])
def test_the_state_machine_alarms_on_failed_and_timed_out_runs(metric: str) -> None:
    (machine_id,) = resources_of_type(TEMPLATE, "AWS::Serverless::StateMachine")
    assert _alarmed("AWS/States", metric) == [{"Ref": machine_id}]


def test_every_dead_letter_queue_is_encrypted_kept_and_alarmed() -> None:
    queues = resources_of_type(TEMPLATE, "AWS::SQS::Queue")
    assert len(queues) >= 3
    for props in (q["Properties"] for q in queues.values()):
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props
        assert props["MessageRetentionPeriod"] >= 4 * 24 * 3600
    alarmed = _alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert sorted(v["Fn::GetAtt"][0] for v in alarmed) == sorted(queues)


def test_every_async_path_retries_a_bounded_number_of_times_then_dead_letters() -> None:
    # The schedule -> the state machine.
    (event,) = _machine()["Events"].values()
    assert 0 < event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] <= 10
    assert event["Properties"]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in resources_of_type(
        TEMPLATE, "AWS::SQS::Queue"
    )
    # Any asynchronous invocation of a function.
    for logical_id in SPECS:
        props = {**TEMPLATE["Globals"]["Function"], **TEMPLATE["Resources"][logical_id]["Properties"]}
        assert props["EventInvokeConfig"]["MaximumRetryAttempts"] <= 2, logical_id
        assert props["DeadLetterQueue"]["Type"] == "SQS", logical_id
    # SNS -> the support mailbox.
    subscription = TEMPLATE["Resources"]["AlertEmailSubscription"]["Properties"]
    assert subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] in resources_of_type(
        TEMPLATE, "AWS::SQS::Queue"
    )


def test_alarms_can_publish_to_the_encrypted_alert_topic() -> None:
    """CloudWatch cannot use the AWS managed aws/sns key: the topic's key must let it in."""
    topic = TEMPLATE["Resources"]["AlertTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    key = TEMPLATE["Resources"]["AlertTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [s["Principal"].get("Service") for s in key["KeyPolicy"]["Statement"]]
    assert "cloudwatch.amazonaws.com" in services


def test_every_log_group_has_retention_and_the_state_machine_logs_and_traces() -> None:
    groups = resources_of_type(TEMPLATE, "AWS::Logs::LogGroup")
    for props in (g["Properties"] for g in groups.values()):
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    named = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values()}
    for logical_id in SPECS:
        assert f"/aws/lambda/${{{logical_id}}}" in named, logical_id
    props = _machine()
    assert props["Tracing"] == {"Enabled": True}
    (destination,) = props["Logging"]["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0] in groups
    assert props["Logging"]["IncludeExecutionData"] is False


def test_outputs_name_every_function_queue_secret_and_the_state_machine() -> None:
    referenced = _referenced([o["Value"] for o in TEMPLATE["Outputs"].values()])
    expected = set(SPECS) | set(resources_of_type(TEMPLATE, "AWS::SQS::Queue"))
    expected |= set(resources_of_type(TEMPLATE, "AWS::SecretsManager::Secret"))
    expected |= {"NightlyStateMachine", "RawBucket", "RosterTable", "AlertTopic", "ReportLinkFunctionUrl"}
    assert expected <= referenced, sorted(expected - referenced)


def _path(document: Any, path: str) -> Any:
    """`$.a.b` (all the JSONPath these Pass states use)."""
    assert path.startswith("$")
    for part in filter(None, path[1:].split(".")):
        document = document[part]
    return document


def _through_the_start(execution_input: dict[str, Any], discovered: dict[str, Any]) -> dict[str, Any]:
    """The input the Districts Map gets: Discover's result at its ResultPath, the Choice, the Pass."""
    states = json.loads(ASL.read_text(encoding="utf-8"))["States"]
    discover = states["Discover"]
    assert discover["ResultPath"] == "$.discovered"
    state_input = {**execution_input, "discovered": discovered}
    choice = states[discover["Next"]]
    (rule,) = choice["Choices"]
    present = rule["Variable"].removeprefix("$.") in state_input
    target = states[rule["Next"] if present == rule["IsPresent"] else choice["Default"]]
    assert target["Type"] == "Pass" and target["Next"] == "Districts"
    if "OutputPath" in target:
        return dict(_path(state_input, target["OutputPath"]))
    return {k.removesuffix(".$"): _path(state_input, v) for k, v in target["Parameters"].items()}


def test_a_run_started_by_hand_with_district_ids_syncs_only_those() -> None:
    discovered = {"run_id": "r1", "district_ids": ["a", "b", "c"], "max_concurrency": 10}
    assert _through_the_start({}, discovered) == discovered
    assert _through_the_start({"district_ids": ["b"]}, discovered) == {
        "run_id": "r1",
        "district_ids": ["b"],
        "max_concurrency": 10,
    }


# ------------------------------------------------------------------ the per-district iteration

_INTRINSIC = re.compile(r"^(States\.\w+)\((.*)\)$")


def _value(document: Any, expression: str) -> Any:
    """A `.$` value: a `$.a.b` / `$.a[0]` path, or the two intrinsics the machine uses."""
    call = _INTRINSIC.match(expression)
    if call:
        name, raw = call.groups()
        args = [
            _value(document, a.strip()) if a.strip().startswith("$") else json.loads(a)
            for a in raw.split(",")
        ]
        if name == "States.Array":
            return list(args)
        if name == "States.MathAdd":
            return args[0] + args[1]
        raise AssertionError(f"intrinsic {name} not modelled")
    assert expression.startswith("$.") or expression == "$", expression
    for part in filter(None, re.split(r"\.|(?=\[)", expression[1:])):
        index = re.fullmatch(r"\[(\d+)\]", part)
        document = document[int(index.group(1))] if index else document[part]
    return document


def _template(template: Any, document: Any) -> Any:
    """Parameters / ResultSelector / ItemSelector applied to `document`."""
    if isinstance(template, dict):
        return {
            (k.removesuffix(".$") if k.endswith(".$") else k): (
                _value(document, v) if k.endswith(".$") else _template(v, document)
            )
            for k, v in template.items()
        }
    return template


def _matches(rule: dict[str, Any], document: dict[str, Any]) -> bool:
    value = _value(document, rule["Variable"])
    if "StringEquals" in rule:
        return bool(value == rule["StringEquals"])
    if "NumericGreaterThanEquals" in rule:
        return bool(value >= rule["NumericGreaterThanEquals"])
    raise AssertionError(f"choice rule not modelled: {rule}")


def _walk_district(
    district_id: str, run_id: str, answer: dict[str, Any]
) -> tuple[list[tuple[str, dict[str, Any]]], str, dict[str, Any]]:
    """Run one Map iteration with fake Lambda answers (`answer[function](payload)`), without retries
    or errors. Returns (function invoked, payload) in order, the state it ended in, and its input."""
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    districts = definition["States"]["Districts"]
    substitutions = _machine()["DefinitionSubstitutions"]
    processor = districts["ItemProcessor"]
    assert districts["ItemSelector"]["district_id.$"] == "$$.Map.Item.Value"
    selector = {k: v for k, v in districts["ItemSelector"].items() if k != "district_id.$"}
    document = {"district_id": district_id, **_template(selector, {"run_id": run_id})}
    calls: list[tuple[str, dict[str, Any]]] = []
    name = processor["StartAt"]
    for _ in range(500):
        state = processor["States"][name]
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            return calls, name, document
        if kind == "Choice":
            name = next((r["Next"] for r in state["Choices"] if _matches(r, document)), state["Default"])
            continue
        if kind == "Pass":
            out = _template(state["Parameters"], document) if "Parameters" in state else document
            document = _value(out, state.get("OutputPath", "$"))
        elif state.get("Resource") == "arn:aws:states:::lambda:invoke":
            function = substitutions[state["Parameters"]["FunctionName"][2:-1]]["Fn::GetAtt"][0]
            params = _template(state["Parameters"], document)
            calls.append((function, params["Payload"]))
            result: Any = {"Payload": answer[function](params["Payload"])}
            if "ResultSelector" in state:
                result = _template(state["ResultSelector"], result)
            if state.get("ResultPath", "$") == "$":
                document = result
            else:
                assert re.fullmatch(r"\$\.\w+", state["ResultPath"]), state["ResultPath"]
                document = {**document, state["ResultPath"][2:]: result}
            document = _value(document, state.get("OutputPath", "$"))
        elif state.get("Resource") == "arn:aws:states:::sns:publish":
            attributes = _template(state["Parameters"]["MessageAttributes"], document)
            calls.append(("sns:publish", {"MessageAttributes": attributes}))
        else:
            raise AssertionError(f"{name}: state not modelled")
        if state.get("End"):
            return calls, name, document
        name = state["Next"]
    raise AssertionError("the iteration never ended")


def _fetch_answering(*statuses: str) -> Any:
    answers = iter(statuses)

    def fetch(payload: dict[str, Any]) -> dict[str, Any]:
        [district_id] = payload["district_ids"]
        result = {"district_id": district_id, "run_id": payload["run_id"], "status": next(answers)}
        return {"run_id": payload["run_id"], "districts": [result | {"manifest_key": "m"}]}

    return fetch


def _passthrough(status: str) -> Any:
    return lambda payload: {**payload, "status": status}


def test_a_district_fetch_that_pauses_continues_from_its_checkpoint_then_validates_and_imports() -> None:
    answers = {
        "FetchFunction": _fetch_answering("in_progress", "in_progress", "complete"),
        "ValidateFunction": _passthrough("validated"),
        "ImportFunction": _passthrough("succeeded"),
    }
    calls, end, _ = _walk_district("d1", "r1", answers)

    assert [c[0] for c in calls] == ["FetchFunction"] * 3 + ["ValidateFunction", "ImportFunction"]
    fetches = [payload for function, payload in calls if function == "FetchFunction"]
    assert fetches[0] == {"district_ids": ["d1"], "run_id": "r1", "resume": False}
    assert fetches[1:] == [{"district_ids": ["d1"], "run_id": "r1", "resume": True}] * 2
    # Validate gets the fetch result itself, as before the loop existed.
    validate = calls[3][1]
    assert validate == {"district_id": "d1", "run_id": "r1", "status": "complete", "manifest_key": "m"}
    assert end == "Import"


def test_a_fetch_that_never_finishes_stops_after_20_continuations_and_alerts() -> None:
    answers = {"FetchFunction": _fetch_answering(*["in_progress"] * 100)}
    calls, end, document = _walk_district("d1", "r1", answers)

    fetches = [c for c in calls if c[0] == "FetchFunction"]
    assert len(fetches) == 21
    assert calls[-1][0] == "sns:publish"
    alert = calls[-1][1]
    assert alert["MessageAttributes"]["event_type"]["StringValue"] == "sync_failed"
    assert alert["MessageAttributes"]["district_id"]["StringValue"] == "d1"
    assert end == "DistrictFailed" and document["error"]["Error"] == "FetchDidNotFinish"


def test_a_failed_fetch_still_stops_before_validate() -> None:
    calls, end, _ = _walk_district("d1", "r1", {"FetchFunction": _fetch_answering("failed")})
    assert [c[0] for c in calls] == ["FetchFunction"] and end == "NotFetched"


# ----------------------------------------------------------------- data grants, action by action

# boto3 S3 client method (called, or named as a string: a paginator, a presigned request) -> the
# IAM actions it needs. Object actions apply to the key's prefix; s3:ListBucket to the bucket.
S3_OPERATIONS = {
    "get_object": {"s3:GetObject"},
    # A HEAD of a missing key answers 404 only to a caller allowed s3:ListBucket (403 otherwise).
    "head_object": {"s3:GetObject", "s3:ListBucket"},
    "download_file": {"s3:GetObject"},
    "download_fileobj": {"s3:GetObject"},
    "put_object": {"s3:PutObject"},
    "upload_file": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "upload_fileobj": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "copy_object": {"s3:GetObject", "s3:PutObject"},
    "delete_object": {"s3:DeleteObject"},
    "delete_objects": {"s3:DeleteObject"},
    "list_objects_v2": {"s3:ListBucket"},
    "list_objects": {"s3:ListBucket"},
    "put_object_acl": {"s3:PutObjectAcl"},
    "put_bucket_lifecycle_configuration": {"s3:PutLifecycleConfiguration"},
}
# boto3 DynamoDB client method -> its IAM action.
DYNAMODB_OPERATIONS = {
    "get_item": "dynamodb:GetItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "transact_write_items": "dynamodb:TransactWriteItems",  # + the item actions it carries
    "transact_get_items": "dynamodb:TransactGetItems",
    "describe_table": "dynamodb:DescribeTable",
}
# A string literal starting `word/` is an S3 key prefix, unless it is a media type (IANA's
# top-level types) or a name outside S3 (the secrets' default names, `rostersync/<...>`).
MIME_TYPES = {"application", "audio", "font", "image", "message", "model", "multipart", "text", "video"}
NOT_KEY_PREFIXES = {"rostersync/"}
_KEY_PREFIX = re.compile(r"^([a-z][a-z0-9-]*/)")


def _module_file(module: str, roots: list[Path]) -> Path | None:
    for root in roots:
        for candidate in (
            root.joinpath(*module.split(".")).with_suffix(".py"),
            root.joinpath(*module.split("."), "__init__.py"),
        ):
            if candidate.is_file():
                return candidate
    return None


def _closure_trees(logical_id: str) -> list[ast.Module]:
    spec = SPECS[logical_id]
    roots = [spec.code_uri, LAYER]
    own = {spec.module.split(".")[0], "rostersync"}
    seen: set[str] = set()
    pending = [spec.module]
    trees: list[ast.Module] = []
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module, roots)
        if path is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        trees.append(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in own:
                pending.append(node.module)
                pending += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                pending += [a.name for a in node.names if a.name.split(".")[0] in own]
    return trees


def _definitions(trees: list[ast.Module]) -> dict[str, list[ast.AST]]:
    """name -> the nodes defining it: functions and methods at any depth, classes, and module- or
    class-level names (constants). A function's local variables are not definitions."""
    out: dict[str, list[ast.AST]] = {}

    def add(name: str, node: ast.AST) -> None:
        out.setdefault(name, []).append(node)

    def scope(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        add(target.id, node)
            elif isinstance(node, ast.ClassDef):
                add(node.name, node)
                scope(node.body)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                add(node.name, node)
            elif isinstance(node, ast.If | ast.Try):
                scope(node.body)

    for tree in trees:
        scope(tree.body)
        for node in ast.walk(tree):  # nested functions
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node not in out.get(
                node.name, []
            ):
                add(node.name, node)
    return out


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one definition: not its nested definitions (reached by name), not docstrings,
    and of an f-string only its leading text (what follows the first {} is not a key's start)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
            continue  # a docstring
        yield child
        if isinstance(child, ast.JoinedStr):
            stack.extend(v.value for v in child.values if isinstance(v, ast.FormattedValue))
            continue
        stack.extend(ast.iter_child_nodes(child))


ADAPTERS = LAYER / "rostersync" / "adapters"


def _adapter_methods(logical_id: str) -> dict[int, str]:
    """id(method node) -> its class, for every method of a class defined in rostersync/adapters:
    such a method is reached only once its class is (a `.write(` elsewhere is not the table's)."""
    owners: dict[int, str] = {}
    for path in ADAPTERS.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        owners[_node_key(method)] = node.name
    return owners


def _node_key(node: ast.AST) -> Any:
    return (
        type(node).__name__,
        getattr(node, "name", None),
        node.lineno,
        node.col_offset,
        ast.dump(node)[:200],
    )


def _code_uses(logical_id: str) -> CodeUse:
    """What a function's code can reach from its handler: names called or referenced, resolved by
    name alone (over-approximate), from the handler function through every definition reached;
    a method of an adapter class counts only once the class itself is reached."""
    spec = SPECS[logical_id]
    trees = _closure_trees(logical_id)
    defs = _definitions(trees)
    owners = _adapter_methods(logical_id)
    prefixes: set[str] = set()
    s3: set[str] = set()
    ddb: set[str] = set()
    strings: set[str] = set()
    calls: set[str] = set()
    seen: set[str] = set()
    deferred: dict[str, list[ast.AST]] = {}
    pending: list[str | ast.AST] = [spec.function_name]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            name = item
            if name in seen or (name.startswith("__") and name.endswith("__")):
                continue  # dunders are reached with their class, not by name
            seen.add(name)
            pending += deferred.pop(name, [])
            reached: list[ast.AST] = []
            for definition in defs.get(name, []):
                owner = owners.get(_node_key(definition)) if isinstance(definition, ast.FunctionDef) else None
                if owner is not None and owner not in seen:
                    deferred.setdefault(owner, []).append(definition)
                else:
                    reached.append(definition)
        else:
            reached = [item]
        for definition in reached:
            nodes = list(_own_nodes(definition))
            if isinstance(definition, ast.ClassDef):
                # A class reached: its fields, bases, decorators and constructor; other methods
                # when something names them.
                for method in definition.body:
                    if isinstance(method, ast.FunctionDef) and method.name in ("__init__", "__post_init__"):
                        nodes += list(_own_nodes(method))
            for node in nodes:
                # Only names read: an assignment's target or a field declaration names nothing.
                word = (
                    node.id
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                    else node.attr
                    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                    else None
                )
                if word:
                    pending.append(word)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    calls.add(node.func.attr)
                text = node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    strings.add(text.value)
                    match = _KEY_PREFIX.match(text.value)
                    if (
                        match
                        and match.group(1)[:-1] not in MIME_TYPES
                        and match.group(1) not in NOT_KEY_PREFIXES
                    ):
                        prefixes.add(match.group(1))
    for word in strings | calls:
        s3 |= S3_OPERATIONS.get(word, set())
        if word in DYNAMODB_OPERATIONS:
            ddb.add(DYNAMODB_OPERATIONS[word])
    indexes = {
        i["IndexName"] for i in TEMPLATE["Resources"]["RosterTable"]["Properties"]["GlobalSecondaryIndexes"]
    }
    return CodeUse(frozenset(prefixes), frozenset(s3), frozenset(ddb), frozenset(indexes & strings))


# What each function may do in the raw bucket (key prefix -> actions; "" is the bucket itself)
# and on the roster table, read from the code: test_data_grants_match_what_the_code_calls checks
# the prefixes and actions against a scan of each handler's reachable code, and
# test_the_template_grants_exactly_these_data_actions checks template.yaml against this table.
S3_GRANTS: dict[str, dict[str, set[str]]] = {
    "FetchFunction": {
        "raw/": {"s3:GetObject", "s3:PutObject"},  # pages, manifest, checkpoint (read on resume)
        "state/": {"s3:GetObject", "s3:PutObject"},  # known districts, connection state
        "": {"s3:ListBucket"},  # HEAD of a missing checkpoint or state file: 404, not 403
    },
    "ValidateFunction": {
        "raw/": {"s3:GetObject"},  # manifest, pages
        "validated/": {"s3:PutObject"},  # accepted records, rejected ids, result
        "reports/": {"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"},  # upload_fileobj
        "state/": {"s3:GetObject", "s3:PutObject"},  # alert fingerprint
        "": {"s3:ListBucket"},
    },
    "ImportFunction": {
        "validated/": {"s3:GetObject"},
        "holds/": {"s3:PutObject", "s3:AbortMultipartUpload"},  # read back only by the CLI's release
        "changesets/": {"s3:GetObject", "s3:PutObject"},
        "roster-index/": {"s3:GetObject", "s3:PutObject"},
        "": {"s3:ListBucket"},
    },
    "ReportLinkFunction": {"reports/": {"s3:GetObject"}},  # presigned GETs of report.html
}
DYNAMODB_GRANTS: dict[str, dict[str, set[str]]] = {
    "ImportFunction": {
        "": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:BatchWriteItem",
        },
        "inverted": {"dynamodb:Query"},
    },
}


def _statements(logical_id: str) -> list[dict[str, Any]]:
    out = []
    for policy in SPECS[logical_id].policies:
        out += policy.get("Statement", [])
    return out


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _data_grants(logical_id: str, resource: str) -> dict[str, set[str]]:
    """Actions the function's inline statements allow on `resource` (RawBucket or RosterTable):
    by key prefix (`${RawBucket.Arn}/raw/*` -> "raw/") or index (`.../index/inverted` -> "inverted");
    "" for the bucket or table itself."""
    grants: dict[str, set[str]] = {}
    for statement in _statements(logical_id):
        assert statement["Effect"] == "Allow" and "Condition" not in statement, statement
        for target in _listed(statement["Resource"]):
            if target == {"Fn::GetAtt": [resource, "Arn"]}:
                part = ""
            elif isinstance(target, dict) and "Fn::Sub" in target:
                text = target["Fn::Sub"]
                if not text.startswith(f"${{{resource}.Arn}}/"):
                    continue
                part = text.removeprefix(f"${{{resource}.Arn}}/")
                if resource == "RawBucket":
                    # One prefix, then `*`: never the whole bucket (`/*`), never a wildcard mid-key.
                    assert re.fullmatch(r"[a-z][a-z0-9-]*/\*", part), f"{logical_id}: {text}"
                    part = part.removesuffix("*")
                else:
                    index = re.fullmatch(r"index/([A-Za-z0-9_.-]+)", part)
                    assert index, f"{logical_id}: {text}"
                    part = index.group(1)
            else:
                continue
            grants.setdefault(part, set()).update(_listed(statement["Action"]))
    return grants


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_no_function_gets_a_sam_policy_template_for_s3_or_dynamodb(logical_id: str) -> None:
    """S3CrudPolicy and DynamoDBCrudPolicy grant DeleteObject, PutObjectAcl, Scan, DeleteItem, ...
    on the whole bucket and table; every data grant is an inline statement, checked below."""
    broad = {n for n in _policy_names(SPECS[logical_id].policies) if n.startswith(("S3", "DynamoDB"))}
    assert not broad, f"{logical_id}: {sorted(broad)}"


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_the_template_grants_exactly_these_data_actions(logical_id: str) -> None:
    assert _data_grants(logical_id, "RawBucket") == S3_GRANTS.get(logical_id, {})
    assert _data_grants(logical_id, "RosterTable") == DYNAMODB_GRANTS.get(logical_id, {})


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_data_grants_match_what_the_code_calls(logical_id: str) -> None:
    """The key prefixes written as literals in the code the handler reaches, and the boto3 calls
    it makes, are exactly what S3_GRANTS / DYNAMODB_GRANTS give the function: a prefix or call
    without a grant fails, and so does a grant the code no longer needs."""
    use = _code_uses(logical_id)
    s3 = S3_GRANTS.get(logical_id, {})
    assert set(s3) - {""} == use.prefixes, (
        f"{logical_id}: granted {sorted(s3)}, code uses {sorted(use.prefixes)}"
    )
    granted_s3 = set().union(*s3.values()) if s3 else set()
    assert granted_s3 == use.s3_actions, (
        f"{logical_id}: granted {sorted(granted_s3)}, code needs {sorted(use.s3_actions)}"
    )
    assert s3.get("", set()) <= {"s3:ListBucket"}, "bucket-level grants: ListBucket only"
    assert not ({"s3:ListBucket"} & set().union(set(), *(v for k, v in s3.items() if k))), (
        "ListBucket is on the bucket"
    )
    ddb = DYNAMODB_GRANTS.get(logical_id, {})
    assert ddb.get("", set()) == use.dynamodb_actions, logical_id
    assert set(ddb) - {""} == use.indexes, (
        f"{logical_id}: indexes granted {sorted(ddb)}, queried {sorted(use.indexes)}"
    )
    assert all(actions == {"dynamodb:Query"} for index, actions in ddb.items() if index)


def test_the_code_scan_sees_the_calls_it_must() -> None:
    """The scan itself: if a rename hides the calls from it, the checks above would pass vacuously."""
    fetch, validate, importer, links = (
        _code_uses(i) for i in ("FetchFunction", "ValidateFunction", "ImportFunction", "ReportLinkFunction")
    )
    assert {"raw/", "state/"} <= fetch.prefixes and {"s3:PutObject", "s3:GetObject"} <= fetch.s3_actions
    assert "reports/" in validate.prefixes and "s3:AbortMultipartUpload" in validate.s3_actions
    assert {"dynamodb:BatchWriteItem", "dynamodb:Query"} <= importer.dynamodb_actions
    assert links.prefixes == {"reports/"} and links.s3_actions == {"s3:GetObject"}
