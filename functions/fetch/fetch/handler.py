"""Fetch Lambda: Clever pages of each district into RAW_BUCKET, one manifest per district and run."""

from __future__ import annotations

from typing import Any, Self

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, model_validator

from rostersync.adapters.alert_publisher import SnsAlertPublisher
from rostersync.adapters.page_store import S3PageStore
from rostersync.adapters.secrets import clever_credentials
from rostersync.clever.client import CleverClient
from rostersync.fetch import pause_near_deadline, run_fetch
from rostersync.ids import new_run_id
from rostersync.manifest import ManifestStatus
from rostersync.observability import logger, metrics, tracer
from rostersync.settings import get_settings


class FetchRequest(BaseModel):
    """`{}` fetches every district; an operator may name districts and a run id. The nightly state
    machine first sends `{"discover": true}` (list the districts, fetch nothing), then one
    `{"district_ids": [id], "run_id": ...}` per district, and `"resume": true` with the same ids
    while the district's fetch answers `in_progress` (it continues from its checkpoint)."""

    discover: bool = False
    district_ids: list[str] | None = Field(default=None, min_length=1)
    run_id: str | None = Field(default=None, pattern=r"^[0-9]{8}T[0-9]{6}([0-9]{6})?Z-[0-9a-f]{6}$")
    resume: bool = False

    @model_validator(mode="after")
    def _resume_names_its_run(self) -> Self:
        if self.resume and (self.run_id is None or not self.district_ids or self.discover):
            raise ValueError("resume needs the run_id and district_ids of the fetch it continues")
        return self


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=FetchRequest)
def lambda_handler(event: FetchRequest, context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    run_id = event.run_id or new_run_id()
    logger.append_keys(run_id=run_id)
    client = CleverClient(settings, clever_credentials(settings.clever_secret_id))
    try:
        outcome = run_fetch(
            client,
            S3PageStore(settings.raw_bucket),
            SnsAlertPublisher(settings.alert_topic_arn),
            run_id,
            discover=event.discover,
            district_ids=event.district_ids,
            resume=event.resume,
            should_pause=pause_near_deadline(
                context.get_remaining_time_in_millis, settings.fetch_pause_margin_seconds
            ),
        )
    finally:
        client.close()
    if outcome.districts is None:
        return {"run_id": run_id, "district_ids": outcome.district_ids}
    for result in outcome.districts:
        if result.status is ManifestStatus.IN_PROGRESS:  # counted once, when the fetch ends
            metrics.add_metric(name="FetchesPaused", unit=MetricUnit.Count, value=1)
            continue
        metrics.add_metric(name="RecordsFetched", unit=MetricUnit.Count, value=result.records)
        metrics.add_metric(name="CleverRequests", unit=MetricUnit.Count, value=result.requests)
        if result.status is ManifestStatus.FAILED:
            metrics.add_metric(name="DistrictsFailed", unit=MetricUnit.Count, value=1)
    return {"run_id": run_id, "districts": [result.model_dump(mode="json") for result in outcome.districts]}
