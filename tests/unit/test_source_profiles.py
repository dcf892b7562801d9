"""Every registered source words everything reports and alerts say of it (issue 20, Build 1).

* The registry: a source is found by its name; an unknown name is an error, never Clever.
* Completeness: every registered profile (and the test-only Abacus, registered here) has fix
  advice for every rule its districts can break, advice for every fetch failure kind, and every
  other piece of `Wording`; a profile that lacks one is caught.
* Every alert and report a district can cause, rendered for every registered source, names that
  source and no other (the night test, tests/integration/test_source_wording.py, scans what real
  nights produce).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from rostersync.alert_model import Alert
from rostersync.alerts import messages
from rostersync.contracts.fetch import Failure, FailureKind, Manifest, ManifestStatus
from rostersync.contracts.importer import Rollover
from rostersync.layout import manifest_key
from rostersync.sources import (
    PROFILES,
    SourceProfile,
    UnknownSource,
    base_name,
    label,
    normalize_district,
    profile,
    provider_of,
    qualified,
    register,
    unregister,
)
from rostersync.validate.reports.report_html import render_html
from rostersync.validate.rules import RULES, SOURCE_WORDED, fix_advice, rules_for
from rostersync.validate.stage import validate_run
from rostersync.validate.summary import Example, RuleSummary, SchoolSummary, Summary
from tests.fakes import MemoryPageStore
from tests.fakes.abacus.profile import make_profile

NOW = datetime(2026, 11, 28, 7, tzinfo=UTC)
RUN = "20261128T070000Z-aaaaaa"


@pytest.fixture(autouse=True)
def abacus() -> Iterator[SourceProfile]:
    """The test-only source, registered like any other for the length of a test."""
    registered = make_profile({})
    register(registered)
    try:
        yield registered
    finally:
        unregister(registered.name)


def _names(source: SourceProfile) -> re.Pattern[str]:
    """Another source's names: its registry name and its display name (whole words)."""
    others = {
        word
        for other in PROFILES.values()
        if other.name != source.name
        for word in (other.name, other.wording.display_name)
        # A name that is part of this source's own (none today) would not tell them apart.
        if word.lower() not in source.wording.display_name.lower() and word.lower() != source.name
    }
    return re.compile("|".join(sorted(map(re.escape, others))), re.IGNORECASE)


def missing_wording(source: SourceProfile) -> list[str]:
    """What a report or an alert would ask of the source and not find."""
    words = source.wording
    missing = [f"fix advice for {rule_id}" for rule_id in rules_for(source) if not _advice(rule_id, source)]
    missing += [
        f"failure advice for {kind.value}" for kind in FailureKind if not words.failure_advice.get(kind.value)
    ]
    for piece in dataclasses.fields(words):
        value = getattr(words, piece.name)
        if piece.name in ("disconnect_reasons", "default_disconnect_reason", "fixes", "failure_advice"):
            continue
        if not value or (isinstance(value, tuple) and not all(value)):
            missing.append(piece.name)
    return missing


def _advice(rule_id: str, source: SourceProfile) -> str | None:
    try:
        return fix_advice(rule_id, source.wording)
    except LookupError:
        return None


def test_a_source_is_found_by_its_name_and_an_unknown_name_is_an_error() -> None:
    assert profile("clever").wording.display_name == "Clever"
    assert profile("oneroster").wording.display_name == "ClassLink"
    assert profile("abacus").wording.display_name == "Abacus"
    for unknown in ("sources", "Clever", "", None):
        with pytest.raises(UnknownSource, match=r"unknown source .* the registered sources are clever"):
            profile(unknown)
    with pytest.raises(UnknownSource, match=r"unknown source 'sources'"):
        messages.sync_failed("d1", "r1", None, source="sources")
    with pytest.raises(ValueError, match="'abacus' is registered already"):
        register(make_profile({}))


