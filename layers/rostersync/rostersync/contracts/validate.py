"""The validate stage's contract: its request and its result (what import and the alerts read)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from rostersync.bounded import ClippedReason
from rostersync.ids import refuse_future_run_id
from rostersync.records import SOURCE_NAME, DistrictId, Kind


class ValidateRequest(BaseModel):
    """The fetch stage's result for one district (extra fields such as counts are ignored).
    `source`: the district's source as the fetch result carries it (None: a run validated by
    hand); validation checks it against the pages' source and words the reports in it."""

    district_id: DistrictId
    run_id: str
    source: str | None = Field(default=None, pattern=SOURCE_NAME)

    @field_validator("run_id")
    @classmethod
    def _not_from_the_future(cls, run_id: str) -> str:
        return refuse_future_run_id(run_id)


class ValidateStatus(StrEnum):
    VALIDATED = "validated"  # accepted records are ready for import
    REJECTED = "rejected"  # the district as a whole was rejected (district.empty): do not import
    SKIPPED = "skipped"  # the fetch did not complete: nothing to validate


class ValidateResult(BaseModel):
    """What validate hands to import, and what the runner prints."""

    district_id: str
    run_id: str
    status: ValidateStatus
    reason: ClippedReason | None = None  # may quote the fetch's failure: bounded
    accepted_keys: list[str] = Field(default_factory=list)
    rejected_key: str | None = None
    report_key: str | None = None
    findings_key: str | None = None
    summary_key: str | None = None
    fetched: int = 0
    fetched_by_type: dict[str, int] = Field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    excluded: int = 0  # records of schools outside the district's licence (not imported)
    imported: dict[Kind, int] = Field(default_factory=dict)
    rule_counts: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    warnings: int = 0
    infos: int = 0


def validated_prefix(district_id: str, run_id: str) -> str:
    return f"validated/{district_id}/{run_id}/"


def result_key(district_id: str, run_id: str) -> str:
    return f"{validated_prefix(district_id, run_id)}result.json"
