"""What validation produces besides accepted records: findings and the run summary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rostersync.records import DistrictStatus, Kind
from rostersync.validate.rules import Severity

RecordType = Literal[
    "district", "school", "student", "teacher", "staff", "district_admin", "section", "term", "course"
]
RECORD_TYPES: tuple[RecordType, ...] = (
    "district",
    "school",
    "student",
    "teacher",
    "staff",
    "district_admin",
    "section",
    "term",
    "course",
)

FINDING_FIELDS = (
    "district_id",
    "record_type",
    "source_id",
    "sis_id",
    "name",
    "rule",
    "severity",
    "field",
    "message",
)


class Finding(BaseModel):
    """One rule that fired for one record. Never carries a student's state id value."""

    model_config = ConfigDict(frozen=True)

    district_id: str
    record_type: RecordType
    source_id: str
    sis_id: str | None = None
    name: str | None = None
    """People "Last, First"; schools and sections by name."""
    rule: str
    severity: Severity
    field: str | None = None
    message: str


class TypeCounts(BaseModel):
    """Input records of one type. fetched == accepted + rejected + excluded, always (`excluded`:
    records of schools outside the district's licence, not imported and not errors).

    A person shared under two roles is two input records: each counts under its own type, and
    a record folded into the person's one account (see `Summary.imported`) counts as accepted.
    """

    fetched: int = 0
    accepted: int = 0
    rejected: int = 0
    excluded: int = 0
    """Records of schools the district did not license (`school.not_licensed`): not imported."""
    merged: int = 0
    """Accepted records that were folded into another record of the same person (or an exact
    duplicate of a record already accepted), so not imported separately. Part of `accepted`."""


class SchoolCounts(BaseModel):
    shared: int = 0
    accepted: int = 0
    rejected: int = 0


class SchoolSummary(BaseModel):
    """Per shared school: input records that name it, and how many of those are imported into it."""

    school_id: str
    name: str | None = None
    nces_id: str | None = None
    accepted: bool = False
    licensed: bool = True
    """False when the district lists its licensed schools and this one is not among them."""
    students: SchoolCounts = Field(default_factory=SchoolCounts)
    teachers: SchoolCounts = Field(default_factory=SchoolCounts)
    sections: SchoolCounts = Field(default_factory=SchoolCounts)


class Example(BaseModel):
    record_type: RecordType
    source_id: str
    sis_id: str | None = None
    name: str | None = None
    message: str


class RuleSummary(BaseModel):
    rule: str
    severity: Severity
    title: str
    count: int = 0
    examples: list[Example] = Field(default_factory=list)


class Summary(BaseModel):
    district_id: str
    source: str = "clever"
    """Where the district's roster comes from (`clever`, `oneroster`): reports and alerts name it."""
    district_name: str | None = None
    district_status: DistrictStatus | None = None
    """The source's sync status of the district (state, last sync, pause, launch)."""
    licensed_schools: list[str] | None = None
    """The district's licensed NCES ids this run applied (None: every shared school is licensed)."""
    empty: bool = False
    rejected_by: str | None = None
    """The rule that rejected the district as a whole (district.empty, district.primary_org.missing)."""
    records: dict[RecordType, TypeCounts] = Field(
        default_factory=lambda: {t: TypeCounts() for t in RECORD_TYPES}
    )
    imported: dict[Kind, int] = Field(default_factory=dict)
    """Records handed to the sink as accepted, per account kind (one per person)."""
    needs_attention: int = 0
    """Input records that were rejected or imported with at least one warning."""
    rules: dict[str, RuleSummary] = Field(default_factory=dict)
    schools: list[SchoolSummary] = Field(default_factory=list)

    @property
    def imported_total(self) -> int:
        return sum(self.imported.values())

    @property
    def rejected_total(self) -> int:
        return sum(c.rejected for c in self.records.values())

    @property
    def excluded_total(self) -> int:
        return sum(c.excluded for c in self.records.values())

    def nothing_imported_because(self) -> str:
        """Why a rejected district imported nothing, for people."""
        if self.rejected_by == "district.primary_org.missing":
            return "the district shared no district org (the primary org) with Smart Futures"
        return "the district shared no schools or no students with Smart Futures"

    def rule_counts(self) -> dict[str, int]:
        return {rid: r.count for rid, r in self.rules.items()}
