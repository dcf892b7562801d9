"""The OneRoster tenants secret and the combined source (issue 12, Build 1)."""

from __future__ import annotations

import logging

import pytest

from rostersync.errors import DistrictSettingsInvalid
from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.combined import CombinedSource
from rostersync.sources.oneroster.source import OneRosterSource, TenantSecrets, parse_tenants, read_tenants

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
    assert "OneRoster tenant 4218994 fails tonight: base_url lacks the OneRoster path" in caplog.text
    assert "OneRoster tenant 4218995 fails tonight: base_url lacks the OneRoster path" in caplog.text
    assert "OneRoster tenant at position 2 left out" in caplog.text
    assert tenants[0].name == "Example SD"
    assert SECRET not in caplog.text and SECRET not in repr(tenants)
    # A broken entry whose id names a district fails that district alone; the others are served.
    read = read_tenants(value, reserved=is_clever_id)
    assert read.broken == {
        "4218991": "base_url is not an https URL",
        "4218992": "lacks client_secret",
        "4218994": read.broken["4218994"],
        "4218995": read.broken["4218995"],
    }
    source = OneRosterSource(read.usable, broken=read.broken, reserved=is_clever_id)
    assert source.district_ids() == [
        "4218990",
        "4218991",
        "4218992",
        "4218993",
        "4218994",
        "4218995",
        "4218996",
    ]
    with pytest.raises(DistrictSettingsInvalid, match="district 4218992 is not usable: lacks client_secret"):
        source.district("4218992")
    assert source.district("4218993") is not None
    source.close()


def test_a_tenant_names_its_provider_and_its_source_name_carries_it() -> None:
    (plain,) = parse_tenants({"tenants": [entry("4218990")]})
    (campus,) = parse_tenants({"tenants": [entry("4218991", provider=" Infinite Campus ")]})
    assert plain.provider == "ClassLink" and campus.provider == "Infinite Campus"
    source = OneRosterSource([plain, campus])
    assert source.source_of("4218990") == "oneroster"
    assert source.source_of("4218991") == "oneroster:Infinite Campus"
    reader = source.district("4218991")
    assert reader is not None and reader.source == "oneroster:Infinite Campus"
    source.close()
    assert not parse_tenants({"tenants": [entry("4218992", provider="<script>")]})
    assert not parse_tenants({"tenants": [entry("4218992", provider="")]})


class FakeSecrets:
    """Tenant secrets by name, as Secrets Manager would list and read them."""

    def __init__(self, values: dict[str, object], tags: dict[str, dict[str, str]] | None = None) -> None:
        self.values, self.tags = values, tags or {}
        self.reads: list[str] = []

    def read(self, secret_id: str, label: str) -> object:
        self.reads.append(secret_id)
        return self.values.get(secret_id)

    def names(self, prefix: str, label: str) -> dict[str, dict[str, str]]:
        return {n: self.tags.get(n, {}) for n in self.values if n.lower().startswith(prefix.lower())}


def test_tenant_secrets_are_listed_by_name_and_each_read_by_its_own_district_only() -> None:
    prefix = "rostersync/dev/oneroster/"
    good = {k: v for k, v in entry("4218990").items() if k != "district_id"}
    fake = FakeSecrets(
        {
            f"{prefix}4218990": good,
            f"{prefix}4218991": {**good, "base_url": "https://x.example.org/"},  # broken
            f"{prefix}4218992": {**good, "district_id": "4218999"},  # names another district
            f"{prefix}bad id": good,  # no usable district id: left out
            f"{prefix}0123456789abcdef01234567": good,  # Clever's id form: left out
            "ROSTERSYNC/DEV/ONEROSTER/4218993": good,  # the filter ignores case; the prefix does not
        },
        tags={f"{prefix}4218990": {"provider": "Aeries"}},
    )
    secrets = TenantSecrets(prefix, fake.read, fake.names)
    document = parse_tenants({"tenants": [entry("4218990", client_id="old"), entry("4218995")]})
    source = OneRosterSource(document, secrets=secrets, reserved=is_clever_id)
    assert source.district_ids() == ["4218990", "4218991", "4218992", "4218995"]
    assert fake.reads == []  # discovery reads no tenant's secret
    assert source.source_of("4218990") == "oneroster:Aeries"  # the tag, before any fetch
    tenant = source.tenant("4218990")
    assert tenant is not None and tenant.client_id == "key"  # its own secret wins over the document
    with pytest.raises(DistrictSettingsInvalid, match=r"4218991 .*base_url lacks the OneRoster path"):
        source.tenant("4218991")
    with pytest.raises(DistrictSettingsInvalid, match="not the district id its secret's name ends with"):
        source.tenant("4218992")
    assert source.tenant("4218995") is not None  # the document's, its secret absent
    assert fake.reads == [f"{prefix}4218990", f"{prefix}4218991", f"{prefix}4218992", f"{prefix}4218995"]


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
