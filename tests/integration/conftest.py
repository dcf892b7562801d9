"""Integration fixtures: the embedded AWS (moto server on loopback), provisioned per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from rostersync.settings import Settings, get_settings
from rostersync_cli.embedded import EmbeddedAws


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as aws:
        yield aws


@pytest.fixture
def aws_env(embedded_aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Point boto3 at the moto server, with resource names unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        **embedded_aws.environment(),
        "RAW_BUCKET": f"raw-{suffix}",
        "ROSTER_TABLE": f"roster-{suffix}",
        "ALERT_TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:alerts-{suffix}",
        "CLEVER_SECRET_ID": f"rostersync/test/{suffix}",
        "CLEVER_BACKOFF_FACTOR": "0.01",
        "CLEVER_MAX_RATE_LIMIT_WAIT": "3",
        "CLEVER_READ_TIMEOUT": "2",
        "CLEVER_CONNECT_TIMEOUT": "2",
        "POWERTOOLS_METRICS_NAMESPACE": "RosterSync",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture
def settings(aws_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture
def raw_bucket(settings: Settings) -> str:
    boto3.client("s3").create_bucket(Bucket=settings.raw_bucket)
    return settings.raw_bucket
