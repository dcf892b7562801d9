"""template.yaml's wiring: handlers import, every variable read is set, the state machine is whole."""

from __future__ import annotations

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
}
_ENV_READ = re.compile(
    r"""(?:os\.environ(?:\.get)?\s*[\[(]|os\.getenv\s*\(|environ\.setdefault\s*\()\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def _variables_read(directory: Path) -> set[str]:
    return {
        m for path in directory.rglob("*.py") for m in _ENV_READ.findall(path.read_text(encoding="utf-8"))
    }


def _settings_variables() -> set[str]:
    return {str(field.alias) for field in Settings.model_fields.values() if field.alias}


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
    assert required, "the scan found nothing: the regex or the layout changed"
    missing = required - set(spec.environment)
    assert not missing, f"{logical_id} reads {sorted(missing)} but template.yaml does not set them"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} <= set(spec.environment)


def _policy_names(policies: list[Any]) -> set[str]:
    return {next(iter(p)) for p in policies if isinstance(p, dict)}


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_a_function_that_alerts_may_publish_to_the_alert_topic(logical_id: str) -> None:
    spec = SPECS[logical_id]
    code = "".join(p.read_text(encoding="utf-8") for p in spec.code_uri.rglob("*.py"))
    if "SnsAlertPublisher" not in code:
        pytest.skip(f"{logical_id} publishes no alerts")
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


def test_the_nightly_schedule_starts_the_state_machine_with_bounded_concurrency() -> None:
    props = _machine()
    (event,) = props["Events"].values()
    assert event["Type"] == "ScheduleV2"
    assert props["DefinitionSubstitutions"]["MaxConcurrency"] == {"Ref": "MaxConcurrency"}
    assert TEMPLATE["Parameters"]["MaxConcurrency"]["MaxValue"] <= 40