def test_every_registered_source_words_everything_reports_and_alerts_use() -> None:
    assert set(PROFILES) >= {"clever", "oneroster", "abacus"}
    for source in PROFILES.values():
        assert missing_wording(source) == [], source.name
        # Its own rules are in the catalogue, and only its districts' summaries count them.
        for own in source.own_rules:
            assert own.id in RULES and own.id in rules_for(source)
            assert all(own.id not in rules_for(other) for other in PROFILES.values() if other is not source)


def test_a_source_lacking_a_piece_of_wording_is_caught() -> None:
    clever = profile("clever")
    fixes = dict(clever.wording.fixes)
    del fixes["school.nces_id.missing"]
    failures = {k: v for k, v in clever.wording.failure_advice.items() if k != "key_refused"}
    words = dataclasses.replace(clever.wording, fixes=fixes, failure_advice=failures, reshare=())
    lacking = dataclasses.replace(clever, name="lacking", wording=words)
    assert missing_wording(lacking) == [
        "fix advice for school.nces_id.missing",
        "failure advice for key_refused",
        "reshare",
    ]
    with pytest.raises(LookupError, match=r"no fix advice for school\.nces_id\.missing"):
        fix_advice("school.nces_id.missing", words)
    # A Wording without one of its pieces does not even construct.
    with pytest.raises(TypeError, match="gone_from_list"):
        fields = {f.name: getattr(clever.wording, f.name) for f in dataclasses.fields(clever.wording)}
        del fields["gone_from_list"]
        type(clever.wording)(**fields)
    assert set(clever.wording.fixes) >= SOURCE_WORDED


def _summary(source: SourceProfile) -> Summary:
    """A district of `source` that broke every rule its districts can break."""
    rules = {}
    for rule_id in rules_for(source):
        rule = RULES[rule_id]
        example = Example(record_type="student", source_id="s1", sis_id="100", name="Doe, Jane", message="x")
        rules[rule_id] = RuleSummary(
            rule=rule_id, severity=rule.severity, title=rule.title, count=3, examples=[example]
        )
    school = SchoolSummary(school_id="sch1", name="Lincoln High", nces_id=None, accepted=False)
    return Summary(
        district_id="d1", source=source.name, district_name="Tioga SD", rules=rules, schools=[school]
    )


def _alerts(source: SourceProfile) -> list[Alert]:
    """Every alert a district of `source` can cause."""
    name, d = source.name, "d1"
    link = messages.ReportLink(url="https://reports.example/d1", expires_at=NOW)
    rollover = Rollover(
        pause_ended="2026-08-01",
        pause_ended_days_ago=3,
        terms_created=2,
        terms_gone=2,
        new_terms_start="2026-08-20",
    )
    alerts = [
        messages.sync_failed(d, "r1", Failure(kind=kind, reason="it failed", resource="users"), source=name)
        for kind in FailureKind
    ]
    alerts += [
        messages.sync_failed(d, "r1", None, source=name, district_name="Tioga SD"),
        messages.district_connected(d, district_name="Tioga SD", source=name),
        messages.district_connected(d, district_name="Tioga SD", reconnected=True, source=name),
        messages.district_disconnected(
            d, source.wording.gone_from_list, district_name="Tioga SD", source=name
        ),
        messages.import_locked(d, "r1", source=name, district_name="Tioga SD"),
        messages.import_stale(d, "r1", "a newer run started", source=name, district_name="Tioga SD"),
        messages.deletions_held(d, "r1", {"STUDENT": 40}, 100, 10, source=name, district_name="Tioga SD"),
        messages.deletions_held(
            d,
            "r1",
            {"STUDENT": 40},
            100,
            10,
            source=name,
            district_name="Tioga SD",
            link=link,
            rollover=rollover,
        ),
        messages.records_archived(d, "r1", {"STUDENT": (3, 100)}, source=name, district_name="Tioga SD"),
        messages.validation_findings(_summary(source), "r1", messages.Change(None), link=link),
        # Support's alone (issue 22), still about this district's import.
        messages.state_id_conflicts(
            d,
            "r1",
            {
                "new_conflicts": 1,
                "existing_conflicts": 2,
                "conflicts": [{"trusted_district": "d2", "trusted_student": "s9", "student_id": "s1"}],
            },
            source=name,
            district_name="Tioga SD",
        ),
    ]
    return alerts


