"""Random fault schedules (issue 25): generated districts of both sources, several nights through
the state machine runner (`FaultWorld.night`), and faults at random points, drawn by Hypothesis.

A schedule is a generated Clever district and a generated OneRoster tenant (with the sandboxes'
habits: an order that drifts, placeholder e-mails, key spellings, numeric ids, demographics
switched off, empty trailing pages, seeded gaps), what each night changes at the source (students
leave, records change), and a list of `Fault(night, point, kind, times, source)`: provider errors,
throttles and slow pages; S3 and DynamoDB errors and throttles; UnprocessedItems; a Lambda death
between two roster writes of the import or of a hold release; a second import or a release while
the night's import holds the lease; a replayed import; two releases at once.

`run_schedule` runs it in a `FaultWorld` reused across schedules (each schedule has districts of
its own, so the table, bucket and topic need no reset) and checks `invariants.check_schedule`
after it. Everything a schedule does follows from its fields: `Schedule.describe()` is printed
on failure, with Hypothesis's seed.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from hypothesis import strategies as st

from rostersync import wiring
from rostersync.adapters.dynamodb_roster_table import DynamoRosterTable
from rostersync.importer.holds import PageStoreHoldStore
from rostersync.layout import LEASE_SK, SAFEGUARD_SK, config_pk, lease_pk, run_pk
from rostersync.operations import run_releases
from rostersync.settings import get_settings
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, Gaps, SandboxConfig
from rostersync_cli.sandbox.config import KIND_DISTRICT, Faults, clever_id
from rostersync_cli.sandbox.generator import DistrictData
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec, generate_tenant
from tests.integration.alert_inbox import ReceivedAlert
from tests.integration.fault_world import FaultWorld, LambdaTimeout, Night, client_error
from tests.integration.invariants import Roster, snapshot

NIGHT_GAP_SECONDS = 86_400  # a day between nights: every lease a dead invocation left has expired

# The kinds a schedule draws from, and what each stands for.
PROVIDER = ("provider_error", "provider_throttle", "provider_slow")
AWS = ("s3_error", "s3_throttle", "dynamodb_error", "dynamodb_throttle", "unprocessed_items")
DEATHS = ("import_death", "release_death", "settings_death")
CONCURRENT = ("concurrent_import", "concurrent_release", "double_release", "replayed_import")
KINDS = PROVIDER + AWS + DEATHS + CONCURRENT
SOURCES = ("clever", "oneroster")

S3_OPERATIONS = ("PutObject", "GetObject")
DYNAMODB_OPERATIONS = ("BatchWriteItem", "Query", "UpdateItem", "PutItem", "GetItem", "BatchGetItem")
CLEVER_PATHS = ("/users", "/sections", "/schools", "/terms", "/courses", "/districts")
SAFEGUARD = {"archive_percent": 25, "floor": 2}  # tiny districts: losing 3 of 8 students is a mass archive


@dataclass(frozen=True)
class Fault:
    night: int
    point: int  # where in the night: the n-th matching call, the collection, the item count
    kind: str
    times: int  # how many calls or attempts in a row it lasts
    source: str  # the district it is aimed at ("clever" or "oneroster")

    def __str__(self) -> str:
        return f"night {self.night}: {self.kind} x{self.times} at point {self.point} ({self.source})"


@dataclass(frozen=True)
class Schedule:
    clever: DistrictSpec
    clever_trailing_page: bool
    tenant: TenantSpec
    drift_swaps: int
    leave: tuple[tuple[int, int], ...]  # per night: (clever students who leave, oneroster students who leave)
    changed: tuple[float, ...]  # per night: the share of Clever records that change (revision)
    faults: tuple[Fault, ...]

    @property
    def nights(self) -> int:
        return len(self.leave)

    def describe(self) -> str:
        lines = [
            f"Schedule: {self.nights} nights; Clever {self.clever.students} students "
            f"(gaps {self.clever.gaps != Gaps()}, trailing page {self.clever_trailing_page}); "
            f"OneRoster {self.tenant.students_per_school} students (numeric ids {self.tenant.numeric_ids}, "
            f"demographics {self.tenant.demographics_shared}, drift {self.drift_swaps})",
            f"  leave per night {list(self.leave)}, Clever changes {list(self.changed)}",
            *(f"  {fault}" for fault in self.faults),
        ]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- strategies


@st.composite
def schedules(draw: st.DrawFn, *, max_nights: int = 3, max_faults: int = 4) -> Schedule:
    nights = draw(st.integers(2, max_nights))
    clever = DistrictSpec(
        "Soak Clever SD",
        seed=draw(st.integers(1, 10_000)),
        schools=1,
        students=draw(st.integers(5, 9)),
        teachers=1,
        counselors=0,
        admins=1,
        other_staff=0,
        sections=draw(st.integers(1, 2)),
        terms=1,
        courses=1,
        gaps=Gaps(
            missing_student_state_id=draw(st.integers(0, 1)), teacher_without_email=draw(st.integers(0, 1))
        ),
    )
    tenant = TenantSpec(
        "42" + str(draw(st.integers(10_000, 99_999))),
        "Soak OneRoster SD",
        seed=draw(st.integers(1, 10_000)),
        schools=1,
        students_per_school=draw(st.integers(6, 9)),  # the seeded gaps need six
        teachers_per_school=1,
        gaps=draw(st.booleans()),
        demographics_shared=draw(st.booleans()),
        numeric_ids=draw(st.booleans()),
        habits=True,
    )
    leave = tuple(
        (draw(st.integers(0, 3)), draw(st.integers(0, 3))) if night else (0, 0) for night in range(nights)
    )
    changed = tuple(draw(st.sampled_from((0.0, 20.0, 50.0))) if night else 0.0 for night in range(nights))
    fault = st.builds(
        Fault,
        night=st.integers(0, nights - 1),
        point=st.integers(0, 6),
        kind=st.sampled_from(KINDS),
        times=st.integers(1, 4),
        source=st.sampled_from(SOURCES),
    )
    faults = draw(st.lists(fault, min_size=1, max_size=max_faults))
    return Schedule(
        clever=clever,
        clever_trailing_page=draw(st.booleans()),
        tenant=tenant,
        drift_swaps=draw(st.integers(0, 4)),
        leave=leave,
        changed=changed,
        faults=tuple(sorted(faults, key=lambda f: f.night)),
    )


# ----------------------------------------------------------------------------- the record


@dataclass
class NightRecord:
    """One night of a schedule, as the invariants read it."""

    number: int
    night: Night
    before: dict[str, Roster]
    after: dict[str, Roster]
    shared: dict[str, set[str]]  # district -> the student ids its source shares tonight
    alerts: list[ReceivedAlert]  # tonight's, the extra invocations' included
    releases: list[tuple[str, str, str | None]] = field(default_factory=list)  # (district, status, run)
    released_students: dict[str, set[str]] = field(default_factory=dict)
    committed: list[tuple[str, str, str]] = field(default_factory=list)  # (district, "import"|"release", run)
    settings_changes: list[SettingsChange] = field(default_factory=list)  # support's, tonight
    # district -> (its import that failed after planning, the roster it left, the lease it left)
    partial: dict[str, tuple[str, Roster, dict[str, Any] | None]] = field(default_factory=dict)


@dataclass
class SettingsChange:
    """Support changed a district's contacts after the night (`district set`); the first run was
    killed after `steps` of its writes and calls, and support ran the same command again."""

    district_id: str
    contacts: tuple[str, ...]  # what support asked for
    steps: int
    died: bool  # the first run was killed before it finished
    error: str | None = None  # what the second run said, if it failed
    # What `district show` said right after the re-run (another change may follow the same night):
    # the settings, their change history, and where SNS's subscriptions disagreed with them.
    seen: Any = None
    seen_history: tuple[Any, ...] = ()
    seen_disagreeing: tuple[str, ...] = ()


@dataclass
class ScheduleRun:
    schedule: Schedule
    districts: dict[str, str]  # district id -> source
    nights: list[NightRecord] = field(default_factory=list)
    faults_injected: Counter[str] = field(default_factory=Counter)
    logs: list[str] = field(default_factory=list)
    sensitive: set[str] = field(default_factory=set)
    recovery_night: bool = False  # a fault-free night was added after a last night that failed


@dataclass
class SoakStats:
    schedules: int = 0
    nights: int = 0
    recovery_nights: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    violations: int = 0
    seconds: list[float] = field(default_factory=list)  # per schedule that held, run and checks

    def to_json(self) -> dict[str, Any]:
        # not dataclasses.asdict: it rebuilds a Counter from (key, value) pairs, counting the pairs
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SoakStats:
        return cls(
            **{
                **data,
                "faults": Counter(data["faults"]),
                "checks": Counter(data["checks"]),
                "seconds": list(data["seconds"]),
            }
        )

    def __add__(self, other: SoakStats) -> SoakStats:
        return SoakStats(
            schedules=self.schedules + other.schedules,
            nights=self.nights + other.nights,
            recovery_nights=self.recovery_nights + other.recovery_nights,
            faults=self.faults + other.faults,
            checks=self.checks + other.checks,
            violations=self.violations + other.violations,
            seconds=self.seconds + other.seconds,
        )

    def summary(self) -> str:
        lines = [
            f"schedules run: {self.schedules}",
            f"nights run: {self.nights} ({self.recovery_nights} of them the fault-free night after a failed last night)",
            f"faults injected: {sum(self.faults.values())}",
            *(f"  {kind}: {self.faults[kind]}" for kind in KINDS),
            f"invariant checks: {sum(self.checks.values())}",
            *(f"  {name}: {n}" for name, n in sorted(self.checks.items())),
            f"violations: {self.violations}",
            f"seconds per schedule: mean {sum(self.seconds) / max(1, len(self.seconds)):.1f}, "
            f"max {max(self.seconds, default=0):.1f}",
        ]
        return "\n".join(lines)


STATS = SoakStats()


# ----------------------------------------------------------------------------- the world


class _Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@contextmanager
def soak_world(embedded_env: dict[str, str]) -> Iterator[FaultWorld]:
    """One FaultWorld for many schedules: its own bucket, table and topic; small pages."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    env = {
        **embedded_env,
        "RAW_BUCKET": f"raw-soak-{suffix}",
        "ROSTER_TABLE": f"roster-soak-{suffix}",
        "ALERT_TOPIC_ARN": f"arn:aws:sns:us-east-1:123456789012:alerts-soak-{suffix}",
        "CLEVER_SECRET_ID": f"rostersync/soak/{suffix}",
        "ONEROSTER_SECRET_ID": f"rostersync/soak/oneroster-{suffix}",
        "CLEVER_BACKOFF_FACTOR": "0.001",
        "CLEVER_MAX_RATE_LIMIT_WAIT": "3",
        "CLEVER_READ_TIMEOUT": "0.5",
        "CLEVER_CONNECT_TIMEOUT": "2",
        "CLEVER_PAGE_LIMIT": "4",
        "ONEROSTER_BACKOFF_FACTOR": "0.001",
        "ONEROSTER_READ_TIMEOUT": "0.5",
        "ONEROSTER_PAGE_LIMIT": "4",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    with ExitStack() as stack:
        monkeypatch = stack.enter_context(pytest.MonkeyPatch.context())
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        from tests.integration.fault_world import AwsFaults

        sandbox = stack.enter_context(CleverSandbox(SandboxConfig(districts=())))
        aws = stack.enter_context(AwsFaults())
        world = FaultWorld(sandbox, monkeypatch, aws, stack)
        # One sandbox of each source for every schedule: a server shutting down waits out its
        # keep-alive connections (10-20 s each), which cost more than the nights themselves.
        world.oneroster = stack.enter_context(OneRosterSandbox([]))  # type: ignore[attr-defined]
        yield world
    get_settings.cache_clear()


