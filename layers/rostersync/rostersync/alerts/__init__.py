"""Support alerts on ALERT_TOPIC_ARN: what to say (messages), when (notify), and what is remembered
between nights (state). Publishing itself is the adapter's (`adapters.alert_publisher`)."""

from rostersync.alerts.model import SUBJECT_MAX, Alert, EventType
from rostersync.alerts.notify import (
    REPORT_LINK_SECONDS,
    AlertOutcome,
    ReportLinks,
    notify_discovery,
    notify_fetch,
    notify_fetch_result,
    notify_import,
    notify_validation,
    record_outcome,
)

__all__ = [
    "REPORT_LINK_SECONDS",
    "SUBJECT_MAX",
    "Alert",
    "AlertOutcome",
    "EventType",
    "ReportLinks",
    "notify_discovery",
    "notify_fetch",
    "notify_fetch_result",
    "notify_import",
    "notify_validation",
    "record_outcome",
]
