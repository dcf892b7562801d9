"""Alerts without AWS: texts, attributes, deduplication of findings, district connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rostersync.adapters.sns_alert_publisher import SnsAlertPublisher
from rostersync.alert_model import SUBJECT_MAX, Alert, EventType, subject
from rostersync.alerts.messages import (
    SIGNATURE,
    Change,
    district_disconnected,
    sync_failed,
    validation_findings,
)
from rostersync.alerts.notify import notify_discovery, notify_fetch, notify_validation
from rostersync.alerts.state import findings_fingerprint
from rostersync.contracts.fetch import Failure, FailureKind, FetchResult, ManifestStatus
from rostersync.contracts.validate import ValidateResult, ValidateStatus
from rostersync.layout import alert_fingerprint_key
from rostersync.sources import profile
from rostersync.sources.clever.resources import Resource
from rostersync.validate.rules import fix_advice
from rostersync.validate.summary import Summary
from tests import factories as f
from tests.fakes import MemoryPageStore, RecordingPublisher

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
STUDENT_FIRST, STUDENT_LAST = "Zephyrine", "Quackenbush"
TEACHER_EMAIL = "t.vandermolen@lincoln.example.org"
CLEVER_WORDS = profile("clever").wording


def _gappy_summary(missing_state_ids: int = 2) -> Summary:
    records = [
        f.district("Lebanon Area SD"),
        f.school("sch1", "Lincoln High", "420000100001"),
        f.school("sch2", "Washington Elementary", None),
        f.teacher("t1", email=TEACHER_EMAIL),
        f.teacher("t2", ("sch2",)),
        f.student("s1", first=STUDENT_FIRST, last=STUDENT_LAST),
        *[
            f.student(f"m{i}", state_id=None, first=STUDENT_FIRST, last=f"{STUDENT_LAST}{i}")
            for i in range(missing_state_ids)
        ],
        f.student("w1", ("sch2",)),
        f.section("sec1", students=("s1",)),
        f.section("sec2", "sch2", ("t2",), ("w1",)),
        f.term(),
        f.course(),
    ]
    summary, _ = f.run(records)
    return summary


def _validated(
    store: MemoryPageStore, summary: Summary, run_id: str = "20261128T070000Z-aaaaaa"
) -> ValidateResult:
    prefix = f"reports/{summary.district_id}/{run_id}/"
    store.put_json(prefix + "summary.json", json.loads(summary.model_dump_json()))
    return ValidateResult(
        district_id=summary.district_id,
        run_id=run_id,
        status=ValidateStatus.REJECTED if summary.empty else ValidateStatus.VALIDATED,
        report_key=prefix + "report.html",
        summary_key=prefix + "summary.json",
        rule_counts=summary.rule_counts(),
    )


def _fetched(
    district_id: str, failure: Failure | None = None, run_id: str = "20261128T070000Z-aaaaaa"
) -> FetchResult:
    return FetchResult(
        district_id=district_id,
        source="clever",
        run_id=run_id,
        status=ManifestStatus.FAILED if failure else ManifestStatus.COMPLETE,
        manifest_key=f"raw/{district_id}/{run_id}/manifest.json",
        records=0,
        pages=0,
        requests=1,
        failure=failure,
    )


# ---------------------------------------------------------------------------- the model


def test_alert_attributes_are_strings_support_can_filter_on() -> None:
    alert = sync_failed(
        "d1", "r1", Failure(kind=FailureKind.SOURCE_ERROR, reason="HTTP 503"), source="clever"
    )
    assert alert.message_attributes() == {
        "event_type": {"DataType": "String", "StringValue": "sync_failed"},
        "district_id": {"DataType": "String", "StringValue": "d1"},
    }


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (None, "5a0c91b95c7cc000010d417c"),
        ("Lebanon Area SD", "Lebanon Area SD"),
        ("Penn\u2013Trafford School District " * 6, "Penn-Trafford School District Penn"),
        ("Line\nbreak\tDistrict", "Line break District"),
        ("\u00c9cole Fran\u00e7aise", "Ecole Francaise"),
    ],
)
def test_subjects_fit_sns_and_name_the_district_and_what_happened(name: str | None, shown: str) -> None:
    text = subject("5a0c91b95c7cc000010d417c", name, "12 roster findings (new)")
    assert len(text) <= SUBJECT_MAX <= 100
    assert text.isascii() and "\n" not in text and "\t" not in text
    assert text.startswith(f"RosterSync: {shown}")
    assert text.endswith(" - 12 roster findings (new)")


def test_an_alert_refuses_an_overlong_subject() -> None:
    with pytest.raises(ValueError, match="subject"):
        Alert(EventType.SYNC_FAILED, "d1", "x" * 101, "body")


# ------------------------------------------------------------------------------ findings


def test_findings_alert_says_what_to_fix_where_without_naming_people() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    summary = _gappy_summary()
    assert any(ex.name for r in summary.rules.values() for ex in r.examples)  # the summary does name people

    outcome = notify_validation(_validated(store, summary), store, publisher, store, clock=lambda: NOW)

    [alert] = publisher.sent
    assert outcome.published == [f"validation_findings:{summary.district_id}"]
    assert alert.event_type is EventType.VALIDATION_FINDINGS
    assert "Lebanon Area SD" in alert.subject and "(new)" in alert.subject
    body = alert.body
    assert "New since last night" in body
    for rule_id, count in summary.rule_counts().items():
        if count:
            assert rule_id in body
            assert fix_advice(rule_id, CLEVER_WORDS).split()[0] in body
    assert "student.state_id.missing" in body and "school.nces_id.missing" in body
    assert "Washington Elementary (no NCES id): held back" in body
    assert "Lincoln High (NCES 420000100001): 2 of 3 students held back" in body
    assert f"reports/{f.D}/20261128T070000Z-aaaaaa/report.html?X-Amz-Expires=604800" in body
    assert "2026-12-05 07:00 UTC" in body
    for pii in (STUDENT_FIRST, STUDENT_LAST, TEACHER_EMAIL, "Last"):
        assert pii not in body and pii not in alert.subject


def test_unchanged_findings_do_not_alert_again_and_changed_ones_say_so() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    notify_validation(_validated(store, _gappy_summary(2), "r-night1"), store, publisher, store)
    again = notify_validation(_validated(store, _gappy_summary(2), "r-night2"), store, publisher, store)
    changed = notify_validation(_validated(store, _gappy_summary(3), "r-night3"), store, publisher, store)

    assert again.suppressed == [f"validation_findings:{f.D}"] and not again.published
    assert changed.published == [f"validation_findings:{f.D}"]
    assert len(publisher.sent) == 2
    first_total = sum(_gappy_summary(2).rule_counts().values())
    assert f"Changed since last night (was {first_total} findings)." in publisher.sent[1].body
    assert publisher.sent[1].subject.endswith("(changed)")


def test_replaying_the_same_run_does_not_alert_twice() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    result = _validated(store, _gappy_summary())
    notify_validation(result, store, publisher, store)
    notify_validation(result, store, publisher, store)
    assert len(publisher.sent) == 1


def test_a_failed_publish_keeps_the_old_state_so_the_next_run_tries_again() -> None:
    store = MemoryPageStore()
    failing = RecordingPublisher(fail=True)
    outcome = notify_validation(_validated(store, _gappy_summary()), store, failing, store)
    assert outcome.failed == [f"validation_findings:{f.D}"]
    assert alert_fingerprint_key(f.D) not in store.objects

    working = RecordingPublisher()
    notify_validation(_validated(store, _gappy_summary(), "r-next"), store, working, store)
    assert len(working.sent) == 1 and "New since last night" in working.sent[0].body


def test_findings_that_clear_and_come_back_are_new_again() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    notify_validation(_validated(store, _gappy_summary(), "r1"), store, publisher, store)
    clean, _ = f.run(f.base())
    assert not any(clean.rule_counts().values())
    assert not notify_validation(_validated(store, clean, "r2"), store, publisher, store).published
    notify_validation(_validated(store, _gappy_summary(), "r3"), store, publisher, store)
    assert len(publisher.sent) == 2 and "New since last night" in publisher.sent[1].body


def test_unreadable_alert_state_alerts_anyway() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    result = _validated(store, _gappy_summary())
    notify_validation(result, store, publisher, store)
    summary_bytes = store.objects[result.summary_key or ""]
    store.objects[alert_fingerprint_key(f.D)] = b"not json"
    store.objects[result.summary_key or ""] = summary_bytes
    assert notify_validation(result, store, publisher, store).published


def test_a_skipped_run_has_nothing_to_say() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    result = ValidateResult(district_id="d1", run_id="r1", status=ValidateStatus.SKIPPED, reason="failed")
    assert notify_validation(result, store, publisher, store).as_dict() == {
        "published": [],
        "failed": [],
        "suppressed": [],
    }
    assert not publisher.sent


def test_a_rejected_district_alerts_with_district_empty() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    empty, _ = f.run([f.district("Empty Hollow SD"), f.school()])
    notify_validation(_validated(store, empty), store, publisher, store)
    [alert] = publisher.sent
    assert "district.empty" in alert.body and "nothing was imported" in alert.body
    assert fix_advice("district.empty", CLEVER_WORDS).split(".")[0] in " ".join(alert.body.split())


def test_the_fingerprint_ignores_order_and_runs_but_not_counts() -> None:
    one = _gappy_summary(2)
    two = one.model_copy(
        update={"schools": list(reversed(one.schools)), "rules": dict(reversed(one.rules.items()))}
    )
    assert findings_fingerprint(one) == findings_fingerprint(two)
    assert findings_fingerprint(one) != findings_fingerprint(_gappy_summary(3))


# ------------------------------------------------------------------------------ the fetch


def test_a_failed_fetch_alerts_sync_failed_with_advice() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    failure = Failure(
        kind=FailureKind.SOURCE_ERROR, reason="Clever HTTP 503 on /v3.0/sections", resource=Resource.SECTIONS
    )
    notify_fetch([_fetched("d1", failure)], store, publisher)
    [alert] = publisher.sent
    assert alert.event_type is EventType.SYNC_FAILED
    assert alert.subject == "RosterSync: d1 - roster sync failed"
    assert "while fetching sections" in alert.body and "status.clever.com" in alert.body


def test_a_revoked_token_alerts_disconnected_once_and_reconnection_is_announced() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    revoked = Failure(kind=FailureKind.DISCONNECTED, reason="Clever HTTP 401 on district d1 /v3.0/schools")
    notify_fetch([_fetched("d1", revoked, "r1")], store, publisher)
    second = notify_fetch([_fetched("d1", revoked, "r2")], store, publisher)
    notify_fetch([_fetched("d1", None, "r3")], store, publisher)
    notify_fetch([_fetched("d1", None, "r4")], store, publisher)

    assert [a.event_type for a in publisher.sent] == [
        EventType.DISTRICT_DISCONNECTED,
        EventType.DISTRICT_CONNECTED,
    ]
    assert second.suppressed == ["district_disconnected:d1"]
    assert "reconnected" in publisher.sent[1].subject


def test_discovery_records_a_baseline_then_announces_new_and_vanished_districts_once() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    assert not notify_discovery(
        {"a", "b"}, store, publisher, sources=dict.fromkeys({"a", "b"}, "clever")
    ).published  # first deploy: baseline
    night2 = notify_discovery(
        {"a", "b", "c"}, store, publisher, sources=dict.fromkeys({"a", "b", "c"}, "clever")
    )
    night3 = notify_discovery({"a", "c"}, store, publisher, sources=dict.fromkeys({"a", "c"}, "clever"))
    night4 = notify_discovery({"a", "c"}, store, publisher, sources=dict.fromkeys({"a", "c"}, "clever"))

    assert night2.published == ["district_connected:c"]
    assert night3.published == ["district_disconnected:b"]
    assert not night4.published and not night4.failed
    assert "no longer lists a token" in publisher.sent[1].body


def test_a_district_whose_announcement_failed_is_announced_next_night() -> None:
    store = MemoryPageStore()
    notify_discovery({"a"}, store, RecordingPublisher(), sources=dict.fromkeys({"a"}, "clever"))
    assert notify_discovery(
        {"a", "n"}, store, RecordingPublisher(fail=True), sources=dict.fromkeys({"a", "n"}, "clever")
    ).failed == ["district_connected:n"]
    assert notify_discovery(
        {"a", "n"}, store, RecordingPublisher(), sources=dict.fromkeys({"a", "n"}, "clever")
    ).published == ["district_connected:n"]


def test_a_full_fetch_names_new_districts_as_the_fetch_read_them() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    notify_discovery(set(), store, publisher, sources=dict.fromkeys(set(), "clever"))
    result = _fetched("d9").model_copy(update={"district_name": "Nittany Valley SD"})
    notify_fetch([result], store, publisher, discovered=["d9"])
    [alert] = publisher.sent
    assert alert.subject == "RosterSync: Nittany Valley SD - connected in Clever"


def test_alert_texts_never_exceed_the_subject_limit_for_long_names() -> None:
    long_name = "The Very Long Name Area Regional Consolidated School District of Somewhere County" * 2
    alerts = [
        district_disconnected("d1", "gone", district_name=long_name, source="clever"),
        sync_failed("d1", "r1", None, district_name=long_name, source="clever"),
        validation_findings(
            _gappy_summary().model_copy(update={"district_name": long_name}), "r1", Change(None)
        ),
    ]
    assert all(len(a.subject) <= SUBJECT_MAX for a in alerts)


# -------------------------------------------------------------------------- the adapter


class _FakeSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        return {"MessageId": "m-1"}


def test_the_sns_publisher_sends_subject_body_and_attributes() -> None:
    sns = _FakeSns()
    alert = sync_failed("d1", "r1", None, source="clever")
    assert SnsAlertPublisher("arn:aws:sns:us-east-1:1:t", sns).publish(alert) is True
    [call] = sns.calls
    assert call == {
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Subject": alert.subject,
        "Message": alert.body,
        "MessageAttributes": alert.message_attributes(),
    }


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "NotFound", "Message": "Topic does not exist"}}, "Publish"),
        RuntimeError("boom"),
    ],
)
def test_the_sns_publisher_never_raises(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    alert = validation_findings(_gappy_summary(), "r1", Change(None))
    assert SnsAlertPublisher("arn:aws:sns:us-east-1:1:t", _FakeSns(error)).publish(alert) is False


class _BrokenLinks:
    def presigned_url(self, key: str, expires_in: int) -> str:
        raise RuntimeError("no credentials")


def test_an_alert_without_a_link_is_still_sent() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    assert notify_validation(_validated(store, _gappy_summary()), store, publisher, _BrokenLinks()).published
    assert "http" not in publisher.sent[0].body


def test_report_links_last_at_most_seven_days() -> None:
    from rostersync.adapters.s3_report_links import S3ReportLinks

    with pytest.raises(ValueError, match="7 days"):
        S3ReportLinks("bucket", client=object()).presigned_url("k", 7 * 24 * 3600 + 1)


def test_a_classlink_district_is_announced_in_classlink_words() -> None:
    """Issue 12: a OneRoster (ClassLink) tenant's connection alerts name ClassLink, not Clever."""
    store, publisher = MemoryPageStore(), RecordingPublisher()
    notify_discovery(set(), store, publisher, sources=dict.fromkeys(set(), "clever"))
    fetched = _fetched("4218990").model_copy(
        update={"district_name": "Keystone Valley SD", "source": "oneroster"}
    )
    notify_fetch([fetched], store, publisher, discovered=["4218990"])
    # Gone from the tenants secret: its connection state remembers it was a ClassLink district.
    notify_discovery(set(), store, publisher, sources=dict.fromkeys(set(), "clever"))

    connected, disconnected = publisher.sent
    assert connected.subject == "RosterSync: Keystone Valley SD - connected in ClassLink"
    assert "District: Keystone Valley SD (ClassLink district id 4218990)" in connected.body
    assert "Smart Futures in ClassLink." in connected.body
    assert disconnected.subject == "RosterSync: Keystone Valley SD - disconnected in ClassLink"
    assert "ONEROSTER_SECRET_ID" in disconnected.body and "Roster Server" in disconnected.body
    for alert in (connected, disconnected):
        assert "Clever" not in alert.body