_IDS = itertools.count(1)


def _serve_clever(sandbox: CleverSandbox, spec: DistrictSpec) -> None:
    """The Clever sandbox serves `spec` from now on (a new district, or tonight's revision of one)."""
    with sandbox._lock:
        sandbox._data[spec.id] = DistrictData(spec)
        if spec.id not in sandbox._generation:
            sandbox._generation[spec.id] = 0
            sandbox._tokens[sandbox._token_for(spec.id)] = spec.id


def _serve_tenant(box: OneRosterSandbox, spec: TenantSpec) -> None:
    box.specs[spec.district_id] = spec
    box.data[spec.district_id] = generate_tenant(spec)
    box._validator._secrets[spec.key()] = spec.secret()


def _clever_students(sandbox: CleverSandbox, district_id: str) -> tuple[set[str], set[str]]:
    """The student ids the district shares, and its sensitive values (names, e-mails, state ids)."""
    ids: set[str] = set()
    values: set[str] = set()
    listing = sandbox.district(district_id).listing("users")
    assert listing is not None
    for record in listing.all_records():
        data = record.get("data", record)
        name = data.get("name") or {}
        if data.get("email"):
            values.add(data["email"])
        student = (data.get("roles") or {}).get("student")
        if student:
            ids.add(str(data["id"]))
            if name.get("first") and name.get("last"):
                values |= {f"{name['last']}, {name['first']}", f"{name['first']} {name['last']}"}
            state_id = (student.get("state_id") or "").strip()
            if len(state_id) >= 8:
                values.add(state_id)
            if student.get("dob"):
                values.add(str(student["dob"]))
    return ids, values


