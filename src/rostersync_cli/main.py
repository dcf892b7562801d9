"""`rostersync`: provision, run and demo the pipeline (see README.md)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

from rostersync.district_settings import UNSET, DistrictSettings, SettingsError
from rostersync.errors import RosterSyncError
from rostersync.layout import INDEX_KEY
from rostersync.observability import logger as runtime_logger
from rostersync.operations import (
    UNKNOWN_DISTRICT,
    assign_state_id,
    district_disagreements,
    district_overview,
    district_status,
    download_report,
    operator_identity,
    run_releases,
    run_status,
    set_district,
    show_district,
    state_id_conflicts,
)
from rostersync.overview.index_page import DistrictRow
from rostersync.settings import get_settings
from rostersync.sources import label as source_label
from rostersync.state_id_registry import AssignError
from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.invoke import invoke
from rostersync_cli.nightly import (
    DistrictOutcome,
    LocalNight,
    Night,
    execution_input,
    follow_night,
    start_night,
)
from rostersync_cli.progress import Progress
from rostersync_cli.provision import provision
from rostersync_cli.sandbox import CleverSandbox
from rostersync_cli.sandbox.licences import demo_licences
from rostersync_cli.sandbox.oneroster import OneRosterSandbox, TenantSpec, default_tenants
from rostersync_cli.template import TemplateError
from rostersync_cli.tenants import (
    AUTH_LABELS,
    RECOVERY_DAYS,
    TenantError,
    TenantInput,
    add_tenant,
    connections,
    read_client_secret,
    remove_tenant,
    show_tenant,
)
from rostersync_cli.terminal import district_id_arg, say, terminal_safe

RESOURCE_COLUMNS = ("schools", "students", "teachers", "staff", "district_admins", "sections")


def _print_summary(outcomes: Sequence[DistrictOutcome], seconds: float) -> None:
    header = f"{'district':<38} {'status':<11} " + " ".join(f"{c[:9]:>9}" for c in RESOURCE_COLUMNS)
    say(header + f" {'requests':>9}")
    say("-" * len(header + " " * 10))
    for outcome in outcomes:
        counts = outcome.fetch.get("counts", {})
        if not set(counts) & set(RESOURCE_COLUMNS):
            # A OneRoster district fetches other collections (orgs, users, classes, ...): show
            # what validation read of each kind instead.
            by_type = (outcome.stages.get("validate") or {}).get("fetched_by_type") or {}
            counts = {c: by_type.get(c.removesuffix("s") if c != "staff" else c, 0) for c in RESOURCE_COLUMNS}
        cells = " ".join(f"{counts.get(c, 0):>9}" for c in RESOURCE_COLUMNS)
        status = outcome.fetch["status"]
        name = _label(outcome)[:38]
        say(f"{name:<38} {status:<11} {cells} {outcome.fetch.get('requests', 0):>9}")
        failure = outcome.fetch.get("failure")
        if failure:
            say(f"{'':<38} {failure['kind']}: {failure['reason']}")
    failed = sum(1 for o in outcomes if o.failed)
    say("", f"{len(outcomes)} districts, {failed} failed, in {seconds:.1f} s")


def _label(outcome: DistrictOutcome) -> str:
    """The district's name when the fetch read one, else its Clever id."""
    return outcome.fetch.get("district_name") or outcome.district_id


def _print_validation(outcomes: Sequence[DistrictOutcome], report_dir: Path) -> None:
    for outcome in outcomes:
        result = outcome.stages.get("validate")
        if not result:
            continue
        excluded = result.get("excluded") or 0
        outside = f", {excluded} outside the licence" if excluded else ""
        say(
            "",
            f"{_label(outcome)} ({outcome.district_id}): {result['status']}, {result['fetched']} records fetched, "
            f"{result['accepted']} accepted, {result['rejected']} rejected{outside} "
            f"({result['errors']} errors, {result['warnings']} warnings)",
        )
        fired = {rule: count for rule, count in result["rule_counts"].items() if count}
        for rule, count in sorted(fired.items()):
            say(f"  {rule:<32} {count:>6}")
        if result.get("report_key"):
            local = local_report_path(report_dir, result["report_key"])
            local.parent.mkdir(parents=True, exist_ok=True)
            download_report(result["report_key"], local)
            say(f"  report: {local}")
        if outcome.stages.get("import"):
            _print_import(outcome.stages["import"])