def test_discovery_names_each_districts_source() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    notify_discovery({"a"}, store, publisher, sources=dict.fromkeys({"a"}, "clever"))
    notify_discovery({"a", "t1", "c1"}, store, publisher, sources={"t1": "oneroster", "c1": "clever"})
    by_id = {a.district_id: a.subject for a in publisher.sent}
    assert by_id == {
        "c1": "RosterSync: c1 - connected in Clever",
        "t1": "RosterSync: t1 - connected in ClassLink",
    }


def test_a_revoked_classlink_key_alerts_disconnected_in_classlink() -> None:
    store, publisher = MemoryPageStore(), RecordingPublisher()
    gone = Failure(kind=FailureKind.DISCONNECTED, reason="oneroster does not list this district")
    notify_fetch([_fetched("4218990", gone).model_copy(update={"source": "oneroster"})], store, publisher)
    notify_fetch(
        [_fetched("4218990", None, "r2").model_copy(update={"source": "oneroster"})], store, publisher
    )
    assert [a.subject for a in publisher.sent] == [
        "RosterSync: 4218990 - disconnected in ClassLink",
        "RosterSync: 4218990 - reconnected in ClassLink",
    ]
    assert "How we know: oneroster does not list this district." in publisher.sent[0].body


def test_a_classlink_districts_findings_alert_names_classlink_not_clever() -> None:
    """A ClassLink data manager was told what to change "in Clever" and that the records came from
    Clever: the alert now names the district's own source (rule advice covers both sources)."""
    summary = _gappy_summary().model_copy(update={"source": "oneroster"})
    body = validation_findings(summary, "r1", Change(None)).body.replace(SIGNATURE, "")
    assert "records from ClassLink" in body and "What to change in ClassLink" in body
    assert "Changes made in ClassLink are picked up" in body
    assert "ClassLink district id" in body
    advice_free = body.split("What to change in")[0] + body.split("Changes made in")[1]
    assert "Clever" not in advice_free
    clever = validation_findings(_gappy_summary(), "r1", Change(None)).body
    assert "records from Clever" in clever and "What to change in Clever" in clever