def _oneroster_students(box: OneRosterSandbox, district_id: str) -> tuple[set[str], set[str]]:
    data = box.data[district_id]
    ids: set[str] = set()
    values: set[str] = set()
    for user in data["users"]:
        role = user.get("role") or ((user.get("roles") or [{}])[0].get("role"))
        if user.get("email") and "@" in str(user["email"]):
            values.add(str(user["email"]))
        if role == "student":
            ids.add(str(user["sourcedId"]))
            values.add(f"{user['givenName']} {user['familyName']}")
    for demo in data.get("demographics", []):
        if demo.get("birthDate"):
            values.add(str(demo["birthDate"]))
    return ids, values


def _leave_oneroster(box: OneRosterSandbox, district_id: str, n: int) -> None:
    """`n` of the tenant's students are no longer shared (users, demographics and enrollments)."""
    data = box.data[district_id]
    students = [str(u["sourcedId"]) for u in data["users"] if u.get("role") == "student"][:n]
    gone = set(students)
    data["users"] = [u for u in data["users"] if str(u["sourcedId"]) not in gone]
    data["demographics"] = [d for d in data.get("demographics", []) if str(d["sourcedId"]) not in gone]
    data["enrollments"] = [e for e in data["enrollments"] if str(e["user"]["sourcedId"]) not in gone]


