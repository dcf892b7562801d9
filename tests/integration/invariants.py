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

`check_schedule` adds issue 25's, over every night of a random fault schedule
(fault_schedules.py): students lost only with an archive record and an alert (or a release),
nothing archived that a complete fetch shares, no mass archive without a hold, each hold released
at most once, the table equal to a clean run of the same committed imports and releases, one
sync_failed per district that did not sync, no alert twice, no student data in logs, alerts or keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Key

from rostersync.contracts.importer import FINAL, RunStatus
from rostersync.operations import run_status

if TYPE_CHECKING:
    from tests.integration.fault_schedules import NightRecord, ScheduleRun
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
    edge_items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, compare=False)

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
    edge_items: dict[tuple[str, str], dict[str, Any]] = {}
    for group in sorted(groups):
        found = _query(table, KeyConditionExpression=Key("pk").eq(group), ConsistentRead=True)
        edge_items.update(((e["pk"], e["sk"]), e) for e in found if e.get("district_id") == district_id)
    return Roster(district_id, items, frozenset(edge_items), edge_items)


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
    fields = sorted(
        {k for sk in differing[:1] for k in set(got[sk]) | set(want[sk]) if got[sk].get(k) != want[sk].get(k)}
    )
    assert not differing, (
        f"{len(differing)} items differ from the clean run, e.g. {differing[:3]} (fields {fields}; "
        f"first: {[(k, got[differing[0]].get(k), want[differing[0]].get(k)) for k in fields] if differing else ''})"
    )
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


# ------------------------------------------------------------------- random fault schedules


