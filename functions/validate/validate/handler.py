"""Validate Lambda: one district's fetched run -> accepted records and the findings report; at the
end of the night (`{"index": true}`), every district's line on reports/index.html."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync import wiring
from rostersync.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wiring.validate_event(event)
