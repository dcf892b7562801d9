"""Report-link Lambda (a Function URL): a signed 7-day link from an alert -> 302 to report.html.

Checks the token's HMAC signature (key from REPORT_LINK_SECRET_ID) and expiry, then redirects
to a fresh 5-minute presigned GET of that run's report.html; 403 for anything else.
The whole decision is `rostersync.report_links.answer`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rostersync.adapters.report_links import S3ReportLinks
from rostersync.adapters.secrets import report_link_key
from rostersync.observability import logger, metrics, tracer
from rostersync.report_links import answer
from rostersync.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    response = answer(
        event,
        key=lambda: report_link_key(settings.report_link_secret_id),
        presign=S3ReportLinks(settings.raw_bucket).presigned_url,
    )
    served = response["statusCode"] == 302
    metrics.add_metric(
        name="ReportLinksServed" if served else "ReportLinksRefused", unit=MetricUnit.Count, value=1
    )
    return response