def local_report_path(report_dir: Path, key: str) -> Path:
    """Where a report object is copied: always inside `report_dir` (ids are checked upstream too)."""
    root = report_dir.resolve()
    local = (root / key).resolve()
    if not local.is_relative_to(root):
        raise ValueError(f"report key {key[:80]!r} points outside {report_dir}")
    return local


KIND_COLUMNS = ("DISTRICT", "SCHOOL", "STUDENT", "TEACHER", "STAFF", "SECTION", "TERM", "COURSE")
CHANGE_ROWS = ("accepted", "created", "updated", "unchanged", "archived", "restored", "held")


def _print_import(result: dict[str, Any], indent: str = "  ") -> None:
    """One import result: status, then per kind the counts the run record keeps."""
    note = " (dry run: nothing written)" if result.get("dry_run") else ""
    say(f"{indent}import {result['status']}{note}, {result.get('roster_writes', 0)} roster writes")
    counts = result.get("counts") or {}
    if counts:
        say(f"{indent}{'':<10}" + "".join(f"{k:>9}" for k in KIND_COLUMNS))
        for row in CHANGE_ROWS:
            cells = "".join(f"{int((counts.get(k) or {}).get(row) or 0):>9}" for k in KIND_COLUMNS)
            say(f"{indent}{row:<10}{cells}")
    for row, label in (("archived", "ARCHIVED tonight"), ("held", "HELD (not archived)")):
        per_kind = {k: int((counts.get(k) or {}).get(row) or 0) for k in counts}
        if any(per_kind.values()):  # records gone from the roster (or about to): never only a cell
            listed = ", ".join(f"{k} {n:,}" for k, n in sorted(per_kind.items()) if n)
            say(f"{indent}{label}: {sum(per_kind.values()):,} records ({listed})")
    for key, label in (("hold_key", "held archive set"), ("changeset_key", "change set"), ("error", "error")):
        if result.get(key):
            say(f"{indent}{label}: {result[key]}")


def _deployed_state_machine(arn: str | None, stack: str | None) -> str:
    """The state machine's ARN: given, or the stack's `NightlyStateMachineArn` output."""
    if arn:
        return arn
    if not stack:
        raise TemplateError(
            "no AWS_ENDPOINT_URL, so `run` starts the deployed state machine: name it with "
            "--state-machine-arn (or ROSTERSYNC_STATE_MACHINE_ARN) or --stack (or ROSTERSYNC_STACK)"
        )
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    if "NightlyStateMachineArn" not in found:
        raise TemplateError(f"stack {stack} has no NightlyStateMachineArn output")
    return found["NightlyStateMachineArn"]


def _night(args: argparse.Namespace) -> Night:
    """Locally (an endpoint override: the embedded AWS, or any moto server): the definition in
    moto's engine, our handlers in process. Otherwise: an execution of the deployed machine."""
    district_ids, dry_run = args.district, args.dry_run
    with Progress() as progress:
        if os.environ.get("AWS_ENDPOINT_URL"):
            overrides = {"MaxConcurrency": str(args.max_concurrency)} if args.max_concurrency else {}
            return LocalNight(overrides=overrides).run(
                district_ids, dry_run=dry_run, on_change=progress.update
            )
        machine = _deployed_state_machine(args.state_machine_arn, args.stack)
        sfn = boto3.client("stepfunctions")
        arn = start_night(sfn, machine, execution_input(district_ids, dry_run=dry_run))
        say(f"started {arn}", flush=True)
        return follow_night(sfn, arn, on_change=progress.update, poll_seconds=5)


def _copy_index(report_dir: Path) -> None:
    """reports/index.html beside the reports copied (its links are relative to it locally)."""
    local = local_report_path(report_dir, INDEX_KEY)
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        download_report(INDEX_KEY, local)
    except Exception as exc:  # a night that wrote no index (no district) still prints its results
        say("", f"no index page ({type(exc).__name__})")
        return
    say("", f"every district: {local}")


def _run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    night = _night(args)
    seconds = time.perf_counter() - started
    outcomes = night.outcomes
    _print_validation(outcomes, Path(args.report_dir))
    if os.environ.get("AWS_ENDPOINT_URL"):
        _copy_index(Path(args.report_dir))
    say()
    _print_summary(outcomes, seconds)
    say(f"execution {night.status}" + (f": {night.error}" if night.error else ""))
    return 1 if any(o.failed for o in outcomes) or not outcomes or night.status != "SUCCEEDED" else 0


