"""Clever faults, through the whole pipeline: each night either gives exactly the clean roster, or
fails the district cleanly with an alert and leaves the roster imported the night before intact.

The client-level behaviour of each fault is in test_clever_client_sandbox.py; here the question is
what reaches S3, DynamoDB and support. Every test imports a clean night first (the baseline).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator
from typing import Any

import pytest

from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from rostersync_cli.sandbox.generator import EXOTIC_NAMES
from tests.integration.fault_world import FaultWorld, fault_world
from tests.integration.invariants import (
    assert_completed_identically,
    assert_failed_cleanly,
    check_invariants,
    snapshot,
)

DISTRICT = DistrictSpec.small(
    "Mifflin Faults SD",
    9101,
    gaps=Gaps(missing_student_state_id=1),  # a rejected record whose last good version is kept
)
MID_PAGINATION = "starting_after"  # only requests for a second or later page


@pytest.fixture
def world(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultWorld]:
    monkeypatch.setenv("CLEVER_PAGE_LIMIT", "6")  # 24 students: several pages
    monkeypatch.setenv("CLEVER_MAX_RETRIES", "3")
    with fault_world(SandboxConfig(districts=(DISTRICT,)), monkeypatch) as w:
        yield w


def _after_requests(sandbox: CleverSandbox, n: int, action: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `action()` inside the sandbox once it has answered `n` API requests (mid-run)."""
    original = sandbox._api
    served = {"n": 0}

    def api(path: str, query: dict[str, str], district: str | None) -> Any:
        served["n"] += 1
        if served["n"] == n:
            action()
        return original(path, query, district)

    monkeypatch.setattr(sandbox, "_api", api)


# --- transient faults: the night completes with exactly the clean roster -------------------------


def test_429_on_every_other_request_completes_identically(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.rate_limit_every = 2
    world.sandbox.faults.rate_limit_buckets = ((1200, 0), (100, 0))

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)
    assert 429 in {r.status for r in world.sandbox.requests}


def _inject_mid_pagination(world: FaultWorld, fault: dict[str, Any]) -> None:
    """The sandbox's faults, on a page in the middle of a resource's pagination."""
    world.sandbox.faults.match_path = MID_PAGINATION
    for name, value in fault.items():
        setattr(world.sandbox.faults, name, value)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"server_errors": 2}, id="5xx"),
        pytest.param({"server_errors": 2, "html_errors": True}, id="5xx-html"),
        pytest.param({"connection_reset": 2}, id="connection-reset"),
    ],
)
def test_transient_failures_in_the_middle_of_pagination_complete_identically(
    world: FaultWorld, fault: dict[str, Any]
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    _inject_mid_pagination(world, fault)

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)
    assert world.sandbox.faults.server_errors == 0 and world.sandbox.faults.connection_reset == 0


def test_an_empty_page_behind_a_next_link_completes_identically(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.empty_trailing_page = True

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)


def test_a_401_in_the_middle_of_a_run_refreshes_the_token_and_completes_identically(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.requests.clear()
    _after_requests(
        world.sandbox, 5, lambda: world.sandbox.faults.unauthorized_once.add(DISTRICT.id), monkeypatch
    )

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)
    log = world.sandbox.requests
    refresh = [
        i for i, r in enumerate(log) if r.path == "/oauth/tokens" and r.query.get("district") == DISTRICT.id
    ]
    assert refresh and refresh[0] > 5, "the token was refreshed in the middle of the run"
    assert 401 in {r.status for r in log}


def test_duplicate_records_across_pages_count_once_and_give_the_clean_roster(world: FaultWorld) -> None:
    clean, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.duplicate_across_pages = True

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)
    assert night.outcome(DISTRICT.id).fetch["records"] > clean.outcome(DISTRICT.id).fetch["records"]
    counts = night.outcome(DISTRICT.id).stages["import"]["counts"]["STUDENT"]
    assert counts["created"] == counts["updated"] == counts["archived"] == 0


