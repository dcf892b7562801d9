"""A recording AlertPublisher (rostersync.ports.AlertPublisher)."""

from __future__ import annotations

from rostersync.alert_model import Alert, EventType


class RecordingPublisher:
    """Keeps every alert it is handed; with `fail=True` refuses them all (publish returns False)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[Alert] = []
        self.refused: list[Alert] = []

    def publish(self, alert: Alert) -> bool:
        if self.fail:
            self.refused.append(alert)
            return False
        self.sent.append(alert)
        return True

    def of_type(self, event_type: EventType) -> list[Alert]:
        return [alert for alert in self.sent if alert.event_type is event_type]
