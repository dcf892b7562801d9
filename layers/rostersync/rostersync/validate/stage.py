"""The validate stage: a completed fetch -> accepted records, findings.csv, summary.json, report.html.

Output in RAW_BUCKET (keys in `rostersync.layout`): the district's reports (findings.csv,
summary.json, report.html) for the district and support; accepted records in chunks, the ids
fetched but rejected, and this stage's result (written last) for import. Accepted records stream out in chunks and findings stream to a temporary file, so memory holds
the validation indexes and one chunk, never the district.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rostersync.contracts.fetch import ManifestStatus
from rostersync.contracts.validate import ValidateResult, ValidateStatus
from rostersync.layout import (
    accepted_chunk_key,
    findings_key,
    rejected_key,
    report_key,
    summary_key,
    validate_result_key,
)
from rostersync.observability import logger
from rostersync.ports import PageStore
from rostersync.records import Kind, Record
from rostersync.run_artifacts import load_manifest, manifest_records
from rostersync.sources import base_name, profile
from rostersync.validate.engine import validate_district
from rostersync.validate.reports.findings_csv import FindingsCsvWriter
from rostersync.validate.reports.report_html import write_html
from rostersync.validate.reports.summary_json import write_summary_json
from rostersync.validate.rules import DEFAULT_SYNC_STALE_DAYS, DROPS_LAST_GOOD, Severity, rules_for
from rostersync.validate.summary import Finding, RecordType, Summary

ACCEPTED_CHUNK = 10_000

# The roster kinds a rejected record of each type may have an item under. An adult's account
# kind (teacher or staff) is decided from all their records, so a rejected adult record stands
# for both adult kinds.
KINDS_OF: dict[RecordType, frozenset[Kind]] = {
    "student": frozenset({Kind.STUDENT}),
    "teacher": frozenset({Kind.TEACHER, Kind.STAFF}),
    "staff": frozenset({Kind.TEACHER, Kind.STAFF}),
    "district_admin": frozenset({Kind.TEACHER, Kind.STAFF}),
    "school": frozenset({Kind.SCHOOL}),
    "section": frozenset({Kind.SECTION}),
    "term": frozenset({Kind.TERM}),
    "course": frozenset({Kind.COURSE}),
}


class RejectedRecords:
    """Ids fetched tonight but rejected, and per id the roster kinds whose last good version stays.

    The reason decides: a rejection in `rules.DROPS_LAST_GOOD` (a student's adult roles, an
    invalid id) keeps nothing of that record's kinds, every
    other error keeps the last good item of the record's own kinds, and never of another kind.
    """

    def __init__(self) -> None:
        self.keep: dict[str, set[Kind]] = {}
        self.drop: dict[str, set[Kind]] = {}

    def add(self, finding: Finding) -> None:
        kinds = KINDS_OF.get(finding.record_type)
        if kinds is None:
            return
        target = self.drop if finding.rule in DROPS_LAST_GOOD else self.keep
        target.setdefault(finding.source_id, set()).update(kinds)
        self.keep.setdefault(finding.source_id, set())

    def as_json(self) -> dict[str, Any]:
        kept = {i: sorted(k.value for k in kinds - self.drop.get(i, set())) for i, kinds in self.keep.items()}
        return {"schema_version": 2, "ids": sorted(self.keep), "keep": dict(sorted(kept.items()))}


class _S3Sink:
    """Streams accepted records to gzip chunks and findings to a CSV spool; collects rejected ids."""

    def __init__(self, store: PageStore, district_id: str, run_id: str, findings: FindingsCsvWriter) -> None:
        self._store = store
        self._district_id, self._run_id = district_id, run_id
        self._findings = findings
        self._chunk: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.rejected = RejectedRecords()

    def accepted(self, kind: Kind, record: Record) -> None:
        self._chunk.append({"kind": kind.value, "record": record.model_dump(mode="json", exclude_none=True)})
        if len(self._chunk) >= ACCEPTED_CHUNK:
            self.flush()

    def finding(self, finding: Finding) -> None:
        self._findings.write(finding)
        if finding.severity is Severity.ERROR and finding.record_type != "district":
            self.rejected.add(finding)

    def flush(self) -> None:
        if not self._chunk:
            return
        key = accepted_chunk_key(self._district_id, self._run_id, len(self.keys))
        self._store.put_json(key, {"records": self._chunk}, compress=True)
        self.keys.append(key)
        self._chunk = []


def validate_run(
    store: PageStore,
    district_id: str,
    run_id: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    stale_days: int = DEFAULT_SYNC_STALE_DAYS,
    licensed: frozenset[str] | None = None,
    source_name: str | None = None,
) -> ValidateResult:
    """Validate one fetched run. Idempotent: a replay rewrites the same objects with the same content.

    `source_name`: the district's source as the state machine's payload carries it (None: a run
    validated by hand); it must be the source the pages were fetched from, whose profile reads
    them back and words the reports.

    A district's sync status is judged against the time of its fetch (the manifest's start), not
    the clock, so a replay decides the same. `licensed`: the district's licensed NCES ids (its
    settings, read by the caller; None: every shared school), recorded in summary.json.
    Nothing it decides or reports depends on another district's students."""
    manifest = load_manifest(store, district_id, run_id)
    if manifest.status is not ManifestStatus.COMPLETE:
        reason = manifest.failure.reason if manifest.failure else "fetch did not complete"
        return ValidateResult(
            district_id=district_id, run_id=run_id, status=ValidateStatus.SKIPPED, reason=reason
        )

    # Discovery names a district's provider from the listing, the fetch from the tenant itself:
    # the source must agree, the provider is the manifest's.
    if source_name is not None and base_name(source_name) != base_name(manifest.source):
        raise ValueError(
            f"district {district_id} run {run_id}: the payload's source {source_name!r} is not the "
            f"source its pages were fetched from ({manifest.source!r})"
        )
    source = profile(manifest.source)

    with tempfile.TemporaryFile() as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        sink = _S3Sink(store, district_id, run_id, FindingsCsvWriter(text))
        summary = validate_district(
            district_id,
            manifest_records(store, manifest),
            sink,
            id_ok=source.id_ok,
            source_rules=source.rules,
            wording=source.wording,
            rule_ids=rules_for(source),
            now=manifest.started_at,
            stale_days=stale_days,
            licensed=licensed,
        )
        summary.source = manifest.source
        sink.flush()
        text.flush()
        text.detach()  # hand the spool back without closing it
        spool.seek(0)
        store.put_file(findings_key(district_id, run_id), spool, "text/csv; charset=utf-8")

    summary_text = io.StringIO()
    write_summary_json(summary, summary_text)
    store.put_file(
        summary_key(district_id, run_id), io.BytesIO(summary_text.getvalue().encode()), "application/json"
    )
    html = io.StringIO()
    write_html(summary, html, run_time=manifest.started_at)
    store.put_file(
        report_key(district_id, run_id), io.BytesIO(html.getvalue().encode()), "text/html; charset=utf-8"
    )

    store.put_json(rejected_key(district_id, run_id), sink.rejected.as_json(), compress=True)
    result = _result(summary, district_id, run_id, sink)
    store.put_json(validate_result_key(district_id, run_id), result.model_dump(mode="json"))
    logger.info(
        "district validated",
        extra={
            "district_id": district_id,
            "run_id": run_id,
            "status": result.status.value,
            "fetched": result.fetched,
            "accepted": result.accepted,
            "rejected": result.rejected,
            "excluded": result.excluded,
            "rule_counts": result.rule_counts,
        },
    )
    return result


