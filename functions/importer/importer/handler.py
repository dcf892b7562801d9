"""Import Lambda: one district's validated run -> the DynamoDB roster (diff, archive, safeguard)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from rostersync.adapters.alert_publisher import SnsAlertPublisher
from rostersync.alerts import notify_import, record_outcome
from rostersync.importing.wiring import import_run
from rostersync.observability import logger, metrics, tracer
from rostersync.settings import get_settings


class ImportRequest(BaseModel):
    """Validate's result for one district (other fields are ignored: the stored result is read)."""

    district_id: str
    run_id: str
    dry_run: bool = False


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=ImportRequest)
def lambda_handler(event: ImportRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(district_id=event.district_id, run_id=event.run_id)
    settings = get_settings()
    result = import_run(event.district_id, event.run_id, dry_run=event.dry_run, settings=settings)
    publisher = SnsAlertPublisher(settings.alert_topic_arn)
    record_outcome(notify_import(result, publisher, threshold_percent=settings.safeguard_archive_percent))
    for field in ("created", "updated", "unchanged", "archived", "restored", "held"):
        metrics.add_metric(
            name=f"Records{field.capitalize()}", unit=MetricUnit.Count, value=result.total(field)
        )
    return result.model_dump(mode="json")
