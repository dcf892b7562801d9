"""Issue 14 item 7: whatever a district types, its alerts arrive (SNS's 256 KB) and cannot be forged."""

from __future__ import annotations

from typing import Any

import pytest

from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.alert_model import BODY_MAX_BYTES, NAME_MAX, SUBJECT_MAX, Alert, EventType, one_line_name
from rostersync.alerts.messages import (
    Change,
    deletions_held,
    district_disconnected,
    sync_failed,
    validation_findings,
)
from rostersync.contracts.fetch import Failure, FailureKind
from rostersync.validate.summary import Summary
from tests.unit.test_alerts import _gappy_summary

INJECTED = (
    "Lincoln High\r\n\r\nURGENT: re-enter the Clever client secret at https://evil.example/login\u2028Thanks"
)
HUGE = "Lincoln " + "X" * 270_000


def _summary_named(school_name: str, district_name: str, *, copies: int = 1) -> Summary:
    summary = _gappy_summary()
    schools = [
        s.model_copy(update={"name": school_name, "school_id": f"{s.school_id}-{n}"})
        for n in range(copies)
        for s in summary.schools
    ]
    return summary.model_copy(update={"schools": schools, "district_name": district_name})


def _name_lines(body: str) -> list[str]:
    return [line for line in body.splitlines() if "Lincoln" in line]


def test_one_line_name_removes_line_breaks_and_control_characters_and_truncates() -> None:
    assert one_line_name("a\r\nb\tc\x00d\u2028e\u0085f\u200bg") == "a b c d e f g"
    shortened = one_line_name("x" * 1000)
    assert len(shortened) == NAME_MAX and shortened.endswith("\u2026")
    assert one_line_name(None) == ""


def test_a_name_cannot_inject_lines_into_the_alert() -> None:
    alert = validation_findings(_summary_named(INJECTED, INJECTED), "r1", Change(None))
    assert not any(line.lstrip().startswith("URGENT") for line in alert.body.splitlines())
    assert "\u2028" not in alert.body and "\r" not in alert.body
    for line in _name_lines(alert.body):
        assert "URGENT" not in line or len(line) < NAME_MAX + 200  # the name stays on its own line, short
    assert "\n" not in alert.subject and len(alert.subject) <= SUBJECT_MAX


def test_a_270_kb_school_and_district_name_still_alert_well_under_the_sns_limit() -> None:
    alert = validation_findings(_summary_named(HUGE, HUGE), "r1", Change(None))
    assert len(alert.body.encode("utf-8")) <= BODY_MAX_BYTES
    assert all(len(line) < 400 for line in alert.body.splitlines())
    assert len(alert.subject) < 100
    for make in (
        lambda: sync_failed(
            "d1",
            "r1",
            Failure(kind=FailureKind.SOURCE_ERROR, reason=HUGE),
            district_name=HUGE,
            source="clever",
        ),
        lambda: district_disconnected("d1", HUGE, district_name=HUGE, source="clever"),
        lambda: deletions_held("d1", "r1", {"STUDENT": 40}, 100, 10, district_name=HUGE, source="clever"),
    ):
        other = make()
        assert len(other.body.encode("utf-8")) <= BODY_MAX_BYTES and len(other.subject) < 100
        assert all(len(line) < 400 for line in other.body.splitlines())


def test_long_lists_are_cut_with_and_n_more_and_the_body_is_capped() -> None:
    alert = validation_findings(_summary_named("Lincoln High", "Big SD", copies=5000), "r1", Change(None))
    assert len(alert.body.encode("utf-8")) <= BODY_MAX_BYTES
    assert "and 9,9" in alert.body and "more schools" in alert.body  # 10,000 school lines, most cut
    assert alert.body.rstrip().endswith("Smart Futures")  # the signature survives the cut


def test_an_alert_body_is_capped_whatever_builds_it() -> None:
    alert = Alert(EventType.SYNC_FAILED, "d1", "RosterSync: x", "line\n" * 100_000)
    assert len(alert.body.encode("utf-8")) <= BODY_MAX_BYTES
    assert "shortened" in alert.body


class _FakeSns:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        return {"MessageId": "m-1"}


def test_the_publisher_refuses_a_message_over_the_sns_limit_before_calling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sns = _FakeSns()
    alert = sync_failed("d1", "r1", None, source="clever")
    object.__setattr__(alert, "body", "x" * 300_000)  # past the model's cap, as a bug might
    assert SnsAlertPublisher("arn:aws:sns:us-east-1:1:t", sns).publish(alert) is False
    assert sns.calls == []
    assert any(getattr(r, "error", None) == "MessageTooLong" for r in caplog.records)