def _put_tenants(world: FaultWorld, box: OneRosterSandbox) -> None:
    sm = boto3.client("secretsmanager")
    secret_id = get_settings().oneroster_secret_id
    value = __import__("json").dumps(box.secret_value())
    try:
        sm.put_secret_value(SecretId=secret_id, SecretString=value)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=secret_id, SecretString=value)
    parameters.clear_caches()


# ----------------------------------------------------------------------------- the faults


class _Unprocessed:
    """A DynamoDB client that leaves half of each of the first `times` batch writes and reads unprocessed."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.left = times

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        if self.left <= 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self.left -= 1
        [(table, requests)] = RequestItems.items()
        keep, leave = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        if keep:
            self._client.batch_write_item(RequestItems={table: keep})
        return {"UnprocessedItems": {table: leave} if leave else {}}

    def batch_get_item(self, RequestItems: dict[str, dict[str, Any]]) -> dict[str, Any]:
        if self.left <= 0:
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        self.left -= 1
        [(table, request)] = RequestItems.items()
        keys = request["Keys"]
        keep, leave = keys[: len(keys) // 2], keys[len(keys) // 2 :]
        response = (
            {"Responses": {table: []}}
            if not keep
            else self._client.batch_get_item(RequestItems={table: {**request, "Keys": keep}})
        )
        return {**response, "UnprocessedKeys": {table: {**request, "Keys": leave}} if leave else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _Deaths:
    """Roster writes that die (a Lambda timeout) after `items` items, `times` invocations in a
    row; the dead invocation's lease is left behind, as a killed process leaves it."""

    def __init__(self, patch: pytest.MonkeyPatch, district_id: str, items: int, times: int) -> None:
        self.left, self.items, self.district_id = times, items, district_id
        self.written = 0
        self.dead = False
        write, release = DynamoRosterTable.write, DynamoRosterTable.release_lease
        deaths = self

        def write_then_die(
            table: DynamoRosterTable, puts: Sequence[dict[str, Any]], deletes: Sequence[Any]
        ) -> int:
            mine = [p for p in puts if str(p.get("pk", "")).startswith(f"DISTRICT#{deaths.district_id}")]
            if not mine or deaths.left <= 0:
                return write(table, puts, deletes)
            room = deaths.items - deaths.written
            if room >= len(puts):
                deaths.written += len(puts)
                return write(table, puts, deletes)
            if room > 0:
                write(table, list(puts)[:room], [])
            deaths.left -= 1
            deaths.written = 0
            deaths.dead = True
            raise LambdaTimeout("Task timed out after 900.00 seconds")

        def release_unless_dead(table: DynamoRosterTable, *args: Any, **kwargs: Any) -> Any:
            if deaths.dead:  # a killed process releases nothing
                deaths.dead = False
                return None
            return release(table, *args, **kwargs)

        patch.setattr(DynamoRosterTable, "write", write_then_die)
        patch.setattr(DynamoRosterTable, "release_lease", release_unless_dead)


