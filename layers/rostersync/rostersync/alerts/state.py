"""What alerting remembers between nights, kept in RAW_BUCKET through the PageStore (keys in
`rostersync.layout`): the findings last alerted per district, each district's connection as
last announced, and the district ids the last discovery saw.

The fingerprint is a sha256 over a canonical JSON of the counts per rule and per school, so
the same gaps on the next night give the same fingerprint, whatever the run id or order.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from rostersync.layout import KNOWN_DISTRICTS_KEY, alert_fingerprint_key, connection_key
from rostersync.ports import PageStore
from rostersync.validate.rules import Severity
from rostersync.validate.summary import Summary


def findings_fingerprint(summary: Summary) -> str:
    """sha256 of the counts per rule and, per school, whether it was accepted and what was held back.

    Info findings (a school outside the licence) and unlicensed schools are left out: they are
    decisions, not problems, and never alert."""
    canonical: dict[str, Any] = {
        "rules": {
            rule_id: r.count
            for rule_id, r in sorted(summary.rules.items())
            if r.count and r.severity is not Severity.INFO
        },
        "schools": {
            s.school_id: [s.accepted, s.students.rejected, s.teachers.rejected, s.sections.rejected]
            for s in sorted(summary.schools, key=lambda s: s.school_id)
            if s.licensed
            and (not s.accepted or s.students.rejected or s.teachers.rejected or s.sections.rejected)
        },
        "empty": summary.empty,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def findings_total(summary: Summary) -> int:
    """Errors and warnings: what a district must fix (info findings are not counted)."""
    return sum(r.count for r in summary.rules.values() if r.severity is not Severity.INFO)


class FindingsState(BaseModel):
    fingerprint: str
    findings: int
    run_id: str
    alerted_at: datetime | None = None
    district_name: str | None = None


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class ConnectionState(BaseModel):
    status: ConnectionStatus
    run_id: str | None = None
    changed_at: datetime
    district_name: str | None = None
    # The source that served the district (`clever`, `oneroster`): a district no source lists
    # any more is announced in its source's words. None in states written before issue 12.
    source: str | None = None


class KnownDistricts(BaseModel):
    district_ids: list[str]
    # Each known district's source (when discovery said it): a district gone from every list is
    # announced in its own source's words.
    sources: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None
    updated_at: datetime


def load_findings_state(store: PageStore, district_id: str) -> FindingsState | None:
    key = alert_fingerprint_key(district_id)
    return FindingsState.model_validate(store.get_json(key)) if store.exists(key) else None


def save_findings_state(store: PageStore, district_id: str, state: FindingsState) -> None:
    store.put_json(alert_fingerprint_key(district_id), state.model_dump(mode="json"))


def load_connection(store: PageStore, district_id: str) -> ConnectionState | None:
    key = connection_key(district_id)
    return ConnectionState.model_validate(store.get_json(key)) if store.exists(key) else None


def save_connection(store: PageStore, district_id: str, state: ConnectionState) -> None:
    store.put_json(connection_key(district_id), state.model_dump(mode="json"))


def load_known_districts(store: PageStore) -> KnownDistricts | None:
    return (
        KnownDistricts.model_validate(store.get_json(KNOWN_DISTRICTS_KEY))
        if store.exists(KNOWN_DISTRICTS_KEY)
        else None
    )


def save_known_districts(store: PageStore, known: KnownDistricts) -> None:
    store.put_json(KNOWN_DISTRICTS_KEY, known.model_dump(mode="json"))
