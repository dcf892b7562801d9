"""Fetch Lambda: Clever pages of each district into RAW_BUCKET, one manifest per district and run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from rostersync.adapters.alert_publisher import SnsAlertPublisher
from rostersync.adapters.page_store import S3PageStore
from rostersync.adapters.secrets import clever_credentials
from rostersync.alerts import notify_discovery, notify_fetch, record_outcome
from rostersync.clever.client import CleverClient
from rostersync.fetch import fetch_districts
from rostersync.ids import new_run_id
from rostersync.manifest import ManifestStatus
from rostersync.observability import logger, metrics, tracer
from rostersync.settings import get_settings


class FetchRequest(BaseModel):
    """`{}` fetches every district; an operator may name districts and a run id. The nightly state
    machine first sends `{"discover": true}` (list the districts, fetch nothing), then one
    `{"district_ids": [id], "run_id": ...}` per district."""

    discover: bool = False
    district_ids: list[str] | None = Field(default=None, min_length=1)
    run_id: str | None = Field(default=None, pattern=r"^[0-9]{8}T[0-9]{6}([0-9]{6})?Z-[0-9a-f]{6}$")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=FetchRequest)
def lambda_handler(event: FetchRequest, context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    run_id = event.run_id or new_run_id()
    logger.append_keys(run_id=run_id)
    client = CleverClient(settings, clever_credentials(settings.clever_secret_id))
    store = S3PageStore(settings.raw_bucket)
    if event.discover:
        try:
            district_ids = sorted(client.district_tokens())
        finally:
            client.close()
        publisher = SnsAlertPublisher(settings.alert_topic_arn)
        record_outcome(notify_discovery(district_ids, store, publisher, run_id=run_id))
        return {"run_id": run_id, "district_ids": district_ids}
    try:
        results = fetch_districts(client, store, run_id, event.district_ids)
    finally:
        client.close()
    # A full run lists every connected district: that is the discovery connect/disconnect alerts need.
    discovered = [r.district_id for r in results] if event.district_ids is None else None
    alerts = notify_fetch(
        results, store, SnsAlertPublisher(settings.alert_topic_arn), discovered=discovered, run_id=run_id
    )
    record_outcome(alerts)
    for result in results:
        metrics.add_metric(name="RecordsFetched", unit=MetricUnit.Count, value=result.records)
        metrics.add_metric(name="CleverRequests", unit=MetricUnit.Count, value=result.requests)
        if result.status is ManifestStatus.FAILED:
            metrics.add_metric(name="DistrictsFailed", unit=MetricUnit.Count, value=1)
    return {"run_id": run_id, "districts": [result.model_dump(mode="json") for result in results]}
