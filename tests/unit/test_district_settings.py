"""District settings: checked input, versioned writes, every change recorded, contacts subscribed."""

from __future__ import annotations

import pytest

from rostersync import district_settings as ds
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.layout import SAFEGUARD_SK, SETTINGS_SK, config_pk
from tests.fakes.roster_table import MemoryRosterTable

D = "d1"
NOW = "2026-11-28T07:00:00Z"
LATER = "2026-11-29T07:00:00Z"


class FakeSubscriptions:
    def __init__(self) -> None:
        self.active: dict[str, tuple[str, str]] = {}
        self.fail_for: str | None = None

    def subscribe(self, district_id: str, email: str) -> str:
        if email == self.fail_for:
            raise RuntimeError("injected")
        arn = f"arn:sub:{len(self.active) + 1}"
        self.active[arn] = (district_id, email)
        return arn

    def unsubscribe(self, subscription_arn: str) -> None:
        self.active.pop(subscription_arn, None)


def test_no_settings_means_every_shared_school_is_licensed() -> None:
    current = ds.load(MemoryRosterTable(), D)
    assert current.licensed is None and current.contacts == () and current.safeguard_percent is None


def test_set_then_show_records_who_and_when_for_every_change() -> None:
    table, subs = MemoryRosterTable(), FakeSubscriptions()
    applied = ds.apply(
        table,
        D,
        by="arn:aws:iam::1:user/pat",
        now=NOW,
        subscriptions=subs,
        licensed=["421234567890", " 420000000001 ", "421234567890"],
        contact_list=["Data.Manager@District.ORG"],
        percent=25,
    )
    s = ds.load(table, D)
    assert s.licensed_schools == ("420000000001", "421234567890")
    assert s.contacts == ("Data.Manager@district.org",)
    assert s.safeguard_percent == 25 and s.version == 1 and s.updated_by == "arn:aws:iam::1:user/pat"
    assert list(subs.active.values()) == [(D, "Data.Manager@district.org")]
    assert applied.subscribed == ["Data.Manager@district.org"]
    # the import reads the same safeguard item
    item = table.get_item(config_pk(D), SAFEGUARD_SK)
    assert SafeguardThresholds.from_item(item, SafeguardThresholds()).archive_percent == 25
    changes = ds.history(table, D)
    assert {c.setting for c in changes} == {"licensed_schools", "contacts", "safeguard_percent"}
    assert all(c.by == "arn:aws:iam::1:user/pat" and c.at == NOW for c in changes)


def test_an_empty_list_clears_and_removed_contacts_are_unsubscribed() -> None:
    table, subs = MemoryRosterTable(), FakeSubscriptions()
    ds.apply(
        table, D, by="a", now=NOW, subscriptions=subs, licensed=["421234567890"], contact_list=["a@x.org"]
    )
    applied = ds.apply(
        table, D, by="b", now=LATER, subscriptions=subs, licensed=[], contact_list=[], percent=None
    )
    s = ds.load(table, D)
    assert s.licensed is None and s.contacts == () and s.subscriptions == {} and s.version == 2
    assert subs.active == {} and applied.unsubscribed == ["a@x.org"]
    newest = ds.history(table, D)[0]
    assert newest.by == "b" and newest.at == LATER
    # the safeguard went back to the default: no percent on the item
    assert "archive_percent" not in (table.get_item(config_pk(D), SAFEGUARD_SK) or {})


def test_nothing_changed_writes_nothing() -> None:
    table = MemoryRosterTable()
    ds.apply(table, D, by="a", now=NOW, licensed=["421234567890"])
    before = dict(table.items)
    applied = ds.apply(table, D, by="a", now=LATER, licensed=["421234567890"])
    assert applied.changes == [] and table.items == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"licensed": ["42123456789"]}, "not a 12-digit NCES"),
        ({"licensed": ["4212345678901"]}, "not a 12-digit NCES"),
        ({"contact_list": ["not-an-address"]}, "not an e-mail address"),
        ({"contact_list": ["a@b.org\nBcc: x@y.org"]}, "not an e-mail address"),
        ({"percent": 0}, "1 to 100"),
        ({"percent": 101}, "1 to 100"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(changes: dict, message: str) -> None:
    table, subs = MemoryRosterTable(), FakeSubscriptions()
    with pytest.raises(ds.SettingsError, match=message):
        ds.apply(table, D, by="a", now=NOW, subscriptions=subs, **changes)
    assert table.items == {} and subs.active == {}


def test_a_change_that_lost_the_race_is_refused_and_its_subscriptions_undone() -> None:
    table, subs = MemoryRosterTable(), FakeSubscriptions()
    ds.apply(table, D, by="a", now=NOW, licensed=["421234567890"])
    real = table.put_versioned

    def someone_else_first(item, expected_version):  # type: ignore[no-untyped-def]
        stored = table.items[(config_pk(D), SETTINGS_SK)]
        stored["version"] = stored["version"] + 1
        return real(item, expected_version)

    table.put_versioned = someone_else_first  # type: ignore[method-assign]
    with pytest.raises(ds.SettingsError, match="someone else"):
        ds.apply(table, D, by="b", now=LATER, subscriptions=subs, contact_list=["a@x.org"])
    assert subs.active == {}
