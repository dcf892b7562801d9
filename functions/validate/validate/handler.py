"""Validate Lambda: one district's fetched run -> accepted records and the findings report."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync import wiring
from rostersync.observability import logger, metrics, tracer
from rostersync.validate.contract import ValidateRequest


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=ValidateRequest)
def lambda_handler(event: ValidateRequest, context: LambdaContext) -> dict[str, Any]:
    return wiring.validate(event)