def _drop_one_write(patch: pytest.MonkeyPatch, district_ids: set[str]) -> None:
    """The deliberately broken world: one student's roster put silently does nothing."""
    write = DynamoRosterTable.write
    dropped: list[str] = []

    def write_dropping(
        table: DynamoRosterTable, puts: Sequence[dict[str, Any]], deletes: Sequence[Any]
    ) -> int:
        if not dropped:
            for put in puts:
                pk, sk = str(put.get("pk", "")), str(put.get("sk", ""))
                if pk.startswith("DISTRICT#") and pk[9:] in district_ids and sk.startswith("STUDENT#"):
                    dropped.append(sk)
                    puts = [p for p in puts if p is not put]
                    break
        return write(table, puts, deletes)

    patch.setattr(DynamoRosterTable, "write", write_dropping)


def _aws_fault(world: FaultWorld, fault: Fault) -> None:
    skip = {"n": fault.point}

    def after_point(_: dict[str, Any]) -> bool:
        if skip["n"] > 0:
            skip["n"] -= 1
            return False
        return True

    if fault.kind.startswith("s3"):
        operation = S3_OPERATIONS[fault.point % len(S3_OPERATIONS)]
        code = "InternalError" if fault.kind == "s3_error" else "SlowDown"
        world.aws.fail(
            "s3", operation, lambda: client_error(code, operation), times=fault.times, when=after_point
        )
    else:
        operation = DYNAMODB_OPERATIONS[fault.point % len(DYNAMODB_OPERATIONS)]
        code = (
            "InternalServerError"
            if fault.kind == "dynamodb_error"
            else ("ProvisionedThroughputExceededException", "ThrottlingException")[fault.point % 2]
        )
        world.aws.fail(
            "dynamodb", operation, lambda: client_error(code, operation), times=fault.times, when=after_point
        )


def _provider_fault(fault: Fault, clever: CleverSandbox, oneroster: OneRosterSandbox) -> None:
    if fault.source == "clever":
        f = clever.faults
        f.match_path = CLEVER_PATHS[fault.point % len(CLEVER_PATHS)]
        if fault.kind == "provider_error":
            f.server_errors, f.server_error_statuses = fault.times, (500, 502, 503)
        elif fault.kind == "provider_throttle":
            f.server_errors, f.server_error_statuses = fault.times, (429,)
        else:  # slow pages: every answer of the night late (within the read timeout)
            f.slow_seconds = 0.02 * fault.times
    else:
        o = oneroster.faults
        if fault.kind == "provider_error":
            o.statuses = [(500, 502, 503)[i % 3] for i in range(fault.times)]
        elif fault.kind == "provider_throttle":
            o.statuses, o.retry_after = [429] * fault.times, 0
        else:
            o.slow_requests, o.slow_seconds = fault.times, 0.6


# ----------------------------------------------------------------------------- running


def reset(world: FaultWorld) -> None:
    """Empty the table and the bucket between schedules (moto's Query walks every item of a
    table: a world that kept every schedule's items would slow down schedule after schedule)."""
    table = boto3.resource("dynamodb").Table(world.table_name)
    scan: dict[str, Any] = {"ProjectionExpression": "pk, sk"}
    with table.batch_writer() as batch:
        while True:
            page = table.scan(**scan)
            for key in page["Items"]:
                batch.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    bucket = boto3.resource("s3").Bucket(get_settings().raw_bucket)
    bucket.objects.all().delete()
    world.inbox.receive()


