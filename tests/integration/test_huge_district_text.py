"""A district whose name is 300,000 characters never stops another district.

Through the state machine (LocalNight), with the local runner enforcing Step Functions' 256 KB
payload limit as AWS does (src/rostersync_cli/payload_limit.py): unbounded, the district's fetch
result would be over 300 KB, fail with States.DataLimitExceeded, which States.ALL does not catch,
and take its whole batch down. Bounded at the contract (rostersync/bounded.py), its result carries
the name's first 200 characters, and both districts of the batch are synced.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rostersync.bounded import NAME_MAX
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.nightly import LocalNight
from rostersync_cli.payload_limit import MAX_PAYLOAD_BYTES, payload_bytes
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from tests.integration.alert_inbox import AlertInbox

HUGE_NAME = "Indiana Area School District " + "N" * 300_000
HUGE = DistrictSpec(HUGE_NAME, seed=9401, schools=1, students=6, teachers=2, sections=2)
CLEAN = DistrictSpec("Jefferson Clean SD", seed=9402, schools=1, students=6, teachers=2, sections=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(HUGE, CLEAN))) as server:
        yield server


def test_a_district_named_with_300000_characters_never_stops_another(functions: LocalFunctions) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)

    night = LocalNight(functions, overrides={"MaxConcurrency": "2"}).run()

    assert len(night.batch_executions) == 1  # both districts in one batch
    clean = night.districts[CLEAN.id]
    assert not clean.failed and clean.stages["import"]["status"] == "succeeded", clean
    huge = night.districts[HUGE.id]
    assert huge.finished and huge.fetch["status"] == "complete"
    name = huge.fetch["district_name"]
    assert len(name) == NAME_MAX and HUGE_NAME.startswith(name[:-1]) and name.endswith("…")
    assert payload_bytes(huge.fetch) < 2_000 < MAX_PAYLOAD_BYTES
    alerts = inbox.receive()
    assert not [a for a in alerts if a.event_type == "sync_failed"], [a.subject for a in alerts]
    assert all(len(a.body.encode()) < 50_000 for a in alerts)
