"""What an alert is: an event type, the district it is about, a subject and a plain-text body.

The alert topic's subscribers filter on the message attributes `event_type` and `district_id`;
a person reads the subject and body. Neither ever carries a student's name, e-mail or state id:
alerts speak in counts, rule ids, school and district names and Clever record ids.

On the floor (docs/ARCHITECTURE.md, "Layers"): the ports, the SNS adapters and the PA Secure ID
registry use these types as well as `rostersync.alerts`, which writes and sends the alerts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

SUBJECT_MAX = 99
"""SNS wants a subject "less than 100 characters"; the issue says at most 100. 99 satisfies both."""

SUBJECT_PREFIX = "RosterSync: "

NAME_MAX = 80
"""A name a district typed (school, district) is shown on one line, at most this many characters."""

BODY_MAX_BYTES = 64 * 1024
"""Bodies stay well under SNS's 256 KB message limit (subject and attributes count too)."""

SNS_MESSAGE_MAX_BYTES = 256 * 1024

ELLIPSIS = "\u2026"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# Everything that can break a line or hide text: C0/C1 controls, format characters (zero-width,
# bidi overrides), Unicode line and paragraph separators.
_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_SHORTENED = "\n[This message was shortened to fit an e-mail; the full report has everything.]\n"


class EventType(StrEnum):
    SYNC_FAILED = "sync_failed"
    VALIDATION_FINDINGS = "validation_findings"
    DELETIONS_HELD = "deletions_held"
    DISTRICT_CONNECTED = "district_connected"
    DISTRICT_DISCONNECTED = "district_disconnected"
    RECORDS_ARCHIVED = "records_archived"
    # Support's only: two districts' active students with one PA Secure ID that do not agree.
    # Never in CONTACT_EVENT_TYPES: a district must not learn of another district's students.
    STATE_ID_CONFLICTS = "state_id_conflicts"


# What a district's own contacts (its data managers) receive, through their filtered subscriptions
# (rostersync.adapters.sns_contact_subscriptions): written for them, about their district only.
CONTACT_EVENT_TYPES = frozenset({EventType.VALIDATION_FINDINGS, EventType.DELETIONS_HELD})


@dataclass(frozen=True, slots=True)
class Alert:
    event_type: EventType
    district_id: str
    subject: str
    body: str

    def __post_init__(self) -> None:
        if not self.subject or len(self.subject) > SUBJECT_MAX or _CONTROL.search(self.subject):
            raise ValueError(f"alert subject must be 1..{SUBJECT_MAX} characters on one line")
        if not self.body.strip():
            raise ValueError("alert body must not be empty")
        if len(self.body.encode("utf-8")) > BODY_MAX_BYTES:
            object.__setattr__(self, "body", _cap(self.body))

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS MessageAttributes: what support filters subscriptions on."""
        return {
            "event_type": {"DataType": "String", "StringValue": self.event_type.value},
            "district_id": {"DataType": "String", "StringValue": self.district_id},
        }


def district_label(district_id: str, district_name: str | None) -> str:
    """The district as a person knows it: its name when known (one line, shortened), else its Clever id."""
    name = one_line_name(district_name)
    return name or one_line_name(district_id)


def one_line_name(text: str | None, limit: int = NAME_MAX) -> str:
    """Text a district typed, made safe to quote in an alert: control characters, line breaks and
    invisible formatting replaced by spaces, whitespace collapsed, and at most `limit` characters
    (the last one an ellipsis when shortened), so it can neither forge lines nor grow a message."""
    if not text:
        return ""
    text = text[: limit * 8]  # never walk a 270 KB name character by character
    cleaned = "".join(" " if unicodedata.category(c) in _UNPRINTABLE else c for c in text)
    one = " ".join(cleaned.split())
    if len(one) > limit:
        one = one[: limit - 1].rstrip() + ELLIPSIS
    return one


def subject(district_id: str, district_name: str | None, what: str) -> str:
    """`RosterSync: <district> - <what>`, at most SUBJECT_MAX characters.

    `what` is kept whole; a long district name is shortened (with "...") to make room.
    Non-ASCII letters are folded to ASCII (e-mail clients and SNS handle subjects most safely so).
    """
    what = _ascii(_one_line(what))
    label = _ascii(district_label(district_id, district_name))
    room = SUBJECT_MAX - len(SUBJECT_PREFIX) - len(" - ") - len(what)
    if room < 8:  # pragma: no cover - every `what` this package uses is short
        raise ValueError(f"subject text too long: {what!r}")
    if len(label) > room:
        label = label[: room - 3].rstrip() + "..."
    return f"{SUBJECT_PREFIX}{label} - {what}"


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _cap(body: str) -> str:
    """The body cut at a line boundary to fit BODY_MAX_BYTES, saying so."""
    room = BODY_MAX_BYTES - len(_SHORTENED.encode("utf-8"))
    head = body.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    if "\n" in head:
        head = head[: head.rindex("\n")]
    return head + _SHORTENED


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = folded.replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    return "".join(c for c in folded if c.isascii() and not unicodedata.combining(c))