def run_schedule(world: FaultWorld, schedule: Schedule, *, drop_write: bool = False) -> ScheduleRun:
    """Run every night of `schedule` with its faults; returns what the invariants read."""
    n = next(_IDS)
    clever_id_ = clever_id(900_000 + n, KIND_DISTRICT, 0)
    clever_base = dataclasses.replace(schedule.clever, id=clever_id_)
    tenant = dataclasses.replace(schedule.tenant, district_id=f"{schedule.tenant.district_id}{n:05d}")
    run = ScheduleRun(schedule, {clever_id_: "clever", tenant.district_id: "oneroster"})
    ids = [clever_id_, tenant.district_id]
    _SOURCES.update(run.districts)
    logs = _Logs()
    root = logging.getLogger()
    root.addHandler(logs)
    world.inbox.receive()  # nothing of an earlier schedule is this one's
    table = wiring.roster_table()
    for district_id in ids:
        table.put_item({"pk": config_pk(district_id), "sk": SAFEGUARD_SK, **SAFEGUARD})
    try:
        with ExitStack() as stack:
            box: OneRosterSandbox = world.oneroster  # type: ignore[attr-defined]
            box.specs.clear()
            box.data.clear()
            _serve_tenant(box, tenant)
            box.faults.reset()
            box.faults.max_page = 4
            box.faults.drift_swaps = schedule.drift_swaps
            _put_tenants(world, box)
            if drop_write:
                _drop_one_write(stack.enter_context(pytest.MonkeyPatch.context()), set(ids))
            students = schedule.clever.students
            for number in range(schedule.nights):
                leave_clever, leave_oneroster = schedule.leave[number]
                students = max(1, students - leave_clever)
                spec = dataclasses.replace(
                    clever_base,
                    students=students,
                    revision=number,
                    changed_percent=schedule.changed[number] or 1.0,
                )
                clever = world.sandbox
                _serve_clever(clever, spec)
                clever.faults = Faults(
                    match_district=clever_id_, empty_trailing_page=schedule.clever_trailing_page
                )
                _leave_oneroster(box, tenant.district_id, leave_oneroster)
                record = _run_night(world, run, number, ids, clever, box)
                run.nights.append(record)
                world.time_passes(NIGHT_GAP_SECONDS)
            if any(outcome.failed for outcome in run.nights[-1].night.outcomes):
                # A run that failed part way stays unfinished until the next night's run repairs it
                # (ARCHITECTURE, "repair_runs"): the schedule ends with that next night, without
                # faults and with the source as it was, so the table is judged once it has.
                run.nights.append(_run_night(world, run, schedule.nights, ids, clever, box))
                run.recovery_night = True
    finally:
        root.removeHandler(logs)
        world.aws._rules.clear()
    run.logs = logs.lines
    STATS.schedules += 1
    STATS.nights += len(run.nights)
    STATS.recovery_nights += run.recovery_night
    STATS.faults.update(run.faults_injected)
    return run


