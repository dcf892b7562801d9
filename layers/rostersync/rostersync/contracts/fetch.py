"""The fetch stage's contract: its request, its result, and what it leaves in the raw bucket.

Per district and run (keys in `rostersync.layout`): one gzip JSON page per source page, a
manifest written last, and a checkpoint only when a fetch paused. A page body is
`{"source": <source name>, "resource": ..., "page": n, "records": [...]}`, the records being the
source's own objects reduced to the fields the product uses. Resources are the source's own
names (Clever: `districts`, `schools`, `students`, ...), in the order the source fetches them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rostersync.bounded import ClippedName, ClippedReason
from rostersync.ids import refuse_future_run_id
from rostersync.records import SOURCE_NAME, DistrictId, DistrictStatus

RUN_ID = r"^[0-9]{8}T[0-9]{6}([0-9]{6})?Z-[0-9a-f]{6}$"


class ManifestStatus(StrEnum):
    """`complete` and `failed` are the only statuses a manifest is written with. `in_progress` is
    a fetch *result* only: the invocation paused at its deadline, wrote a Checkpoint and no
    manifest, and a further invocation resumes it."""

    COMPLETE = "complete"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"


class FailureKind(StrEnum):
    """Why a district's fetch failed; `disconnected` means its token is gone (401 twice) or the
    district itself is not found (`/districts/<id>` 404). Any other 404 is a `source_error`, any
    source's API error (manifests written before the name changed say `clever_error`)."""

    DISCONNECTED = "disconnected"
    SOURCE_ERROR = "source_error"
    PROTOCOL_ERROR = "protocol_error"
    STORAGE_ERROR = "storage_error"
    INTERNAL_ERROR = "internal_error"
    # The source refused our credentials for the district (OneRoster: the tenant's consumer key,
    # 401/403): no retry, support acts.
    KEY_REFUSED = "key_refused"
    # Our own settings for the district are not usable (OneRoster: its tenant entry or tenant
    # secret breaks a rule, named in the reason): this district fails, the others sync.
    SETTINGS_INVALID = "settings_invalid"

    @classmethod
    def _missing_(cls, value: object) -> FailureKind | None:
        return cls.SOURCE_ERROR if value == "clever_error" else None


class PageRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    resource: str
    index: int
    key: str
    records: int
    bytes: int


class ResourceSummary(BaseModel):
    resource: str
    pages: int = 0
    records: int = 0
    requests: int = 0
    seconds: float = 0.0
    complete: bool = False


class Failure(BaseModel):
    kind: FailureKind
    reason: ClippedReason  # may quote what the source sent: bounded (rostersync.bounded)
    resource: str | None = None


class Manifest(BaseModel):
    schema_version: Literal[1] = 1
    # Manifests and checkpoints written before there were two sources carry none: they are Clever's.
    source: str = Field("clever", pattern=SOURCE_NAME)
    district_id: str
    run_id: str
    district_name: ClippedName | None = None  # from the `districts` page: people read names, not ids
    # The source's sync status of the district (Clever: state, last_sync, pause_start, pause_end,
    # launch_date), from the `districts` page: whether its data is frozen upstream.
    district_status: DistrictStatus | None = None
    status: ManifestStatus
    started_at: datetime
    finished_at: datetime
    resources: dict[str, ResourceSummary] = Field(default_factory=dict)
    pages: list[PageRef] = Field(default_factory=list)
    failure: Failure | None = None

    def record_count(self, resource: str) -> int:
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
    source: str = Field("clever", pattern=SOURCE_NAME)
    district_id: str
    run_id: str
    started_at: datetime
    district_name: ClippedName | None = None
    district_status: DistrictStatus | None = None
    resources: dict[str, ResourceSummary] = Field(default_factory=dict)
    current: str | None = None
    current_summary: ResourceSummary | None = None
    next_link: str | None = None
    page_index: int = 0
    cursors: list[str] = Field(default_factory=list)
    pages: list[PageRef] = Field(default_factory=list)
    requests: int = 0
    invocations: int = 0


class Named(BaseModel):
    """The night's input as the state machine passes it to discovery: the districts started by
    hand (`{"district_ids": [...]}`), if any. Its other options (dry_run) are not discovery's."""

    district_ids: list[DistrictId] | None = Field(default=None, min_length=1)


class FetchRequest(BaseModel):
    """The fetch function's event. `{}` fetches every district; an operator may name districts and
    a run id. The nightly state machine first sends `{"discover": true}` (list the districts,
    fetch nothing), then one `{"district_ids": [id], "run_id": ...}` per district, and
    `"resume": true` with the same ids while the district's fetch answers `in_progress` (it
    continues from its checkpoint)."""

    discover: bool = False
    # With `discover`: the night's input, so discovery answers the districts started by hand.
    named: Named | None = None
    district_ids: list[DistrictId] | None = Field(default=None, min_length=1)
    run_id: str | None = Field(default=None, pattern=RUN_ID)
    resume: bool = False

    @field_validator("run_id")
    @classmethod
    def _not_from_the_future(cls, run_id: str | None) -> str | None:
        return None if run_id is None else refuse_future_run_id(run_id)

    @model_validator(mode="after")
    def _resume_names_its_run(self) -> Self:
        if self.resume and (self.run_id is None or not self.district_ids or self.discover):
            raise ValueError("resume needs the run_id and district_ids of the fetch it continues")
        return self


class FetchResult(BaseModel):
    """What the fetch stage hands to validate: where the manifest is, and how it went."""

    district_id: str
    district_name: ClippedName | None = None
    # The source that served the district (the manifest's): it travels in the state machine's
    # payload to validate, import and the alerts, which speak of it in its own words.
    source: str = Field(pattern=SOURCE_NAME)
    run_id: str
    status: ManifestStatus
    manifest_key: str
    records: int
    pages: int
    requests: int
    counts: dict[str, int] = Field(default_factory=dict)
    failure: Failure | None = None
    # Set when status is `in_progress`: where the fetch stopped, for the next invocation.
    checkpoint_key: str | None = None
    invocations: int = 1


class FetchOutcome(BaseModel):
    """What one fetch invocation did: discovered the districts, or fetched some."""

    run_id: str
    district_ids: list[str] | None = None
    # With `district_ids` (discovery): each district's source, in the same order (None: no source
    # lists a district started by hand). The state machine carries it to every stage and alert.
    sources: list[str | None] | None = None
    districts: list[FetchResult] | None = None

    def as_event(self) -> dict[str, object]:
        """The function's JSON answer (what the state machine reads)."""
        if self.districts is None:
            return {"run_id": self.run_id, "district_ids": self.district_ids, "sources": self.sources}
        return {"run_id": self.run_id, "districts": [r.model_dump(mode="json") for r in self.districts]}
