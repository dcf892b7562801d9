"""`rostersync`: provision, run and demo the pipeline (see README.md)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rostersync.adapters.page_store import S3PageStore
from rostersync.settings import get_settings
from rostersync_cli.embedded import EmbeddedAws
from rostersync_cli.provision import provision
from rostersync_cli.runner import DistrictOutcome, PipelineRunner
from rostersync_cli.sandbox import CleverSandbox

RESOURCE_COLUMNS = ("schools", "students", "teachers", "staff", "district_admins", "sections")


def _print_summary(outcomes: Sequence[DistrictOutcome], seconds: float) -> None:
    header = f"{'district':<26} {'status':<10} " + " ".join(f"{c[:9]:>9}" for c in RESOURCE_COLUMNS)
    print(header + f" {'requests':>9}")
    print("-" * len(header + " " * 10))
    for outcome in outcomes:
        counts = outcome.fetch.get("counts", {})
        cells = " ".join(f"{counts.get(c, 0):>9}" for c in RESOURCE_COLUMNS)
        status = outcome.fetch["status"]
        print(f"{outcome.district_id:<26} {status:<10} {cells} {outcome.fetch.get('requests', 0):>9}")
        failure = outcome.fetch.get("failure")
        if failure:
            print(f"{'':<26} {failure['kind']}: {failure['reason']}")
    failed = sum(1 for o in outcomes if o.failed)
    print(f"\n{len(outcomes)} districts, {failed} failed, in {seconds:.1f} s")


def _print_validation(outcomes: Sequence[DistrictOutcome], report_dir: Path) -> None:
    store = S3PageStore(get_settings().raw_bucket)
    for outcome in outcomes:
        result = outcome.stages.get("validate")
        if not result:
            continue
        print(
            f"\n{outcome.district_id}: {result['status']}, {result['fetched']} records fetched, "
            f"{result['accepted']} accepted, {result['rejected']} rejected "
            f"({result['errors']} errors, {result['warnings']} warnings)"
        )
        fired = {rule: count for rule, count in result["rule_counts"].items() if count}
        for rule, count in sorted(fired.items()):
            print(f"  {rule:<32} {count:>6}")
        if result.get("report_key"):
            local = report_dir / result["report_key"]
            local.parent.mkdir(parents=True, exist_ok=True)
            store.download(result["report_key"], local)
            print(f"  report: {local}")


def _run(district_ids: list[str] | None, report_dir: Path) -> int:
    started = time.perf_counter()
    outcomes = PipelineRunner().run(district_ids)
    seconds = time.perf_counter() - started
    _print_validation(outcomes, report_dir)
    print()
    _print_summary(outcomes, seconds)
    return 1 if any(o.failed for o in outcomes) or not outcomes else 0


def _provision() -> int:
    resources = provision()
    print(resources)
    return 0


def _demo(args: argparse.Namespace) -> int:
    print("Starting the embedded AWS (moto) and the Clever sandbox on loopback...")
    with EmbeddedAws() as aws, CleverSandbox() as sandbox:
        aws.apply_environment()
        os.environ.update({"CLEVER_API_BASE": sandbox.api_base, "CLEVER_OAUTH_BASE": sandbox.oauth_base})
        _reset_settings()
        resources = provision(
            clever_credentials={"client_id": sandbox.client_id, "client_secret": sandbox.client_secret}
        )
        os.environ.update(resources.environment())
        _reset_settings()
        print(f"Provisioned from template.yaml; fetching {len(sandbox.district_ids())} sandbox districts.\n")
        return _run(args.district, Path(args.report_dir))


def _reset_settings() -> None:
    get_settings.cache_clear()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rostersync", description="Nightly roster sync from Clever.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("provision", help="create the pipeline's resources from template.yaml (idempotent)")
    run = commands.add_parser("run", help="run the pipeline against the endpoints the environment names")
    run.add_argument("--district", action="append", metavar="ID", help="only this district (repeatable)")
    run.add_argument("--report-dir", default="out", help="where to copy report.html (default: out/)")
    demo = commands.add_parser("demo", help="run everything locally: moto + the Clever sandbox, no network")
    demo.add_argument("--district", action="append", metavar="ID", help=argparse.SUPPRESS)
    demo.add_argument("--report-dir", default="out", help="where to copy report.html (default: out/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RosterSync")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if args.command == "provision":
        return _provision()
    if args.command == "run":
        return _run(args.district, Path(args.report_dir))
    return _demo(args)


if __name__ == "__main__":
    sys.exit(main())
