"""OneRoster districts over OAuth 2.0 and OneRoster 1.2 through the real nightly state machine
(issue 24).

Beside a district signing with OAuth 1.0a: a 1.1 district whose provider's tokens die in the
middle of its fetch (renewed, the district syncs whole), the same roster served as OneRoster 1.2
(the same roster items), and one whose token endpoint refuses the client (one `sync_failed`,
naming the provider and the tenants secret, never the secret).
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
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec
from tests.integration.alert_inbox import AlertInbox
from tests.integration.conftest import connect_pipeline
from tests.integration.invariants import snapshot

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CLEVER = DistrictSpec("Elk Clever SD", seed=9301, schools=1, students=5, teachers=2, sections=2)
SIGNED = TenantSpec(
    "4277701", "Forest SD (OAuth 1.0a)", seed=41, schools=1, students_per_school=8, gaps=False
)
BEARER = TenantSpec(
    "4277702",
    "Penn Forest SD",
    seed=42,
    schools=2,
    students_per_school=30,
    gaps=False,
    auth="oauth2",
)
V1P2 = TenantSpec(
    "4277704",
    "Penn Forest SD",  # the same roster as BEARER, served as OneRoster 1.2
    seed=42,
    schools=2,
    students_per_school=30,
    gaps=False,
    auth="oauth2",
    version="1.2",
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
        OneRosterSandbox([SIGNED, BEARER, V1P2, REFUSED]) as oneroster,
    ):
        connect_pipeline(monkeypatch, clever, ONEROSTER_BACKOFF_FACTOR="0.01")
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
    v1p2 = night.districts[V1P2.district_id]
    assert v1p2.stages["import"]["status"] == "succeeded"
    v1p1_items, v1p2_items = _roster(BEARER.district_id), _roster(V1P2.district_id)
    assert v1p1_items == v1p2_items  # 1.1 and 1.2: the same roster

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


def _roster(district_id: str) -> object:
    """The district's roster items and membership edges, its id replaced (two tenants of one
    generated roster), without what depends on the id, the moment or the other tenant (the
    content hash covers the id; the PA Secure ID trust goes to whichever imported the shared ids
    first)."""
    roster = snapshot(get_settings().roster_table, district_id)
    varying = {"content_hash", "updated_at", "last_changed_run", "state_id_trusted"}
    items = {sk: {k: v for k, v in item.items() if k not in varying} for sk, item in roster.items.items()}
    text = repr((items, sorted(roster.edges))).replace(district_id, "D")
    return text