def _run_night(
    world: FaultWorld,
    run: ScheduleRun,
    number: int,
    ids: list[str],
    clever: CleverSandbox,
    box: OneRosterSandbox,
) -> NightRecord:
    faults = [f for f in run.schedule.faults if f.night == number]
    target = {"clever": ids[0], "oneroster": ids[1]}
    before = {d: snapshot(world.table_name, d) for d in ids}
    (clever_shared, clever_values), (or_shared, or_values) = (
        _clever_students(clever, ids[0]),
        _oneroster_students(box, ids[1]),
    )
    shared = {ids[0]: clever_shared, ids[1]: or_shared}
    run.sensitive |= clever_values | or_values
    extra: list[tuple[str, str, str | None]] = []  # (district, what, status) of the extra actors
    after_night: list[Callable[[Night], None]] = []
    released_students: dict[str, set[str]] = {}
    committed: list[tuple[str, str, str]] = []
    settings_changes: list[SettingsChange] = []
    with ExitStack() as stack:
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        once: set[tuple[str, str]] = set()
        for fault in faults:
            district = target[fault.source]
            if fault.kind in ("concurrent_import", "concurrent_release"):
                # One second actor per district and kind a night: two duplicates of one run
                # refused at the same instant would each say so, two identical alerts for two
                # invocations (docs/SECURITY.md, random fault schedules).
                if (district, fault.kind) in once:
                    continue
                once.add((district, fault.kind))
            run.faults_injected[fault.kind] += 1
            if fault.kind in PROVIDER:
                _provider_fault(fault, clever, box)
            elif fault.kind == "unprocessed_items":
                flaky = _Unprocessed(boto3.client("dynamodb"), fault.times)
                patch.setattr(
                    wiring,
                    "roster_table",
                    lambda settings=None, client=None, flaky=flaky: DynamoRosterTable(
                        world.table_name, flaky
                    ),
                )
            elif fault.kind in AWS:
                _aws_fault(world, fault)
            elif fault.kind == "import_death":
                _Deaths(patch, district, items=fault.point + 1, times=min(fault.times, 2))
            elif fault.kind in ("concurrent_import", "concurrent_release"):
                _concurrently(world, patch, district, fault.kind, extra, committed)
            elif fault.kind == "replayed_import":
                after_night.append(_replay(world, district, extra))
            elif fault.kind in ("release_death", "double_release"):
                after_night.append(_releases(world, district, fault, extra, released_students, committed))
            elif fault.kind == "settings_death":
                after_night.append(settings_change(district, fault, number, settings_changes))
        night = world.night(ids)
    world.aws._rules.clear()
    clever.faults.server_errors = 0
    clever.faults.slow_seconds = 0
    box.faults.statuses, box.faults.slow_requests = [], 0
    partial: dict[str, tuple[str, Roster, dict[str, Any] | None]] = {}
    for outcome in night.outcomes:
        imported = outcome.stages.get("import") or {}
        if imported.get("status") in ("succeeded", "held") and not imported.get("replayed"):
            committed.append((outcome.district_id, "import", outcome.run_id))
        elif outcome.run_id and _planned_and_unfinished(world, outcome.district_id, outcome.run_id):
            # The import failed after planning: what it wrote stays until the next run repairs it.
            lease = _item(world, lease_pk(outcome.district_id), LEASE_SK)
            partial[outcome.district_id] = (
                outcome.run_id,
                snapshot(world.table_name, outcome.district_id),
                lease,
            )
            committed.append((outcome.district_id, "partial", outcome.run_id))
    for action in after_night:
        action(night)
    # The night's own imports come first in the order of commits, then what ran after it; a
    # concurrent import refused by the lease committed nothing.
    order = [c for c in committed if c[1] == "import" and c[2] in {o.run_id for o in night.outcomes}]
    order += [c for c in committed if c not in order]
    alerts = night.alerts + world.inbox.receive()
    return NightRecord(
        number=number,
        night=night,
        before=before,
        after={d: snapshot(world.table_name, d) for d in ids},
        shared=shared,
        alerts=alerts,
        releases=extra,
        released_students=released_students,
        committed=order,
        settings_changes=settings_changes,
        partial=partial,
    )


