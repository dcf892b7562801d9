"""What operating the night on AWS relies on: timeouts, alarms, the dashboard, the alert address,
and the lifecycle of every prefix that holds student data.

Checked on template.yaml and statemachine/nightly.asl.json as written; the timeouts are also run
in moto's engine (tests/integration/test_night_timeouts.py).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from typing import Any

import pytest

from rostersync import layout
from rostersync_cli.template import functions, load_template, resolve, resources_of_type
from tests.paths import REPO

ASL = REPO / "statemachine" / "nightly.asl.json"
TEMPLATE = load_template()
SPECS = functions(TEMPLATE)
PIPELINE = ("FetchFunction", "ValidateFunction", "ImportFunction")
DAY = 24 * 3600


def _definition() -> dict[str, Any]:
    return json.loads(ASL.read_text(encoding="utf-8"))


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state at every level (Map item processors included), by name."""
    out: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        out[name] = state
        if "ItemProcessor" in state:
            out |= _states(state["ItemProcessor"])
    return out


def _invoked_function(state: dict[str, Any]) -> str:
    """The template function a lambda:invoke task calls (its ${...Arn} substitution)."""
    substitutions = resources_of_type(TEMPLATE, "AWS::Serverless::StateMachine")["NightlyStateMachine"][
        "Properties"
    ]["DefinitionSubstitutions"]
    name = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"])
    assert name, state
    return str(substitutions[name.group(1)]["Fn::GetAtt"][0])


# ------------------------------------------------------------------------------ timeouts


def test_the_night_and_every_task_have_a_timeout() -> None:
    definition = _definition()
    night = definition["TimeoutSeconds"]
    # The schedule starts a night every day: a night ends (timed out at worst) before the next.
    assert TEMPLATE["Parameters"]["ScheduleExpression"]["Default"].startswith("cron(0 2 * * ? *")
    assert 0 < night < DAY
    for name, state in _states(definition).items():
        if state["Type"] != "Task":
            continue
        timeout = state.get("TimeoutSeconds")
        assert isinstance(timeout, int) and timeout > 0, name
        if state["Resource"] == "arn:aws:states:::lambda:invoke":
            # Lambda's own timeout ends the invocation first (Sandbox.Timedout, which the import's
            # lease retrier waits on); the task's is for an invocation that never answers at all.
            function_timeout = SPECS[_invoked_function(state)].timeout or 3
            assert function_timeout < timeout <= function_timeout + 120, name
        elif state["Resource"] == "arn:aws:states:::sns:publish":
            assert timeout <= 60, name
        else:
            assert state["Resource"] == "arn:aws:states:::states:startExecution.sync:2", name
            assert timeout < night, name


def _longest_attempts(state: dict[str, Any]) -> int:
    """Seconds one task state may legitimately take: every attempt its retriers allow for errors
    that are not the Lambda service's (those fail fast) at its TimeoutSeconds, plus the waits."""
    seconds, timeout = 0, state["TimeoutSeconds"]
    attempts = 1
    for retrier in state.get("Retry", []):
        if all(e.startswith("Lambda.") and e != "Lambda.Unknown" for e in retrier["ErrorEquals"]):
            continue
        interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
        for attempt in range(retrier.get("MaxAttempts", 3)):
            attempts += 1
            seconds += int(interval * rate**attempt)
    return seconds + attempts * timeout


def _continuations(states: dict[str, Any], choice: str) -> int:
    """The bound a ContinueX? choice puts on a stage's continuations."""
    [rule] = states[choice]["Choices"]
    return int(rule["NumericGreaterThanEquals"])


def test_a_batch_times_out_only_after_one_district_s_longest_legitimate_night() -> None:
    """A batch's timeout ends a batch stuck past any path a district can take (a fetch continued
    20 times, an import continued 10 times, every retry of an invocation that fails, every alert),
    never a district still doing legitimate work. A continuation is an invocation that answered
    (paused), so at most its task's timeout; the one that fails gets every retry."""
    states = _states(_definition())
    fetches = 1 + _continuations(states, "ContinueFetch?")
    imports = 1 + _continuations(states, "ContinueImport?")
    assert (fetches, imports) == (21, 11)
    district = (fetches - 1) * states["Fetch"]["TimeoutSeconds"] + _longest_attempts(states["Fetch"])
    district += _longest_attempts(states["Validate"])
    district += (imports - 1) * states["Import"]["TimeoutSeconds"] + _longest_attempts(states["Import"])
    district += _longest_attempts(states["NotifyDistrictFailed"])
    assert district <= states["SyncBatch"]["TimeoutSeconds"] < _definition()["TimeoutSeconds"], district


