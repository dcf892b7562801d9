"""Held nights hold everything (issue 14 items 8 and 9): sections keep held people until the
release, and a release never archives people the newest fetch has again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from boto3.dynamodb.conditions import Key

from rostersync.contracts.importer import RunStatus
from rostersync.importer.release import release_hold
from rostersync.importer.safeguard import SafeguardThresholds
from rostersync.records import Kind, SectionRecord
from rostersync.settings import Settings
from rostersync_cli.provision import provision
from tests.factories import D, Roster, small_roster
from tests.integration.test_import_roster import Env

pytestmark = pytest.mark.integration

TRIP_EASILY = SafeguardThresholds(archive_percent=10, floor=1)


@pytest.fixture
def env(settings: Settings, raw_bucket: str) -> Iterator[Env]:
    provision(settings)
    yield Env(settings)


def _drop(roster: Roster, kind: Kind, ids: list[str]) -> None:
    """People gone from tonight's fetch, and from its sections (validation passes no dangling ids)."""
    for clever_id in ids:
        roster.remove(kind, clever_id)
    attr = "students" if kind is Kind.STUDENT else "teachers"
    for (k, _), record in list(roster.records.items()):
        if isinstance(record, SectionRecord):
            kept = tuple(i for i in getattr(record, attr) if i not in ids)
            roster.add(k, record.model_copy(update={attr: kept}))


def _section(env: Env, section_id: str) -> dict[str, object]:
    item = env.item(Kind.SECTION, section_id)
    assert item is not None
    return item


def _teacher_edges(env: Env, section_id: str) -> set[str]:
    return {i["sk"] for i in env.query(KeyConditionExpression=Key("pk").eq(f"SECTION#{D}#{section_id}"))}


def test_held_people_stay_in_their_sections_until_the_release_takes_them_out(env: Env) -> None:
    roster = small_roster(students=30, teachers=3)  # se000..se002, 10 students each, one teacher each
    env.run(roster, thresholds=TRIP_EASILY)
    before = {s: list(_section(env, s)["students"]) for s in ("se000", "se001", "se002")}  # type: ignore[call-overload]
    dropped = [f"st{n:04d}" for n in range(6)]  # 6 of 30: held
    _drop(roster, Kind.STUDENT, dropped)
    _drop(roster, Kind.TEACHER, ["te000"])
    roster.add(
        Kind.SECTION, roster.records[(Kind.SECTION, "se000")].model_copy(update={"teachers": ("te001",)})
    )

    held = env.run(roster, thresholds=TRIP_EASILY)
    assert held.status is RunStatus.HELD and held.counts["STUDENT"].held == 6

    # Tonight's section lists still name the held people (they are still active)...
    for section_id, students in before.items():
        assert _section(env, section_id)["students"] == students
    se000 = _section(env, "se000")
    assert se000["teachers"] == ["te000", "te001"] and se000["held_teachers"] == ["te000"]
    assert set(se000["held_students"]) == {s for s in dropped if s in before["se000"]}  # type: ignore[arg-type]
    assert _teacher_edges(env, "se000") == {"TEACHER#te000", "TEACHER#te001"}
    # ...and their school memberships stay.
    school = {i["sk"] for i in env.query(KeyConditionExpression=Key("pk").eq(f"SCHOOL#{D}#sch1"))}
    assert {f"STUDENT#{s}" for s in dropped} | {"TEACHER#te000"} <= school

    # A second held night with the same data writes nothing to the sections.
    again = env.run(roster, thresholds=TRIP_EASILY)
    assert again.status is RunStatus.HELD and again.counts["SECTION"].updated == 0
    assert not [k for k in env.writes.keys if k[1].startswith("SECTION#")]

    released = release_hold(
        D, again.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock
    )
    assert released.status == "released" and released.archived == 7

    for section_id, students in before.items():
        item = _section(env, section_id)
        assert item["students"] == [s for s in students if s not in dropped]
        assert "held_students" not in item and "held_teachers" not in item
    assert _section(env, "se000")["teachers"] == ["te001"]
    assert _teacher_edges(env, "se000") == {"TEACHER#te001"}

    # The sections now are exactly tonight's records: the next night writes nothing.
    after = env.run(roster, thresholds=TRIP_EASILY)
    assert after.status is RunStatus.SUCCEEDED and after.roster_writes == 0


