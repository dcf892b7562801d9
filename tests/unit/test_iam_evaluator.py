"""The IAM replay's parts on their own: IAM's evaluation, calls mapped to IAM requests, SAM's
policy templates expanded (tests/iam/; the replay itself: tests/integration/test_iam_replay.py)."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rostersync_cli.template import load_template
from tests.iam.evaluate import PolicyError, Request, evaluate, wildcard_match
from tests.iam.policies import UnknownPolicyTemplate, expand_policy, role_policies
from tests.iam.requests import Call, Stack, requests_for

BUCKET = "arn:aws:s3:::raw"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/roster"


def allow(
    action: Any, resource: Any, condition: dict[str, Any] | None = None, sid: str = ""
) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource}
    return statement | ({"Condition": condition} if condition else {})


# ------------------------------------------------------------------------------ evaluation


def test_nothing_is_allowed_without_a_statement_and_an_explicit_deny_wins() -> None:
    get = Request("s3:GetObject", f"{BUCKET}/raw/d/manifest.json")
    assert evaluate([], get).reason == "no statement allows it"
    granted = [allow("s3:GetObject", f"{BUCKET}/raw/*", sid="Read")]
    assert evaluate(granted, get).reason == "allowed by Read"
    denied = [*granted, {"Sid": "NoRaw", "Effect": "Deny", "Action": "s3:*", "Resource": f"{BUCKET}/raw/*"}]
    decision = evaluate(denied, get)
    assert not decision.allowed and decision.reason == "explicitly denied by NoRaw"


def test_actions_match_without_case_and_resources_with_it() -> None:
    statements = [allow("KMS:GenerateDataKey*", "arn:aws:kms:us-east-1:1:key/K")]
    assert evaluate(statements, Request("kms:GenerateDataKey", "arn:aws:kms:us-east-1:1:key/K")).allowed
    assert not evaluate(statements, Request("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/K")).allowed
    assert not evaluate(statements, Request("kms:GenerateDataKey", "arn:aws:kms:us-east-1:1:key/k")).allowed


def test_a_prefix_grant_does_not_reach_a_sibling_prefix() -> None:
    statements = [allow("s3:PutObject", [f"{BUCKET}/raw/*", f"{BUCKET}/state/*"])]
    assert evaluate(statements, Request("s3:PutObject", f"{BUCKET}/state/known.json")).allowed
    assert not evaluate(statements, Request("s3:PutObject", f"{BUCKET}/reports/d/r/report.html")).allowed
    assert not evaluate(statements, Request("s3:PutObject", f"{BUCKET}/rawish/x")).allowed


def test_not_action_and_not_resource() -> None:
    statements = [{"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": f"{BUCKET}/holds/*"}]
    assert evaluate(statements, Request("s3:GetObject", f"{BUCKET}/raw/x")).allowed
    assert not evaluate(statements, Request("s3:DeleteObject", f"{BUCKET}/raw/x")).allowed
    assert not evaluate(statements, Request("s3:GetObject", f"{BUCKET}/holds/x")).allowed


def test_list_bucket_is_limited_by_its_prefix_condition() -> None:
    statements = [allow("s3:ListBucket", BUCKET, {"StringLike": {"s3:prefix": ["raw/*", "state/"]}})]
    assert evaluate(statements, Request("s3:ListBucket", BUCKET, {"s3:prefix": "raw/d1/"})).allowed
    assert evaluate(statements, Request("s3:ListBucket", BUCKET, {"s3:prefix": "state/"})).allowed
    assert not evaluate(statements, Request("s3:ListBucket", BUCKET, {"s3:prefix": "reports/"})).allowed
    # A ListBucket with no prefix in its context (S3's implicit check behind a 404) fails the condition.
    assert not evaluate(statements, Request("s3:ListBucket", BUCKET)).allowed


@pytest.mark.parametrize(
    ("operator", "context", "expected"),
    [
        ("StringEquals", {}, False),  # a missing key fails a positive operator
        ("StringNotEquals", {}, True),  # and passes a negated one
        ("StringEqualsIfExists", {}, True),
        ("StringEqualsIfExists", {"k": "b"}, False),
        ("ForAllValues:StringEquals", {}, True),  # no values: all of them match
        ("ForAllValues:StringEquals", {"k": ["a", "b"]}, False),
        ("ForAllValues:StringEquals", {"k": ["a", "a"]}, True),
        ("ForAnyValue:StringEquals", {}, False),
        ("ForAnyValue:StringEquals", {"k": ["a", "b"]}, True),
        ("ForAnyValue:StringNotEquals", {"k": ["a", "b"]}, True),
        ("ForAllValues:StringNotEquals", {"k": ["c"]}, True),
        ("StringLike", {"k": "abc"}, False),
        ("StringEquals", {"k": ["b", "a"]}, True),
    ],
)
def test_condition_operators_treat_missing_and_multivalued_keys_as_iam_does(
    operator: str, context: dict[str, Any], expected: bool
) -> None:
    statements = [allow("dynamodb:GetItem", TABLE, {operator: {"k": "a"}})]
    assert evaluate(statements, Request("dynamodb:GetItem", TABLE, context)).allowed is expected


def test_null_checks_whether_a_key_is_there() -> None:
    present = [allow("dynamodb:Query", TABLE, {"Null": {"dynamodb:Attributes": "false"}})]
    assert evaluate(present, Request("dynamodb:Query", TABLE, {"dynamodb:Attributes": ["pk"]})).allowed
    assert not evaluate(present, Request("dynamodb:Query", TABLE)).allowed
    absent = [allow("dynamodb:Query", TABLE, {"Null": {"dynamodb:Attributes": "true"}})]
    assert evaluate(absent, Request("dynamodb:Query", TABLE)).allowed


def test_an_operator_it_does_not_know_is_an_error_not_a_pass() -> None:
    statements = [
        allow("s3:GetObject", "*", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    ]
    with pytest.raises(PolicyError, match="DateGreaterThan"):
        evaluate(statements, Request("s3:GetObject", f"{BUCKET}/x"))
    with pytest.raises(PolicyError, match="Effect is 'Permit'"):
        evaluate([{"Effect": "Permit", "Action": "*", "Resource": "*"}], Request("s3:GetObject", "x"))


@given(
    st.text(alphabet="ab*?/", max_size=8),
    st.text(alphabet="ab/", max_size=8),
)
def test_wildcards_are_fnmatch_without_brackets(pattern: str, value: str) -> None:
    assert wildcard_match(pattern, value) == fnmatch.fnmatchcase(value, pattern)


# -------------------------------------------------------------------------------- requests

STACK = Stack(
    hash_keys={("roster", ""): "pk", ("roster", "inverted"): "sk"},
    encrypted_topics={
        "arn:aws:sns:us-east-1:123456789012:alerts": "arn:aws:kms:us-east-1:123456789012:key/K"
    },
    renames=((r"stateMachine:night-\w+", "stateMachine:stack-nightly"),),
)


def _only(call: Call) -> Request:
    [request] = requests_for(call, STACK)
    return request


def test_s3_calls_are_object_and_bucket_requests() -> None:
    get = _only(Call("FetchFunction", "s3", "GetObject", {"Bucket": "raw", "Key": "raw/d/checkpoint.json"}))
    assert (get.action, get.resource) == ("s3:GetObject", f"{BUCKET}/raw/d/checkpoint.json")
    listing = _only(Call("F", "s3", "ListObjectsV2", {"Bucket": "raw", "Prefix": "state/", "MaxKeys": 10}))
    assert (listing.action, listing.resource) == ("s3:ListBucket", BUCKET)
    assert listing.context == {"s3:prefix": "state/", "s3:max-keys": "10"}
    part = _only(Call("F", "s3", "UploadPart", {"Bucket": "raw", "Key": "holds/d/r/archive.csv"}))
    assert part.action == "s3:PutObject"


def test_a_read_that_found_nothing_also_needs_list_bucket() -> None:
    head = Call(
        "ImportFunction", "s3", "HeadObject", {"Bucket": "raw", "Key": "roster-index/d.json"}, error="404"
    )
    assert [(r.action, r.resource) for r in requests_for(head, STACK)] == [
        ("s3:GetObject", f"{BUCKET}/roster-index/d.json"),
        ("s3:ListBucket", BUCKET),
    ]
    denied = Call("I", "s3", "GetObject", {"Bucket": "raw", "Key": "k"}, error="AccessDenied")
    assert len(requests_for(denied, STACK)) == 1


def test_dynamodb_requests_carry_the_table_or_index_and_their_keys() -> None:
    query = _only(
        Call(
            "ImportFunction",
            "dynamodb",
            "Query",
            {
                "TableName": "roster",
                "IndexName": "inverted",
                "KeyConditionExpression": "#s = :sk",
                "ExpressionAttributeNames": {"#s": "sk"},
                "ExpressionAttributeValues": {":sk": {"S": "STUDENT#s1"}},
                "ProjectionExpression": "pk, sk",
            },
        )
    )
    assert query.resource == f"{TABLE}/index/inverted"
    assert query.context["dynamodb:LeadingKeys"] == ["STUDENT#s1"]
    assert query.context["dynamodb:Attributes"] == ["pk", "sk"]
    batch = Call(
        "ValidateFunction",
        "dynamodb",
        "BatchGetItem",
        {
            "RequestItems": {
                "roster": {
                    "Keys": [{"pk": {"S": "STATEID#1"}, "sk": {"S": "HOLDER"}}],
                    "ProjectionExpression": "#a0, #a1, #a2",
                    "ExpressionAttributeNames": {"#a0": "pk", "#a1": "sk", "#a2": "district_id"},
                }
            }
        },
    )
    request = _only(batch)
    assert request.context == {
        "dynamodb:LeadingKeys": ["STATEID#1"],
        "dynamodb:Attributes": ["pk", "sk", "district_id"],
        "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
    }
    whole = _only(Call("V", "dynamodb", "GetItem", {"TableName": "roster", "Key": {"pk": {"S": "CONFIG#d"}}}))
    assert whole.context == {"dynamodb:LeadingKeys": ["CONFIG#d"], "dynamodb:Select": "ALL_ATTRIBUTES"}


def test_other_services_name_their_resource() -> None:
    publish = Call("F", "sns", "Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"})
    assert [r.action for r in requests_for(publish, STACK)] == [
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ]
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:link-key-AbCdEf"
    secret = _only(Call("V", "secretsmanager", "GetSecretValue", {"SecretId": "link-key"}, answered_arn=arn))
    assert secret.resource == arn
    start = _only(
        Call(
            "M",
            "states",
            "StartExecution",
            {"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:night-ab12"},
        )
    )
    assert start.resource == "arn:aws:states:us-east-1:1:stateMachine:stack-nightly"
    assert requests_for(Call("O", "sts", "GetCallerIdentity", {}), STACK) == []
    unknown = _only(Call("F", "cloudwatch", "PutMetricData", {}))
    assert (unknown.action, unknown.resource) == ("cloudwatch:PutMetricData", "*")


# -------------------------------------------------------------------------------- policies


def test_sam_policy_templates_expand_as_sam_expands_them() -> None:
    names = {
        "AlertTopic.TopicName": "alerts",
        "FetchFunction": "rostersync-FetchFunction",
        "RawBucket.Arn": BUCKET,
        "AlertTopicKey.Arn": "arn:aws:kms:us-east-1:123456789012:key/K",
        "CleverSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:clever-AbCdEf",
        "OneRosterSecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:oneroster-AbCdEf",
    }
    [statement] = expand_policy({"SNSPublishMessagePolicy": {"TopicName": "alerts"}}, "FetchFunction")
    assert statement["Action"] == ["sns:Publish"]
    fetch = role_policies(load_template(), names | _unused_names())["FetchFunction"]
    publish = [s for s in fetch if s["Sid"] == "SNSPublishMessagePolicy"]
    assert publish[0]["Resource"] == "arn:aws:sns:us-east-1:123456789012:alerts"
    secrets = [s["Resource"] for s in fetch if s["Sid"] == "AWSSecretsManagerGetSecretValuePolicy"]
    assert secrets == [names["CleverSecret"], names["OneRosterSecret"]]
    assert any(s.get("Sid") == "RawPagesAndState" and f"{BUCKET}/raw/*" in s["Resource"] for s in fetch)


def _unused_names() -> dict[str, str]:
    """Names the other roles' policies refer to (their values do not matter here)."""
    return {
        "RosterTable.Arn": TABLE,
        "ReportLinkKeySecret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:link-AbCdEf",
        "ValidateFunction": "rostersync-ValidateFunction",
        "ImportFunction": "rostersync-ImportFunction",
    }


def test_a_policy_template_that_is_not_vendored_is_an_error() -> None:
    with pytest.raises(UnknownPolicyTemplate, match=r"'S3CrudPolicy' is not in policy_templates\.json"):
        expand_policy({"S3CrudPolicy": {"BucketName": "raw"}}, "FetchFunction")
    with pytest.raises(UnknownPolicyTemplate, match=r"needs \['TopicName'\]"):
        expand_policy({"SNSPublishMessagePolicy": {}}, "FetchFunction")
    with pytest.raises(UnknownPolicyTemplate, match="managed policy"):
        expand_policy("AWSLambdaExecute", "FetchFunction")