@pytest.mark.parametrize(
    "kind", [FailureKind.SOURCE_ERROR, FailureKind.PROTOCOL_ERROR, FailureKind.DISCONNECTED]
)
def test_a_classlink_districts_failed_sync_is_explained_in_classlink_terms(kind: FailureKind) -> None:
    failure = Failure(kind=kind, reason="500 from the OneRoster server", resource="users")
    body = sync_failed("4218990", "r1", failure, district_name="Tenant SD", source="oneroster").body
    body = body.replace(SIGNATURE, "")
    assert "ClassLink district id 4218990" in body
    what_to_do = body.split("What to do")[1]
    assert "Clever" not in what_to_do and ("ClassLink" in what_to_do or "OneRoster" in what_to_do)
    clever = sync_failed("d1", "r1", failure, district_name="Clever SD", source="clever").body
    assert "Clever" in clever.split("What to do")[1]


# ------------------------------------------------------------------ PA Secure ID conflicts (issue 22)


def _conflicted(new: int, existing: int = 0) -> Any:
    from rostersync.contracts.importer import ImportResult, RunStatus

    conflicts = [
        {
            "district_id": "d-probe",
            "student_id": f"st{n}",
            "trusted_district": "d-home",
            "trusted_student": f"home{n}",
            "since": "2026-11-29T07:00:00+00:00",
        }
        for n in range(new)
    ]
    state_ids = {"new_conflicts": new, "existing_conflicts": existing, "conflicts": conflicts}
    return ImportResult(district_id="d-probe", run_id="r1", status=RunStatus.SUCCEEDED, state_ids=state_ids)


