"""Create the pipeline's AWS resources in whatever endpoint boto3 points at, from template.yaml.

Locally (and in the tests) that is a moto server reached through AWS_ENDPOINT_URL. The
resources are *named* by the env-driven Settings (RAW_BUCKET, ROSTER_TABLE, ALERT_TOPIC_ARN's
topic name, CLEVER_SECRET_ID) and *defined* by template.yaml: key schemas, indexes, TTL,
bucket protections and the like are read from the template, never restated here, so the local
stack and the cloud stack cannot drift apart.

Idempotent: what exists is left alone, apart from settings that are cheap and safe to (re)apply
(bucket configuration, table TTL/PITR, missing GSIs, the secret's value when credentials are
given).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rostersync.settings import Settings, get_settings
from rostersync_cli.template import Resolver, load_template, resource, resources_of_type

BUCKET_ID = "RawBucket"
TABLE_ID = "RosterTable"
TOPIC_ID = "AlertTopic"
SECRET_ID = "CleverSecret"  # noqa: S105 - a logical id, not a secret
ONEROSTER_SECRET = "OneRosterSecret"  # noqa: S105 - a logical id, not a secret
REPORT_LINK_SECRET = "ReportLinkKeySecret"  # noqa: S105 - a logical id, not a secret
REPORT_LINK_URL_ATT = "ReportLinkFunctionUrl.FunctionUrl"
TOPIC_KEY_ID = "AlertTopicKey"
LOCAL_TOPIC_KEY = "alias/aws/sns"

_NOT_IMPLEMENTED_CODES = {"NotImplemented", "NotImplementedException", "InternalError", "500"}


class ProvisionError(RuntimeError):
    """An existing resource cannot be made to match the template (e.g. a different key schema)."""


@dataclass(frozen=True)
class ProvisionedResources:
    """What `provision` made or found: names and ARNs, plus the template ids they stand for."""

    raw_bucket: str
    raw_bucket_arn: str
    roster_table: str
    roster_table_arn: str
    alert_topic_arn: str
    clever_secret_id: str
    clever_secret_arn: str
    oneroster_secret_arn: str = ""
    # Every DynamoDB table of the template: logical id -> table name (RosterTable included).
    tables: dict[str, str] = field(default_factory=dict)
    # Template settings the endpoint did not accept (moto lacking an API); informational.
    skipped: list[str] = field(default_factory=list)
    # Not provisioned locally (see report_link_names): empty URL = S3 presigned links in alerts.
    report_link_base_url: str = ""
    report_link_secret_id: str = "rostersync/report-link-key"  # noqa: S105 - a secret's name

    @property
    def alert_topic_name(self) -> str:
        return self.alert_topic_arn.rsplit(":", 1)[-1]

    def names(self) -> dict[str, str]:
        """What `!Ref` / `!GetAtt` give for each template resource, for `resolve_environment`."""
        names = {
            BUCKET_ID: self.raw_bucket,
            f"{BUCKET_ID}.Arn": self.raw_bucket_arn,
            f"{BUCKET_ID}.DomainName": f"{self.raw_bucket}.s3.amazonaws.com",
            TABLE_ID: self.roster_table,
            f"{TABLE_ID}.Arn": self.roster_table_arn,
            TOPIC_ID: self.alert_topic_arn,
            f"{TOPIC_ID}.TopicArn": self.alert_topic_arn,
            f"{TOPIC_ID}.TopicName": self.alert_topic_name,
            SECRET_ID: self.clever_secret_arn,
            f"{SECRET_ID}.Id": self.clever_secret_arn,
            ONEROSTER_SECRET: self.oneroster_secret_arn,
        }
        names |= {
            REPORT_LINK_URL_ATT: self.report_link_base_url,
            REPORT_LINK_SECRET: self.report_link_secret_id,
        }
        for logical_id, table_name in self.tables.items():
            names.setdefault(logical_id, table_name)
        return names

    def environment(self) -> dict[str, str]:
        """The variables Settings reads, pointing at these resources."""
        return {
            "RAW_BUCKET": self.raw_bucket,
            "ROSTER_TABLE": self.roster_table,
            "ALERT_TOPIC_ARN": self.alert_topic_arn,
            "CLEVER_SECRET_ID": self.clever_secret_arn,
            "ONEROSTER_SECRET_ID": self.oneroster_secret_arn,
        }


def report_link_names(settings: Settings) -> dict[str, str]:
    """The report-link function's URL and key secret as the functions' environment names them.

    Not provisioned locally: REPORT_LINK_BASE_URL stays what the environment says (empty by
    default), so local alerts carry plain S3 presigned links and the key secret is never read.
    """
    return {
        REPORT_LINK_URL_ATT: settings.report_link_base_url,
        REPORT_LINK_SECRET: settings.report_link_secret_id,
    }


def provision(
    settings: Settings | None = None,
    clever_credentials: dict[str, Any] | None = None,
    *,
    oneroster_tenants: dict[str, Any] | None = None,
    template: Mapping[str, Any] | None = None,
    template_path: Path | str | None = None,
    session: boto3.session.Session | None = None,
) -> ProvisionedResources:
    """Create (or bring up to date) the bucket, tables, topic and secret the pipeline uses.

    `clever_credentials` (`{"client_id": ..., "client_secret": ...}`) becomes the secret's
    value; without them a new secret gets the template's placeholder and an existing one is
    left as it is. `oneroster_tenants` (`{"tenants": [...]}`) likewise becomes the OneRoster
    secret's value (the template's `{"tenants": []}` otherwise).
    """
    settings = settings or get_settings()
    template = template if template is not None else load_template(template_path)
    session = session or boto3.session.Session()
    skipped: list[str] = []

    topic_name = settings.alert_topic_arn.rsplit(":", 1)[-1]
    # Names known before anything exists (enough to resolve the template's properties).
    names: dict[str, str] = {
        BUCKET_ID: settings.raw_bucket,
        f"{BUCKET_ID}.Arn": f"arn:aws:s3:::{settings.raw_bucket}",
        TABLE_ID: settings.roster_table,
        TOPIC_ID: settings.alert_topic_arn,
        f"{TOPIC_ID}.TopicName": topic_name,
        SECRET_ID: settings.clever_secret_id,
        ONEROSTER_SECRET: settings.oneroster_secret_id,
        # The topic's customer managed key is not made locally; moto's topic takes the AWS one.
        TOPIC_KEY_ID: LOCAL_TOPIC_KEY,
    }
    resolver = Resolver.for_template(template, names)

    bucket_arn = _provision_bucket(session, template, resolver, settings.raw_bucket, skipped)
    tables = _provision_tables(session, template, resolver, settings.roster_table, skipped)
    topic_arn = _provision_topic(session, template, resolver, topic_name)
    secret_arn = _provision_secret(session, template, resolver, settings.clever_secret_id, clever_credentials)
    oneroster_arn = _provision_secret(
        session,
        template,
        resolver,
        settings.oneroster_secret_id,
        oneroster_tenants,
        logical_id=ONEROSTER_SECRET,
    )

    return ProvisionedResources(
        raw_bucket=settings.raw_bucket,
        raw_bucket_arn=bucket_arn,
        roster_table=settings.roster_table,
        roster_table_arn=tables[TABLE_ID][1],
        alert_topic_arn=topic_arn,
        clever_secret_id=settings.clever_secret_id,
        clever_secret_arn=secret_arn,
        oneroster_secret_arn=oneroster_arn,
        tables={logical_id: name for logical_id, (name, _arn) in tables.items()},
        skipped=skipped,
        report_link_base_url=settings.report_link_base_url,
        report_link_secret_id=settings.report_link_secret_id,
    )


# ------------------------------------------------------------------------------ helpers


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _optional(skipped: list[str], what: str, call: Callable[..., Any], **kwargs: Any) -> None:
    """Apply a setting the endpoint may not implement (moto); record it as skipped if so."""
    try:
        call(**kwargs)
    except ClientError as error:
        if _error_code(error) not in _NOT_IMPLEMENTED_CODES:
            raise
        skipped.append(what)


def _properties(template: Mapping[str, Any], logical_id: str, resolver: Resolver) -> dict[str, Any]:
    props = resolver.resolve(resource(template, logical_id).get("Properties") or {})
    return dict(props)


# ----------------------------------------------------------------------------------- S3


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """An AWS::S3::Bucket lifecycle Rule (CloudFormation shape) in the S3 API's shape."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    out["Filter"] = {"Prefix": rule.get("Prefix", "")}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    noncurrent = rule.get("NoncurrentVersionExpiration")
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {
            key: int(value)
            for key, value in noncurrent.items()
            if key in {"NoncurrentDays", "NewerNoncurrentVersions"}
        }
    elif "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _provision_bucket(
    session: boto3.session.Session,
    template: Mapping[str, Any],
    resolver: Resolver,
    bucket: str,
    skipped: list[str],
) -> str:
    s3 = session.client("s3")
    props = _properties(template, BUCKET_ID, resolver)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        region = s3.meta.region_name
        create: dict[str, Any] = {"Bucket": bucket}
        if region and region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        if "OwnershipControls" in props:
            create["ObjectOwnership"] = props["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
        try:
            s3.create_bucket(**create)
        except ClientError as create_error:  # a concurrent provision got there first
            if _error_code(create_error) != "BucketAlreadyOwnedByYou":
                raise

    # Cheap, idempotent puts: (re)applied on every run so the bucket follows the template.
    if "PublicAccessBlockConfiguration" in props:
        _optional(
            skipped,
            "RawBucket.PublicAccessBlockConfiguration",
            s3.put_public_access_block,
            Bucket=bucket,
            PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"],
        )
    if "BucketEncryption" in props:
        # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSideEncryptionByDefault.
        rules = [
            {
                (
                    "ApplyServerSideEncryptionByDefault" if key == "ServerSideEncryptionByDefault" else key
                ): value
                for key, value in rule.items()
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        _optional(
            skipped,
            "RawBucket.BucketEncryption",
            s3.put_bucket_encryption,
            Bucket=bucket,
            ServerSideEncryptionConfiguration={"Rules": rules},
        )
    if "VersioningConfiguration" in props:
        status = props["VersioningConfiguration"]["Status"]
        _optional(
            skipped,
            "RawBucket.VersioningConfiguration",
            s3.put_bucket_versioning,
            Bucket=bucket,
            VersioningConfiguration={"Status": status},
        )
    if "OwnershipControls" in props:
        ownership = props["OwnershipControls"]
        _optional(
            skipped,
            "RawBucket.OwnershipControls",
            s3.put_bucket_ownership_controls,
            Bucket=bucket,
            OwnershipControls=ownership,
        )
    if "LifecycleConfiguration" in props:
        lifecycle = [_lifecycle_rule(rule) for rule in props["LifecycleConfiguration"]["Rules"]]
        _optional(
            skipped,
            "RawBucket.LifecycleConfiguration",
            s3.put_bucket_lifecycle_configuration,
            Bucket=bucket,
            LifecycleConfiguration={"Rules": lifecycle},
        )
    for logical_id, policy in resources_of_type(template, "AWS::S3::BucketPolicy").items():
        policy_props = resolver.resolve(policy.get("Properties") or {})
        if policy_props.get("Bucket") != bucket:
            continue
        if _denies_plain_http(policy_props["PolicyDocument"]) and s3.meta.endpoint_url.startswith("http://"):
            # A local endpoint (moto on loopback) speaks plain HTTP: a TLS-only policy, which
            # moto enforces, would deny every request. The template keeps it for AWS.
            skipped.append(f"{logical_id}: TLS-only policy not applied to a plain-HTTP endpoint")
            continue
        document = json.dumps(policy_props["PolicyDocument"])
        _optional(skipped, logical_id, s3.put_bucket_policy, Bucket=bucket, Policy=document)
    return f"arn:aws:s3:::{bucket}"


def _denies_plain_http(document: Mapping[str, Any]) -> bool:
    return "aws:SecureTransport" in json.dumps(document)


# ----------------------------------------------------------------------------- DynamoDB


def table_definition(table_props: Mapping[str, Any], table_name: str) -> dict[str, Any]:
    """`create_table` arguments from an AWS::DynamoDB::Table's (resolved) Properties."""
    billing = table_props.get("BillingMode", "PROVISIONED")
    args: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": table_props["KeySchema"],
        "AttributeDefinitions": table_props["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = _throughput(table_props.get("ProvisionedThroughput"))
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if table_props.get(key):
            args[key] = [_index_definition(index, billing) for index in table_props[key]]
    if key_ := table_props.get("SSESpecification"):
        sse: dict[str, Any] = {"Enabled": bool(key_.get("SSEEnabled", False))}
        if "SSEType" in key_:
            sse["SSEType"] = key_["SSEType"]
        if "KMSMasterKeyId" in key_:
            sse["KMSMasterKeyId"] = key_["KMSMasterKeyId"]
        args["SSESpecification"] = sse
    if stream := table_props.get("StreamSpecification"):
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if "DeletionProtectionEnabled" in table_props:
        args["DeletionProtectionEnabled"] = bool(table_props["DeletionProtectionEnabled"])
    if "TableClass" in table_props:
        args["TableClass"] = table_props["TableClass"]
    if table_props.get("Tags"):
        args["Tags"] = table_props["Tags"]
    return args


def _throughput(spec: Mapping[str, Any] | None) -> dict[str, int]:
    spec = spec or {}
    return {
        "ReadCapacityUnits": int(spec.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(spec.get("WriteCapacityUnits", 5)),
    }


def _index_definition(index: Mapping[str, Any], billing: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index["Projection"],
    }
    if billing == "PROVISIONED" and "ProvisionedThroughput" in index:
        out["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return out


def _table_name(logical_id: str, props: Mapping[str, Any], roster_table: str) -> str:
    if logical_id == TABLE_ID:
        return roster_table
    if isinstance(props.get("TableName"), str):
        return str(props["TableName"])
    return f"rostersync-{logical_id.removesuffix('Table').lower() or 'table'}"


def _provision_tables(
    session: boto3.session.Session,
    template: Mapping[str, Any],
    resolver: Resolver,
    roster_table: str,
    skipped: list[str],
) -> dict[str, tuple[str, str]]:
    """Every AWS::DynamoDB::Table in the template; logical id -> (name, arn)."""
    dynamodb = session.client("dynamodb")
    out: dict[str, tuple[str, str]] = {}
    for logical_id in resources_of_type(template, "AWS::DynamoDB::Table"):
        props = _properties(template, logical_id, resolver)
        name = _table_name(logical_id, props, roster_table)
        definition = table_definition(props, name)
        try:
            description = dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            try:
                dynamodb.create_table(**definition)
            except ClientError as create_error:
                if _error_code(create_error) != "ResourceInUseException":
                    raise
            dynamodb.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            description = dynamodb.describe_table(TableName=name)["Table"]
        else:
            _reconcile_table(dynamodb, name, description, definition)

        if ttl := props.get("TimeToLiveSpecification"):
            _apply_ttl(dynamodb, name, ttl, skipped, logical_id)
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        if pitr is not None:
            _optional(
                skipped,
                f"{logical_id}.PointInTimeRecoverySpecification",
                dynamodb.update_continuous_backups,
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(pitr)},
            )
        out[logical_id] = (name, str(description["TableArn"]))
    return out


def _reconcile_table(
    dynamodb: Any, name: str, description: Mapping[str, Any], definition: Mapping[str, Any]
) -> None:
    """An existing table: refuse a different key schema, add GSIs the template has and it lacks."""
    if _key_set(description["KeySchema"]) != _key_set(definition["KeySchema"]):
        raise ProvisionError(
            f"table {name} exists with key schema {description['KeySchema']}, "
            f"template says {definition['KeySchema']}; a key schema cannot change in place"
        )
    existing = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes") or []}
    attributes = {a["AttributeName"]: a for a in definition["AttributeDefinitions"]}
    for index in definition.get("GlobalSecondaryIndexes") or []:
        if index["IndexName"] in existing:
            continue
        create: dict[str, Any] = {k: v for k, v in index.items() if k != "ProvisionedThroughput"}
        if definition["BillingMode"] == "PROVISIONED":
            create["ProvisionedThroughput"] = index.get("ProvisionedThroughput") or _throughput(None)
        # One index per UpdateTable call, as DynamoDB requires.
        dynamodb.update_table(
            TableName=name,
            AttributeDefinitions=[attributes[k["AttributeName"]] for k in index["KeySchema"]],
            GlobalSecondaryIndexUpdates=[{"Create": create}],
        )


def _key_set(key_schema: list[Mapping[str, Any]]) -> set[tuple[str, str]]:
    return {(str(k["AttributeName"]), str(k["KeyType"])) for k in key_schema}


def _apply_ttl(dynamodb: Any, name: str, ttl: Mapping[str, Any], skipped: list[str], logical_id: str) -> None:
    wanted = bool(ttl.get("Enabled", False))
    attribute = str(ttl["AttributeName"])
    current = dynamodb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    is_on = current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}
    if is_on == wanted and (not wanted or current.get("AttributeName") == attribute):
        return
    _optional(
        skipped,
        f"{logical_id}.TimeToLiveSpecification",
        dynamodb.update_time_to_live,
        TableName=name,
        TimeToLiveSpecification={"Enabled": wanted, "AttributeName": attribute},
    )


# ---------------------------------------------------------------------------------- SNS


def _provision_topic(
    session: boto3.session.Session, template: Mapping[str, Any], resolver: Resolver, topic_name: str
) -> str:
    """The alert topic (subscriptions are not made locally: nobody reads a local e-mail)."""
    sns = session.client("sns")
    props = _properties(template, TOPIC_ID, resolver)
    attributes: dict[str, str] = {
        key: str(props[key]) for key in ("DisplayName", "KmsMasterKeyId", "FifoTopic") if key in props
    }
    if props.get("FifoTopic") in {True, "true"}:
        attributes["FifoTopic"] = "true"
    # CreateTopic is idempotent for the same name and attributes; with other attributes
    # (changed template) AWS refuses, so an existing topic is found first and updated instead.
    existing = _find_topic(sns, topic_name)
    if existing is None:
        return str(sns.create_topic(Name=topic_name, Attributes=attributes)["TopicArn"])
    current = sns.get_topic_attributes(TopicArn=existing)["Attributes"]
    for key, value in attributes.items():
        if key != "FifoTopic" and current.get(key) != value:
            sns.set_topic_attributes(TopicArn=existing, AttributeName=key, AttributeValue=value)
    return existing


def _find_topic(sns: Any, topic_name: str) -> str | None:
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if str(topic["TopicArn"]).rsplit(":", 1)[-1] == topic_name:
                return str(topic["TopicArn"])
    return None


# ------------------------------------------------------------------------ Secrets Manager


def _placeholder_secret(generate: Mapping[str, Any]) -> str:
    """What CloudFormation's GenerateSecretString would store: the template plus a random key."""
    body: dict[str, Any] = json.loads(generate.get("SecretStringTemplate") or "{}")
    alphabet = string.ascii_letters + string.digits
    length = int(generate.get("PasswordLength", 32))
    generated = "".join(secrets.choice(alphabet) for _ in range(length))
    if "GenerateStringKey" in generate:
        body[str(generate["GenerateStringKey"])] = generated
        return json.dumps(body)
    return generated


def _provision_secret(
    session: boto3.session.Session,
    template: Mapping[str, Any],
    resolver: Resolver,
    secret_id: str,
    credentials: Mapping[str, Any] | None,
    *,
    logical_id: str = SECRET_ID,
) -> str:
    client = session.client("secretsmanager")
    props = _properties(template, logical_id, resolver)
    value = json.dumps(dict(credentials)) if credentials is not None else None
    try:
        described = client.describe_secret(SecretId=secret_id)
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
    else:
        if value is not None and _current_value(client, secret_id) != value:
            client.put_secret_value(SecretId=secret_id, SecretString=value)
        return str(described["ARN"])

    create: dict[str, Any] = {"Name": secret_id}
    if props.get("Description"):
        create["Description"] = str(props["Description"])
    if value is not None:
        create["SecretString"] = value
    elif "SecretString" in props:
        create["SecretString"] = str(props["SecretString"])
    elif "GenerateSecretString" in props:
        create["SecretString"] = _placeholder_secret(props["GenerateSecretString"])
    return str(client.create_secret(**create)["ARN"])


def _current_value(client: Any, secret_id: str) -> str | None:
    try:
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    except ClientError as error:
        if _error_code(error) != "ResourceNotFoundException":
            raise
        return None
    except KeyError:  # a binary secret
        return None