def check_schedule(world: FaultWorld, run: ScheduleRun) -> Counter[str]:
    """Every invariant of issue 25 over a schedule's nights (tests/integration/fault_schedules.py);
    raises AssertionError naming the invariant, the night and the district; returns how many
    checks of each invariant ran."""
    from rostersync.importer.safeguard import SafeguardThresholds
    from tests.integration.fault_schedules import SAFEGUARD

    checks: Counter[str] = Counter()
    thresholds = SafeguardThresholds(float(SAFEGUARD["archive_percent"]), int(SAFEGUARD["floor"]))
    released_runs: Counter[tuple[str, str]] = Counter()
    seen_alerts: set[tuple[str, str, str, str]] = set()
    for record in run.nights:
        where = f"night {record.number}"
        for district_id in run.districts:
            before, after = record.before[district_id], record.after[district_id]
            released = record.released_students.get(district_id, set())
            kinds = {a.event_type for a in record.alerts if a.attributes.get("district_id") == district_id}
            # 1. No active student lost without an archive record and a records_archived alert
            # (or support's release of a hold, which archives what the hold kept).
            for sk in sorted(before.active - after.active):
                checks["student_lost_is_archived_and_alerted"] += 1
                if not sk.startswith("STUDENT#"):
                    continue
                item = after.items.get(sk)
                assert item is not None and item.get("status") == "archived", (
                    f"{where}, district {district_id}: {sk} left the active roster without an archive record"
                )
                assert "records_archived" in kinds or sk.partition("#")[2] in released, (
                    f"{where}, district {district_id}: {sk} archived without a records_archived alert"
                )
            # 2. Nothing archived that the source still shares on a complete fetch.
            outcome = record.night.outcome(district_id)
            imported = (outcome.stages.get("import") or {}).get("status")
            if outcome.fetch.get("status") == "complete" and imported == "succeeded":
                checks["nothing_archived_still_shared"] += 1
                archived = {
                    sk.partition("#")[2]
                    for sk, item in after.items.items()
                    if sk.startswith("STUDENT#") and item.get("status") == "archived"
                }
                wrongly = sorted(archived & record.shared[district_id])
                assert not wrongly, f"{where}, district {district_id}: archived yet shared: {wrongly[:3]}"
            # 3. No mass archive without a hold (a release applies a hold: it is the hold).
            if not released and not any(r[0] == district_id and r[2] == "released" for r in record.releases):
                checks["no_mass_archive_without_hold"] += 1
                active = before.count("active")
                gone = Counter(sk.partition("#")[0] for sk in before.active - after.active)
                for kind, n in gone.items():
                    assert not thresholds.trips(active[kind], n), (
                        f"{where}, district {district_id}: {n} of {active[kind]} {kind} archived without a hold"
                    )
            # 6. Every district that did not sync has exactly one sync_failed (and one that did, none).
            checks["one_sync_failed_per_failed_district"] += 1
            # A second import the lease refused is a run that did not sync: it says so, once.
            # A batch whose child execution failed as a whole says so once for its districts.
            failed = [
                a
                for a in record.alerts
                if a.event_type == "sync_failed"
                and (
                    a.attributes.get("district_id") == district_id
                    or (a.attributes.get("district_id") == "batch" and district_id in a.body)
                )
            ]
            synced = not outcome.failed and imported in ("succeeded", "held")
            validated = outcome.stages.get("validate") or {}
            if not outcome.failed and validated.get("status") == "rejected":
                # Validation refused the whole district (it shared no school or no student): no
                # import ran, nothing was archived, and the district's findings alert says why; a
                # refusal for the same reason as the night before is not announced again.
                checks["rejected_district_told_and_untouched"] += 1
                assert before.active == after.active, (
                    f"{where}, district {district_id}: rejected ({validated.get('reason')}) yet its roster changed"
                )
                told = "validation_findings" in kinds
                earlier = [r.night.outcome(district_id).stages.get("validate") or {} for r in run.nights]
                again = record.number > 0 and earlier[record.number - 1].get("reason") == validated.get(
                    "reason"
                )
                assert told or again, (
                    f"{where}, district {district_id}: rejected ({validated.get('reason')}) without a findings alert"
                )
                synced = True
            refused = sum(
                1
                for d, what, status in record.releases
                if d == district_id and status == "skipped_locked" and what == "concurrent_import"
            )
            assert len(failed) == (0 if synced else 1) + refused, (
                f"{where}, district {district_id} ({'synced' if synced else 'did not sync'}): "
                f"{len(failed)} sync_failed alerts; outcome {outcome.stages.get('import') or outcome.error}"
            )
        # 4. Every hold released at most once.
        for district_id, what, run_id in record.committed:
            if what == "release":
                released_runs[(district_id, run_id)] += 1
                checks["hold_released_at_most_once"] += 1
                assert released_runs[(district_id, run_id)] == 1, (
                    f"{where}, district {district_id}: the hold of run {run_id} was released twice"
                )
        # 7. No alert twice.
        for alert in record.alerts:
            checks["no_alert_twice"] += 1
            key = (alert.event_type, alert.attributes.get("district_id", ""), alert.subject, alert.body)
            assert key not in seen_alerts, f"{where}: alert {alert.event_type} sent twice"
            seen_alerts.add(key)
    for district_id, source in run.districts.items():
        final = run.nights[-1].after[district_id]
        # 5. The table equals what a clean run over the same fetched data gives.
        checks["table_equals_clean_run"] += 1
        sequence = [
            (what, run_id, r) for r in run.nights for d, what, run_id in r.committed if d == district_id
        ]
        assert_same_roster(final, clean_roster(world, district_id, source, sequence))
        if sequence and sequence[-1][0] == "import":  # a release or a failed run since changes it
            checks["run_record_matches_table"] += 1
            assert_run_record_matches_table(final)
        checks["roster_index_current"] += 1
        assert_roster_index_current(world, district_id)
    # 9. Support's settings changes converge: whatever step the first `district set` was killed
    # at, running it again leaves the settings, their change record and the SNS subscriptions agreeing.
    for record in run.nights:
        for change in record.settings_changes:
            checks["settings_converge_after_a_death"] += 1
            assert_settings_converged(change, f"night {record.number}")
    # 8. No PII in logs, alerts or keys.
    checks["no_pii"] += 1
    assert_no_pii(world, run)
    return checks


def assert_settings_converged(change: Any, where: str) -> None:
    """Judged on what `district show` said right after the re-run: a second change the same night
    is judged on its own."""
    district_id = change.district_id
    assert change.error is None, (
        f"{where}, district {district_id}: `district set` run again after a death at step {change.steps} "
        f"failed: {change.error}"
    )
    current, history = change.seen, change.seen_history
    assert current.contacts == change.contacts, (
        f"{where}, district {district_id}: contacts {len(current.contacts)} after the re-run, not the "
        f"{len(change.contacts)} asked for (death at step {change.steps})"
    )
    assert not current.pending, (
        f"{where}, district {district_id}: the change is still pending after the re-run"
    )
    disagreeing = list(change.seen_disagreeing)
    assert not disagreeing, f"{where}, district {district_id}: settings and SNS disagree: {disagreeing}"
    recorded = [
        h for h in history if h.setting == "contacts" and list(h.after or []) == list(change.contacts)
    ]
    assert recorded, f"{where}, district {district_id}: no change record for the contacts it now has"