def _result(summary: Summary, district_id: str, run_id: str, sink: _S3Sink) -> ValidateResult:
    severities = {rule.rule: rule.severity for rule in summary.rules.values()}
    counts = summary.rule_counts()
    return ValidateResult(
        district_id=district_id,
        run_id=run_id,
        status=ValidateStatus.REJECTED if summary.empty else ValidateStatus.VALIDATED,
        reason=(summary.rejected_by or "district.empty") if summary.empty else None,
        accepted_keys=sink.keys,
        rejected_key=rejected_key(district_id, run_id),
        report_key=report_key(district_id, run_id),
        findings_key=findings_key(district_id, run_id),
        summary_key=summary_key(district_id, run_id),
        fetched=sum(c.fetched for c in summary.records.values()),
        fetched_by_type={record_type: c.fetched for record_type, c in summary.records.items()},
        accepted=sum(c.accepted for c in summary.records.values()),
        rejected=summary.rejected_total,
        excluded=summary.excluded_total,
        imported=dict(summary.imported),
        rule_counts=counts,
        errors=sum(n for rule, n in counts.items() if severities[rule] is Severity.ERROR),
        warnings=sum(n for rule, n in counts.items() if severities[rule] is Severity.WARNING),
        infos=sum(n for rule, n in counts.items() if severities[rule] is Severity.INFO),
    )