def _item(world: FaultWorld, pk: str, sk: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(world.table_name)
    item: dict[str, Any] | None = table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
    return item


def _planned_and_unfinished(world: FaultWorld, district_id: str, run_id: str) -> bool:
    """The run's record names its change set (it planned) and it did not commit."""
    record = _item(world, run_pk(district_id), run_id)
    return bool(record and record.get("changeset_key") and record.get("status") not in ("succeeded", "held"))


_SOURCES: dict[str, str] = {}  # district id -> source, for the extra actors' import events


def _import_event(world: FaultWorld, district_id: str, run_id: str) -> dict[str, Any]:
    return {**world.import_event(district_id, run_id), "source": _SOURCES[district_id]}


def _concurrently(
    world: FaultWorld,
    patch: pytest.MonkeyPatch,
    district: str,
    kind: str,
    extra: list[tuple[str, str, str | None]],
    committed: list[tuple[str, str, str]],
) -> None:
    """While the night's import of `district` holds the lease (planning its change set), a second
    import of the same run, or a release of the district's hold, starts."""
    plan = PageStoreHoldStore.write_changeset
    done: list[bool] = []

    def plan_while_another_starts(self: PageStoreHoldStore, district_id: str, run_id: str, *args: Any) -> str:
        if district_id == district and not done:
            done.append(True)
            if kind == "concurrent_import":
                result = world.functions.invoke("ImportFunction", _import_event(world, district, run_id))
                extra.append((district, "concurrent_import", str(result.get("status"))))
            else:
                [released] = run_releases([district])
                extra.append((district, "concurrent_release", released.status))
                if released.status == "released" and released.run_id:
                    committed.append((district, "release", released.run_id))
        return plan(self, district_id, run_id, *args)

    patch.setattr(PageStoreHoldStore, "write_changeset", plan_while_another_starts)


def _replay(
    world: FaultWorld, district: str, extra: list[tuple[str, str, str | None]]
) -> Callable[[Night], None]:
    def replay(night: Night) -> None:
        outcome = night.outcome(district)
        if not outcome.run_id or "import" not in outcome.stages:
            return
        result = world.functions.invoke("ImportFunction", _import_event(world, district, outcome.run_id))
        extra.append((district, "replayed_import", str(result.get("status"))))

    return replay


def _releases(
    world: FaultWorld,
    district: str,
    fault: Fault,
    extra: list[tuple[str, str, str | None]],
    released_students: dict[str, set[str]],
    committed: list[tuple[str, str, str]],
) -> Callable[[Night], None]:
    """Support releases the district's newest hold after the night: twice at once
    (double_release), or in a release that dies between two writes and is run again once its
    lease has expired (release_death)."""

    def record(results: list[Any]) -> None:
        for r in results:
            extra.append((district, fault.kind, r.status))
            if r.status == "released" and r.run_id:
                committed.append((district, "release", r.run_id))
                released_students.setdefault(district, set()).update(
                    s.partition("#")[2] or s for s in r.released_students
                )

    def release(_: Night) -> None:
        if fault.kind == "double_release":
            with pytest.MonkeyPatch.context() as patch:
                inner: list[list[Any]] = []
                write = DynamoRosterTable.write

                def write_while_another_releases(table: DynamoRosterTable, puts: Any, deletes: Any) -> int:
                    if not inner:  # the second release starts while the first one writes
                        inner.append(run_releases([district]))
                    return write(table, puts, deletes)

                patch.setattr(DynamoRosterTable, "write", write_while_another_releases)
                first = run_releases([district])
            record(inner[0] if inner else [])
            record(first)
        else:
            with pytest.MonkeyPatch.context() as patch:
                _Deaths(patch, district, items=fault.point, times=1)
                try:
                    first = run_releases([district])
                except LambdaTimeout:
                    first = []
            record(first)
            world.time_passes(3600)  # the dead release's lease expires; support runs it again
            record(run_releases([district]))

    return release


class _Killed(BaseException):
    """Support's process killed (a closed laptop, Ctrl-C): nothing after it runs."""


def settings_change(
    district: str, fault: Fault, number: int, changes: list[SettingsChange]
) -> Callable[[Night], None]:
    """Support changes the district's contacts after the night (one added, the oldest removed);
    the first `district set` is killed after `fault.point` of its steps (a settings write, a change
    record, a subscribe or an unsubscribe), and support runs the same command again."""
    from rostersync.adapters.sns_contact_subscriptions import SnsContactSubscriptions
    from rostersync.operations import district_disagreements, set_district, show_district

    def change(_: Night) -> None:
        current, _history = show_district(district)
        # The address names the change: a second change the same night adds a new one.
        added = f"contact.{number}.{fault.point}.{len(changes)}@district.example.org"
        wanted = (*current.contacts[-1:], added)
        steps = {"n": 0, "died": False}

        def step(original: Callable[..., Any]) -> Callable[..., Any]:
            def counted(*args: Any, **kwargs: Any) -> Any:
                if steps["n"] == fault.point and not steps["died"]:
                    steps["died"] = True
                    raise _Killed("support's process was killed")
                steps["n"] += 1
                return original(*args, **kwargs)

            return counted

        with pytest.MonkeyPatch.context() as patch:
            for cls, name in (
                (DynamoRosterTable, "put_item"),
                (DynamoRosterTable, "put_versioned"),
                (SnsContactSubscriptions, "subscribe"),
                (SnsContactSubscriptions, "unsubscribe"),
            ):
                patch.setattr(cls, name, step(getattr(cls, name)))
            with suppress(_Killed):
                set_district(district, by="support@soak", contact_list=wanted)
        error = None
        try:
            set_district(district, by="support@soak", contact_list=wanted)
        except Exception as exc:  # the invariant names it
            error = f"{type(exc).__name__}: {exc}"
        after, history = show_district(district)
        changes.append(
            SettingsChange(
                district,
                wanted,
                fault.point,
                bool(steps["died"]),
                error,
                seen=after,
                seen_history=tuple(history),
                seen_disagreeing=tuple(district_disagreements(after)),
            )
        )

    return change
