"""The IAM replay (issue 23): every AWS call of local nights, checked against the template's roles.

moto enforces no IAM, so nothing else proves that the roles SAM generates from template.yaml let
the code do what it does. Here the nights run as everywhere else (statemachine/nightly.asl.json in
moto's engine, the handlers in process, the Clever and OneRoster sandboxes over HTTP), every call
is recorded at botocore's entry point and charged to the role that makes it (tests/iam/recorder.py),
and each is evaluated as IAM would against that role's statements, resources and S3 prefixes
and DynamoDB condition keys included (tests/iam/). Then copies of the template with a grant
removed or a prefix narrowed are replayed against the same calls: the check reports the denial.

The nights: a first night of three Clever districts (two share students who moved) and a
ClassLink district, the report links signed as deployed; a night on which one district's licence
drops a school, so its import holds the archive, and the ClassLink district's step fails; the
operator's release of that hold and status reads (the CLI, with an operator's credentials:
recorded, not checked, the template defines no operator role); a night on which a ClassLink
student leaves and a Clever district stops sharing; a report link answered by the report-link
function.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.district_settings import apply
from rostersync.layout import report_key
from rostersync.operations import district_status, run_releases, run_status
from rostersync.report_links import LinkClaims, sign
from rostersync.settings import get_settings
from rostersync.wiring import roster_table
from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.local_functions import LocalFunctions, local_function_arn
from rostersync_cli.nightly import LocalNight, Night
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from rostersync_cli.template import load_template, resources_of_type
from tests.iam.evaluate import Request, evaluate
from tests.iam.policies import role_policies
from tests.iam.recorder import OPERATOR, STATE_MACHINE, CallRecorder
from tests.iam.replay import checked_calls, denials, report
from tests.iam.requests import Call, Stack, requests_for

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

LICENSED = DistrictSpec("Greene Replay SD", seed=9231, schools=2, students=24, teachers=4, sections=4)
OTHER = DistrictSpec("Huntingdon Replay SD", seed=9232, schools=1, students=12, teachers=2, sections=2)
# Two of OTHER's students moved here and both districts share them: from the second night one of
# the two is warned, which reads the other district's students and name (state_ids.py).
JOINED = DistrictSpec(
    "Mifflin Replay SD",
    seed=9233,
    schools=1,
    students=10,
    teachers=2,
    sections=2,
    moved_from=9232,
    moved_in=2,
)
CLASSLINK = TenantSpec("4299231", "Forest ClassLink Replay SD", seed=41, schools=2, students_per_school=8)
REPORT_LINK_BASE = "https://replay.lambda-url.us-east-1.on.aws/"
# The local stand-in for AlertTopicKey (locally the topic uses the AWS managed key).
TOPIC_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000023"
STACK_NAME = "rostersync-local"


@dataclass
class Replay:
    calls: list[Call]
    names: dict[str, str]
    stack: Stack
    nights: list[Night]


def _names(resources: Any, link_secret_arn: str) -> dict[str, str]:
    """What !Ref and !GetAtt give in the local stack: provisioned names, local function ARNs."""
    names = resources.names()
    names |= {"ReportLinkKeySecret": link_secret_arn, "AlertTopicKey.Arn": TOPIC_KEY_ARN}
    names |= {"ReportLinkFunctionUrl.FunctionUrl": REPORT_LINK_BASE, "AWS::StackName": STACK_NAME}
    for logical_id in resources_of_type(load_template(), "AWS::Serverless::Function"):
        names[logical_id] = local_function_arn(logical_id).rsplit(":", 1)[1]
        names[f"{logical_id}.Arn"] = local_function_arn(logical_id)
    return names


def _stack(names: dict[str, str]) -> Stack:
    """Key names of the roster table and its indexes (from the template), the encrypted topic, and
    the state machine's stack name in place of the unique name each local night gets."""
    table = load_template()["Resources"]["RosterTable"]["Properties"]
    hash_keys = {(names["RosterTable"], ""): _hash_key(table["KeySchema"])}
    for index in table["GlobalSecondaryIndexes"]:
        hash_keys[(names["RosterTable"], index["IndexName"])] = _hash_key(index["KeySchema"])
    return Stack(
        hash_keys=hash_keys,
        encrypted_topics={names["AlertTopic"]: TOPIC_KEY_ARN},
        renames=(
            (r"(stateMachine|execution):rostersync-nightly-[0-9a-f]{8}\b", rf"\1:{STACK_NAME}-nightly"),
        ),
    )