# --- faults that must fail the district cleanly -------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "failure_kind"),
    [
        pytest.param({"server_errors": 100}, "source_error", id="persistent-5xx"),
        pytest.param(
            {"server_errors": 100, "html_errors": True, "server_error_statuses": (502,)},
            "source_error",
            id="persistent-html-error-page",
        ),
        pytest.param({"connection_reset": 100}, "source_error", id="persistent-connection-reset"),
        pytest.param({"truncated_json": 1}, "protocol_error", id="truncated-json"),
        pytest.param({"garbage_200": 1, "garbage_mode": "no_data"}, "protocol_error", id="200-without-data"),
        pytest.param({"garbage_200": 1, "garbage_mode": "no_id"}, "protocol_error", id="records-without-ids"),
        pytest.param({"repeat_cursor": True}, "protocol_error", id="cursor-loop"),
    ],
)
def test_a_broken_page_in_the_middle_of_pagination_fails_the_district_cleanly(
    world: FaultWorld, fault: dict[str, Any], failure_kind: str
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    _inject_mid_pagination(world, fault)

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline)
    fetch = night.outcome(DISTRICT.id).fetch
    assert fetch["failure"]["kind"] == failure_kind
    assert fetch["failure"]["resource"] is not None
    [alert] = [a for a in night.alerts_for(DISTRICT.id) if a.event_type == "sync_failed"]
    assert "<html" not in alert.body.lower()
    assert "nothing was deleted" in alert.body


