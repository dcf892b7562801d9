"""What must hold after every fault scenario (issue 7), checked against S3, DynamoDB and the alerts.

1. Nothing already imported is lost: every item active in the clean baseline is still active
   (and, when the source did not change, unchanged) after a failed or partial run.
2. Every fetched record is accepted or rejected exactly once: summary.json's per-type
   fetched = accepted + rejected, and validate saw every record fetch stored.
3. The run record's counts match the table: per kind, the active items the run left and the
   items it archived, counted with a Query on the district's partition.
4. Every failed district was alerted (`sync_failed` or `district_disconnected`).
5. A roster index the LEASE item names is exactly what the table holds (the next diff reads
   it instead of the table).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key

from rostersync.importer.contract import FINAL, RunStatus
from rostersync.operations import run_status

if TYPE_CHECKING:
    from tests.integration.fault_world import FaultWorld, Night

# Written per run, not derived from the record: two clean imports of the same data differ here.
VOLATILE = frozenset({"last_changed_run", "updated_at", "archived_at", "archived_run"})
FAILURE_ALERTS = frozenset({"sync_failed", "district_disconnected"})


@dataclass(frozen=True)
class Roster:
    """A district's roster items (sk -> item) and every membership item pointing at them."""

    district_id: str
    items: dict[str, dict[str, Any]]
    edges: frozenset[tuple[str, str]]

    def content(self) -> dict[str, dict[str, Any]]:
        return {sk: {k: v for k, v in item.items() if k not in VOLATILE} for sk, item in self.items.items()}

    @property
    def active(self) -> set[str]:
        return {sk for sk, item in self.items.items() if item.get("status") == "active"}

    def count(self, status: str) -> Counter[str]:
        return Counter(
            sk.partition("#")[0] for sk, item in self.items.items() if item.get("status") == status
        )


def _query(table: Any, **kwargs: Any) -> Iterable[dict[str, Any]]:
    while True:
        page = table.query(**kwargs)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def snapshot(table_name: str, district_id: str) -> Roster:
    table = boto3.resource("dynamodb").Table(table_name)
    items = {
        item["sk"]: item
        for item in _query(
            table, KeyConditionExpression=Key("pk").eq(f"DISTRICT#{district_id}"), ConsistentRead=True
        )
    }
    # Membership partitions: every school and section the district's items name (the partition key
    # carries the district, and so do the items). Queried per group, not per person: a handful of Queries.
    groups: set[str] = set()
    for sk, item in items.items():
        kind, _, clever_id = sk.partition("#")
        if kind in ("SCHOOL", "SECTION"):
            groups.add(f"{kind}#{district_id}#{clever_id}")
        groups.update(f"SCHOOL#{district_id}#{school}" for school in item.get("schools") or ())
    edges: set[tuple[str, str]] = set()
    for group in sorted(groups):
        found = _query(table, KeyConditionExpression=Key("pk").eq(group), ConsistentRead=True)
        edges.update((e["pk"], e["sk"]) for e in found if e.get("district_id") == district_id)
    return Roster(district_id, items, frozenset(edges))


# ------------------------------------------------------------------------------ checks


def assert_baseline_intact(baseline: Roster, after: Roster, *, same_content: bool = True) -> None:
    """(1) No item active in the baseline was archived; with an unchanged source, none changed."""
    lost = sorted(sk for sk in baseline.active if after.items.get(sk, {}).get("status") != "active")
    assert not lost, f"{len(lost)} baseline records no longer active, e.g. {lost[:3]}"
    if same_content:
        before, now = baseline.content(), after.content()
        changed = sorted(sk for sk in baseline.active if before[sk] != now[sk])
        assert not changed, f"{len(changed)} baseline records changed, e.g. {changed[:3]}"
        assert baseline.edges <= after.edges, "baseline membership items were removed"


def assert_same_roster(after: Roster, reference: Roster) -> None:
    """The roster is exactly the clean run's: same items, same content, same membership items."""
    got, want = after.content(), reference.content()
    assert set(got) == set(want), (
        f"missing {sorted(set(want) - set(got))[:3]}, extra {sorted(set(got) - set(want))[:3]}"
    )
    differing = sorted(sk for sk in want if got[sk] != want[sk])
    assert not differing, f"{len(differing)} items differ from the clean run, e.g. {differing[:3]}"
    assert after.edges == reference.edges, (
        f"membership differs: missing {sorted(reference.edges - after.edges)[:3]}, "
        f"extra {sorted(after.edges - reference.edges)[:3]}"
    )