def _hash_key(schema: list[dict[str, str]]) -> str:
    return next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH")


def _licence(nces_ids: list[str]) -> None:
    table = roster_table()
    try:
        apply(table, LICENSED.id, by="replay", now="2026-12-05T07:00:00Z", licensed=nces_ids)
    finally:
        table.close()


class _OutOfTimeSoon(LocalLambdaContext):
    """Time for two deadline checks, then 5 s left: the fetch pauses and the state machine
    invokes it again to continue from its checkpoint."""

    def __init__(self) -> None:
        super().__init__(function_name="rostersync-FetchFunction")
        self.checks = 2

    def get_remaining_time_in_millis(self) -> int:
        self.checks -= 1
        return 600_000 if self.checks >= 0 else 5_000


def _out_of_time_once(districts: set[str]) -> Any:
    def wrapper(handler: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            ids = event.get("district_ids") or []
            if not event.get("resume") and len(ids) == 1 and ids[0] in districts:
                districts.discard(ids[0])
                context = _OutOfTimeSoon()
            return handler(event, context)

        return run

    return wrapper


def _fails_for(districts: set[str]) -> Any:
    def wrapper(handler: Any) -> Any:
        def run(event: dict[str, Any], context: Any) -> Any:
            if event.get("district_id") in districts:
                raise RuntimeError("the replay's injected failure")
            return handler(event, context)

        return run

    return wrapper


def _a_student_leaves(classlink: OneRosterSandbox) -> None:
    """An imported student, with enrollments, is no longer shared."""
    data = classlink.data[CLASSLINK.district_id]
    table = roster_table()
    try:
        enrolled = next(
            e["user"]["sourcedId"]
            for e in data["enrollments"]
            if e["role"] == "student"
            and (
                table.get_item(f"DISTRICT#{CLASSLINK.district_id}", f"STUDENT#{e['user']['sourcedId']}") or {}
            ).get("status")
            == "active"
        )
    finally:
        table.close()
    data["users"] = [u for u in data["users"] if u["sourcedId"] != enrolled]
    data["demographics"] = [d for d in data["demographics"] if d["sourcedId"] != enrolled]
    data["enrollments"] = [e for e in data["enrollments"] if e["user"]["sourcedId"] != enrolled]


def _answer_a_report_link(functions: LocalFunctions, night: Night, key: bytes) -> dict[str, Any]:
    run_id = night.districts[OTHER.id].stages["validate"]["run_id"]
    token = sign(LinkClaims.for_report_key(report_key(OTHER.id, run_id), int(time.time()) + 3600), key)
    request = {
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": f"t={token}",
        "queryStringParameters": {"t": token},
        "requestContext": {"http": {"method": "GET", "path": "/"}},
        "isBase64Encoded": False,
    }
    return dict(functions.invoke("ReportLinkFunction", request))


@pytest.fixture(scope="module")
def replay(embedded_aws: EmbeddedAws) -> Iterator[Replay]:
    suffix = uuid.uuid4().hex[:8]
    with (
        pytest.MonkeyPatch.context() as env,
        CleverSandbox(SandboxConfig(districts=(LICENSED, OTHER, JOINED))) as clever,
        OneRosterSandbox([CLASSLINK]) as classlink,
    ):
        for name, value in {
            **embedded_aws.environment(),
            "RAW_BUCKET": f"raw-{suffix}",
            "ROSTER_TABLE": f"roster-{suffix}",
            "ALERT_TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:alerts-{suffix}",
            "CLEVER_SECRET_ID": f"rostersync/replay/{suffix}",
            "ONEROSTER_SECRET_ID": f"rostersync/replay/oneroster-{suffix}",
            "CLEVER_API_BASE": clever.api_base,
            "CLEVER_OAUTH_BASE": clever.oauth_base,
            "POWERTOOLS_TRACE_DISABLED": "true",
            # Report links as deployed: signed with the key secret, answered by the function.
            "REPORT_LINK_BASE_URL": REPORT_LINK_BASE,
            "REPORT_LINK_SECRET_ID": f"rostersync/replay/report-link-key-{suffix}",
        }.items():
            env.setenv(name, value)
        get_settings.cache_clear()
        link_key = secrets.token_urlsafe(48)
        link_secret_arn = boto3.client("secretsmanager").create_secret(
            Name=get_settings().report_link_secret_id, SecretString=link_key
        )["ARN"]
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret},
            oneroster_tenants=classlink.secret_value(),
        )
        for name, value in resources.environment().items():
            env.setenv(name, value)
        get_settings.cache_clear()
        parameters.clear_caches()
        data = clever.district(LICENSED.id)
        schools = [data.school(k)["nces_id"] for k in range(LICENSED.schools)]
        try:
            with CallRecorder() as recorder:
                local = LocalFunctions()
                functions = recorder.functions(local)
                failing: set[str] = set()
                local.wrap("ValidateFunction", _fails_for(failing))
                local.wrap("FetchFunction", _out_of_time_once({OTHER.id}))  # continues from its checkpoint
                _licence(schools)
                nights = [LocalNight(functions).run()]
                _licence(schools[:1])  # a school leaves the licence: its records would go: held
                failing.add(CLASSLINK.district_id)  # a step fails: the state machine alerts sync_failed
                nights.append(LocalNight(functions).run())
                failing.clear()
                run_releases([LICENSED.id])
                run_status(LICENSED.id, 5)
                district_status(OTHER.id, nights[0].districts[OTHER.id].run_id)
                _a_student_leaves(classlink)  # archived tonight (below the safeguard), sections too
                clever.revoke(OTHER.id)  # the district stops sharing: the fetch alerts
                nights.append(LocalNight(functions).run())
                answered = _answer_a_report_link(local, nights[0], link_key.encode())
        finally:
            get_settings.cache_clear()
            parameters.clear_caches()
        assert answered["statusCode"] == 302, answered
        names = _names(resources, link_secret_arn)
        yield Replay(recorder.calls, names, _stack(names), nights)


