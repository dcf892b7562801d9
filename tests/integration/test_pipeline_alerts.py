"""Two nights of the pipeline through the template's handlers, alerts read from an SQS subscription.

Night 1 (first deploy): one district's fetch fails, one has findings, one is clean, one is not
shared yet. Night 2: the failure is gone, the findings are unchanged, the unshared district is
now shared and the clean one has revoked its token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from rostersync.alert_model import SUBJECT_MAX
from rostersync.settings import get_settings
from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from tests.integration.alert_inbox import AlertInbox, ReceivedAlert
from tests.integration.conftest import connect_pipeline, run_night

CLEAN = DistrictSpec("Allegheny Clean SD", seed=8111, schools=2, students=40, teachers=4, sections=4)
GAPPY = DistrictSpec(
    "Lebanon Gappy SD",
    seed=8212,
    schools=3,
    students=60,
    teachers=6,
    sections=6,
    gaps=Gaps(missing_student_state_id=2, short_student_state_id=1, missing_school_nces_id=1),
)
BROKEN = DistrictSpec("Erie Broken SD", seed=8313, schools=1, students=20, teachers=2, sections=2)
LATE = DistrictSpec("Wayne Late SD", seed=8414, schools=1, students=20, teachers=2, sections=2)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(CLEAN, GAPPY, BROKEN, LATE))) as server:
        yield server


@pytest.fixture
def functions(
    aws_env: dict[str, str], sandbox: CleverSandbox, monkeypatch: pytest.MonkeyPatch
) -> LocalFunctions:
    connect_pipeline(monkeypatch, sandbox, CLEVER_MAX_RETRIES="1")
    return LocalFunctions()


def _pii(sandbox: CleverSandbox, spec: DistrictSpec) -> set[str]:
    data = sandbox.district(spec.id)
    out: set[str] = set()
    for i in range(spec.students):
        record = data.student(i)
        if name := record.get("name"):
            out |= {f"{name['first']} {name['last']}", f"{name['last']}, {name['first']}"}
        out.add(record["email"])
        if state_id := (record["roles"]["student"].get("state_id") or "").strip():
            out.add(state_id)
    return out


def _by_event(alerts: list[ReceivedAlert]) -> dict[tuple[str, str], ReceivedAlert]:
    keyed = {(a.event_type, a.district_id): a for a in alerts}
    assert len(keyed) == len(alerts), "one alert per event and district"
    return keyed


def test_two_nights_alert_exactly_what_support_must_know(
    functions: LocalFunctions, sandbox: CleverSandbox
) -> None:
    inbox = AlertInbox(get_settings().alert_topic_arn)
    sandbox.revoke(LATE.id)
    sandbox.faults.match_district = BROKEN.id
    sandbox.faults.match_path = "/v3.0/sections"
    sandbox.faults.garbage_200 = 5

    night1 = run_night(functions)
    first = _by_event(inbox.receive())

    assert {o.district_id: o.fetch["status"] for o in night1} == {
        CLEAN.id: "complete",
        GAPPY.id: "complete",
        BROKEN.id: "failed",
    }
    assert set(first) == {("sync_failed", BROKEN.id), ("validation_findings", GAPPY.id)}
    failed = first["sync_failed", BROKEN.id]
    assert "while fetching sections" in failed.body
    findings = first["validation_findings", GAPPY.id]
    assert findings.subject.startswith("RosterSync: Lebanon Gappy SD - ")
    assert findings.subject.endswith(" roster findings (new)")
    for rule_id in ("student.state_id.missing", "student.state_id.format", "school.nces_id.missing"):
        assert rule_id in findings.body
    [link] = findings.links()
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and GAPPY.name in page.text

    sandbox.faults.reset()
    sandbox.restore(LATE.id)
    sandbox.revoke(CLEAN.id)
    run_night(functions)
    second = _by_event(inbox.receive())

    assert set(second) == {("district_connected", LATE.id), ("district_disconnected", CLEAN.id)}
    # The state machine's discovery announces it before any fetch has read its name: its Clever id.
    assert second["district_connected", LATE.id].subject == f"RosterSync: {LATE.id} - connected in Clever"
    assert second["district_disconnected", CLEAN.id].subject.startswith("RosterSync: Allegheny Clean SD - ")

    everything = [*first.values(), *second.values()]
    pii = set().union(*(_pii(sandbox, spec) for spec in (CLEAN, GAPPY, BROKEN, LATE)))
    for alert in everything:
        assert alert.attribute_types == {"event_type": "String", "district_id": "String"}
        assert 0 < len(alert.subject) <= SUBJECT_MAX
        assert not {value for value in pii if value in alert.body or value in alert.subject}


def test_the_state_machine_hand_offs_through_the_handlers(
    functions: LocalFunctions, sandbox: CleverSandbox
) -> None:
    """What statemachine/nightly.asl.json does, step by step: discover, then per district fetch -> validate."""
    discovered = functions.invoke("FetchFunction", {"discover": True})
    assert discovered["district_ids"] == sorted(sandbox.district_ids())
    statuses = {}
    for district_id in discovered["district_ids"]:
        fetched = functions.invoke(
            "FetchFunction", {"district_ids": [district_id], "run_id": discovered["run_id"]}
        )
        [district] = fetched["districts"]
        assert district["run_id"] == discovered["run_id"]
        statuses[district_id] = functions.invoke("ValidateFunction", district)["status"]
    assert set(statuses.values()) == {"validated"}
