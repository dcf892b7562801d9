"""District contacts' e-mail subscriptions to the alert topic, filtered to their own district.

Each contact gets one SNS e-mail subscription whose filter policy (on the message attributes)
admits only `district_id` = their district and `event_type` in CONTACT_EVENT_TYPES. SNS sends the
address a confirmation e-mail first: nothing is delivered until the recipient confirms.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from rostersync.alert_model import CONTACT_EVENT_TYPES
from rostersync.errors import RosterSyncError


def filter_policy(district_id: str) -> dict[str, list[str]]:
    """What a contact of `district_id` receives: that district's findings and held deletions."""
    return {"district_id": [district_id], "event_type": sorted(e.value for e in CONTACT_EVENT_TYPES)}


class SnsContactSubscriptions:
    def __init__(self, topic_arn: str, client: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns: Any = client

    def _client(self) -> Any:
        if self._sns is None:
            self._sns = boto3.client("sns")
        return self._sns

    def subscribe(self, district_id: str, email: str) -> str:
        response = self._client().subscribe(
            TopicArn=self.topic_arn,
            Protocol="email",
            Endpoint=email,
            Attributes={
                "FilterPolicy": json.dumps(filter_policy(district_id)),
                "FilterPolicyScope": "MessageAttributes",
            },
            ReturnSubscriptionArn=True,
        )
        return str(response["SubscriptionArn"])

    def unsubscribe(self, subscription_arn: str) -> None:
        try:
            self._client().unsubscribe(SubscriptionArn=subscription_arn)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NotFound":
                return  # gone already (an unconfirmed subscription expires by itself)
            raise RosterSyncError(f"could not remove a contact's subscription ({code})") from exc

    def current(self, district_id: str) -> dict[str, str]:
        """Every confirmed-or-pending e-mail subscription on the topic whose filter admits
        `district_id`: ARN -> address (SNS lists an unconfirmed one without an ARN: left out)."""
        out: dict[str, str] = {}
        if not self.topic_arn:
            return out  # no alert topic (a deployment without one): nobody is subscribed
        pages = self._client().get_paginator("list_subscriptions_by_topic")
        for page in pages.paginate(TopicArn=self.topic_arn):
            for sub in page.get("Subscriptions", []):
                arn = str(sub.get("SubscriptionArn", ""))
                if sub.get("Protocol") != "email" or not arn.startswith("arn:"):
                    continue
                try:
                    attributes = self._client().get_subscription_attributes(SubscriptionArn=arn)
                except ClientError:
                    continue  # removed between the listing and this read
                policy = json.loads(attributes.get("Attributes", {}).get("FilterPolicy") or "{}")
                if district_id in (policy.get("district_id") or []):
                    out[arn] = str(sub.get("Endpoint", ""))
        return out