def _uncaught_timeouts(definition: dict[str, Any]) -> list[str]:
    """Task states whose States.Timeout no Catch handles (the night-level alert is exempt: its own
    failure fails the execution, which alarms)."""
    out = []
    for name, state in _states(definition).items():
        if state["Type"] != "Task" or name == "NotifyRunFailed":
            continue
        caught = [
            c for c in state.get("Catch", []) if {"States.ALL", "States.Timeout"} & set(c["ErrorEquals"])
        ]
        if not caught:
            out.append(name)
    return out


def test_a_task_that_times_out_is_caught_like_any_other_failure() -> None:
    definition = _definition()
    assert _uncaught_timeouts(definition) == []
    states = _states(definition)
    for name in ("Fetch", "Validate", "Import"):
        [catch] = states[name]["Catch"]
        assert catch["Next"] == "NotifyDistrictFailed"  # one alert, then the district ends
    broken = copy.deepcopy(definition)
    _states(broken)["Import"]["Catch"][0]["ErrorEquals"] = ["States.TaskFailed"]
    assert _uncaught_timeouts(broken) == ["Import"]


# ------------------------------------------------------------------------------ alarms


def _alarms() -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm").items()}


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_every_function_alarms_when_an_invocation_nears_its_timeout(logical_id: str) -> None:
    timeout_ms = (SPECS[logical_id].timeout or 3) * 1000
    [alarm] = [
        a
        for a in _alarms().values()
        if a.get("MetricName") == "Duration"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
    ]
    assert alarm["Namespace"] == "AWS/Lambda" and alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == int(timeout_ms * 0.9)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    # The fetch pauses at its checkpoint before that point: a fetch this long missed it.
    if logical_id == "FetchFunction":
        from rostersync.settings import Settings

        margin = Settings.model_fields["fetch_pause_margin_seconds"].default
        assert timeout_ms - margin * 1000 < alarm["Threshold"]


def _indexes() -> list[str]:
    table = TEMPLATE["Resources"]["RosterTable"]["Properties"]
    return [index["IndexName"] for index in table["GlobalSecondaryIndexes"]]


@pytest.mark.parametrize("metric", ["WriteThrottleEvents", "ReadThrottleEvents"])
def test_the_roster_table_alarms_on_sustained_throttling_of_the_table_and_every_index(metric: str) -> None:
    [alarm] = [
        a
        for a in _alarms().values()
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == metric
            for m in a.get("Metrics", [])
        )
    ]
    queries = {m["Id"]: m for m in alarm["Metrics"]}
    [total] = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    covered = set()
    for query in queries.values():
        if "MetricStat" not in query:
            continue
        stat = query["MetricStat"]
        assert stat["Stat"] == "Sum" and stat["Metric"]["Namespace"] == "AWS/DynamoDB"
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dimensions.pop("TableName") == {"Ref": "RosterTable"}
        covered.add(dimensions.get("GlobalSecondaryIndexName", "table"))
        assert f"FILL({query['Id']}, 0)" in total["Expression"]  # a missing datapoint is no throttle
    assert covered == {"table", *_indexes()}
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # Sustained, not a burst the writer's retries absorb: every period of the last three.
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]


# ------------------------------------------------------------------------------ dashboard

LOCAL_NAMES = {
    "FetchFunction": "fetch-fn",
    "ValidateFunction": "validate-fn",
    "ImportFunction": "import-fn",
    "RosterTable": "roster",
    "NightlyStateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:rostersync-local-nightly",
    "NightlyStateMachineLogGroup": "/aws/vendedlogs/states/rostersync-local-nightly",
}


def _dashboard() -> dict[str, Any]:
    [dashboard] = resources_of_type(TEMPLATE, "AWS::CloudWatch::Dashboard").values()
    body = resolve(TEMPLATE, dashboard["Properties"]["DashboardBody"], LOCAL_NAMES)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _charted(dashboard: dict[str, Any]) -> set[tuple[str, ...]]:
    """(namespace, metric, dimension values...) of every metric a widget charts."""
    out = set()
    for widget in dashboard["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            out.add(tuple(part for part in metric if isinstance(part, str)))
    return out


def test_the_dashboard_shows_districts_by_outcome_stage_durations_and_throttles() -> None:
    dashboard = _dashboard()
    charted = _charted(dashboard)
    # Districts by outcome: the state machine's own log of where each district ended.
    [query] = [w["properties"]["query"] for w in dashboard["widgets"] if w["type"] == "log"]
    assert query.startswith(f"SOURCE '{LOCAL_NAMES['NightlyStateMachineLogGroup']}'")
    assert "'DistrictDone'" in query and "'DistrictFailed'" in query
    states = _states(_definition())
    assert {"DistrictDone", "DistrictFailed"} <= set(states)  # the names the query counts
    # Stage durations.
    for function in PIPELINE:
        assert ("AWS/Lambda", "Duration", "FunctionName", LOCAL_NAMES[function]) in charted
    # Throttles and consumed capacity, table and every index.
    for metric in ("WriteThrottleEvents", "ReadThrottleEvents", "ConsumedWriteCapacityUnits"):
        assert ("AWS/DynamoDB", metric, "TableName", "roster") in charted
        for index in _indexes():
            assert (
                "AWS/DynamoDB",
                metric,
                "TableName",
                "roster",
                "GlobalSecondaryIndexName",
                index,
            ) in charted
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        assert ("AWS/States", metric, "StateMachineArn", LOCAL_NAMES["NightlyStateMachine"]) in charted


# ------------------------------------------------------------------------ the alert address


def _rule_failures(parameters: dict[str, str]) -> list[str]:
    """What CloudFormation's Rules refuse for these parameter values (their AssertDescriptions)."""
    failures = []
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not resolve(TEMPLATE, rule["RuleCondition"], parameters):
            continue
        failures += [
            a["AssertDescription"]
            for a in rule["Assertions"]
            if not resolve(TEMPLATE, a["Assert"], parameters)
        ]
    return failures


def _profile_parameters(profile: str) -> dict[str, str]:
    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = config[profile]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(overrides))


