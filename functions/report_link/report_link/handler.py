"""Report-link Lambda (a Function URL): a signed 7-day link from an alert -> 302 to report.html.

Checks the token's HMAC signature (key from REPORT_LINK_SECRET_ID) and expiry, then redirects
to a fresh 5-minute presigned GET of that run's report.html; 403 for anything else.
The whole decision is `rostersync.report_links.answer`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync import wiring
from rostersync.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return wiring.report_link(event)
