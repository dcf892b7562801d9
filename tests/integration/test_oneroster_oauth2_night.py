"""OneRoster districts over OAuth 2.0 through the real nightly state machine (issue 24).

Beside a district signing with OAuth 1.0a: a district whose provider's tokens die in the middle of
its fetch (renewed, the district syncs whole) and one whose token endpoint refuses the client (one
`sync_failed`, naming the provider and the tenants secret, never the secret).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.integration.alert_inbox import AlertInbox

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLEVER = DistrictSpec("Elk Clever SD", seed=9301, schools=1, students=5, teachers=2, sections=2)
SIGNED = TenantSpec(
    "4277701", "Forest SD (OAuth 1.0a)", seed=41, schools=1, students_per_school=8, gaps=False
)
BEARER = TenantSpec(
    "4277702",
    "Penn Forest SD (OAuth 2.0)",
    seed=42,
    schools=2,
    students_per_school=30,
    gaps=False,
    auth="oauth2",
)
REFUSED = TenantSpec(
    "4277703",
    "Huntingdon SD (OAuth 2.0)",
    seed=43,
    schools=1,
    students_per_school=4,
    gaps=False,
    auth="oauth2",
)


@pytest.fixture
def night_world(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalFunctions, OneRosterSandbox]]:
    with (
        CleverSandbox(SandboxConfig(districts=(CLEVER,))) as clever,
        OneRosterSandbox([SIGNED, BEARER, REFUSED]) as oneroster,
    ):
        monkeypatch.setenv("CLEVER_API_BASE", clever.api_base)
        monkeypatch.setenv("CLEVER_OAUTH_BASE", clever.oauth_base)
        monkeypatch.setenv("ONEROSTER_BACKOFF_FACTOR", "0.01")
        get_settings.cache_clear()
        resources = provision(
            clever_credentials={"client_id": clever.client_id, "client_secret": clever.client_secret}
        )
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        tenants = oneroster.secret_value()
        for entry in tenants["tenants"]:
            if entry["district_id"] == REFUSED.district_id:
                entry["client_secret"] = "not-the-provider's-secret"
        boto3.client("secretsmanager").put_secret_value(
            SecretId=get_settings().oneroster_secret_id, SecretString=json.dumps(tenants)
        )
        parameters.clear_caches()
        yield LocalFunctions(), oneroster


def test_tokens_dying_mid_fetch_are_renewed_and_a_refused_token_fails_its_district_once(
    night_world: tuple[LocalFunctions, OneRosterSandbox],
) -> None:
    functions, oneroster = night_world
    oneroster.faults.max_page = 10  # several pages a collection
    oneroster.faults.revoke_tokens_after = 3  # every token dies after three requests
    inbox = AlertInbox(get_settings().alert_topic_arn)
    night = LocalNight(functions).run()

    bearer = night.districts[BEARER.district_id]
    assert not bearer.failed and bearer.stages["import"]["status"] == "succeeded"
    bearer_requests = [e for e in oneroster.log if e.tenant == BEARER.district_id]
    assert [e.status for e in bearer_requests].count(401) >= 3  # tokens died and were renewed
    assert [d for d, result in night.districts.items() if result.failed] == [REFUSED.district_id]

    refused = night.districts[REFUSED.district_id]
    assert refused.failed and refused.fetch["failure"]["kind"] == "key_refused"
    assert "token endpoint refused" in refused.fetch["failure"]["reason"]
    failed = [a for a in inbox.receive() if a.event_type == "sync_failed"]
    assert [a.district_id for a in failed] == [REFUSED.district_id]
    body = failed[0].body
    assert "ClassLink" in body and "token_url" in body and "ONEROSTER_SECRET_ID" in body
    assert "not-the-provider" not in body and "Clever" not in body
    assert not [
        e for e in oneroster.log if e.tenant == REFUSED.district_id
    ]  # no data request without a token
