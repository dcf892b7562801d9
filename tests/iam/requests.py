"""What IAM authorizes for one recorded AWS call: its actions, resources and condition keys.

An API operation is not always one IAM action on one resource, and this module says which:

- S3: GetObject and HeadObject are `s3:GetObject` on the object's ARN (`arn:aws:s3:::bucket/key`);
  PutObject and the multipart upload's steps `s3:PutObject`; ListObjectsV2 `s3:ListBucket` on the
  bucket with `s3:prefix` (and `s3:delimiter`, `s3:max-keys`). A read of a key that is not there
  answers 404 only to a caller allowed `s3:ListBucket` on the bucket (403 otherwise), so a read
  that found nothing also needs that, without a prefix: S3 documents no prefix for this check.
  A presigned URL is signed with the function's credentials and authorized as that function when
  it is used: it counts as the call it presigns.
- DynamoDB: the table's ARN, or the index's (`table/<t>/index/<i>`) for a Query on an index;
  BatchGetItem and BatchWriteItem one request per table named. Condition keys:
  `dynamodb:LeadingKeys` (the partition key values a request reads or writes),
  `dynamodb:Attributes` (the attributes a read projects or a put writes), `dynamodb:Select`
  (SPECIFIC_ATTRIBUTES when a read projects, ALL_ATTRIBUTES otherwise) and
  `dynamodb:ReturnValues`. An UpdateItem's attributes are not derived (its update expression
  is not parsed): a policy conditioned on `dynamodb:Attributes` for UpdateItem is not checked.
- SNS Publish to a topic encrypted with a customer managed key also needs `kms:GenerateDataKey*`
  and `kms:Decrypt` on that key (`encrypted_topics`): the replay asks for `kms:GenerateDataKey`
  and `kms:Decrypt`.
- Secrets Manager: the secret's ARN as GetSecretValue answered it (a call by name included).
- Step Functions, Lambda: the state machine, execution or function ARN in the request.
- STS GetCallerIdentity needs no permission. Anything else: `<service>:<Operation>` on `*`, which
  only a `*` grant allows (so a new kind of call is reported, never silently passed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.iam.evaluate import Request

NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
NO_PERMISSION_NEEDED = frozenset({("sts", "GetCallerIdentity")})


@dataclass(frozen=True)
class Call:
    """One AWS API call as botocore made it (or presigned it), and who made it."""

    principal: str  # the template's logical id of the role (FetchFunction, NightlyStateMachine, ...)
    service: str  # IAM's prefix: s3, dynamodb, sns, secretsmanager, states, lambda, kms, sts
    operation: str  # the API's name: GetObject, BatchWriteItem, ...
    params: Mapping[str, Any] = field(repr=False, hash=False, compare=False)
    error: str | None = None  # the error code it answered, if any
    answered_arn: str | None = None  # Secrets Manager's ARN in its answer
    presigned: bool = False


@dataclass(frozen=True)
class Stack:
    """What mapping a call needs from the stack: its region and account, the tables' key names,
    and which topics are encrypted with which key."""

    region: str = "us-east-1"
    account: str = "123456789012"
    # (table name, index name or "") -> the hash key attribute.
    hash_keys: Mapping[tuple[str, str], str] = field(default_factory=dict)
    encrypted_topics: Mapping[str, str] = field(default_factory=dict)  # topic ARN -> key ARN
    # (pattern, replacement) applied to every resource: a local name for the stack's (the local
    # engine names each night's state machine uniquely; the stack's is `<stack>-nightly`).
    renames: tuple[tuple[str, str], ...] = ()

    def rename(self, request: Request) -> Request:
        resource = request.resource
        for pattern, replacement in self.renames:
            resource = re.sub(pattern, replacement, resource)
        return request if resource == request.resource else Request(request.action, resource, request.context)

    def table_arn(self, table: str, index: str = "") -> str:
        arn = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table}"
        return f"{arn}/index/{index}" if index else arn


# ------------------------------------------------------------------------------------ S3

_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "ListParts": "s3:ListMultipartUploadParts",
}
_S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}


def _s3(call: Call) -> list[Request]:
    bucket = str(call.params.get("Bucket", ""))
    bucket_arn = f"arn:aws:s3:::{bucket}"
    op = call.operation
    if op in _S3_OBJECT_ACTIONS:
        action = _S3_OBJECT_ACTIONS[op]
        if op in ("GetObject", "HeadObject") and call.params.get("VersionId"):
            action = "s3:GetObjectVersion"
        out = [Request(action, f"{bucket_arn}/{call.params['Key']}")]
        if op in ("GetObject", "HeadObject") and call.error in NOT_FOUND:
            out.append(Request("s3:ListBucket", bucket_arn))
        return out
    if op == "DeleteObjects":
        keys = [o["Key"] for o in call.params.get("Delete", {}).get("Objects", [])]
        return [Request("s3:DeleteObject", f"{bucket_arn}/{k}") for k in keys]
    if op == "CopyObject":
        source = call.params["CopySource"]
        source_arn = (
            f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"
            if isinstance(source, dict)
            else f"arn:aws:s3:::{str(source).lstrip('/').split('?', 1)[0]}"
        )
        return [
            Request("s3:GetObject", source_arn),
            Request("s3:PutObject", f"{bucket_arn}/{call.params['Key']}"),
        ]
    if op in _S3_BUCKET_ACTIONS:
        context: dict[str, str] = {}
        if op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
            context["s3:prefix"] = str(call.params.get("Prefix", ""))
            if "Delimiter" in call.params:
                context["s3:delimiter"] = str(call.params["Delimiter"])
            if "MaxKeys" in call.params:
                context["s3:max-keys"] = str(call.params["MaxKeys"])
        return [Request(_S3_BUCKET_ACTIONS[op], bucket_arn, context)]
    return [_generic(call)]


# ------------------------------------------------------------------------------ DynamoDB

_NAME = re.compile(r"#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*")


def _top_level_names(expression: str, names: Mapping[str, str]) -> list[str]:
    """The top-level attribute names of a projection expression (`a.b`, `c[0]` -> a, c)."""
    out = []
    for path in expression.split(","):
        first = _NAME.match(path.strip())
        if first:
            token = first.group(0)
            out.append(names.get(token, token))
    return out


def _key_value(attribute: Mapping[str, Any]) -> str:
    ((_, value),) = attribute.items()
    return str(value)


def _read_context(params: Mapping[str, Any], leading: list[str]) -> dict[str, Any]:
    context: dict[str, Any] = {"dynamodb:LeadingKeys": leading}
    names = params.get("ExpressionAttributeNames") or {}
    if params.get("ProjectionExpression"):
        context["dynamodb:Attributes"] = _top_level_names(params["ProjectionExpression"], names)
        context["dynamodb:Select"] = "SPECIFIC_ATTRIBUTES"
    elif params.get("AttributesToGet"):
        context["dynamodb:Attributes"] = list(params["AttributesToGet"])
        context["dynamodb:Select"] = "SPECIFIC_ATTRIBUTES"
    else:
        context["dynamodb:Select"] = str(params.get("Select", "ALL_ATTRIBUTES"))
    return context


def _query_leading_keys(params: Mapping[str, Any], hash_key: str) -> list[str]:
    names = params.get("ExpressionAttributeNames") or {}
    values = params.get("ExpressionAttributeValues") or {}
    for name, placeholder in re.findall(
        r"(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)", params["KeyConditionExpression"]
    ):
        if names.get(name, name) == hash_key:
            return [_key_value(values[placeholder])]
    raise ValueError(f"Query: no condition on the hash key {hash_key!r}")


def _dynamodb(call: Call, stack: Stack) -> list[Request]:
    op, params = call.operation, call.params
    action = f"dynamodb:{op}"
    if op in ("BatchGetItem", "BatchWriteItem"):
        out = []
        for table, body in params["RequestItems"].items():
            hash_key = stack.hash_keys.get((table, ""), "pk")
            if op == "BatchGetItem":
                leading = [_key_value(k[hash_key]) for k in body["Keys"]]
                out.append(Request(action, stack.table_arn(table), _read_context(body, leading)))
                continue
            leading, attributes = [], set()
            for write in body:
                if "PutRequest" in write:
                    item = write["PutRequest"]["Item"]
                    leading.append(_key_value(item[hash_key]))
                    attributes |= set(item)
                else:
                    key = write["DeleteRequest"]["Key"]
                    leading.append(_key_value(key[hash_key]))
                    attributes |= set(key)
            context = {"dynamodb:LeadingKeys": leading, "dynamodb:Attributes": sorted(attributes)}
            out.append(Request(action, stack.table_arn(table), context))
        return out
    table = str(params.get("TableName", ""))
    index = str(params.get("IndexName", ""))
    hash_key = stack.hash_keys.get((table, index), "pk")
    resource = stack.table_arn(table, index)
    if op == "GetItem":
        return [Request(action, resource, _read_context(params, [_key_value(params["Key"][hash_key])]))]
    if op == "Query":
        return [Request(action, resource, _read_context(params, _query_leading_keys(params, hash_key)))]
    if op == "Scan":
        return [Request(action, resource, _read_context(params, []))]
    if op == "PutItem":
        item = params["Item"]
        context = {"dynamodb:LeadingKeys": [_key_value(item[hash_key])], "dynamodb:Attributes": sorted(item)}
        if "ReturnValues" in params:
            context["dynamodb:ReturnValues"] = params["ReturnValues"]
        return [Request(action, resource, context)]
    if op in ("UpdateItem", "DeleteItem"):
        context = {"dynamodb:LeadingKeys": [_key_value(params["Key"][hash_key])]}
        if "ReturnValues" in params:
            context["dynamodb:ReturnValues"] = params["ReturnValues"]
        return [Request(action, resource, context)]
    if op in ("TransactWriteItems", "TransactGetItems"):
        raise ValueError(f"{op}: the replay does not map transactions yet")
    return [Request(action, resource)]


# ---------------------------------------------------------------------------------- others


def _generic(call: Call) -> Request:
    return Request(f"{call.service}:{call.operation}", "*")


def requests_for(call: Call, stack: Stack) -> list[Request]:
    """The authorization requests IAM evaluates for one call (none for calls that need none)."""
    return [stack.rename(r) for r in _requests(call, stack)]


def _requests(call: Call, stack: Stack) -> list[Request]:
    if (call.service, call.operation) in NO_PERMISSION_NEEDED:
        return []
    if call.service == "s3":
        return _s3(call)
    if call.service == "dynamodb":
        return _dynamodb(call, stack)
    params = call.params
    if call.service == "sns" and call.operation == "Publish":
        topic = str(params.get("TopicArn") or params.get("TargetArn"))
        out = [Request("sns:Publish", topic)]
        key = stack.encrypted_topics.get(topic)
        if key:
            out += [Request("kms:GenerateDataKey", key), Request("kms:Decrypt", key)]
        return out
    if call.service == "secretsmanager" and call.operation in ("GetSecretValue", "DescribeSecret"):
        secret = str(params["SecretId"])
        arn = call.answered_arn or (
            secret
            if secret.startswith("arn:")
            else f"arn:aws:secretsmanager:{stack.region}:{stack.account}:secret:{secret}"
        )
        return [Request(f"secretsmanager:{call.operation}", arn)]
    if call.service == "states":
        for name in ("stateMachineArn", "executionArn"):
            if name in params:
                return [Request(f"states:{call.operation}", str(params[name]))]
    if call.service == "lambda" and "FunctionName" in params:
        name = str(params["FunctionName"])
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{stack.region}:{stack.account}:function:{name}"
        )
        return [
            Request(
                "lambda:InvokeFunction" if call.operation == "Invoke" else f"lambda:{call.operation}", arn
            )
        ]
    return [_generic(call)]
