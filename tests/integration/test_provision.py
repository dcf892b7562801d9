"""provision() against a moto server on loopback: the local stack is built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
import pytest

from rostersync.settings import Settings
from rostersync_cli.provision import ProvisionedResources, provision
from rostersync_cli.template import functions, load_template, resolve_environment

pytestmark = pytest.mark.integration

CREDENTIALS = {"client_id": "abc123", "client_secret": "s3cr3t"}


# The moto server and the environment pointing boto3 at it come from conftest.py: `aws_env`
# (ThreadedMotoServer on 127.0.0.1, ephemeral port, fake credentials, werkzeug silenced) and
# `settings` (resource names unique to each test).


def _sorted_indexes(indexes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (
            {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in indexes
        ),
        key=lambda i: i["IndexName"],
    )


def test_provision_twice_builds_the_template_resources(settings: Settings) -> None:
    first = provision(settings, CREDENTIALS)
    second = provision(settings, CREDENTIALS)  # idempotent: nothing raises, same answers
    assert first == second
    assert isinstance(first, ProvisionedResources)

    table_def = load_template()["Resources"]["RosterTable"]["Properties"]

    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=settings.roster_table)["Table"]
    assert table["KeySchema"] == table_def["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        table_def["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert _sorted_indexes(table["GlobalSecondaryIndexes"]) == _sorted_indexes(
        table_def["GlobalSecondaryIndexes"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=settings.roster_table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert ttl["AttributeName"] == "expires_at"
    assert first.roster_table_arn == table["TableArn"]
    assert first.tables == {"RosterTable": settings.roster_table}

    s3 = boto3.client("s3")
    s3.head_bucket(Bucket=settings.raw_bucket)
    assert s3.get_bucket_versioning(Bucket=settings.raw_bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=settings.raw_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_lifecycle_configuration(Bucket=settings.raw_bucket)["Rules"]
    expiring = {r["Filter"]["Prefix"]: r["Expiration"]["Days"] for r in rules if "Expiration" in r}
    # Every prefix that holds student data expires (the template's default retentions, SECURITY.md).
    assert expiring == {"raw/": 30, "validated/": 30, "reports/": 90, "changesets/": 90, "holds/": 180}
    prefixes = {r["Filter"]["Prefix"] for r in rules}
    assert prefixes == {
        "raw/",
        "validated/",
        "reports/",
        "changesets/",
        "holds/",
        "state/",
        "roster-index/",
        "",
    }
    aborting = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert [r["Filter"]["Prefix"] for r in aborting] == [""]  # one bucket-wide rule
    # The TLS-only policy is the template's, for AWS; moto on loopback is plain HTTP, where that
    # policy would deny every request, so provision leaves it out and says so.
    assert any("TLS-only" in note for note in first.skipped)
    s3.put_object(Bucket=settings.raw_bucket, Key="probe", Body=b"writable over plain HTTP")

    sns = boto3.client("sns")
    # ListTopics pages at 100 topics, and the shared moto server holds every test's topics.
    topic_arns = [
        t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]
    ]
    assert first.alert_topic_arn in topic_arns
    assert first.alert_topic_arn == settings.alert_topic_arn
    attributes = sns.get_topic_attributes(TopicArn=first.alert_topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"

    secrets = boto3.client("secretsmanager")
    value = secrets.get_secret_value(SecretId=settings.clever_secret_id)["SecretString"]
    assert json.loads(value) == CREDENTIALS
    # The second run saw the same credentials: no new version.
    versions = secrets.list_secret_version_ids(SecretId=settings.clever_secret_id)["Versions"]
    assert len(versions) == 1


def test_secret_value_only_changes_when_credentials_are_given(settings: Settings) -> None:
    created = provision(settings)  # no credentials: the template's placeholder
    secrets = boto3.client("secretsmanager")
    placeholder = json.loads(secrets.get_secret_value(SecretId=created.clever_secret_arn)["SecretString"])
    assert placeholder["client_id"] == "REPLACE_ME"
    assert placeholder["client_secret"]
    description = secrets.describe_secret(SecretId=settings.clever_secret_id)["Description"]
    assert "client_secret" in description

    provision(settings)  # still none: the value stays
    again = json.loads(secrets.get_secret_value(SecretId=settings.clever_secret_id)["SecretString"])
    assert again == placeholder

    provision(settings, CREDENTIALS)
    stored = json.loads(secrets.get_secret_value(SecretId=settings.clever_secret_id)["SecretString"])
    assert stored == CREDENTIALS


def test_template_environment_resolves_to_the_provisioned_resources(settings: Settings) -> None:
    resources = provision()  # names from the environment (RAW_BUCKET, ROSTER_TABLE, ...)
    assert resources.raw_bucket == settings.raw_bucket
    assert resources.roster_table == settings.roster_table
    assert resources.clever_secret_id == settings.clever_secret_id
    for spec in functions(load_template()).values():
        env = resolve_environment(spec, resources.names())
        assert env["RAW_BUCKET"] == resources.raw_bucket
        assert env["ROSTER_TABLE"] == resources.roster_table
        assert env["ALERT_TOPIC_ARN"] == resources.alert_topic_arn
        assert env["CLEVER_SECRET_ID"] == resources.clever_secret_arn
        # What the functions' Settings would read from that environment is usable as-is.
        settings = Settings.model_validate(env)
        boto3.client("dynamodb").describe_table(TableName=settings.roster_table)
        boto3.client("secretsmanager").describe_secret(SecretId=settings.clever_secret_id)


def test_missing_index_is_added_to_an_existing_table(settings: Settings) -> None:
    table_def = load_template()["Resources"]["RosterTable"]["Properties"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=settings.roster_table,
        KeySchema=table_def["KeySchema"],
        AttributeDefinitions=[
            a for a in table_def["AttributeDefinitions"] if a["AttributeName"] != "state_id"
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    provision(settings)
    table = dynamodb.describe_table(TableName=settings.roster_table)["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"inverted", "by_state_id"}