def assert_every_record_accounted_for(world: FaultWorld, night: Night) -> None:
    """(2) For every validated district: fetched = accepted + rejected, per type and in total."""
    for outcome in night.outcomes:
        validated = outcome.stages.get("validate")
        if not validated or not validated.get("summary_key"):
            continue
        summary = world.store.get_json(validated["summary_key"])
        for record_type, counts in summary["records"].items():
            assert counts["fetched"] == counts["accepted"] + counts["rejected"], (record_type, counts)
        assert validated["fetched"] == outcome.fetch["records"], "validate did not see every fetched record"
        assert validated["fetched"] == validated["accepted"] + validated["rejected"]


def assert_run_record_matches_table(roster: Roster) -> None:
    """(3) The newest committed run's per-kind counts against the items in the table."""
    runs = [r for r in run_status(roster.district_id, limit=50) if not r.dry_run]
    committed = [r for r in runs if r.status in FINAL]
    if not committed:
        return
    run = committed[0]
    active = roster.count("active")
    archived_by_run = Counter(
        sk.partition("#")[0]
        for sk, item in roster.items.items()
        if item.get("status") == "archived" and item.get("archived_run") == run.run_id
    )
    kinds = set(active) | set(run.counts)
    for kind in kinds:
        c = run.counts.get(kind)
        assert c is not None, f"{kind}: {active[kind]} active items but no count in run {run.run_id}"
        written = c.created + c.updated + c.unchanged + c.restored + c.repaired
        assert written == c.accepted, (kind, c)
        expected_active = written + c.rejected_kept + c.held
        assert active[kind] == expected_active, (kind, active[kind], c)
        if run.status is RunStatus.SUCCEEDED:
            assert archived_by_run[kind] == c.archived, (kind, archived_by_run[kind], c)


def assert_failed_districts_alerted(night: Night) -> None:
    """(4) A sync_failed or district_disconnected alert for every district that failed tonight."""
    for outcome in night.outcomes:
        if not (outcome.failed or "error" in outcome.stages):
            continue
        kinds = {a.event_type for a in night.alerts_for(outcome.district_id)}
        assert kinds & FAILURE_ALERTS, f"district {outcome.district_id} failed without an alert: {kinds}"


def check_invariants(
    world: FaultWorld, night: Night, baseline: Roster, *, same_content: bool = True
) -> Roster:
    """All four invariants after `night`; returns the roster it left."""
    after = snapshot(world.table_name, baseline.district_id)
    assert_baseline_intact(baseline, after, same_content=same_content)
    assert_every_record_accounted_for(world, night)
    assert_run_record_matches_table(after)
    assert_failed_districts_alerted(night)
    assert_roster_index_current(world, baseline.district_id)
    return after


def assert_roster_index_current(world: FaultWorld, district_id: str) -> None:
    """(5) An index the LEASE item names equals the district's partition, item for item."""
    from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
    from rostersync.adapters.s3_page_store import S3PageStore
    from rostersync.importer.holds import PageStoreHoldStore
    from rostersync.settings import get_settings

    table = DynamoRosterTable(world.table_name)
    named = (table.get_item(f"LEASE#{district_id}", "LEASE") or {}).get("roster_index")
    if not named:
        return  # no clean commit since the lease was last taken: the next diff reads the table
    index = PageStoreHoldStore(S3PageStore(get_settings().raw_bucket)).read_index(district_id)
    assert index is not None and index.run_id == named, (named, index and index.run_id)
    assert sorted(index.items) == sorted(table.existing(district_id))


def assert_completed_identically(world: FaultWorld, night: Night, baseline: Roster) -> None:
    """The faulty night completed, and the roster is exactly the clean run's."""
    after = check_invariants(world, night, baseline)
    outcome = night.outcome(baseline.district_id)
    assert not outcome.failed, outcome
    assert outcome.stages["import"]["status"] == "succeeded", outcome.stages
    assert_same_roster(after, baseline)


def assert_failed_cleanly(
    world: FaultWorld, night: Night, baseline: Roster, *, alert: str = "sync_failed"
) -> None:
    """The faulty night failed the district, said so, and left the baseline exactly as it was."""
    after = check_invariants(world, night, baseline)
    outcome = night.outcome(baseline.district_id)
    assert outcome.failed or "error" in outcome.stages, outcome
    assert alert in {a.event_type for a in night.alerts_for(baseline.district_id)}
    assert_same_roster(after, baseline)
