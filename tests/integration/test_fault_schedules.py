"""Random fault schedules through the state machine runner (issue 25): Hypothesis draws districts
of both sources, nights and faults at random points (tests/integration/fault_schedules.py); after
every schedule the invariants of `invariants.check_schedule` hold.

`make test` runs DEFAULT_BUDGET schedules; `make soak N=1000` runs N (SOAK_SCHEDULES) and prints
schedules run, faults injected by kind, invariants checked and violations. A failing schedule is
printed (`Schedule.describe`) with Hypothesis's reproduction blob and seed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings

from rostersync_cli.embedded import EmbeddedAws
from tests.integration.fault_schedules import (
    STATS,
    Fault,
    Schedule,
    SettingsChange,
    SoakStats,
    reset,
    run_schedule,
    schedules,
    settings_change,
    soak_world,
)
from tests.integration.fault_world import FaultWorld
from tests.integration.invariants import assert_settings_converged, check_schedule

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

DEFAULT_BUDGET = int(os.environ.get("SOAK_DEFAULT_SCHEDULES", "4"))
SOAK = int(os.environ.get("SOAK_SCHEDULES", "0"))

_settings = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
}


@pytest.fixture(scope="module")
def world(embedded_aws: EmbeddedAws) -> Iterator[FaultWorld]:
    with soak_world(embedded_aws.environment()) as w:
        yield w


def schedule_holds(world: FaultWorld, schedule: Schedule, *, drop_write: bool = False) -> None:
    """The property: the schedule's nights leave every invariant true."""
    note(schedule.describe())
    reset(world)
    started = time.monotonic()
    run = run_schedule(world, schedule, drop_write=drop_write)
    try:
        STATS.checks.update(check_schedule(world, run))
        STATS.seconds.append(time.monotonic() - started)
    except AssertionError:
        STATS.violations += 1
        print(f"\nviolated by:\n{schedule.describe()}")
        raise


@pytest.mark.timeout(600)
def test_random_fault_schedules_keep_every_invariant(world: FaultWorld) -> None:
    # The default budget is the same schedules every run (derandomize: examples derived from the
    # test, not from a random seed), so `make test` and CI judge one fixed set; `make soak` explores.
    @settings(max_examples=DEFAULT_BUDGET, derandomize=True, **_settings)  # type: ignore[arg-type]
    @given(schedules())
    def prop(schedule: Schedule) -> None:
        schedule_holds(world, schedule)

    prop()


# The soak exists only when `make soak N=...` asks for it (SOAK_SCHEDULES); `make test` never collects it.
# It runs as SOAK_SHARDS shards (one per pytest-xdist worker, each with its own embedded AWS and
# sandboxes, Hypothesis seeding each at random), N split between them. No shrinking: a failing
# schedule is printed as drawn, with the blob that reproduces it. Each shard writes its counts to
# SOAK_DIR after every schedule (`python -m tests.integration.soak_summary SOAK_DIR` adds them up).
if SOAK > 0:
    SHARDS = max(1, int(os.environ.get("SOAK_SHARDS", "1")))

    @pytest.mark.slow
    @pytest.mark.timeout(0)
    @pytest.mark.parametrize("shard", range(SHARDS))
    def test_soak(world: FaultWorld, shard: int) -> None:
        examples = SOAK // SHARDS + (shard < SOAK % SHARDS)
        out = Path(os.environ.get("SOAK_DIR", ".soak")) / f"shard-{shard}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        before = SoakStats.from_json(STATS.to_json())

        def save() -> None:
            mine = SoakStats.from_json(STATS.to_json())
            for name in ("schedules", "nights", "recovery_nights", "violations"):
                setattr(mine, name, getattr(mine, name) - getattr(before, name))
            mine.faults, mine.checks = mine.faults - before.faults, mine.checks - before.checks
            mine.seconds = mine.seconds[len(before.seconds) :]
            out.write_text(json.dumps(mine.to_json()), encoding="utf-8")

        # The soak keeps going past a violation: each one is written (the error, the schedule, and
        # the schedule as the constructor call that runs it again) and the shard fails at its end.
        found = out.with_suffix(".violations.txt")
        violated: list[str] = []

        @settings(max_examples=examples, phases=[Phase.explicit, Phase.generate], **_settings)  # type: ignore[arg-type]
        @given(schedules())
        def prop(schedule: Schedule) -> None:
            try:
                schedule_holds(world, schedule)
            except Exception as exc:
                if not isinstance(exc, AssertionError):
                    STATS.violations += 1  # the harness or a night crashed: as bad as a broken invariant
                violated.append(f"{type(exc).__name__}: {str(exc)[:2000]}")
                with found.open("a", encoding="utf-8") as f:
                    f.write(f"{violated[-1]}\n{schedule.describe()}\n{schedule!r}\n\n")
            finally:
                save()

        prop()
        assert not violated, f"{len(violated)} schedule(s) violated an invariant; see {found}"


@pytest.mark.timeout(600)
def test_a_dropped_roster_write_is_caught_within_the_default_budget(world: FaultWorld) -> None:
    """The deliberately broken world: one student's roster put silently does nothing. The property
    must fail within the default budget (generation only, no shrinking)."""
    tried: list[Schedule] = []

    @settings(max_examples=DEFAULT_BUDGET, phases=[Phase.generate], derandomize=True, **_settings)  # type: ignore[arg-type]
    @given(schedules())
    def prop(schedule: Schedule) -> None:
        tried.append(schedule)
        schedule_holds(world, schedule, drop_write=True)

    violations = STATS.violations
    with pytest.raises(AssertionError, match=r"differ from the clean run|missing|active items|index"):
        prop()
    assert STATS.violations > violations
    assert len(tried) <= DEFAULT_BUDGET


def test_support_killed_at_any_step_of_a_contacts_change_converges_on_the_rerun(world: FaultWorld) -> None:
    """The settings_death fault at every step it can land on (a settings write, a change record, a
    subscribe, an unsubscribe): the rerun leaves settings, change records and SNS agreeing."""
    changes: list[SettingsChange] = []
    district = "soak-settings-district"
    for night, point in enumerate(range(8)):
        fault = Fault(night=night, point=point, kind="settings_death", times=1, source="clever")
        settings_change(district, fault, night, changes)(None)  # type: ignore[arg-type]
        assert_settings_converged(changes[-1], f"step {point}")
    died = [c.steps for c in changes if c.died]
    assert died == list(range(len(died))) and len(died) >= 5, died  # deaths at steps 0..4 at least


def test_two_contacts_changes_killed_the_same_night_are_each_judged_on_their_own(world: FaultWorld) -> None:
    """Two settings_death faults drawn for one district and night (found by the soak): each change
    adds its own address and is judged on what `district show` said right after its re-run, not on
    the state the night's later change left."""
    changes: list[SettingsChange] = []
    district = "soak-settings-twice"
    actions = [
        settings_change(
            district, Fault(night=1, point=6, kind="settings_death", times=1, source="clever"), 1, changes
        )
        for _ in range(2)
    ]
    for action in actions:
        action(None)  # type: ignore[arg-type]
    assert len({c.contacts[-1] for c in changes}) == 2, [c.contacts for c in changes]
    for change in changes:
        assert_settings_converged(change, "night 1")
    assert changes[1].contacts[0] == changes[0].contacts[-1]  # the second kept the first's address