def _policies(replay: Replay, template: dict[str, Any] | None = None) -> dict[str, Any]:
    return role_policies(template if template is not None else load_template(), replay.names)


# --------------------------------------------------------------------------------- the replay


def test_the_nights_ran_every_path_the_replay_claims(replay: Replay) -> None:
    first, held, after = replay.nights
    assert (first.status, held.status, after.status) == ("SUCCEEDED", "FAILED", "SUCCEEDED")
    assert set(first.districts) == {LICENSED.id, OTHER.id, JOINED.id, CLASSLINK.district_id}
    assert held.districts[CLASSLINK.district_id].alerted_failure
    assert first.districts[OTHER.id].fetch_invocations == 2  # paused, continued from its checkpoint
    # The districts that share moved students: the import's PA Secure ID registry reads their ids.
    registry_reads = [
        k
        for c in replay.calls
        if c.principal == "ImportFunction" and c.operation == "BatchGetItem"
        for body in c.params["RequestItems"].values()
        for k in body["Keys"]
        if str(k["pk"]["S"]).startswith("STATEID#")
    ]
    assert registry_reads
    assert OTHER.id not in after.districts
    assert {o.fetch.get("source") for o in first.outcomes} == {"clever", "oneroster"}
    assert held.districts[LICENSED.id].stages["import"]["status"] == "held"
    assert after.districts[LICENSED.id].stages["import"]["status"] == "succeeded"
    left = after.districts[CLASSLINK.district_id].stages["import"]
    assert left["status"] == "succeeded" and left["counts"]["STUDENT"]["archived"] == 1, str(
        left["counts"]["STUDENT"]
    )
    by = {c.principal for c in replay.calls}
    assert {"FetchFunction", "ValidateFunction", "ImportFunction", "ReportLinkFunction"} <= by
    assert {STATE_MACHINE, OPERATOR} <= by
    operations = {(c.principal, c.service, c.operation) for c in replay.calls}
    for expected in [
        ("FetchFunction", "secretsmanager", "GetSecretValue"),
        ("ValidateFunction", "secretsmanager", "GetSecretValue"),  # the report-link key
        ("ValidateFunction", "dynamodb", "BatchGetItem"),  # the licence
        ("ValidateFunction", "dynamodb", "Query"),  # the index page's PA Secure ID conflicts
        ("ImportFunction", "dynamodb", "BatchGetItem"),  # the PA Secure ID registry
        ("ImportFunction", "dynamodb", "BatchWriteItem"),
        ("ImportFunction", "dynamodb", "Query"),
        ("ImportFunction", "sns", "Publish"),
        (STATE_MACHINE, "lambda", "Invoke"),
        (STATE_MACHINE, "states", "StartExecution"),
        (STATE_MACHINE, "sns", "Publish"),  # sync_failed
        ("FetchFunction", "sns", "Publish"),  # district_disconnected
        ("ReportLinkFunction", "secretsmanager", "GetSecretValue"),
    ]:
        assert expected in operations, expected
    resumed = [
        c
        for c in replay.calls
        if c.principal == "FetchFunction"
        and c.operation == "GetObject"
        and c.params["Key"].endswith("/checkpoint.json")
    ]
    assert resumed and all(str(c.params["Key"]).startswith(f"raw/{OTHER.id}/") for c in resumed)
    presigned = [c for c in replay.calls if c.presigned]
    assert {c.principal for c in presigned} == {"ReportLinkFunction"}
    holds = [
        c for c in replay.calls if c.operation == "PutObject" and str(c.params["Key"]).startswith("holds/")
    ]
    assert holds and {c.principal for c in holds} == {"ImportFunction"}


