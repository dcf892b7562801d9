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

    def current(self, district_id: str) -> dict[str, str]:
        return {arn: email for arn, (d, email) in self.active.items() if d == district_id}


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


# ---------------------------------------------------------------- issue 25: contacts converge


class FailingOnce(FakeSubscriptions):
    """SNS refuses the next unsubscribe (a throttle, a network drop), then works again."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_unsubscribe = 0

    def unsubscribe(self, subscription_arn: str) -> None:
        if self.fail_unsubscribe:
            self.fail_unsubscribe -= 1
            raise RuntimeError("injected unsubscribe failure")
        super().unsubscribe(subscription_arn)


def test_a_failed_unsubscribe_leaves_the_change_recorded_and_pending_and_a_rerun_finishes_it() -> None:
    table, subs = MemoryRosterTable(), FailingOnce()
    ds.apply(table, D, by="a", now=NOW, subscriptions=subs, contact_list=["a@x.org", "b@x.org"])
    subs.fail_unsubscribe = 1

    with pytest.raises(ds.SettingsError, match="run the same command again"):
        ds.apply(table, D, by="b", now=LATER, subscriptions=subs, contact_list=["a@x.org"])

    # The change is recorded, and what is still to do is on the settings item.
    s = ds.load(table, D)
    assert s.contacts == ("a@x.org",)
    assert list(s.pending_unsubscribe) == ["b@x.org"]
    assert [c.setting for c in ds.history(table, D) if c.at == LATER] == ["contacts"]
    # `district show` says the subscriptions and the settings disagree.
    [problem] = ds.disagreements(s, subs.current(D))
    assert "b@x.org" in problem and "still subscribed" in problem

    again = ds.apply(table, D, by="b", now=LATER, subscriptions=subs, contact_list=["a@x.org"])

    assert again.finished_unsubscribed == ["b@x.org"]  # not "no change"
    assert [email for _d, email in subs.active.values()] == ["a@x.org"]
    s = ds.load(table, D)
    assert s.pending_unsubscribe == {} and ds.disagreements(s, subs.current(D)) == []
    assert [c.setting for c in ds.history(table, D) if c.at == LATER] == ["contacts"]  # once


def test_a_death_between_the_settings_write_and_the_change_record_is_finished_by_the_next_run() -> None:
    table, subs = MemoryRosterTable(), FailingOnce()
    ds.apply(table, D, by="a", now=NOW, subscriptions=subs, contact_list=["a@x.org", "b@x.org"])
    real_put = table.put_item
    table.put_item = lambda item: (_ for _ in ()).throw(RuntimeError("Lambda died"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="died"):
        ds.apply(table, D, by="b", now=LATER, subscriptions=subs, contact_list=["a@x.org"], percent=30)
    table.put_item = real_put  # type: ignore[method-assign]

    again = ds.apply(
        table, D, by="c", now="2026-11-30T07:00:00Z", subscriptions=subs, contact_list=["a@x.org"]
    )

    assert again.finished_unsubscribed == ["b@x.org"]
    assert {c.setting for c in ds.history(table, D) if c.at == LATER} == {"contacts", "safeguard_percent"}
    assert ds.load(table, D).safeguard_percent == 30
    assert [email for _d, email in subs.active.values()] == ["a@x.org"]


def test_show_names_a_subscription_the_settings_do_not_know_and_a_contact_without_one() -> None:
    table, subs = MemoryRosterTable(), FailingOnce()
    ds.apply(table, D, by="a", now=NOW, subscriptions=subs, contact_list=["a@x.org"])
    subs.active["arn:sub:stray"] = (D, "gone@x.org")
    subs.active.pop(next(iter(ds.load(table, D).subscriptions.values())))

    problems = ds.disagreements(ds.load(table, D), subs.current(D))

    assert any("gone@x.org" in p and "not a contact" in p for p in problems)
    assert any("a@x.org" in p and "no subscription" in p for p in problems)


def test_a_subscription_whose_undo_failed_is_removed_by_the_next_run() -> None:
    """A second contact's subscribe fails, and undoing the first one's fails too: that address is
    subscribed with no settings naming it. `show` says so, and the next `district set` removes it."""
    table, subs = MemoryRosterTable(), FailingOnce()
    subs.fail_for, subs.fail_unsubscribe = "b@x.org", 1
    with pytest.raises(RuntimeError, match="injected"):
        ds.apply(table, D, by="a", now=NOW, subscriptions=subs, contact_list=["a@x.org", "b@x.org"])
    assert [email for _d, email in subs.active.values()] == ["a@x.org"]
    [problem] = ds.disagreements(ds.load(table, D), subs.current(D))
    assert "a@x.org" in problem and "not a contact" in problem
    subs.fail_for = None

    again = ds.apply(table, D, by="a", now=LATER, subscriptions=subs, percent=20)

    assert again.finished_unsubscribed == ["a@x.org"]
    assert subs.active == {} and ds.disagreements(ds.load(table, D), subs.current(D)) == []
