"""Issue 14, item 11, end to end: Clever's district status reaches the manifest, the report, the
findings and `rostersync status`; a sync in error or older than DISTRICT_SYNC_STALE_DAYS is
`district.sync_stale`."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest

from rostersync.contracts.fetch import Manifest
from rostersync_cli.main import main
from rostersync_cli.sandbox import DistrictSpec, SandboxConfig
from tests.integration.fault_world import FaultWorld, fault_world

_SMALL = {
    "schools": 1,
    "students": 6,
    "teachers": 1,
    "counselors": 0,
    "admins": 1,
    "other_staff": 0,
    "sections": 1,
    "terms": 1,
    "courses": 1,
}
IN_ERROR = DistrictSpec("Sync Error SD", seed=9601, sync_state="error", **_SMALL)  # type: ignore[arg-type]
STALE = DistrictSpec("Stale Sync SD", seed=9602, last_sync_hours_ago=24 * 10, **_SMALL)  # type: ignore[arg-type]
FRESH = DistrictSpec("Fresh Sync SD", seed=9603, pause_days=(-80, -3), **_SMALL)  # type: ignore[arg-type]


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    with fault_world(SandboxConfig(districts=(IN_ERROR, STALE, FRESH)), monkeypatch) as w:
        yield w


def test_the_district_status_is_kept_shown_and_judged(
    world: FaultWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    night = world.night([IN_ERROR.id, STALE.id, FRESH.id])

    stale_rules = {}
    for spec in (IN_ERROR, STALE, FRESH):
        outcome = night.outcome(spec.id)
        assert outcome.stages["import"]["status"] == "succeeded", outcome.stages
        manifest = Manifest.model_validate(world.store.get_json(outcome.fetch["manifest_key"]))
        assert manifest.district_status is not None
        assert manifest.district_status.state == spec.sync_state
        assert manifest.district_status.last_sync and manifest.district_status.launch_date
        stale_rules[spec.id] = outcome.stages["validate"]["rule_counts"].get("district.sync_stale", 0)
        report = (
            world.store._s3.get_object(
                Bucket=world.store.bucket, Key=outcome.stages["validate"]["report_key"]
            )["Body"]
            .read()
            .decode()
        )
        assert f"Clever: sync {spec.sync_state}, last " in html.unescape(report)
    assert stale_rules == {IN_ERROR.id: 1, STALE.id: 1, FRESH.id: 0}
    fresh = Manifest.model_validate(world.store.get_json(night.outcome(FRESH.id).fetch["manifest_key"]))
    assert fresh.district_status is not None and fresh.district_status.pause_end

    capsys.readouterr()
    assert main(["status", "--district", IN_ERROR.id]) == 0
    out = capsys.readouterr().out
    assert "Clever: sync error, last " in out


def test_the_stale_limit_is_the_setting(world: FaultWorld) -> None:
    world.setenv("DISTRICT_SYNC_STALE_DAYS", "30")

    night = world.night([STALE.id])

    assert night.outcome(STALE.id).stages["validate"]["rule_counts"].get("district.sync_stale", 0) == 0