def test_every_call_of_the_nights_is_allowed_by_its_role(replay: Replay) -> None:
    found = denials(replay.calls, _policies(replay), replay.stack)
    assert not found, report(found)


# ------------------------------------------------------------------------- the check can fail


def _without(template: dict[str, Any], principal: str, match: Any) -> dict[str, Any]:
    """A copy of the template without what `match` picks of `principal`'s Policies: a policy
    template entry (`match(policy)`), or one statement of an inline policy (`match(statement)`)."""
    copied = copy.deepcopy(template)
    properties = copied["Resources"][principal]["Properties"]
    kept: list[Any] = []
    removed = 0
    for policy in properties["Policies"]:
        if "Statement" in policy:
            statements = [s for s in policy["Statement"] if not match(s)]
            removed += len(policy["Statement"]) - len(statements)
            if statements:
                kept.append({"Statement": statements})
        elif match(policy):
            removed += 1
        else:
            kept.append(policy)
    assert removed == 1, f"{removed} grants of {principal} matched"
    properties["Policies"] = kept
    return copied


def _sid(sid: str) -> Any:
    return lambda entry: entry.get("Sid") == sid


def _template_policy(name: str, parameter: str, logical_id: str) -> Any:
    return lambda policy: str((policy.get(name) or {}).get(parameter)).find(logical_id) >= 0


@pytest.mark.parametrize(
    ("principal", "match", "expected"),
    [
        (
            "ImportFunction",
            _sid("ReadValidated"),
            r"ImportFunction: s3:GetObject on arn:aws:s3:::raw-\w+/validated/",
        ),
        (
            "FetchFunction",
            _sid("RawPagesAndState"),
            r"FetchFunction: s3:PutObject on arn:aws:s3:::raw-\w+/raw/",
        ),
        (
            "FetchFunction",
            _template_policy("AWSSecretsManagerGetSecretValuePolicy", "SecretArn", "OneRosterSecret"),
            r"FetchFunction: secretsmanager:GetSecretValue on arn:aws:secretsmanager:.*oneroster",
        ),
        (
            "ValidateFunction",
            _sid("RosterReadsByKey"),
            r"ValidateFunction: dynamodb:BatchGetItem on arn:aws:dynamodb:",
        ),
        ("ImportFunction", _sid("EncryptAlerts"), r"ImportFunction: kms:GenerateDataKey on " + TOPIC_KEY_ARN),
        (
            "ImportFunction",
            _sid("RosterTableInvertedIndex"),
            r"ImportFunction: dynamodb:Query on .*/index/inverted",
        ),
        (
            "ReportLinkFunction",
            _sid("ReadReports"),
            r"ReportLinkFunction: s3:GetObject on .*/reports/.*report\.html",
        ),
        (
            STATE_MACHINE,
            _template_policy("LambdaInvokePolicy", "FunctionName", "ValidateFunction"),
            r"NightlyStateMachine: lambda:InvokeFunction on .*function:rostersync-ValidateFunction",
        ),
        (
            STATE_MACHINE,
            _sid("StartBatchExecutions"),
            r"NightlyStateMachine: states:StartExecution on .*:stateMachine:rostersync-local-nightly",
        ),
    ],
)
def test_a_removed_grant_is_reported_as_a_denial(
    replay: Replay, principal: str, match: Any, expected: str
) -> None:
    template = _without(load_template(), principal, match)
    found = [str(d) for d in denials(replay.calls, _policies(replay, template), replay.stack)]
    assert any(re.match(expected, d) for d in found), report_lines(found)