def clean_roster(
    world: FaultWorld, district_id: str, source: str, sequence: list[tuple[str, str, NightRecord]]
) -> Roster:
    """The roster the same committed imports and releases, in order and without a fault, give a
    fresh table (the district's safeguard setting copied). An import that failed after planning
    ("partial") is not rerun: what it wrote before it stopped, and the lease naming it for repair,
    are copied as they were, since the next run starts from exactly that."""
    from rostersync.importer.release import release_hold
    from rostersync.layout import SAFEGUARD_SK, config_pk
    from rostersync.settings import get_settings

    ddb = boto3.client("dynamodb")
    main = world.table_name
    described = ddb.describe_table(TableName=main)["Table"]
    fresh = f"{main}-clean-{district_id[-10:]}"
    ddb.create_table(
        TableName=fresh,
        KeySchema=described["KeySchema"],
        AttributeDefinitions=described["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in described.get("GlobalSecondaryIndexes", [])
        ],
    )
    setting = (
        boto3.resource("dynamodb")
        .Table(main)
        .get_item(Key={"pk": config_pk(district_id), "sk": SAFEGUARD_SK})
        .get("Item")
    )
    try:
        if setting:
            boto3.resource("dynamodb").Table(fresh).put_item(Item=setting)
        world.setenv("ROSTER_TABLE", fresh)
        from rostersync import wiring

        for what, run_id, record in sequence:
            if what == "partial":
                _copy_partial_writes(fresh, record, district_id, run_id)
            elif what == "import":
                event = {"district_id": district_id, "run_id": run_id, "dry_run": False, "source": source}
                result = world.functions.invoke("ImportFunction", event)
                assert result["status"] in ("succeeded", "held"), result
            else:
                settings = get_settings()
                released = release_hold(
                    district_id,
                    run_id,
                    table=wiring.roster_table(settings),
                    holds=wiring.hold_store(settings),
                    store=wiring.page_store(settings),
                )
                assert released.status == "released", released
        return snapshot(fresh, district_id)
    finally:
        world.setenv("ROSTER_TABLE", main)
        world.inbox.receive()  # the clean run's alerts are not the schedule's
        ddb.delete_table(TableName=fresh)


def _copy_partial_writes(table_name: str, record: NightRecord, district_id: str, run_id: str) -> None:
    """What a failed import wrote on `record`'s night (its roster and membership items, against
    the night's start) and the lease it left, put into the clean run's table."""
    failed_run, after, lease = record.partial[district_id]
    assert failed_run == run_id, (failed_run, run_id)
    before = record.before[district_id]
    table = boto3.resource("dynamodb").Table(table_name)
    for sk, item in after.items.items():
        if before.items.get(sk) != item:
            table.put_item(Item=item)
    for sk in before.items.keys() - after.items.keys():
        table.delete_item(Key={"pk": f"DISTRICT#{district_id}", "sk": sk})
    for key in after.edges - before.edges:
        table.put_item(Item=after.edge_items[key])
    for pk, sk in before.edges - after.edges:
        table.delete_item(Key={"pk": pk, "sk": sk})
    if lease is not None:
        table.put_item(Item={**lease, "lease_expires": 1})  # expired by the next night, as in the schedule


def assert_no_pii(world: FaultWorld, run: ScheduleRun) -> None:
    """No student name, e-mail, state id or birth date in the logs, the alerts, the S3 keys or the
    table's keys of the schedule's districts."""
    from rostersync.settings import get_settings

    texts = list(run.logs)
    texts += [f"{a.subject}\n{a.body}" for r in run.nights for a in r.alerts]
    bucket = get_settings().raw_bucket
    s3 = boto3.client("s3")
    for district_id in run.districts:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            texts += [o["Key"] for o in page.get("Contents", []) if district_id in o["Key"]]
        roster = run.nights[-1].after[district_id]
        texts += [str(sk) for sk in roster.items] + [f"{pk} {sk}" for pk, sk in roster.edges]
    text = "\n".join(texts)
    leaked = sorted(value for value in run.sensitive if value and value in text)
    assert not leaked, f"{len(leaked)} sensitive values in logs, alerts or keys, e.g. {leaked[0][:4]}..."
