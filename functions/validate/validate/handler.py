"""Validate Lambda: one district's fetched run -> accepted records and the findings report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from rostersync.adapters.alert_publisher import SnsAlertPublisher
from rostersync.adapters.page_store import S3PageStore
from rostersync.adapters.report_links import report_links_for
from rostersync.alerts import notify_validation, record_outcome
from rostersync.observability import logger, metrics, tracer
from rostersync.settings import get_settings
from rostersync.validate_stage import validate_run


class ValidateRequest(BaseModel):
    """The fetch stage's result for one district (extra fields such as counts are ignored)."""

    district_id: str
    run_id: str


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=ValidateRequest)
def lambda_handler(event: ValidateRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(district_id=event.district_id, run_id=event.run_id)
    settings = get_settings()
    store = S3PageStore(settings.raw_bucket)
    result = validate_run(store, event.district_id, event.run_id)
    publisher = SnsAlertPublisher(settings.alert_topic_arn)
    record_outcome(notify_validation(result, store, publisher, report_links_for(settings)))
    metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=result.rejected)
    return result.model_dump(mode="json")