@pytest.mark.parametrize("name", ["clever", "oneroster", "abacus"])
def test_every_alert_and_report_names_the_districts_source_and_no_other(name: str) -> None:
    source = profile(name)
    others = _names(source)
    display = source.wording.display_name
    for alert in _alerts(source):
        text = f"{alert.subject}\n{alert.body}"
        assert not others.findall(text), (
            f"{alert.event_type.value} for {name}: {others.findall(text)}\n{text}"
        )
    html = render_html(_summary(source), run_time=NOW)
    assert not others.findall(html), others.findall(html)
    assert html.count(f"How to fix in {display}") == len(rules_for(source))
    for rule_id in rules_for(source):
        assert fix_advice(rule_id, source.wording) in html.replace("&#x27;", "'").replace(
            "&quot;", '"'
        ).replace("&gt;", ">").replace("&amp;", "&")
    # The import's alerts name the district, not its bare id.
    for alert in _alerts(source):
        assert "Tioga SD" in alert.subject or alert.event_type.value == "sync_failed"


def test_pages_of_an_unknown_source_are_an_error_not_clevers() -> None:
    with pytest.raises(UnknownSource, match=r"unknown source 'sis_export'"):
        list(normalize_district("sis_export", ["users"], lambda resource: [], "d1"))


def test_validation_refuses_a_payload_whose_source_is_not_the_pages_source() -> None:
    store = MemoryPageStore()
    manifest = Manifest(
        source="clever",
        district_id="d1",
        run_id=RUN,
        status=ManifestStatus.COMPLETE,
        started_at=NOW,
        finished_at=NOW,
    )
    store.put_json(manifest_key("d1", RUN), manifest.model_dump(mode="json"))
    with pytest.raises(ValueError, match=r"payload's source 'oneroster' is not the source its pages"):
        validate_run(store, "d1", RUN, source_name="oneroster")


@pytest.mark.parametrize("provider", ["Infinite Campus", "Aeries", "PowerSchool SIS"])
def test_a_oneroster_district_of_another_provider_is_worded_with_its_providers_name(provider: str) -> None:
    """A tenant's `provider` travels in its source name ("oneroster:<provider>"): every report and
    alert of its district names that provider, never ClassLink nor its Roster Server, nor Clever."""
    name = f"oneroster:{provider}"
    source = profile(name)
    assert source.wording.display_name == provider and missing_wording(source) == []
    assert source.own_rules == profile("oneroster").own_rules and source.normalize_district is not None
    elsewhere = re.compile(r"(?i:ClassLink|Clever|Abacus)|\bRoster Server")
    for alert in _alerts(source):
        text = f"{alert.subject}\n{alert.body}"
        assert not elsewhere.findall(text), f"{alert.event_type.value}: {elsewhere.findall(text)}\n{text}"
    connected = messages.district_connected("d1", district_name="Tioga SD", source=name)
    assert f"in {provider}" in connected.body
    html = render_html(_summary(source), run_time=NOW)
    assert not elsewhere.findall(html)
    assert html.count(f"How to fix in {provider}") == len(rules_for(source))
    assert label(name) == provider and base_name(name) == "oneroster" and provider_of(name) == provider
    assert profile(name) is source  # built once per name


def test_a_provider_name_is_refused_where_it_does_not_belong() -> None:
    assert qualified("oneroster", "ClassLink") == "oneroster"
    assert qualified("oneroster", "Aeries") == "oneroster:Aeries"
    for unknown in ("clever:Aeries", "oneroster:", "oneroster:<b>", "oneroster:" + "x" * 49):
        with pytest.raises(UnknownSource):
            profile(unknown)
