"""The validate stage: a completed fetch -> accepted records, findings.csv, summary.json, report.html.

Output in RAW_BUCKET:
  reports/<district>/<run>/findings.csv, summary.json, report.html   for the district and support
  validated/<district>/<run>/accepted/<n>.json.gz                     accepted records, for import
  validated/<district>/<run>/rejected.json.gz                         ids fetched but rejected
  validated/<district>/<run>/result.json                              this stage's result, written last
Accepted records stream out in chunks and findings stream to a temporary file, so memory holds
the validation indexes and one chunk, never the district.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from rostersync.adapters.page_store import PageStore
from rostersync.manifest import ManifestStatus, report_prefix
from rostersync.observability import logger
from rostersync.records import Kind, RosterRecord
from rostersync.sources import Record, load_manifest, manifest_records
from rostersync.validation import (
    FindingsCsvWriter,
    Severity,
    Summary,
    validate_district,
    write_html,
    write_summary_json,
)
from rostersync.validation.summary import Finding

ACCEPTED_CHUNK = 10_000
_RECORD = TypeAdapter(RosterRecord)


class ValidateStatus(StrEnum):
    VALIDATED = "validated"  # accepted records are ready for import
    REJECTED = "rejected"  # the district as a whole was rejected (district.empty): do not import
    SKIPPED = "skipped"  # the fetch did not complete: nothing to validate


class ValidateResult(BaseModel):
    """What validate hands to import, and what the runner prints."""

    district_id: str
    run_id: str
    status: ValidateStatus
    reason: str | None = None
    accepted_keys: list[str] = Field(default_factory=list)
    rejected_key: str | None = None
    report_key: str | None = None
    findings_key: str | None = None
    summary_key: str | None = None
    fetched: int = 0
    fetched_by_type: dict[str, int] = Field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    imported: dict[Kind, int] = Field(default_factory=dict)
    rule_counts: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    warnings: int = 0


def validated_prefix(district_id: str, run_id: str) -> str:
    return f"validated/{district_id}/{run_id}/"


def result_key(district_id: str, run_id: str) -> str:
    return f"{validated_prefix(district_id, run_id)}result.json"


class _S3Sink:
    """Streams accepted records to gzip chunks and findings to a CSV spool; collects rejected ids."""

    def __init__(self, store: PageStore, district_id: str, run_id: str, findings: FindingsCsvWriter) -> None:
        self._store = store
        self._prefix = validated_prefix(district_id, run_id)
        self._findings = findings
        self._chunk: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.rejected: set[str] = set()

    def accepted(self, kind: Kind, record: Record) -> None:
        self._chunk.append({"kind": kind.value, "record": record.model_dump(mode="json", exclude_none=True)})
        if len(self._chunk) >= ACCEPTED_CHUNK:
            self.flush()

    def finding(self, finding: Finding) -> None:
        self._findings.write(finding)
        if finding.severity is Severity.ERROR and finding.record_type != "district":
            self.rejected.add(finding.clever_id)

    def flush(self) -> None:
        if not self._chunk:
            return
        key = f"{self._prefix}accepted/{len(self.keys):05d}.json.gz"
        self._store.put_json(key, {"records": self._chunk}, compress=True)
        self.keys.append(key)
        self._chunk = []


def validate_run(
    store: PageStore,
    district_id: str,
    run_id: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ValidateResult:
    """Validate one fetched run. Idempotent: a replay rewrites the same objects with the same content."""
    manifest = load_manifest(store, district_id, run_id)
    if manifest.status is not ManifestStatus.COMPLETE:
        reason = manifest.failure.reason if manifest.failure else "fetch did not complete"
        return ValidateResult(
            district_id=district_id, run_id=run_id, status=ValidateStatus.SKIPPED, reason=reason
        )

    reports = report_prefix(district_id, run_id)
    with tempfile.TemporaryFile() as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        sink = _S3Sink(store, district_id, run_id, FindingsCsvWriter(text))
        summary = validate_district(district_id, manifest_records(store, manifest), sink)
        sink.flush()
        text.flush()
        text.detach()  # hand the spool back without closing it
        spool.seek(0)
        store.put_file(f"{reports}findings.csv", spool, "text/csv; charset=utf-8")

    summary_text = io.StringIO()
    write_summary_json(summary, summary_text)
    store.put_file(f"{reports}summary.json", io.BytesIO(summary_text.getvalue().encode()), "application/json")
    html = io.StringIO()
    write_html(summary, html, run_time=manifest.started_at)
    store.put_file(f"{reports}report.html", io.BytesIO(html.getvalue().encode()), "text/html; charset=utf-8")

    rejected_key = f"{validated_prefix(district_id, run_id)}rejected.json.gz"
    store.put_json(rejected_key, {"ids": sorted(sink.rejected)}, compress=True)
    result = _result(summary, district_id, run_id, sink, rejected_key, reports)
    store.put_json(result_key(district_id, run_id), result.model_dump(mode="json"))
    logger.info(
        "district validated",
        extra={
            "district_id": district_id,
            "run_id": run_id,
            "status": result.status.value,
            "fetched": result.fetched,
            "accepted": result.accepted,
            "rejected": result.rejected,
            "rule_counts": result.rule_counts,
        },
    )
    return result


def _result(
    summary: Summary, district_id: str, run_id: str, sink: _S3Sink, rejected_key: str, reports: str
) -> ValidateResult:
    severities = {rule.rule: rule.severity for rule in summary.rules.values()}
    counts = summary.rule_counts()
    return ValidateResult(
        district_id=district_id,
        run_id=run_id,
        status=ValidateStatus.REJECTED if summary.empty else ValidateStatus.VALIDATED,
        reason="district.empty" if summary.empty else None,
        accepted_keys=sink.keys,
        rejected_key=rejected_key,
        report_key=f"{reports}report.html",
        findings_key=f"{reports}findings.csv",
        summary_key=f"{reports}summary.json",
        fetched=sum(c.fetched for c in summary.records.values()),
        fetched_by_type={record_type: c.fetched for record_type, c in summary.records.items()},
        accepted=sum(c.accepted for c in summary.records.values()),
        rejected=summary.rejected_total,
        imported=dict(summary.imported),
        rule_counts=counts,
        errors=sum(n for rule, n in counts.items() if severities[rule] is Severity.ERROR),
        warnings=sum(n for rule, n in counts.items() if severities[rule] is Severity.WARNING),
    )


def accepted_records(store: PageStore, result: ValidateResult) -> Callable[[], Iterator[tuple[Kind, Record]]]:
    """The accepted records of a validated run, re-readable, one chunk in memory at a time."""

    def records() -> Iterator[tuple[Kind, Record]]:
        for key in result.accepted_keys:
            for item in store.get_json(key)["records"]:
                yield Kind(item["kind"]), _RECORD.validate_python(item["record"])

    return records


def load_result(store: PageStore, district_id: str, run_id: str) -> ValidateResult:
    return ValidateResult.model_validate(store.get_json(result_key(district_id, run_id)))


def rejected_ids(store: PageStore, result: ValidateResult) -> set[str]:
    if result.rejected_key is None:
        return set()
    return set(store.get_json(result.rejected_key)["ids"])