def test_504s_on_full_pages_complete_identically_with_smaller_pages(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.setenv("CLEVER_MIN_PAGE_LIMIT", "2")
    world.sandbox.faults.big_page_limit = 3  # pages of 6 time out at the gateway; 3 pass
    world.sandbox.requests.clear()

    night = world.night([DISTRICT.id])

    assert_completed_identically(world, night, baseline)
    limits = {
        e.query.get("limit") for e in world.sandbox.requests if e.status == 200 and e.path == "/v3.0/users"
    }
    assert limits == {"3"}


def test_a_read_timeout_fails_the_district_cleanly(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.setenv("CLEVER_READ_TIMEOUT", "0.3")
    world.setenv("CLEVER_MAX_RETRIES", "1")
    world.sandbox.faults.match_path = "/v3.0/sections"
    world.sandbox.faults.slow_seconds = 1.0

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline)
    assert "timed out" in night.outcome(DISTRICT.id).fetch["failure"]["reason"]


def test_a_next_link_to_another_host_fails_cleanly_and_that_host_receives_nothing(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.off_host_next = True

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline)
    assert world.sandbox.trap_hits == []


@pytest.mark.parametrize("when", ["before-the-run", "mid-run"])
def test_a_revoked_token_disconnects_the_district_with_an_alert_and_keeps_the_roster(
    world: FaultWorld, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    if when == "before-the-run":
        world.sandbox.revoke(DISTRICT.id)
    else:
        _after_requests(world.sandbox, 5, lambda: world.sandbox.revoke(DISTRICT.id), monkeypatch)

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline, alert="district_disconnected")
    assert night.outcome(DISTRICT.id).fetch["failure"]["kind"] == "disconnected"


def test_a_404_for_the_district_disconnects_it_with_an_alert_and_keeps_the_roster(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    # The district itself is gone: every path answers 404, /v3.0/districts/<id> included.
    world.sandbox.faults.match_path = "/v3.0/"
    world.sandbox.faults.server_errors = 100
    world.sandbox.faults.server_error_statuses = (404,)

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline, alert="district_disconnected")
    assert night.outcome(DISTRICT.id).fetch["failure"]["kind"] == "disconnected"
    [alert] = night.alerts_for(DISTRICT.id)
    assert "404" in alert.body


def test_a_404_for_one_resource_fails_the_district_without_announcing_a_disconnection(
    world: FaultWorld,
) -> None:
    """Clever answers 404 for a resource not shared with the app or a wrong API version too: only
    `/districts/<id>` answering 404 (or a gone token) means the district is disconnected."""
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.match_path = "/v3.0/sections"
    world.sandbox.faults.server_errors = 1
    world.sandbox.faults.server_error_statuses = (404,)

    night = world.night([DISTRICT.id])

    assert_failed_cleanly(world, night, baseline, alert="sync_failed")
    failure = night.outcome(DISTRICT.id).fetch["failure"]
    assert failure["kind"] == "source_error"
    assert failure["resource"] == "sections"
    assert "not shared" in failure["reason"]
    assert "district_disconnected" not in {a.event_type for a in night.alerts_for(DISTRICT.id)}
    assert any(e.path == f"/v3.0/districts/{DISTRICT.id}" for e in world.sandbox.requests)


def test_the_night_after_a_failure_completes_identically(world: FaultWorld) -> None:
    _, baseline = world.clean_night(DISTRICT.id)
    world.sandbox.faults.match_path = MID_PAGINATION
    world.sandbox.faults.truncated_json = 1
    assert_failed_cleanly(world, world.night([DISTRICT.id]), baseline)

    assert_completed_identically(world, world.night([DISTRICT.id]), baseline)


# --- names no ASCII assumption survives --------------------------------------------------------

WORLDLY = DistrictSpec.small(
    "Ελληνική 🏫 مدرسة School District",
    9202,
    schools=1,
    students=len(EXOTIC_NAMES) + 2,
    other_staff=0,
    exotic_names=len(EXOTIC_NAMES) + 2,
    gaps=Gaps(missing_student_state_id=3),
)


def test_unicode_rtl_emoji_and_very_long_names_survive_byte_exact_and_are_escaped_in_reports(
    world: FaultWorld,
) -> None:
    world.serve(WORLDLY)
    night = world.night([WORLDLY.id])
    outcome = night.outcome(WORLDLY.id)
    assert outcome.stages["import"]["status"] == "succeeded", outcome.stages

    # DynamoDB holds every name exactly as Clever sent it (no normalization, no truncation).
    roster = snapshot(world.table_name, WORLDLY.id)
    sent = {
        r["id"]: r["name"]
        for r in world.sandbox.district(WORLDLY.id).listing("users", "student").all_records()
    }
    stored = {sk.partition("#")[2]: item for sk, item in roster.items.items() if sk.startswith("STUDENT#")}
    rejected = outcome.stages["validate"]["rejected"]
    assert len(stored) == len(sent) - rejected
    for clever_id, item in stored.items():
        assert item["first_name"].encode() == sent[clever_id]["first"].encode()
        assert item["last_name"].encode() == sent[clever_id]["last"].encode()
    assert {item["first_name"] for item in stored.values()} >= {first for first, _ in EXOTIC_NAMES[:3]}
    # Names beyond the stored bound (200 characters) are rejected with a finding, never truncated
    # (issue 14: a 420,000-character name broke the district's import every night).
    too_long = {i for i, name in sent.items() if max(len(name["first"]), len(name["last"])) > 200}
    assert too_long and not too_long & set(stored)

    # The report escapes them; findings.csv keeps them whole and defuses formulas.
    validated = outcome.stages["validate"]
    report = world.store._s3.get_object(Bucket=world.store.bucket, Key=validated["report_key"])["Body"].read()
    text = report.decode("utf-8")
    assert "<script" not in text.lower() and "<b>Sons" not in text
    findings_raw = world.store._s3.get_object(Bucket=world.store.bucket, Key=validated["findings_key"])[
        "Body"
    ]
    rows = list(csv.DictReader(io.StringIO(findings_raw.read().decode("utf-8-sig"))))
    assert {row["source_id"] for row in rows if row["rule"] == "record.field_too_long"} == too_long
    named = [row for row in rows if row["record_type"] == "student" and row["name"]]
    assert named, "the seeded gaps put exotic names into the findings"
    for row in named:
        assert html.escape(row["name"].lstrip("'"), quote=True) in text
        assert not row["name"].startswith(("=", "+", "-", "@"))
    # Alerts: the subject stays ASCII (SNS's rule), and no student name is in any alert.
    for alert in night.alerts:
        assert alert.subject.isascii()
        assert not any(name["first"] in alert.body for name in sent.values() if len(name["first"]) > 1)

    # A second night with the same names changes nothing: their hashes are stable.
    again = world.night([WORLDLY.id])
    assert again.outcome(WORLDLY.id).stages["import"]["roster_writes"] == 0
    check_invariants(world, again, roster)
