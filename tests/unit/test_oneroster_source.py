"""The OneRoster tenants secret and the combined source (issue 12, Build 1)."""

from __future__ import annotations

import logging

import pytest

from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.combined import CombinedSource
from rostersync.sources.oneroster.source import OneRosterSource, parse_tenants

SECRET = "s3cr3t-never-logged"


def entry(district_id: str = "4218990", **extra: str) -> dict[str, str]:
    return {
        "district_id": district_id,
        "name": "Example SD",
        "base_url": "https://example.oneroster.com/ims/oneroster/v1p1",
        "client_id": "key",
        "client_secret": SECRET,
        **extra,
    }


@pytest.mark.parametrize("value", [None, {}, {"tenants": []}, {"tenants": "x"}, []])
def test_no_secret_or_no_tenants_means_no_oneroster_districts(value: object) -> None:
    assert parse_tenants(value) == []
    assert OneRosterSource(parse_tenants(value)).district_ids() == []


def test_tenants_that_break_a_rule_are_left_out_and_logged_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value = {
        "tenants": [
            entry("4218990"),
            entry("4218990", name="again"),  # the same id twice
            entry("bad id/../x"),
            entry("0123456789abcdef01234567"),  # Clever's id form
            entry("4218991", base_url="http://example.oneroster.com/ims/oneroster/v1p1"),  # not https
            entry("4218992", client_secret=""),
            "not an object",
            entry("4218993", base_url="http://127.0.0.1:8080/t/ims/oneroster/v1p1"),  # loopback: sandbox
            entry("4218994", base_url="https://example.oneroster.com"),  # the bare server address
            entry("4218995", base_url="https://example.oneroster.com/ims/oneroster/v1p1/users"),
            entry("4218996", base_url="https://example.oneroster.com/ims/oneroster/v1p1/"),
        ]
    }
    with caplog.at_level(logging.DEBUG):
        tenants = parse_tenants(value, reserved=is_clever_id)
    assert [t.district_id for t in tenants] == ["4218990", "4218993", "4218996"]
    # The bare server address answered 404 every night; now the error names the tenant and the path.
    assert "OneRoster tenant 4218994 left out: base_url lacks the OneRoster path" in caplog.text
    assert "OneRoster tenant 4218995 left out: base_url lacks the OneRoster path" in caplog.text
    assert tenants[0].name == "Example SD"
    assert SECRET not in caplog.text and SECRET not in repr(tenants)


def test_the_combined_source_lists_both_and_serves_either() -> None:
    class Clever:
        name = "clever"
        closed = False

        def district_ids(self) -> list[str]:
            return ["0123456789abcdef01234567"]

        def district(self, district_id: str) -> object | None:
            return "clever-reader" if district_id == "0123456789abcdef01234567" else None

        def close(self) -> None:
            self.closed = True

    clever = Clever()
    oneroster = OneRosterSource(parse_tenants({"tenants": [entry("4218990")]}))
    combined = CombinedSource([clever, oneroster])
    assert combined.district_ids() == ["0123456789abcdef01234567", "4218990"]
    assert combined.district("0123456789abcdef01234567") == "clever-reader"
    reader = combined.district("4218990")
    assert reader is not None and reader.source == "oneroster" and reader.district_id == "4218990"
    assert combined.district("nope") is None
    # Which source listed each district: the alerts name it (connected in ClassLink).
    assert combined.source_of("4218990") == "oneroster"
    assert combined.source_of("0123456789abcdef01234567") == "clever"
    assert combined.source_of("nope") is None
    combined.close()
    assert clever.closed