DISTRICT_COLUMNS = (
    "district",
    "source",
    "version",
    "authentication",
    "status",
    "last run (UTC)",
    "imported",
    "errors",
    "warnings",
    "held",
    "connection",
    "days since good",
)


def district_lines(
    rows: Sequence[DistrictRow], connected: dict[str, tuple[str, str, str]] | None = None
) -> list[list[str]]:
    """The index page's rows as text cells, in the page's order (needs attention first), with each
    district's provider, version and authentication (`connected`; the stored source's name else)."""
    out = []
    for r in rows:
        s = r.status
        at = s.run_at
        provider, version, auth = (connected or {}).get(s.district_id, (source_label(s.source), "", ""))
        out.append(
            [
                f"{terminal_safe(r.label[:30])} ({s.district_id})" if s.district_name else s.district_id,
                terminal_safe(provider),
                version,
                auth,
                r.health.value,
                at.strftime("%Y-%m-%d %H:%M") if at else "",
                str(s.imported),
                str(s.errors),
                str(s.warnings),
                str(s.held),
                "connected" if r.connected else "disconnected",
                "never" if r.days_since_good is None else str(r.days_since_good),
            ]
        )
    return out


def _districts() -> int:
    rows = district_overview()
    if not rows:
        say("no district has run yet")
        return 0
    try:
        connected = connections({r.status.district_id: r.status.source or "" for r in rows})
    except (TenantError, RosterSyncError) as exc:  # the overview still shows what it knows
        say(f"(the districts' connections could not be read: {exc})", file=sys.stderr)
        connected = {}
    lines = district_lines(rows, connected)
    widths = [max(len(c), *(len(line[i]) for line in lines)) for i, c in enumerate(DISTRICT_COLUMNS)]
    say("  ".join(c.ljust(w) for c, w in zip(DISTRICT_COLUMNS, widths, strict=True)))
    say("  ".join("-" * w for w in widths))
    for line in lines:
        say("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    attention = sum(1 for r in rows if r.needs_attention)
    say("", f"{len(rows)} districts, {attention} need attention")
    _print_conflicts(rows)
    return 0


def _print_conflicts(rows: Sequence[DistrictRow]) -> None:
    """Support's PA Secure ID conflicts, with both districts and both students' ids (never a name)."""
    conflicts = state_id_conflicts([r.status.district_id for r in rows])
    if not conflicts:
        return
    names = {r.status.district_id: r.label for r in rows}

    def label(d: str) -> str:
        return f"{names[d][:30]} ({d})" if names.get(d) and names[d] != d else d

    say(
        "",
        f"PA Secure ID conflicts ({len(conflicts)}): trusted district / student  <-  other district / student",
    )
    for c in conflicts:
        say(
            f"  {label(c.trusted_district)} / {c.trusted_student}  <-  {label(c.district_id)} / {c.student_id}  since {c.since[:10]}"
        )
    say("  resolve: the district whose SIS is wrong corrects it, or `rostersync state-id assign`")


_STATE_ID = re.compile(r"[0-9]{10}")


def _state_id(args: argparse.Namespace) -> int:
    if not _STATE_ID.fullmatch(args.state_id):
        say("rostersync state-id assign: --state-id must be a 10-digit PA Secure ID", file=sys.stderr)
        return 2
    try:
        done = assign_state_id(args.state_id, args.district, by=args.by or operator_identity())
    except AssignError as exc:
        say(f"rostersync state-id assign: {exc}", file=sys.stderr)
        return 2
    before = (
        f"district {done.previous_district} (student {done.previous_student})"
        if done.previous_district
        else "nobody"
    )
    say(f"PA Secure ID trust: district {done.district_id} (student {done.student_id}), was {before}")
    say(f"recorded: by {done.by} at {done.at}")
    return 0


def _status(district_id: str | None, limit: int) -> int:
    runs = run_status(district_id, limit)
    if not runs:
        say("no runs recorded" + (f" for district {district_id}" if district_id else ""))
        return 0
    for result in runs:
        when = result.finished_at or result.started_at
        say(
            f"{result.district_id}  run {result.run_id}  {when:%Y-%m-%d %H:%M} UTC" if when else result.run_id
        )
        status = district_status(result.district_id, result.run_id)
        if status is not None:
            say(f"    Clever: {status.line()}")
        _print_import(result.model_dump(mode="json"), indent="    ")
    return 0


def _release(district_ids: list[str], run_id: str | None, where: dict[str, str] | None = None) -> int:
    """One district prints its result (as before); several print a list. Exit 1 if any failed or
    was not known (`where`: the line of --districts-file, or --district, that named it)."""
    released = run_releases(district_ids, run_id)
    body = [r.model_dump(mode="json") for r in released]
    say(*json.dumps(body[0] if len(body) == 1 else body, indent=2).splitlines())
    unknown = [r.district_id for r in released if r.status == UNKNOWN_DISTRICT]
    for district_id in unknown:
        origin = (where or {}).get(district_id, "--district")
        say(
            f"rostersync release: {origin}: district {district_id} is not known (no run recorded for "
            "it); nothing was written for it",
            file=sys.stderr,
        )
    return 1 if unknown or any(r.status.startswith("failed") for r in released) else 0


def _release_ids(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[list[str], dict[str, str]]:
    """--district (repeatable) and --districts-file (one id per line, # comments), in order, once
    each, and where each came from. The file may start with a byte-order mark (Windows editors
    write one); surrounding spaces are removed; a line that is not a district id is refused, naming
    the line, before anything is released."""
    ids = list(args.district or [])
    where = dict.fromkeys(ids, "--district")
    if args.districts_file:
        try:
            text = Path(args.districts_file).read_text(encoding="utf-8-sig")
        except OSError as exc:
            parser.error(f"cannot read {args.districts_file}: {exc.strerror}")
        except UnicodeDecodeError:
            parser.error(f"{args.districts_file} is not UTF-8 text")
        for number, line in enumerate(text.splitlines(), start=1):
            value = line.split("#", 1)[0].strip()
            if not value:
                continue
            try:
                district_id = district_id_arg(value)
            except argparse.ArgumentTypeError as exc:
                parser.error(f"{args.districts_file} line {number}: {exc}")
            ids.append(district_id)
            where.setdefault(district_id, f"{args.districts_file} line {number}")
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        parser.error("release needs --district ID (repeatable) or --districts-file FILE")
    if args.run and len(ids) != 1:
        parser.error("--run names the hold of one district; leave it out to release each newest hold")
    return ids, where


def _print_settings(d: DistrictSettings) -> None:
    licensed = (
        "every shared school (no list)"
        if d.licensed_schools is None
        else (", ".join(d.licensed_schools) or "none")
    )
    percent = f"{d.safeguard_percent:g}%" if d.safeguard_percent is not None else "the default"
    say(f"district {d.district_id}")
    say(f"  licensed schools:  {licensed}")
    say(f"  contacts:          {', '.join(d.contacts) or 'none'}")
    say(f"  safeguard percent: {percent}")
    if d.updated_at:
        say(f"  last changed:      {d.updated_at} by {d.updated_by} (version {d.version})")


def _district(args: argparse.Namespace) -> int:
    if args.district_command == "show":
        current, history = show_district(args.district)
        _print_settings(current)
        problems = district_disagreements(current)
        if problems:
            say("  SUBSCRIPTIONS AND SETTINGS DISAGREE:")
            for problem in problems:
                say(f"    {problem}")
        if history:
            say("  changes, newest first:")
            for c in history:
                say(f"    {c.at}  {c.by}  {c.setting}: {c.before!r} -> {c.after!r}")
        return 0
    changes: dict[str, Any] = {}
    if args.licensed_schools is not None:
        changes["licensed"] = args.licensed_schools
    if args.contacts is not None:
        changes["contact_list"] = args.contacts
    if args.safeguard_percent is not UNSET:
        changes["percent"] = args.safeguard_percent
    if not changes:
        say("rostersync district set: nothing to change (see --help)", file=sys.stderr)
        return 2
    try:
        applied = set_district(args.district, by=args.by or operator_identity(), **changes)
    except SettingsError as exc:
        say(f"rostersync district set: {exc}", file=sys.stderr)
        return 2
    for contact in applied.finished_unsubscribed:
        say(f"unsubscribed {contact} (finishing an earlier change that had not completed)")
    if applied.finished_earlier and not applied.finished_unsubscribed:
        say("finished an earlier change that had not completed (its records written)")
    if not applied.changes:
        say("no new change" if applied.finished_earlier else "no change")
    for c in applied.changes:
        say(f"{c.setting}: {c.before!r} -> {c.after!r}")
    for contact in applied.subscribed:
        say(f"subscribed {contact}: SNS has sent them a confirmation e-mail; alerts start once they confirm")
    for contact in applied.unsubscribed:
        say(f"unsubscribed {contact}")
    _print_settings(applied.settings)
    return 0


def _tenant(args: argparse.Namespace) -> int:
    command = f"rostersync tenant {args.tenant_command}"
    try:
        if args.tenant_command == "add":
            tenant = TenantInput(
                district_id=args.district,
                base_url=args.base_url,
                client_id=args.client_id,
                client_secret=read_client_secret(args.client_secret_file),
                name=args.name or "",
                auth=args.auth,
                token_url=args.token_url or "",
                scope=args.scope,
                provider=args.provider or "",
                version=args.version or "",
            )
            name = add_tenant(tenant)
            shown = show_tenant(args.district)
            say(f"tenant of district {args.district} written to {name}")
            if shown is not None:
                say(*shown.lines())
            say("the next nightly sync reads it (no other district's tenant was touched)")
            return 0
        if args.tenant_command == "show":
            shown = show_tenant(args.district)
            if shown is None:
                say(f"{command}: no OneRoster tenant lists district {args.district}", file=sys.stderr)
                return 1
            say(f"district {args.district}", *shown.lines())
            return 1 if shown.problem is not None else 0
        name = remove_tenant(args.district)
        say(
            f"tenant secret {name} scheduled for deletion (restorable for {RECOVERY_DAYS} days:"
            f" aws secretsmanager restore-secret --secret-id {name})",
            "the next nightly sync no longer lists the district (one district_disconnected alert),"
            " unless the tenants document lists it too",
        )
        return 0
    except (TenantError, RosterSyncError) as exc:
        say(f"{command}: {exc}", file=sys.stderr)
        return 2


class _NotAnArgument(argparse.Action):
    """`--client-secret VALUE`: refused without repeating the value (it is in the shell's history
    and the process list already; the error tells support how to give it instead)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(
            "the client secret is never a command-line argument: put it in a file "
            "(--client-secret-file FILE) or pipe it on stdin"
        )


def _percent(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 100, got {text[:20]!r}") from None


def _provision() -> int:
    resources = provision()
    say(*str(resources).splitlines())
    return 0


# The demo's district on OneRoster 1.2 over OAuth 2.0, as a SIS's own OneRoster server serves it,
# connected the way support connects one: `rostersync tenant add` (a secret of its own).
DEMO_V1P2 = TenantSpec(
    district_id="4299996",
    name="Clearfield Summit SD (Infinite Campus)",
    seed=9,
    schools=1,
    students_per_school=8,
    gaps=False,
    auth="oauth2",
    version="1.2",
)
DEMO_V1P2_PROVIDER = "Infinite Campus"


def _demo(args: argparse.Namespace) -> int:
    say("Starting the embedded AWS (moto), the Clever sandbox and the OneRoster sandbox on loopback...")
    with (
        EmbeddedAws() as aws,
        CleverSandbox() as sandbox,
        OneRosterSandbox([*default_tenants(), DEMO_V1P2]) as classlink,
    ):
        aws.apply_environment()
        os.environ.update({"CLEVER_API_BASE": sandbox.api_base, "CLEVER_OAUTH_BASE": sandbox.oauth_base})
        _reset_settings()
        document = classlink.secret_value()
        (own,) = [t for t in document["tenants"] if t["district_id"] == DEMO_V1P2.district_id]
        document["tenants"].remove(own)
        resources = provision(
            clever_credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
            oneroster_tenants=document,
        )
        os.environ.update(resources.environment())
        _reset_settings()
        secret_name = add_tenant(
            TenantInput(
                district_id=own["district_id"],
                name=own["name"],
                base_url=own["base_url"],
                client_id=own["client_id"],
                client_secret=own["client_secret"],
                auth=own["auth"],
                token_url=own["token_url"],
                provider=DEMO_V1P2_PROVIDER,
            )
        )
        for district_id, licensed in demo_licences(sandbox).items():
            set_district(district_id, by="rostersync demo", licensed=licensed)
        tenants = list(classlink.specs.values())
        say(
            f"Provisioned from template.yaml; fetching {len(sandbox.district_ids())} Clever sandbox districts"
            f" and {len(tenants)} OneRoster district(s):"
        )
        for spec in tenants:
            provider = DEMO_V1P2_PROVIDER if spec is DEMO_V1P2 else "ClassLink"
            auth = AUTH_LABELS[spec.auth]
            where = (
                f"its own secret {secret_name} (rostersync tenant add)"
                if spec is DEMO_V1P2
                else "the tenants document"
            )
            say(
                f"  {provider} district {spec.district_id}: {spec.name}, OneRoster {spec.version}, {auth},"
                f" at {classlink.base_url(spec.district_id)}; tenant in {where}"
            )
        say()
        code = _run(args)
        say()
        _districts()  # what reports/index.html shows, as `rostersync districts` prints it
        return code


def _invoke(args: argparse.Namespace) -> int:
    try:
        event = json.loads(Path(args.event).read_text(encoding="utf-8")) if args.event else {}
    except (OSError, ValueError) as exc:
        say(f"rostersync invoke: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    overrides = dict(item.split("=", 1) for item in args.parameter_overrides or [])
    try:
        result = invoke(args.logical_id, event, overrides=overrides)
    except (TemplateError, ImportError) as exc:
        say(f"rostersync invoke: {exc}", file=sys.stderr)
        return 2
    say(*json.dumps(result, indent=2, default=str).splitlines())
    return 0


def _parameter(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return text


def _reset_settings() -> None:
    get_settings.cache_clear()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rostersync", description="Nightly roster sync from Clever and ClassLink (OneRoster)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("provision", help="create the pipeline's resources from template.yaml (idempotent)")
    run = commands.add_parser("run", help="run the pipeline against the endpoints the environment names")
    run.add_argument(
        "--district",
        action="append",
        metavar="ID",
        type=district_id_arg,
        help="only this district (repeatable)",
    )
    run.add_argument("--report-dir", default="out", help="where to copy report.html (default: out/)")
    run.add_argument(
        "--dry-run", action="store_true", help="compute and store the change set; write no roster item"
    )
    run.add_argument(
        "--max-concurrency", type=int, help="districts at a time (local runs; default: the template's)"
    )
    run.add_argument(
        "--state-machine-arn",
        default=os.environ.get("ROSTERSYNC_STATE_MACHINE_ARN"),
        help="on AWS: the deployed state machine (default: ROSTERSYNC_STATE_MACHINE_ARN)",
    )
    run.add_argument(
        "--stack",
        default=os.environ.get("ROSTERSYNC_STACK"),
        help="on AWS: the stack whose NightlyStateMachineArn output to start (default: ROSTERSYNC_STACK)",
    )
    commands.add_parser(
        "districts", help="every district's last night (what reports/index.html shows), attention first"
    )
    status = commands.add_parser("status", help="the latest runs, per district")
    status.add_argument("--district", metavar="ID", type=district_id_arg)
    status.add_argument("--limit", type=int, default=10)
    release = commands.add_parser("release", help="apply districts' held archive sets, once each")
    release.add_argument(
        "--district", action="append", metavar="ID", type=district_id_arg, help="a district (repeatable)"
    )
    release.add_argument("--districts-file", metavar="FILE", help="district ids, one per line (# comments)")
    release.add_argument(
        "--run", metavar="RUN_ID", help="the held run of one district (default: its latest hold)"
    )
    state_id = commands.add_parser("state-id", help="support's PA Secure ID decisions")
    state_id_commands = state_id.add_subparsers(dest="state_id_command", required=True)
    give = state_id_commands.add_parser(
        "assign",
        help="trust this district's active student with the PA Secure ID (recorded with who and when)",
    )
    give.add_argument("--state-id", required=True, metavar="ID", help="the 10-digit PA Secure ID")
    give.add_argument(
        "--district",
        required=True,
        metavar="ID",
        type=district_id_arg,
        help="the district whose student is trusted",
    )
    give.add_argument("--by", help="who decides (default: the AWS caller identity)")
    district = commands.add_parser(
        "district", help="a district's settings: licensed schools, contacts, safeguard"
    )
    district_commands = district.add_subparsers(dest="district_command", required=True)
    show = district_commands.add_parser("show", help="the district's settings and their latest changes")
    show.add_argument("--district", required=True, metavar="ID", type=district_id_arg)
    change = district_commands.add_parser(
        "set", help="change settings (a list option given with no value clears it); every change is recorded"
    )
    change.add_argument("--district", required=True, metavar="ID", type=district_id_arg)
    change.add_argument(
        "--licensed-schools",
        nargs="*",
        metavar="NCES_ID",
        help="12-digit NCES ids of the licensed schools (no value: every shared school is licensed)",
    )
    change.add_argument(
        "--contacts", nargs="*", metavar="EMAIL", help="the district's data managers (no value: none)"
    )
    change.add_argument(
        "--safeguard-percent",
        nargs="?",
        type=_percent,
        default=UNSET,
        const=None,
        metavar="N",
        help="the district's own safeguard, 1-100 (no value: the deployment's default)",
    )
    change.add_argument("--by", help="who makes the change (default: the AWS caller identity)")
    tenant = commands.add_parser(
        "tenant",
        help="a OneRoster district's tenant, in a secret of its own (ONEROSTER_TENANT_SECRET_PREFIX)",
    )
    tenant_commands = tenant.add_subparsers(dest="tenant_command", required=True)
    add = tenant_commands.add_parser(
        "add",
        help="check the tenant as the night does, then write (or replace) its secret",
        allow_abbrev=False,
    )
    add.add_argument("--district", required=True, metavar="ID", type=district_id_arg)
    add.add_argument(
        "--base-url",
        required=True,
        help="the OneRoster endpoint, path included: https://.../ims/oneroster/v1p1 or .../rostering/v1p2",
    )
    add.add_argument("--client-id", required=True, help="the key (OAuth 1.0a) or client id (OAuth 2.0)")
    add.add_argument(
        "--client-secret-file",
        default="-",
        metavar="FILE",
        help="a file holding the client secret on one line (default -: read it from stdin; never an argument)",
    )
    add.add_argument("--client-secret", nargs="?", action=_NotAnArgument, help=argparse.SUPPRESS)
    add.add_argument("--name", help="the district's name, for support's lists")
    add.add_argument("--auth", choices=tuple(AUTH_LABELS), default="oauth1", help="default oauth1")
    add.add_argument("--token-url", help="OAuth 2.0: the provider's token endpoint (https)")
    add.add_argument("--scope", help="OAuth 2.0: the scopes to ask (default: the version's read scopes)")
    add.add_argument(
        "--provider",
        help="how reports and alerts name the provider (default ClassLink): Infinite Campus, ...",
    )
    add.add_argument("--version", choices=("1.1", "1.2"), help="must agree with --base-url's path")
    for verb, text in (("show", "the tenant (never its client secret)"), ("remove", "delete its secret")):
        sub = tenant_commands.add_parser(verb, help=text)
        sub.add_argument("--district", required=True, metavar="ID", type=district_id_arg)
    inv = commands.add_parser(
        "invoke", help="run one function of template.yaml in process with its template environment"
    )
    inv.add_argument("logical_id", metavar="LogicalId", help="e.g. FetchFunction, ValidateFunction")
    inv.add_argument("--event", "-e", metavar="FILE", help="JSON event file, e.g. events/fetch-schedule.json")
    inv.add_argument(
        "--parameter-overrides",
        nargs="*",
        type=_parameter,
        metavar="Name=Value",
        help="template parameter values or resource names (as sam's --parameter-overrides)",
    )
    demo = commands.add_parser(
        "demo", help="run everything locally: moto + the Clever and ClassLink sandboxes, no network"
    )
    demo.add_argument(
        "--district", action="append", metavar="ID", type=district_id_arg, help=argparse.SUPPRESS
    )
    demo.add_argument("--report-dir", default="out", help="where to copy report.html (default: out/)")
    demo.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    demo.add_argument("--max-concurrency", type=int, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RosterSync")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.command in ("run", "demo"):
        # The runtime package's Logger was created at import, before the defaults above: apply the
        # level now (these commands print their own lines; JSON logs only at WARNING, or the level
        # asked for). `invoke` keeps the handler's logs on stderr, as `sam local invoke` does.
        runtime_logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"].upper())
    if args.command == "provision":
        return _provision()
    if args.command == "run":
        try:
            return _run(args)
        except TemplateError as exc:
            say(f"rostersync run: {exc}", file=sys.stderr)
            return 2
    if args.command == "invoke":
        return _invoke(args)
    if args.command == "status":
        return _status(args.district, args.limit)
    if args.command == "release":
        ids, where = _release_ids(parser, args)
        return _release(ids, args.run, where)
    if args.command == "district":
        return _district(args)
    if args.command == "districts":
        return _districts()
    if args.command == "tenant":
        return _tenant(args)
    if args.command == "state-id":
        return _state_id(args)
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
