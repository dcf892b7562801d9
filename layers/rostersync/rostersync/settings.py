"""Configuration, read once from the environment (the Lambda environment in template.yaml)."""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the pipeline's data lives. The defaults are for the local CLI and the demo only: in
# Lambda a missing one fails the cold start, since a default bucket name is one anyone in the
# world could own.
REQUIRED_IN_LAMBDA = ("RAW_BUCKET", "ROSTER_TABLE", "ALERT_TOPIC_ARN")


class Settings(BaseSettings):
    """Every variable a RosterSync function reads. Names match template.yaml exactly."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    roster_table: str = Field("rostersync-roster", alias="ROSTER_TABLE")
    raw_bucket: str = Field("rostersync-raw", alias="RAW_BUCKET")
    alert_topic_arn: str = Field(
        "arn:aws:sns:us-east-1:000000000000:rostersync-alerts", alias="ALERT_TOPIC_ARN"
    )
    clever_secret_id: str = Field("rostersync/clever", alias="CLEVER_SECRET_ID")
    clever_api_base: str = Field("https://api.clever.com", alias="CLEVER_API_BASE")
    clever_oauth_base: str = Field("https://clever.com", alias="CLEVER_OAUTH_BASE")
    # Bounds on every Clever call: a fetch never hangs.
    clever_connect_timeout: float = Field(5.0, alias="CLEVER_CONNECT_TIMEOUT")
    # 120 s: what production Clever clients use; a full page of 10,000 records can take a minute.
    clever_read_timeout: float = Field(120.0, alias="CLEVER_READ_TIMEOUT")
    clever_max_retries: int = Field(6, alias="CLEVER_MAX_RETRIES")
    clever_backoff_factor: float = Field(1.0, alias="CLEVER_BACKOFF_FACTOR")
    clever_max_rate_limit_wait: float = Field(65.0, alias="CLEVER_MAX_RATE_LIMIT_WAIT")
    clever_page_limit: int = Field(10000, alias="CLEVER_PAGE_LIMIT", ge=1, le=10000)
    # A page whose request keeps failing slowly (502, 504, read timeout) is asked for again with
    # half the limit, down to this many records, before the district fails. A slow failure is
    # retried this many times at one size (the rest of CLEVER_MAX_RETRIES is for 429s, 500s, 503s
    # and resets), so a page costs at most (retries + 1) x sizes x read timeout.
    clever_min_page_limit: int = Field(1000, alias="CLEVER_MIN_PAGE_LIMIT", ge=1, le=10000)
    clever_slow_retries: int = Field(1, alias="CLEVER_SLOW_RETRIES", ge=0)
    # OneRoster (ClassLink) tenants: `{"tenants": [...]}` in this secret; absent or empty: none.
    oneroster_secret_id: str = Field("rostersync/oneroster", alias="ONEROSTER_SECRET_ID")
    # Beside it, one secret per tenant under this name prefix (`<prefix><district id>`, the value
    # one tenant entry), listed at discovery, each read by its own district's fetch; "" for none.
    oneroster_tenant_secret_prefix: str = Field(
        "rostersync/oneroster/",
        alias="ONEROSTER_TENANT_SECRET_PREFIX",
        pattern=r"^$|^[A-Za-z0-9/_+=.@-]{1,256}/$",
    )
    # Asked per page; providers may cap it lower (followed by Link or by the records returned).
    oneroster_page_limit: int = Field(1000, alias="ONEROSTER_PAGE_LIMIT", ge=1, le=10000)
    oneroster_connect_timeout: float = Field(5.0, alias="ONEROSTER_CONNECT_TIMEOUT")
    oneroster_read_timeout: float = Field(60.0, alias="ONEROSTER_READ_TIMEOUT")
    oneroster_max_retries: int = Field(5, alias="ONEROSTER_MAX_RETRIES", ge=0, le=10)
    oneroster_backoff_factor: float = Field(1.0, alias="ONEROSTER_BACKOFF_FACTOR", ge=0)
    oneroster_max_retry_wait: float = Field(60.0, alias="ONEROSTER_MAX_RETRY_WAIT", ge=0)
    # A fetch pauses between two pages (checkpoint, `in_progress`) once less than this much of
    # the invocation remains: one page (a request, its retries, the S3 write) must fit in it.
    # 150 s: one full page at the 120 s read timeout's worst case, plus its S3 write (a page
    # that keeps failing slowly can still take longer: docs/ARCHITECTURE.md, "Known limits").
    fetch_pause_margin_seconds: float = Field(150.0, alias="FETCH_PAUSE_MARGIN_SECONDS", ge=0)
    # An import pauses between two write chunks (lease handed on, `paused`) once less than this
    # much of the invocation remains: the chunks in flight (up to 4 of IMPORT_WRITE_CHUNK items),
    # the students' registry work settled and the run recorded must fit in it (docs/ARCHITECTURE.md,
    # "Checkpoints"). The import's write chunk: items handed to the writer's senders at once.
    import_pause_margin_seconds: float = Field(180.0, alias="IMPORT_PAUSE_MARGIN_SECONDS", ge=0)
    import_write_chunk: int = Field(2000, alias="IMPORT_WRITE_CHUNK", ge=25, le=10000)
    # A district whose source sync is older than this many days (or in error) gets the warning
    # `district.sync_stale`: its data is frozen upstream. Template parameter DistrictSyncStaleDays.
    district_sync_stale_days: int = Field(7, alias="DISTRICT_SYNC_STALE_DAYS", ge=1, le=365)
    stage: str = Field("dev", alias="STAGE")
    # Report links in alerts: the report-link function's URL (ReportLinkFunctionUrl). Empty (local
    # runs, the default) falls back to S3 presigned GETs, which die with the signing credentials.
    report_link_base_url: str = Field("", alias="REPORT_LINK_BASE_URL")
    # The HMAC key report links are signed with (ReportLinkKeySecret); read only when the URL is set.
    report_link_secret_id: str = Field("rostersync/report-link-key", alias="REPORT_LINK_SECRET_ID")
    # Import safeguard: hold the archive set when a run would archive more than this share.
    # 1-100 inclusive, the same range as template.yaml's SafeguardArchivePercent (CloudFormation's
    # MinValue/MaxValue are inclusive, so an exclusive bound here could never match the stack's).
    safeguard_archive_percent: float = Field(10.0, alias="SAFEGUARD_ARCHIVE_PERCENT", ge=1, le=100)
    # Set by Lambda itself: the function's name (None outside Lambda: the CLI, tests).
    lambda_function_name: str | None = Field(None, alias="AWS_LAMBDA_FUNCTION_NAME")

    @model_validator(mode="after")
    def _tenant_prefix_of_the_stage(self) -> Self:
        if "oneroster_tenant_secret_prefix" not in self.model_fields_set:
            object.__setattr__(self, "oneroster_tenant_secret_prefix", f"rostersync/{self.stage}/oneroster/")
        return self

    @model_validator(mode="after")
    def _locations_are_explicit_in_lambda(self) -> Self:
        if self.lambda_function_name:
            given = {str(type(self).model_fields[name].alias) for name in self.model_fields_set}
            missing = [name for name in REQUIRED_IN_LAMBDA if name not in given]
            if missing:
                raise ValueError(
                    f"{', '.join(missing)} must be set in the function's environment (template.yaml);"
                    " the local defaults are not used in Lambda"
                )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests clear the cache when they change the environment."""
    return Settings()  # type: ignore[call-arg]
