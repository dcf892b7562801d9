"""Tenants that scale (issue 24, Build 3): one secret per OneRoster tenant, under a name prefix.

300 tiny districts, each with a secret of its own (`<ONEROSTER_TENANT_SECRET_PREFIX><district id>`,
the value one tenant entry, as `rostersync tenant add` writes it), are listed (ListSecrets, more
than one page) and synced in one night through the real state machine (LocalNight: moto's
engine, the handlers in process, the OneRoster sandbox over HTTP). One of them is malformed (its
base_url lacks the OneRoster path): that district alone fails, with one `sync_failed` alert that
names it, its provider and the rule, and never its credentials; the 299 others import.

The night takes minutes on two shared cores (about 1 s a district through the state machine:
three handlers, the moto server and the sandbox in one process), so this module is in the slow
suite (`make test-all`); the discovery of the same 300 secrets, without the night, is not
(tests/integration/test_tenant_cli.py). TENANT_NIGHT_SIZE=30 runs a smaller night by hand.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.integration.alert_inbox import AlertInbox
from tests.integration.conftest import connect_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TENANTS = int(os.environ.get("TENANT_NIGHT_SIZE", "300"))
CLEVER = DistrictSpec("Elk Clever SD", seed=9301, schools=1, students=2, teachers=1, sections=1)
SPECS = [
    TenantSpec(
        f"42{n:05d}",
        f"Tenant {n} SD",
        seed=n,
        schools=1,
        students_per_school=1,
        teachers_per_school=1,
        gaps=False,
        habits=False,
        auth="oauth2" if n % 3 == 0 else "oauth1",
        version="1.2" if n % 5 == 0 else "1.1",
    )
    for n in range(TENANTS)
]
BROKEN = SPECS[137 % TENANTS].district_id
SECRET_MARK = "sandbox-secret-"


@pytest.fixture
def tenant_world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[OneRosterSandbox]:
    with (
        CleverSandbox(SandboxConfig(districts=(CLEVER,))) as clever,
        OneRosterSandbox(SPECS) as oneroster,
    ):
        connect_pipeline(monkeypatch, clever, ONEROSTER_BACKOFF_FACTOR="0.01")
        prefix = get_settings().oneroster_tenant_secret_prefix
        client = boto3.client("secretsmanager")
        for n, entry in enumerate(oneroster.secret_value()["tenants"]):
            district = entry["district_id"]
            if n % 2:  # the name says the district; the value may leave it out
                del entry["district_id"]
            if district == BROKEN:
                entry["base_url"] = entry["base_url"].split("/ims/")[0]  # the bare server address
                entry["provider"] = "Infinite Campus"
            client.create_secret(Name=f"{prefix}{district}", SecretString=json.dumps(entry))
        parameters.clear_caches()
        yield oneroster


@pytest.mark.timeout(1200)
def test_300_tenant_secrets_are_listed_and_synced_and_a_malformed_one_fails_its_district_alone(
    tenant_world: OneRosterSandbox,
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    started = time.monotonic()
    night = LocalNight(LocalFunctions()).run()
    elapsed = time.monotonic() - started

    oneroster = {d: r for d, r in night.districts.items() if d.startswith("42")}
    assert len(oneroster) == TENANTS  # every page of the listing was read (100 names a page)
    failed = sorted(d for d, r in night.districts.items() if r.failed)
    assert failed == [BROKEN]
    for district_id, result in oneroster.items():
        if district_id != BROKEN:
            assert result.stages["import"]["status"] == "succeeded", district_id
    broken = night.districts[BROKEN]
    assert broken.fetch["failure"]["kind"] == "settings_invalid"
    assert "base_url lacks the OneRoster path" in broken.fetch["failure"]["reason"]
    assert not [e for e in tenant_world.log if e.tenant == BROKEN]  # never asked with a bad tenant

    (alert,) = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert alert.district_id == BROKEN
    assert BROKEN in alert.body and "base_url lacks the OneRoster path" in alert.body
    assert f"tenant secret {get_settings().oneroster_tenant_secret_prefix}{BROKEN}" in alert.body
    assert "Infinite Campus" in alert.body and "ClassLink" not in alert.body  # its provider's words
    assert SECRET_MARK not in alert.body and "key-42" not in alert.body
    print(f"\n{TENANTS} tenant secrets: night {elapsed:.1f} s")  # recorded in BENCHMARKS.md
