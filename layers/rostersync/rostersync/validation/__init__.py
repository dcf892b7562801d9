"""Validation domain of the validate stage: pure Python over normalized records.

Source-independent (Clever today, OneRoster later), no AWS. See `engine` for the decisions.
"""

from rostersync.validation.engine import (
    CollectingSink,
    Record,
    ValidationSink,
    malformed_fields,
    validate_district,
)
from rostersync.validation.report_csv import FindingsCsvWriter, write_findings_csv
from rostersync.validation.report_html import render_html, write_html
from rostersync.validation.rules import (
    RULES,
    Rule,
    Severity,
    matching,
    nces_id_problem,
    state_id_problem,
    trimmed_nces_id,
    trimmed_state_id,
)
from rostersync.validation.summary import (
    RECORD_TYPES,
    Example,
    Finding,
    RecordType,
    RuleSummary,
    SchoolCounts,
    SchoolSummary,
    Summary,
    TypeCounts,
)
from rostersync.validation.summary_json import write_summary_json

__all__ = [
    "RECORD_TYPES",
    "RULES",
    "CollectingSink",
    "Example",
    "Finding",
    "FindingsCsvWriter",
    "Record",
    "RecordType",
    "Rule",
    "RuleSummary",
    "SchoolCounts",
    "SchoolSummary",
    "Severity",
    "Summary",
    "TypeCounts",
    "ValidationSink",
    "malformed_fields",
    "matching",
    "nces_id_problem",
    "render_html",
    "state_id_problem",
    "trimmed_nces_id",
    "trimmed_state_id",
    "validate_district",
    "write_findings_csv",
    "write_html",
    "write_summary_json",
]
