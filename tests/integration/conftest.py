"""Integration fixtures: the embedded AWS (moto server on loopback), provisioned per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from rostersync.settings import Settings, get_settings
from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import DistrictOutcome, LocalNight
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox


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
        "ONEROSTER_SECRET_ID": f"rostersync/test/oneroster-{suffix}",
        # The moto server outlives a test: each test's tenant secrets under a prefix of its own.
        "ONEROSTER_TENANT_SECRET_PREFIX": f"rostersync/test/oneroster-{suffix}/",
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


def connect_pipeline(monkeypatch: pytest.MonkeyPatch, sandbox: CleverSandbox, **env: str) -> None:
    """Point the pipeline at `sandbox` (plus any extra variables) and provision from template.yaml."""
    for name, value in {
        "CLEVER_API_BASE": sandbox.api_base,
        "CLEVER_OAUTH_BASE": sandbox.oauth_base,
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    resources = provision(
        clever_credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
    )
    for name, value in resources.environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.fixture
def functions(
    aws_env: dict[str, str], sandbox: CleverSandbox, monkeypatch: pytest.MonkeyPatch
) -> LocalFunctions:
    """The pipeline's handlers against the test module's `sandbox` fixture and the moto server."""
    connect_pipeline(monkeypatch, sandbox)
    return LocalFunctions()


def run_night(
    functions: LocalFunctions, district_ids: list[str] | None = None, *, dry_run: bool = False
) -> list[DistrictOutcome]:
    """One night through statemachine/nightly.asl.json (moto's engine, the handlers in process)."""
    return LocalNight(functions).run(district_ids, dry_run=dry_run).outcomes
