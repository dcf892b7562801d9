"""The identity policies SAM generates for the template's roles, resolved to a stack's names.

SAM turns each `Policies:` entry of an `AWS::Serverless::Function` or `AWS::Serverless::StateMachine`
into statements of the role it creates: an inline `{Statement: [...]}` as written; a policy
template (`SNSPublishMessagePolicy: {TopicName: ...}`) by substituting its parameters into the
template's definition (aws-sam-translator's `policy_templates.json`; the entries used are vendored in
tests/fixtures/sam/, provenance in its README). Intrinsics (`!Ref`, `!GetAtt`, `!Sub`) are then
resolved against the names of a stack (`rostersync_cli.template.Resolver`): locally, the names the
moto stack has.

Left out, on purpose: the managed policies SAM attaches besides (AWSLambdaBasicExecutionRole for
logs, AWSXrayWriteOnlyAccess for tracing) and the dead-letter queue's sqs:SendMessage, which the
Lambda service uses on the function's behalf: the code itself calls none of them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from rostersync_cli.template import Resolver, functions, resource, resources_of_type
from tests.paths import FIXTURES

POLICY_TEMPLATES = FIXTURES / "sam" / "policy_templates.json"
STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"

Statement = dict[str, Any]


class UnknownPolicyTemplate(LookupError):
    """The template uses a SAM policy template whose definition is not vendored."""


@cache
def _policy_templates() -> dict[str, Any]:
    templates: dict[str, Any] = json.loads(POLICY_TEMPLATES.read_text(encoding="utf-8"))["Templates"]
    return templates


def _substitute(value: Any, parameters: Mapping[str, Any]) -> Any:
    """The template's definition with `{"Ref": <its parameter>}` replaced by the value given."""
    if isinstance(value, list):
        return [_substitute(v, parameters) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return copy.deepcopy(parameters[value["Ref"]])
        return {k: _substitute(v, parameters) for k, v in value.items()}
    return value


def expand_policy(policy: Any, owner: str) -> list[Statement]:
    """The statements one `Policies:` entry gives its role, intrinsics still unresolved."""
    if isinstance(policy, str):
        raise UnknownPolicyTemplate(
            f"{owner}: managed policy {policy!r}: the replay knows inline and template policies"
        )
    if not isinstance(policy, dict) or len(policy) != 1:
        raise UnknownPolicyTemplate(f"{owner}: a Policies entry is one mapping, not {policy!r}")
    ((name, body),) = policy.items()
    if name == "Statement":
        return [dict(s) for s in body]
    templates = _policy_templates()
    if name not in templates:
        raise UnknownPolicyTemplate(
            f"{owner}: SAM policy template {name!r} is not in {POLICY_TEMPLATES.name}; vendor its entry"
        )
    definition = templates[name]
    missing = set(definition.get("Parameters") or {}) - set(body or {})
    if missing:
        raise UnknownPolicyTemplate(f"{owner}: {name} needs {sorted(missing)}")
    expanded = _substitute(definition["Definition"], body or {})
    return [{**s, "Sid": s.get("Sid") or f"{name}"} for s in expanded["Statement"]]


def statement_lists(template: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Principal (the function's or state machine's logical id) -> its Policies entries."""
    out = {logical_id: spec.policies for logical_id, spec in functions(template).items()}
    for logical_id in resources_of_type(template, STATE_MACHINE_TYPE):
        policies = (resource(template, logical_id).get("Properties") or {}).get("Policies") or []
        out[logical_id] = policies if isinstance(policies, list) else [policies]
    return out


def role_policies(template: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, list[Statement]]:
    """Every role's statements, resolved against `names` (see `Resolver`)."""
    resolver = Resolver.for_template(template, names)
    out: dict[str, list[Statement]] = {}
    for principal, policies in statement_lists(template).items():
        statements: list[Statement] = []
        for policy in policies:
            for statement in expand_policy(policy, principal):
                statements.append(resolver.resolve(statement))
        out[principal] = statements
    return out
