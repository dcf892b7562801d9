"""Every Query of the roster table adapter reads past its first page (moto pages a Query at 1 MB,
as DynamoDB does): a district partition, a section's membership and a person's memberships (the
inverted index), each larger than a megabyte."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.layout import district_pk
from rostersync.settings import Settings
from rostersync_cli.provision import provision

BIG = "dbig0000000000000000001"
STUDENTS = 1500
PAD = "x" * 900  # ~1 KB items: 1,500 of them are ~1.5 MB, two pages at least
MEMBERS = 1200


class QueryPages:
    """Counts the Query requests the adapter sends, and the pages that ended short (LastEvaluatedKey)."""

    def __init__(self, client: Any) -> None:
        self.requests = 0
        self.continued = 0
        client.meta.events.register("before-call.dynamodb.Query", self._request)
        client.meta.events.register("after-call.dynamodb.Query", self._response)

    def _request(self, **_: Any) -> None:
        self.requests += 1

    def _response(self, parsed: dict[str, Any], **_: Any) -> None:
        self.continued += "LastEvaluatedKey" in parsed


@pytest.fixture(scope="module")
def big_table(embedded_aws: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """One table, written once for the module: a 1.5 MB district partition, a section with 1,200
    teacher memberships and a teacher in 1,200 schools (padded to ~1 KB each)."""
    mp = pytest.MonkeyPatch()
    env = {**embedded_aws.environment(), "ROSTER_TABLE": "roster-pagination", "RAW_BUCKET": "raw-pagination"}
    for name, value in env.items():
        mp.setenv(name, value)
    settings = Settings()
    provision(settings)
    table = DynamoRosterTable(settings.roster_table, sleep=lambda _s: None)
    students = [
        {
            "pk": district_pk(BIG),
            "sk": f"STUDENT#st{n:05d}",
            "status": "active",
            "content_hash": f"{n:032x}",
            "sis_id": f"sis-{n}",
            "schools": ["sch1"],
            "pad": PAD,
        }
        for n in range(STUDENTS)
    ]
    section_members = [
        {"pk": f"SECTION#{BIG}#sebig", "sk": f"TEACHER#te{n:05d}", "district_id": BIG, "pad": PAD}
        for n in range(MEMBERS)
    ]
    teacher_schools = [
        {"pk": f"SCHOOL#{BIG}#sch{n:05d}", "sk": "TEACHER#tebig", "district_id": BIG, "pad": PAD}
        for n in range(MEMBERS)
    ]
    assert table.write(students + section_members + teacher_schools, []) == STUDENTS + 2 * MEMBERS
    table.close()
    yield settings.roster_table, env
    mp.undo()


@pytest.fixture
def table(
    big_table: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DynamoRosterTable, QueryPages]]:
    name, env = big_table
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("dynamodb")
    pages = QueryPages(client)
    adapter = DynamoRosterTable(name, client, sleep=lambda _s: None)
    yield adapter, pages
    adapter.close()


def test_existing_reads_every_page_of_a_large_partition(table: tuple[DynamoRosterTable, QueryPages]) -> None:
    adapter, pages = table
    existing = list(adapter.existing(BIG))
    assert pages.continued >= 1 and pages.requests == pages.continued + 1  # it did page
    assert len(existing) == STUDENTS
    assert {e.sk for e in existing} == {f"STUDENT#st{n:05d}" for n in range(STUDENTS)}
    last = next(e for e in existing if e.sk == f"STUDENT#st{STUDENTS - 1:05d}")
    assert (last.status, last.content_hash, last.schools, last.sis_id) == (
        "active",
        f"{STUDENTS - 1:032x}",
        ("sch1",),
        f"sis-{STUDENTS - 1}",
    )


def test_query_reads_every_page_in_either_order(table: tuple[DynamoRosterTable, QueryPages]) -> None:
    adapter, pages = table
    oldest_first = adapter.query(district_pk(BIG))
    assert pages.continued >= 1
    assert [i["sk"] for i in oldest_first] == [f"STUDENT#st{n:05d}" for n in range(STUDENTS)]
    newest_first = adapter.query(district_pk(BIG), newest_first=True)
    assert [i["sk"] for i in newest_first] == [f"STUDENT#st{n:05d}" for n in reversed(range(STUDENTS))]


def test_a_query_limit_past_the_first_page_is_honoured(table: tuple[DynamoRosterTable, QueryPages]) -> None:
    adapter, pages = table
    limited = adapter.query(district_pk(BIG), limit=1400)  # more than one 1 MB page holds
    assert pages.continued >= 1
    assert [i["sk"] for i in limited] == [f"STUDENT#st{n:05d}" for n in range(1400)]


def test_a_section_s_membership_is_read_past_the_first_page(
    table: tuple[DynamoRosterTable, QueryPages],
) -> None:
    adapter, pages = table
    edges = adapter.member_edges(BIG, "SECTION#sebig")
    assert pages.continued >= 1
    assert edges == {(f"SECTION#{BIG}#sebig", f"TEACHER#te{n:05d}") for n in range(MEMBERS)}


def test_a_person_s_memberships_are_read_past_the_first_page_of_the_index(
    table: tuple[DynamoRosterTable, QueryPages],
) -> None:
    adapter, pages = table
    # moto pages an index Query by the table items' size (1,200 of ~1 KB); DynamoDB would by the
    # index entries' (`inverted` is KEYS_ONLY: ~15,000 memberships a page). Either way the adapter
    # must follow LastEvaluatedKey, which is what this checks.
    edges = adapter.member_edges(BIG, "TEACHER#tebig")
    assert pages.continued >= 1
    assert edges == {(f"SCHOOL#{BIG}#sch{n:05d}", "TEACHER#tebig") for n in range(MEMBERS)}
