"""An SQS queue subscribed to the alert topic: what support's e-mail subscription would receive."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class ReceivedAlert:
    subject: str
    body: str
    attributes: dict[str, str]
    attribute_types: dict[str, str]

    @property
    def event_type(self) -> str:
        return self.attributes["event_type"]

    @property
    def district_id(self) -> str:
        return self.attributes["district_id"]

    def links(self) -> list[str]:
        return URL.findall(self.body)


class AlertInbox:
    """Subscribes a fresh SQS queue to `topic_arn` (raw message delivery off: the SNS envelope),
    with `filter_policy` on the message attributes when given (what a district contact gets)."""

    def __init__(self, topic_arn: str, filter_policy: dict[str, Any] | None = None) -> None:
        self._sqs: Any = boto3.client("sqs")
        sns: Any = boto3.client("sns")
        self.queue_url = self._sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={
                "RawMessageDelivery": "false",
                **({"FilterPolicy": json.dumps(filter_policy)} if filter_policy is not None else {}),
            },
        )

    def receive(self) -> list[ReceivedAlert]:
        """Every message waiting now (moto delivers synchronously on publish)."""
        out: list[ReceivedAlert] = []
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = envelope.get("MessageAttributes") or {}
                out.append(
                    ReceivedAlert(
                        subject=envelope.get("Subject", ""),
                        body=envelope["Message"],
                        attributes={k: v["Value"] for k, v in attributes.items()},
                        attribute_types={k: v["Type"] for k, v in attributes.items()},
                    )
                )
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