def report_lines(found: list[str]) -> str:
    return "denials found:\n" + "\n".join(found[:20])


def _narrowed(template: dict[str, Any], principal: str, sid: str, old: str, new: str) -> dict[str, Any]:
    copied = copy.deepcopy(template)
    for policy in copied["Resources"][principal]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == sid:
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                narrowed = [{"Fn::Sub": r["Fn::Sub"].replace(old, new)} for r in resources]
                assert narrowed != resources, f"{sid}: {old} is not in its resources"
                statement["Resource"] = narrowed
                return copied
    raise AssertionError(f"{principal} has no statement {sid}")


@pytest.mark.parametrize(
    ("principal", "sid", "old", "new", "expected"),
    [
        # raw/ to the pages alone: the manifest and the checkpoint are refused.
        (
            "FetchFunction",
            "RawPagesAndState",
            "/raw/*",
            "/raw/*/pages/*",
            r"FetchFunction: s3:PutObject on .*/raw/",
        ),
        (
            "ValidateFunction",
            "Reports",
            "/reports/*",
            "/reports/*/findings.csv",
            r"ValidateFunction: s3:PutObject on .*/reports/",
        ),
        (
            "ImportFunction",
            "WriteHolds",
            "/holds/*",
            "/holds/*/archive.csv",
            r"ImportFunction: s3:PutObject on .*/holds/.*archive\.json",
        ),
    ],
)
def test_a_narrowed_prefix_is_reported_as_a_denial(
    replay: Replay, principal: str, sid: str, old: str, new: str, expected: str
) -> None:
    template = _narrowed(load_template(), principal, sid, old, new)
    found = [str(d) for d in denials(replay.calls, _policies(replay, template), replay.stack)]
    assert any(re.match(expected, d) for d in found), report_lines(found)


def test_a_denial_names_the_function_action_and_resource_and_no_student_data(replay: Replay) -> None:
    template = _without_table_grants(load_template(), "ImportFunction")
    found = denials(replay.calls, _policies(replay, template), replay.stack)
    text = report(found)
    assert (
        "ImportFunction: dynamodb:BatchGetItem on arn:aws:dynamodb:us-east-1:123456789012:table/roster-"
        in text
    )
    assert "no statement allows it" in text
    # The PA Secure IDs the registry reads name are student data: never in the report.
    state_ids = {
        str(k["pk"]["S"]).removeprefix("STATEID#")
        for c in replay.calls
        if c.operation == "BatchGetItem"
        for body in c.params["RequestItems"].values()
        for k in body["Keys"]
        if str(k["pk"]["S"]).startswith("STATEID#")
    }
    assert state_ids and not any(s in text for s in state_ids)
    assert "STATEID#…" in text
    assert LICENSED.name not in text and CLASSLINK.name not in text


