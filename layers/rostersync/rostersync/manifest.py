"""The fetch stage's output contract: pages in S3, and one manifest per district and run.

Layout in RAW_BUCKET:
  raw/<district_id>/<run_id>/<resource>/<page:05d>.json.gz   one gzip JSON page each
  raw/<district_id>/<run_id>/manifest.json                    written last
  raw/<district_id>/<run_id>/checkpoint.json                  only when a fetch paused (see Checkpoint)
A page body is `{"source": "clever", "resource": ..., "page": n, "records": [...]}`, the
records being the source's own objects reduced to the fields the product uses.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Resource(StrEnum):
    """What the fetch stage pulls for a district, in the order it pulls it."""

    DISTRICTS = "districts"
    SCHOOLS = "schools"
    STUDENTS = "students"
    TEACHERS = "teachers"
    STAFF = "staff"
    DISTRICT_ADMINS = "district_admins"
    SECTIONS = "sections"
    TERMS = "terms"
    COURSES = "courses"


class ManifestStatus(StrEnum):
    """`complete` and `failed` are the only statuses a manifest is written with. `in_progress` is
    a fetch *result* only: the invocation paused at its deadline, wrote a Checkpoint and no
    manifest, and a further invocation resumes it."""

    COMPLETE = "complete"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"


class FailureKind(StrEnum):
    """Why a district's fetch failed; `disconnected` means its token is gone (401 twice, or 404)."""

    DISCONNECTED = "disconnected"
    CLEVER_ERROR = "clever_error"
    PROTOCOL_ERROR = "protocol_error"
    STORAGE_ERROR = "storage_error"
    INTERNAL_ERROR = "internal_error"


class PageRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    resource: Resource
    index: int
    key: str
    records: int
    bytes: int


class ResourceSummary(BaseModel):
    resource: Resource
    pages: int = 0
    records: int = 0
    requests: int = 0
    seconds: float = 0.0
    complete: bool = False


class Failure(BaseModel):
    kind: FailureKind
    reason: str
    resource: Resource | None = None


class Manifest(BaseModel):
    schema_version: Literal[1] = 1
    source: Literal["clever"] = "clever"
    district_id: str
    run_id: str
    district_name: str | None = None  # from the `districts` page: people read names, not ids
    status: ManifestStatus
    started_at: datetime
    finished_at: datetime
    resources: dict[Resource, ResourceSummary] = Field(default_factory=dict)
    pages: list[PageRef] = Field(default_factory=list)
    failure: Failure | None = None

    def record_count(self, resource: Resource) -> int:
        summary = self.resources.get(resource)
        return summary.records if summary else 0


class Checkpoint(BaseModel):
    """Where a paused fetch stopped: always between two pages, never inside one.

    `resources` are the finished resources; `current` is the resource in progress (None when the
    pause fell between two resources), `current_summary` its counts so far, `next_link` the
    relative Clever link to request next (None: the resource's first page), `page_index` the
    index the next page gets, `cursors` the links already requested for `current` (so a cursor
    loop is still detected across invocations). `pages` are every PageRef written so far;
    `requests` the Clever requests made by earlier invocations; `invocations` how many
    invocations have worked on this fetch.
    """

    schema_version: Literal[1] = 1
    source: Literal["clever"] = "clever"
    district_id: str
    run_id: str
    started_at: datetime
    district_name: str | None = None
    resources: dict[Resource, ResourceSummary] = Field(default_factory=dict)
    current: Resource | None = None
    current_summary: ResourceSummary | None = None
    next_link: str | None = None
    page_index: int = 0
    cursors: list[str] = Field(default_factory=list)
    pages: list[PageRef] = Field(default_factory=list)
    requests: int = 0
    invocations: int = 0


def raw_prefix(district_id: str, run_id: str) -> str:
    return f"raw/{district_id}/{run_id}/"


def page_key(district_id: str, run_id: str, resource: Resource, index: int) -> str:
    return f"{raw_prefix(district_id, run_id)}{resource.value}/{index:05d}.json.gz"


def manifest_key(district_id: str, run_id: str) -> str:
    return f"{raw_prefix(district_id, run_id)}manifest.json"


def checkpoint_key(district_id: str, run_id: str) -> str:
    return f"{raw_prefix(district_id, run_id)}checkpoint.json"


def report_prefix(district_id: str, run_id: str) -> str:
    return f"reports/{district_id}/{run_id}/"