def test_when_the_held_people_come_back_their_sections_are_the_sources_again(env: Env) -> None:
    roster = small_roster(students=30, teachers=3)
    env.run(roster)
    original = Roster(dict(roster.records))
    _drop(roster, Kind.STUDENT, [f"st{n:04d}" for n in range(6)])
    assert env.run(roster).status is RunStatus.HELD
    back = env.run(original)
    assert back.status is RunStatus.SUCCEEDED
    for section_id in ("se000", "se001", "se002"):
        item = _section(env, section_id)
        assert "held_students" not in item
    assert env.run(original).roster_writes == 0


# ------------------------------------------------------------------ item 9: the newest fetch


def _fetched(env: Env, run_id: str, students: list[str], *, status: str = "complete") -> None:
    """A fetch of the district in the raw bucket (what a later run left when it failed after fetching)."""
    from datetime import UTC, datetime

    from rostersync.contracts.fetch import Manifest, ManifestStatus, PageRef
    from rostersync.layout import manifest_key, page_key

    key = page_key(D, run_id, "students", 0)
    records = [{"id": s, "roles": {"student": {"school": "sch1"}}} for s in students]
    size = env.store.put_json(
        key, {"source": "clever", "resource": "students", "page": 0, "records": records}
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    manifest = Manifest(
        district_id=D,
        run_id=run_id,
        status=ManifestStatus(status),
        started_at=now,
        finished_at=now,
        pages=[PageRef(resource="students", index=0, key=key, records=len(records), bytes=size)],
    )
    env.store.put_json(manifest_key(D, run_id), manifest.model_dump(mode="json"))


def test_a_release_skips_people_the_newest_complete_fetch_has_again(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    everyone = roster.ids(Kind.STUDENT)
    dropped = [f"st{n:04d}" for n in range(6)]
    _drop(roster, Kind.STUDENT, dropped)
    held = env.run(roster)
    assert held.status is RunStatus.HELD
    # A newer run fetched the district completely, with three of them back, then failed; an even
    # newer fetch failed part way (it proves nothing).
    back = dropped[:3]
    newer = env.clock.next_run()
    _fetched(env, newer, [s for s in everyone if s not in dropped[3:]])
    _fetched(env, env.clock.next_run(), [], status="failed")

    released = release_hold(
        D, held.run_id, table=env.table, holds=env.holds, store=env.store, clock=env.clock
    )

    assert released.status == "released" and released.newest_fetch == newer
    assert released.archived == 3 and released.skipped == 3 and released.fetched_again == 3
    for student_id in dropped:
        item = env.item(Kind.STUDENT, student_id)
        assert item is not None
        assert item["status"] == ("active" if student_id in back else "archived"), student_id


def test_a_release_with_no_complete_fetch_since_the_hold_archives_the_held_set(env: Env) -> None:
    roster = small_roster(students=30)
    env.run(roster)
    _drop(roster, Kind.STUDENT, [f"st{n:04d}" for n in range(6)])
    held = env.run(roster)
    _fetched(env, held.run_id, roster.ids(Kind.STUDENT))  # the held run's own fetch: older news
    released = release_hold(D, None, table=env.table, holds=env.holds, store=env.store, clock=env.clock)
    assert released.archived == 6 and released.newest_fetch is None


def test_a_release_takes_the_lease_before_it_decides(env: Env, settings: Settings) -> None:
    """A run that commits between the release reading the hold and taking the lease supersedes it."""
    from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
    from rostersync.importer.release import HOLD_HELD, HOLD_SUPERSEDED

    roster = small_roster(students=30)
    env.run(roster)
    _drop(roster, Kind.STUDENT, [f"st{n:04d}" for n in range(6)])
    held = env.run(roster)

    class CommitsMeanwhile(DynamoRosterTable):
        def acquire_lease(self, district_id: str, holder: str, **kw: object):  # type: ignore[no-untyped-def]
            if holder.startswith("release"):  # a newer run commits just before the release gets the lease
                self.set_status(f"HOLD#{D}", held.run_id, HOLD_HELD, HOLD_SUPERSEDED)
            return super().acquire_lease(district_id, holder, **kw)  # type: ignore[arg-type]

    table = CommitsMeanwhile(settings.roster_table, env.client)
    released = release_hold(D, held.run_id, table=table, holds=env.holds, store=env.store, clock=env.clock)
    assert released.status == "superseded" and released.archived == 0
    assert set(_statuses_of(env)) == {"active"}


def _statuses_of(env: Env) -> list[str]:
    return [str(env.item(Kind.STUDENT, f"st{n:04d}")["status"]) for n in range(30)]  # type: ignore[index]
