"""Fetch Lambda: each district's pages from its source into RAW_BUCKET, one manifest per district and run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync import wiring
from rostersync.contracts.fetch import FetchRequest
from rostersync.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=FetchRequest)
def lambda_handler(event: FetchRequest, context: LambdaContext) -> dict[str, Any]:
    return wiring.fetch(event, context.get_remaining_time_in_millis)
