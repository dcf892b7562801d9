"""The alert publisher: SNS on ALERT_TOPIC_ARN. Publishing never raises: a failure is logged and
reported as False, so an alert can never fail the stage that raised it."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from rostersync.alert_model import SNS_MESSAGE_MAX_BYTES, Alert
from rostersync.observability import logger


class SnsAlertPublisher:
    """AlertPublisher on one SNS topic; the boto3 client is created on first use."""

    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns: Any = client

    def publish(self, alert: Alert) -> bool:
        if _size(alert) > SNS_MESSAGE_MAX_BYTES:
            # SNS would refuse it (256 KB, subject and attributes included): never send it. Alerts
            # cap their bodies well below this; reaching here is a bug, counted as a failed alert.
            _log_failure(alert, "MessageTooLong")
            return False
        try:
            if self._sns is None:
                self._sns = boto3.client("sns")
            response = self._sns.publish(
                TopicArn=self.topic_arn,
                Subject=alert.subject,
                Message=alert.body,
                MessageAttributes=alert.message_attributes(),
            )
        except (ClientError, BotoCoreError) as exc:
            _log_failure(alert, _code(exc))
            return False
        except Exception as exc:  # never let an alert fail the caller (bad config, a bug in the client)
            _log_failure(alert, type(exc).__name__)
            return False
        logger.info(
            "alert published",
            extra={
                "event_type": alert.event_type.value,
                "district_id": alert.district_id,
                "message_id": response.get("MessageId"),
            },
        )
        return True


def _size(alert: Alert) -> int:
    attributes = sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in alert.message_attributes().items()
    )
    return len(alert.body.encode("utf-8")) + len(alert.subject.encode("utf-8")) + attributes


def _log_failure(alert: Alert, error: str) -> None:
    # Only the event type, the district id and the error code: the body is not logged.
    logger.warning(
        "alert not published",
        extra={"event_type": alert.event_type.value, "district_id": alert.district_id, "error": error},
    )


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