def test_a_prod_stack_without_an_alert_address_is_refused_with_a_clear_message() -> None:
    [message] = _rule_failures({"Stage": "prod", "AlertEmail": ""})
    assert "Stage prod needs AlertEmail" in message and "--parameter-overrides" in message
    assert _rule_failures({"Stage": "prod", "AlertEmail": "support@example.org"}) == []
    assert _rule_failures({"Stage": "dev", "AlertEmail": ""}) == []
    # samconfig.toml's prod profile as written deploys only once an address is given with it.
    prod = _profile_parameters("prod")
    assert prod["Stage"] == "prod"
    if "AlertEmail" not in prod:
        assert _rule_failures(prod) == [message]
    assert _rule_failures(_profile_parameters("default")) == []


def test_the_alert_address_is_one_e_mail_address_or_nothing() -> None:
    pattern = TEMPLATE["Parameters"]["AlertEmail"]["AllowedPattern"]
    for accepted in ("", "support@example.org", "roster-sync+alerts@smartfutures.org"):
        assert re.fullmatch(pattern, accepted), accepted
    for refused in ("support", "a@b", "a@b.org, c@d.org", "support@example.org "):
        assert not re.fullmatch(pattern, refused), refused


# ------------------------------------------------------------------------------ lifecycle

# Every top-level prefix layout.py builds a key under, and whether its current objects expire.
PREFIXES = {
    layout.raw_prefix("d", "r"): True,
    layout.validated_prefix("d", "r"): True,
    layout.report_prefix("d", "r"): True,
    layout.INDEX_KEY: True,
    layout.changeset_key("d", "c"): True,
    layout.hold_prefix("d", "r"): True,
    layout.roster_index_key("d"): False,  # the next diff reads it
    layout.KNOWN_DISTRICTS_KEY: False,  # the state the next night reads
    layout.sync_status_key("d"): False,
    layout.connection_key("d"): False,
    layout.alert_fingerprint_key("d"): False,
}


def _lifecycle() -> dict[str, dict[str, Any]]:
    props = TEMPLATE["Resources"]["RawBucket"]["Properties"]
    return {rule.get("Prefix", ""): rule for rule in props["LifecycleConfiguration"]["Rules"]}


@pytest.mark.parametrize(("key", "expires"), sorted(PREFIXES.items()))
def test_every_prefix_of_the_bucket_has_a_lifecycle(key: str, expires: bool) -> None:
    rules = _lifecycle()
    prefix = key.split("/", 1)[0] + "/"
    rule = rules[prefix]
    assert rule["Status"] == "Enabled"
    # A replaced or deleted version does not outlive the object's own retention.
    assert 1 <= rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 30
    if expires:
        days = rule["ExpirationInDays"]
        parameter = TEMPLATE["Parameters"][days["Ref"]]
        assert parameter["Type"] == "Number" and parameter["Default"] <= 180 and parameter["MinValue"] >= 1
    else:
        assert "ExpirationInDays" not in rule


def test_report_links_outlive_no_report_and_security_md_states_every_retention() -> None:
    rules = _lifecycle()
    reports = TEMPLATE["Parameters"][rules["reports/"]["ExpirationInDays"]["Ref"]]
    from rostersync.report_links import REPORT_LINK_SECONDS

    assert reports["MinValue"] * DAY >= REPORT_LINK_SECONDS
    security = (REPO / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    for prefix, rule in rules.items():
        if not prefix:
            continue
        assert f"`{prefix}" in security, prefix
        if "ExpirationInDays" in rule:
            assert rule["ExpirationInDays"]["Ref"] in security, prefix
