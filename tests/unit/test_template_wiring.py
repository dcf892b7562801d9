"""template.yaml's wiring: handlers import, every variable read is set, the state machine is whole."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

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
    "IMPORT_PAUSE_MARGIN_SECONDS",
    "IMPORT_WRITE_CHUNK",
    "ONEROSTER_PAGE_LIMIT",
    "ONEROSTER_CONNECT_TIMEOUT",
    "ONEROSTER_READ_TIMEOUT",
    "ONEROSTER_MAX_RETRIES",
    "ONEROSTER_BACKOFF_FACTOR",
    "ONEROSTER_MAX_RETRY_WAIT",
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
    assert spec.module_path.is_file(), f"{spec.module_path.relative_to(REPO)} is missing"
    assert callable(load_handler(spec))


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_variable_a_function_reads_is_set_for_it(logical_id: str) -> None:
    spec = SPECS[logical_id]
    read = _settings_variables() | _variables_read(LAYER) | _variables_read(spec.code_uri)
    required = read - RUNTIME_VARIABLES - DEFAULTED_TUNING - {v for v in read if v.startswith("POWERTOOLS_")}
    required -= REPORT_LINK_VARIABLES
    # The OneRoster tenants secret and tenant secrets: read by the fetch function alone, and
    # granted to it alone.
    if logical_id != "FetchFunction":
        required -= {"ONEROSTER_SECRET_ID", "ONEROSTER_TENANT_SECRET_PREFIX"}
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
    assert districts["Type"] == "Map" and districts["MaxConcurrencyPath"] == "$.batch.max_concurrency"
    # An INLINE map fails on one failed iteration: every district's path must end in success.
    assert "ToleratedFailurePercentage" not in districts
    for name, state in districts["ItemProcessor"]["States"].items():
        assert state["Type"] != "Fail", name


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


# The adapters that reach AWS resources, and the template resource each one reaches.
ADAPTER_RESOURCES = {
    "S3PageStore": {"RawBucket"},
    "S3ReportLinks": {"RawBucket"},
    "DynamoRosterTable": {"RosterTable"},
    # The topic is encrypted with a customer managed key: publishing needs a data key from it.
    "SnsAlertPublisher": {"AlertTopic", "AlertTopicKey"},
    "clever_credentials": {"CleverSecret"},
    "oneroster_secret": {"OneRosterSecret"},
    # The sources' secrets, read as each registered source's profile builds it (the fetch alone);
    # the tenant secrets are granted by name prefix (no template resource: support creates them).
    "secret_json": {"CleverSecret", "OneRosterSecret"},
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
            # An adapter handed to the callee (a source's profile reads its secret through it).
            names |= {arg.id for arg in call.args if isinstance(arg, ast.Name)}
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
                if statement["Action"] == "secretsmanager:ListSecrets":
                    # IAM scopes ListSecrets to nothing: it answers names and tags, never a value.
                    assert logical_id == "FetchFunction" and statement["Sid"] == "ListTenantSecrets"
                    continue
                assert "*" not in resources, f"{logical_id}: {statement}"
                assert statement["Effect"] == "Allow" and statement["Action"]


def test_the_fetch_reads_the_tenant_secrets_under_its_prefix_only() -> None:
    fetch = SPECS["FetchFunction"]
    prefix = fetch.environment["ONEROSTER_TENANT_SECRET_PREFIX"]
    of_stage = {"Fn::Sub": "rostersync/${Stage}/oneroster/"}
    assert prefix == {"Fn::If": ["StageTenantSecretPrefix", of_stage, {"Ref": "OneRosterTenantSecretPrefix"}]}
    (statement,) = [
        s for p in fetch.policies for s in p.get("Statement", []) if s.get("Sid") == "TenantSecrets"
    ]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    arn, names = statement["Resource"]["Fn::Sub"]
    assert arn.endswith(":secret:${Prefix}*") and names == {"Prefix": prefix}
    for logical_id, spec in SPECS.items():
        if logical_id != "FetchFunction":
            assert "ONEROSTER_TENANT_SECRET_PREFIX" not in spec.environment


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
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric:  # not metric math
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


def test_alerts_that_fail_to_publish_alarm() -> None:
    """record_outcome counts AlertsFailed (namespace RosterSync, dimension service=rostersync, as
    Powertools emits it): an alert that could not be published must not go unnoticed."""
    from rostersync.observability import SERVICE

    alarmed = _alarmed("RosterSync", "AlertsFailed")
    assert alarmed == [SERVICE], alarmed
    (alarm,) = [a for a in _alarms() if a.get("MetricName") == "AlertsFailed"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    assert alarm["Statistic"] == "Sum" and alarm["TreatMissingData"] == "notBreaching"


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


# ------------------------------------------------------------------ DynamoDB actions


def _adapter_operations() -> set[str]:
    """The DynamoDB actions the roster table adapter can call (`self._call("get_item", ...)`)."""
    path = LAYER / "rostersync" / "adapters" / "dynamodb_roster_table.py"
    ops = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "_call"
            and isinstance(node.args[0], ast.Constant)
        ):
            ops.add("dynamodb:" + "".join(part.title() for part in str(node.args[0].value).split("_")))
    return ops


def _table_actions(logical_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in SPECS[logical_id].policies:
        for statement in policy.get("Statement", []):
            if "RosterTable" in _referenced(statement["Resource"]):
                granted = statement["Action"]
                actions |= {granted} if isinstance(granted, str) else set(granted)
    return actions


def test_every_dynamodb_action_granted_is_one_the_adapter_calls() -> None:
    ops = _adapter_operations()
    assert {"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query"} <= ops
    for logical_id in SPECS:
        assert _table_actions(logical_id) <= ops, logical_id


def test_validation_reads_the_roster_by_key_and_never_writes_it() -> None:
    """Validation reads a district's licence by BatchGetItem of named attributes, nothing of other
    districts' students; the index page the same function writes Queries support's PA Secure ID
    conflict lists. Which attributes and partitions: tests/integration/test_iam_replay.py."""
    assert _table_actions("ValidateFunction") == {"dynamodb:BatchGetItem", "dynamodb:Query"}


def _statement(logical_id: str, sid: str) -> dict[str, Any]:
    [statement] = [
        s for p in SPECS[logical_id].policies for s in p.get("Statement", []) if s.get("Sid") == sid
    ]
    return dict(statement)


def test_the_validate_role_may_read_exactly_the_licence_and_the_conflict_lists() -> None:
    """ValidateFunction's BatchGetItem is conditioned on dynamodb:Attributes: the keys plus what the
    licence read projects, no more, no less (never the contacts beside it); its Query only the
    PA Secure ID conflict partitions (ids and dates, no student data)."""
    from rostersync.district_settings import LICENCE_ATTRIBUTES

    reads = _statement("ValidateFunction", "RosterReadsByKey")
    assert reads["Action"] == "dynamodb:BatchGetItem"
    assert set(reads["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == {
        "pk",
        "sk",
        *LICENCE_ATTRIBUTES,
    }
    assert reads["Condition"]["ForAllValues:StringLike"] == {"dynamodb:LeadingKeys": ["CONFIG#*"]}
    assert reads["Condition"]["StringEqualsIfExists"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
    conflicts = _statement("ValidateFunction", "StateIdConflictReads")
    assert conflicts["Action"] == "dynamodb:Query"
    assert conflicts["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["STATEIDCONFLICT#*"]}
    }