def _without_table_grants(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A copy of the template whose function has no grant on the roster table."""
    changed = copy.deepcopy(template)
    properties = changed["Resources"][logical_id]["Properties"]
    properties["Policies"] = [
        p for p in properties["Policies"] if "RosterTable" not in json.dumps(p, default=str)
    ]
    assert len(properties["Policies"]) < len(template["Resources"][logical_id]["Properties"]["Policies"])
    return changed


def test_the_operator_calls_are_left_out_of_the_check(replay: Replay) -> None:
    checked = checked_calls(replay.calls)
    assert checked and all(c.principal != OPERATOR for c in checked)
    operator = [c for c in replay.calls if c.principal == OPERATOR]
    # The release (the CLI's, with an operator's credentials) archived through the table.
    assert any(c.service == "dynamodb" and c.operation == "UpdateItem" for c in operator)


def _grants(template: dict[str, Any]) -> list[tuple[str, int, int | None, str]]:
    """(principal, policy index, statement index or None, label) for every grant of every role."""
    out = []
    for principal in [*resources_of_type(template, "AWS::Serverless::Function"), STATE_MACHINE]:
        for p, policy in enumerate(template["Resources"][principal]["Properties"]["Policies"]):
            if "Statement" in policy:
                out += [(principal, p, s, st.get("Sid", f"#{s}")) for s, st in enumerate(policy["Statement"])]
            else:
                ((name, args),) = policy.items()
                out.append((principal, p, None, f"{name}({json.dumps(args, sort_keys=True)})"))
    return out


def _removed(template: dict[str, Any], principal: str, p: int, s: int | None) -> dict[str, Any]:
    copied = copy.deepcopy(template)
    policies = copied["Resources"][principal]["Properties"]["Policies"]
    if s is None:
        del policies[p]
    else:
        del policies[p]["Statement"][s]
    return copied


def test_every_grant_is_needed_by_a_call_of_the_nights(replay: Replay) -> None:
    """Least privilege, measured: each grant removed alone makes a call of the nights denied,
    except the grants listed in UNEXERCISED (with why the replay cannot exercise them)."""
    template = load_template()
    unused = []
    for principal, p, s, label in _grants(template):
        if not denials(replay.calls, _policies(replay, _removed(template, principal, p, s)), replay.stack):
            unused.append(f"{principal}: {label}")
    assert sorted(unused) == sorted(UNEXERCISED), "\n".join(unused)


# Grants for what the services do on the role's behalf, which no botocore call of ours shows.
UNEXERCISED = {
    "NightlyStateMachine: BatchExecutionEvents": "the managed EventBridge rule Step Functions "
    "itself puts to learn that a startExecution.sync:2 batch ended",
    "NightlyStateMachine: StateMachineLogDelivery": "CloudWatch Logs delivery of the execution "
    "history, set up by Step Functions at deploy time",
}


# ------------------------------------------------------------- the validate role's narrow reads


def _validate_reads(replay: Replay, template: dict[str, Any] | None = None) -> Any:
    statements = _policies(replay, template)["ValidateFunction"]
    table = replay.stack.table_arn(replay.names["RosterTable"])

    def allowed(leading: list[str], attributes: list[str] | None) -> bool:
        context: dict[str, Any] = {"dynamodb:LeadingKeys": leading}
        if attributes is None:
            context["dynamodb:Select"] = "ALL_ATTRIBUTES"
        else:
            context |= {"dynamodb:Attributes": attributes, "dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
        return evaluate(statements, Request("dynamodb:BatchGetItem", table, context)).allowed

    return allowed


def test_the_validate_role_reads_only_the_attributes_it_checks(replay: Replay) -> None:
    reads = [
        r
        for c in replay.calls
        if c.principal == "ValidateFunction" and c.service == "dynamodb"
        for r in requests_for(c, replay.stack)
    ]
    # What the nights read: the licence by key (licensed_schools alone), and support's PA Secure ID
    # conflict lists by Query (ids and dates). Nothing of any district's students.
    by_key = [r for r in reads if r.action == "dynamodb:BatchGetItem"]
    listed = [r for r in reads if r.action == "dynamodb:Query"]
    assert by_key and listed and len(by_key) + len(listed) == len(reads)
    assert {a for r in by_key for a in r.context["dynamodb:Attributes"]} == {"pk", "sk", "licensed_schools"}
    assert {str(k).split("#", 1)[0] for r in by_key for k in r.context["dynamodb:LeadingKeys"]} == {"CONFIG"}
    assert {str(k).split("#", 1)[0] for r in listed for k in r.context["dynamodb:LeadingKeys"]} == {
        "STATEIDCONFLICT"
    }
    allowed = _validate_reads(replay)
    licence, student = ["CONFIG#d1"], ["DISTRICT#d1"]
    assert allowed(licence, ["pk", "sk", "licensed_schools"])
    # The contacts beside the licence, the whole settings item, any student, another partition: denied.
    assert not allowed(licence, ["pk", "sk", "contacts"]) and not allowed(licence, None)
    for attribute in ("status", "state_id", "first_name", "last_name", "birth_date", "email"):
        assert not allowed(student, ["pk", "sk", attribute]), attribute
    assert not allowed(["STATEID#1234567890"], ["pk", "sk"])
    assert not allowed(["RUN#d1"], ["pk", "sk", "status"])
    assert not allowed(["CONFIG#d1", "HOLD#d1"], ["pk", "sk"])
    # The conditions are what refuses them: the same grant without them would allow all of it.
    unconditioned = copy.deepcopy(load_template())
    for policy in unconditioned["Resources"]["ValidateFunction"]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []):
            if statement.get("Sid") == "RosterReadsByKey":
                del statement["Condition"]
    loose = _validate_reads(replay, unconditioned)
    assert loose(student, ["pk", "sk", "first_name"]) and loose(student, None)
