"""Import Lambda: one district's validated run -> the DynamoDB roster (diff, archive, safeguard)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync import wiring
from rostersync.contracts.importer import ImportRequest
from rostersync.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=ImportRequest)
def lambda_handler(event: ImportRequest, context: LambdaContext) -> dict[str, Any]:
    return wiring.import_(event, context.get_remaining_time_in_millis)