def test_a_pa_secure_id_conflict_alerts_support_alone_with_both_districts() -> None:
    from rostersync.adapters.sns_contact_subscriptions import filter_policy
    from rostersync.alert_model import CONTACT_EVENT_TYPES
    from rostersync.alerts.notify import notify_import

    publisher = RecordingPublisher()
    notify_import(_conflicted(2), publisher, source="clever")
    [alert] = publisher.sent
    assert alert.event_type is EventType.STATE_ID_CONFLICTS and alert.district_id == "d-probe"
    assert "d-home / home0  <-  st0" in alert.body and "d-home / home1  <-  st1" in alert.body
    assert "2 PA Secure ID conflicts" in alert.subject
    # A district's contacts never get it: their filter admits only their findings and held deletions.
    assert EventType.STATE_ID_CONFLICTS not in CONTACT_EVENT_TYPES
    assert "state_id_conflicts" not in filter_policy("d-probe")["event_type"]

    quiet = RecordingPublisher()
    notify_import(_conflicted(0), quiet, source="clever")
    assert quiet.sent == []
    migrated = RecordingPublisher()
    notify_import(
        _conflicted(0, existing=3), migrated, source="clever"
    )  # the registry's first night: one summary
    [summary] = migrated.sent
    assert "3 existing PA Secure ID conflicts" in summary.subject and "existed before tonight" in summary.body
