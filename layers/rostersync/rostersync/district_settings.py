"""A district's own settings, kept in the roster table beside its safeguard, every change recorded.

Items (keys in `rostersync.layout`; docs/DATA_MODEL.md):

* `CONFIG#<d>` / `SETTINGS`: `licensed_schools` (12-digit NCES ids; absent: every shared school
  is licensed), `contacts` (the district's data managers' e-mail addresses), `subscriptions`
  (contact -> the SNS subscription that sends them the district's alerts), `version`,
  `updated_at`, `updated_by`. Written with a condition on `version`, so two people changing a
  district at once cannot lose each other's change.
* `CONFIG#<d>` / `SAFEGUARD`: the district's own safeguard percent (existing; the import reads it).
* `CONFIG#<d>` / `CHANGE#<at>#<version>`: one per change: `setting`, `before`, `after`, `by`, `at`.

Input is checked here, before anything is written or subscribed: NCES ids are 12 digits, e-mail
addresses look like one (SNS confirms them: the recipient must accept), the safeguard percent is
1-100. No boto3: SNS subscriptions go through the `ContactSubscriptions` port.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, Field

from rostersync.errors import RosterSyncError
from rostersync.importer.safeguard import DEFAULT_FLOOR
from rostersync.layout import (
    SAFEGUARD_SK,
    SETTINGS_CHANGE_PREFIX,
    SETTINGS_SK,
    config_pk,
    settings_change_sk,
)
from rostersync.observability import logger
from rostersync.ports import RosterTable

MAX_LICENSED_SCHOOLS = 1000
MAX_CONTACTS = 20
EMAIL_MAX = 254
_NCES = re.compile(r"[0-9]{12}")
# Deliberately plain: one @, no spaces or control characters, a dotted domain. SNS sends the
# address a confirmation; only a real mailbox that accepts it ever receives an alert.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class SettingsError(RosterSyncError):
    """Settings input that is refused, or a change that lost a race; the message says which."""


class ContactSubscriptions(Protocol):
    """The district contacts' subscriptions to the alert topic (SNS, filtered on the district)."""

    def subscribe(self, district_id: str, email: str) -> str:
        """Subscribe `email` to `district_id`'s contact alerts; returns the subscription's ARN."""
        ...

    def unsubscribe(self, subscription_arn: str) -> None: ...

    def current(self, district_id: str) -> dict[str, str]:
        """The subscriptions SNS holds for the district's alerts: ARN -> e-mail address."""
        ...


class DistrictSettings(BaseModel):
    district_id: str
    licensed_schools: tuple[str, ...] | None = None
    """12-digit NCES ids of the schools licensed with Smart Futures; None: every shared school."""
    contacts: tuple[str, ...] = ()
    subscriptions: dict[str, str] = Field(default_factory=dict)
    safeguard_percent: float | None = None
    """The district's own safeguard (CONFIG#<d>/SAFEGUARD); None: the deployment's default."""
    version: int = 0
    updated_at: str | None = None
    updated_by: str | None = None
    # What a change saved on this item still has to do (issue 25: a change converges): contacts
    # removed whose subscription (ARN) is not yet removed, the change records not yet written, the
    # safeguard item not yet written. The next `district set` finishes them first.
    pending_unsubscribe: dict[str, str] = Field(default_factory=dict)
    pending_changes: list[dict[str, Any]] = Field(default_factory=list)
    pending_safeguard: dict[str, Any] | None = None
    """{"percent": p} (or {} for the default) still to write on CONFIG#<d>/SAFEGUARD."""

    @property
    def pending(self) -> bool:
        return bool(self.pending_unsubscribe or self.pending_changes or self.pending_safeguard is not None)

    @property
    def licensed(self) -> frozenset[str] | None:
        return None if self.licensed_schools is None else frozenset(self.licensed_schools)


class SettingsChange(BaseModel):
    setting: str
    before: Any = None
    after: Any = None
    by: str
    at: str


UNSET: Any = object()


def licensed_schools(values: Sequence[str]) -> tuple[str, ...]:
    """12-digit NCES ids, trimmed, sorted, once each. Raises SettingsError naming the bad entry."""
    out = set()
    for raw in values:
        value = raw.strip()
        if not _NCES.fullmatch(value):
            shown = value if len(value) <= 40 and value.isprintable() else f"{len(value)} characters"
            raise SettingsError(f"licensed school '{shown}' is not a 12-digit NCES school id")
        out.add(value)
    if len(out) > MAX_LICENSED_SCHOOLS:
        raise SettingsError(f"at most {MAX_LICENSED_SCHOOLS} licensed schools")
    return tuple(sorted(out))


def contacts(values: Sequence[str]) -> tuple[str, ...]:
    """E-mail addresses, trimmed, the domain lower-cased, in the order given, once each."""
    out: dict[str, None] = {}
    for raw in values:
        value = raw.strip()
        if len(value) > EMAIL_MAX or not _EMAIL.fullmatch(value):
            raise SettingsError(f"contact {len(value)}-character value is not an e-mail address")
        local, _, domain = value.rpartition("@")
        out[f"{local}@{domain.lower()}"] = None
    if len(out) > MAX_CONTACTS:
        raise SettingsError(f"at most {MAX_CONTACTS} contacts per district")
    return tuple(out)


def safeguard_percent(value: float | None) -> float | None:
    if value is not None and not 1 <= value <= 100:
        raise SettingsError(
            "the safeguard percent is 1 to 100 (the share of a kind or school archived at once)"
        )
    return value


def load(table: RosterTable, district_id: str) -> DistrictSettings:
    """The district's settings (defaults when it has none): two GetItems."""
    item = table.get_item(config_pk(district_id), SETTINGS_SK) or {}
    return _from_items(district_id, item, table.get_item(config_pk(district_id), SAFEGUARD_SK))


# What validation reads of the settings item: its role may read these attributes and no others
# (template.yaml, ValidateFunction's RosterReadsByKey; the IAM replay checks it).
LICENCE_ATTRIBUTES = ("licensed_schools",)


def load_licence(table: RosterTable, district_id: str) -> frozenset[str] | None:
    """Only what validation needs: the licensed NCES ids, or None (every shared school). One read
    by key, of `licensed_schools` alone (not the contacts' e-mail addresses beside it)."""
    items = table.get_items([(config_pk(district_id), SETTINGS_SK)], LICENCE_ATTRIBUTES)
    return _from_items(district_id, items[0] if items else {}, None).licensed


def _from_items(district_id: str, item: dict[str, Any], safeguard: dict[str, Any] | None) -> DistrictSettings:
    licensed = item.get("licensed_schools")
    pending = item.get("pending_safeguard")
    if pending is not None:  # saved, not yet written to the safeguard item: the saved value counts
        safeguard = {"archive_percent": pending["percent"]} if "percent" in pending else {}
    return DistrictSettings(
        district_id=district_id,
        licensed_schools=tuple(licensed) if licensed is not None else None,
        contacts=tuple(item.get("contacts") or ()),
        subscriptions=dict(item.get("subscriptions") or {}),
        safeguard_percent=(
            float(safeguard["archive_percent"]) if safeguard and "archive_percent" in safeguard else None
        ),
        version=int(item.get("version", 0)),
        updated_at=item.get("updated_at"),
        updated_by=item.get("updated_by"),
        pending_unsubscribe=dict(item.get("pending_unsubscribe") or {}),
        pending_changes=list(item.get("pending_changes") or []),
        pending_safeguard=item.get("pending_safeguard"),
    )


def history(table: RosterTable, district_id: str, limit: int = 20) -> list[SettingsChange]:
    """The district's settings changes, newest first."""
    items = table.query(config_pk(district_id), newest_first=True)
    changes = [i for i in items if str(i["sk"]).startswith(SETTINGS_CHANGE_PREFIX)]
    return [SettingsChange.model_validate(i) for i in changes[:limit]]


@dataclass
class Applied:
    settings: DistrictSettings
    changes: list[SettingsChange]
    subscribed: list[str]
    unsubscribed: list[str]
    finished_unsubscribed: list[str] = field(default_factory=list)
    """Contacts an earlier, interrupted change removed, unsubscribed by this run."""
    finished_earlier: bool = False
    """This run finished what an earlier change had left to do (records, safeguard, unsubscribes)."""


def disagreements(settings: DistrictSettings, live: dict[str, str]) -> list[str]:
    """Where SNS (`live`: ARN -> address, ContactSubscriptions.current) and the settings disagree,
    one sentence each; empty when they agree. An address receiving alerts that is not a contact is
    the one that matters: the district's alerts link to reports naming students."""
    out: list[str] = []
    known = set(settings.subscriptions.values())
    pending = {arn: c for c, arn in settings.pending_unsubscribe.items()}
    for arn, address in sorted(live.items(), key=lambda kv: kv[1]):
        if arn in pending:
            out.append(
                f"{address} was removed as a contact but is still subscribed (the removal did not "
                "finish): run `rostersync district set` again to finish it"
            )
        elif arn not in known:
            out.append(f"{address} is subscribed to the district's alerts but is not a contact")
    live_arns = set(live)
    for contact, arn in settings.subscriptions.items():
        if arn not in live_arns:
            out.append(
                f"{contact} is a contact but SNS has no subscription for them (removed, or not yet confirmed)"
            )
    if settings.pending_changes or settings.pending_safeguard is not None:
        out.append("the last change did not finish writing its records: run `rostersync district set` again")
    return out


def apply(
    table: RosterTable,
    district_id: str,
    *,
    by: str,
    now: str,
    subscriptions: ContactSubscriptions | None = None,
    licensed: Sequence[str] | None = UNSET,
    contact_list: Sequence[str] = UNSET,
    percent: float | None = UNSET,
) -> Applied:
    """Change some settings (UNSET: leave as is; `licensed` None or an empty list: every shared
    school; `percent` None: back to the default). Every value is checked before anything is
    written; new contacts are subscribed (SNS asks them to confirm) and removed ones unsubscribed;
    then the settings item is written on its version, with what is left to do (the change records,
    the safeguard item, the removed contacts' subscriptions), and that is done and cleared.

    A change converges whatever step fails (issue 25): before any new change, what an earlier one
    left to do is finished (`finished_*` in the result), so running the same command again after a
    failure finishes it instead of saying "no change"."""
    current = load(table, district_id)
    finished: list[str] = []
    was_pending = current.pending
    if was_pending:
        finished = _finish(table, current, subscriptions)
        current = load(table, district_id)
    if subscriptions is not None:
        # Subscriptions no settings name (an undo that failed after a failed subscribe): removed.
        strays = _strays(current, subscriptions.current(district_id))
        for arn, address in strays.items():
            try:
                subscriptions.unsubscribe(arn)
            except Exception as exc:
                raise SettingsError(
                    f"a subscription no setting names could not be removed ({type(exc).__name__}); "
                    "run the same command again (`rostersync district show` lists it)"
                ) from exc
            finished.append(address)
        was_pending = was_pending or bool(strays)
    wanted = current.model_copy()
    if licensed is not UNSET:
        wanted.licensed_schools = licensed_schools(licensed) if licensed else None
    if contact_list is not UNSET:
        wanted.contacts = contacts(contact_list)
    if percent is not UNSET:
        wanted.safeguard_percent = safeguard_percent(percent)

    changes = [
        SettingsChange(setting=name, before=_shown(before), after=_shown(after), by=by, at=now)
        for name, before, after in (
            ("licensed_schools", current.licensed_schools, wanted.licensed_schools),
            ("contacts", current.contacts, wanted.contacts),
            ("safeguard_percent", current.safeguard_percent, wanted.safeguard_percent),
        )
        if before != after
    ]
    if not changes:
        return Applied(current, [], [], [], finished, was_pending)

    added = [c for c in wanted.contacts if c not in current.subscriptions]
    removed = [c for c in current.subscriptions if c not in wanted.contacts]
    if subscriptions is None:
        if added or removed:
            raise SettingsError("contacts changed but no alert topic to subscribe them to")
        subscriptions = _NoSubscriptions()
    new_subscriptions = {c: arn for c, arn in current.subscriptions.items() if c in wanted.contacts}
    subscribed: list[str] = []
    try:
        for contact in added:
            new_subscriptions[contact] = subscriptions.subscribe(district_id, contact)
            subscribed.append(contact)
    except Exception:
        _undo(subscriptions, [new_subscriptions[c] for c in subscribed])
        raise
    wanted.subscriptions = new_subscriptions
    wanted.version = current.version + 1
    wanted.updated_at, wanted.updated_by = now, by
    wanted.pending_unsubscribe = {c: current.subscriptions[c] for c in removed}
    wanted.pending_changes = [
        {
            **{k: v for k, v in change.model_dump().items() if v is not None},
            "sk": settings_change_sk(now, wanted.version, change.setting),
        }
        for change in changes
    ]
    if wanted.safeguard_percent != current.safeguard_percent:
        p = wanted.safeguard_percent
        wanted.pending_safeguard = {} if p is None else {"percent": p}

    if not table.put_versioned(_settings_item(wanted), current.version):
        _undo(subscriptions, [new_subscriptions[c] for c in subscribed])
        raise SettingsError("the district's settings were changed by someone else meanwhile; run it again")
    _finish(table, wanted, subscriptions)
    return Applied(wanted.model_copy(update=_CLEARED), changes, subscribed, removed, finished, was_pending)


_CLEARED: dict[str, Any] = {"pending_unsubscribe": {}, "pending_changes": [], "pending_safeguard": None}


def _finish(table: RosterTable, s: DistrictSettings, subscriptions: ContactSubscriptions | None) -> list[str]:
    """Do what the saved change `s` left to do, each step safe to repeat: write its change records
    (same keys), its safeguard item, remove the removed contacts' subscriptions (SNS: NotFound is
    done), then clear the pending lists on the same version. Returns the contacts unsubscribed."""
    for change in s.pending_changes:
        table.put_item({**change, "pk": config_pk(s.district_id)})
    if s.pending_safeguard is not None:
        _put_safeguard(table, s.district_id, s.safeguard_percent)
    done: list[str] = []
    if s.pending_unsubscribe:
        if subscriptions is None:
            raise SettingsError("contacts are waiting to be unsubscribed but there is no alert topic")
        for contact, arn in s.pending_unsubscribe.items():
            try:
                subscriptions.unsubscribe(arn)
            except Exception as exc:
                # The records and the safeguard are written: only the unsubscribes stay pending.
                left = {c: a for c, a in s.pending_unsubscribe.items() if c not in done}
                rest = s.model_copy(update={**_CLEARED, "pending_unsubscribe": left})
                table.put_versioned(_settings_item(rest), s.version)
                raise SettingsError(
                    f"the change is saved and recorded, but removing {len(s.pending_unsubscribe) - len(done)} "
                    f"contact subscription(s) failed ({type(exc).__name__}): they still receive the "
                    "district's alerts; run the same command again to finish it (`rostersync district "
                    "show` lists what is pending)"
                ) from exc
            done.append(contact)
    # Same version: clearing is not a change; a change saved meanwhile keeps its own pending work.
    table.put_versioned(_settings_item(s.model_copy(update=_CLEARED)), s.version)
    return done


class _NoSubscriptions:
    def subscribe(self, district_id: str, email: str) -> str:  # pragma: no cover - never called
        raise SettingsError("no alert topic to subscribe contacts to")

    def unsubscribe(self, subscription_arn: str) -> None:  # pragma: no cover - never called
        raise SettingsError("no alert topic to unsubscribe contacts from")

    def current(self, district_id: str) -> dict[str, str]:  # pragma: no cover - never called
        return {}


def _undo(subscriptions: ContactSubscriptions, arns: list[str]) -> None:
    """Best effort: the failure being handled is the one to report; a subscription left behind is
    one no setting names, which `district show` lists and the next `district set` removes."""
    for arn in arns:
        try:
            subscriptions.unsubscribe(arn)
        except Exception as exc:  # reported through `district show`, removed by the next run
            logger.warning("a contact subscription could not be undone", extra={"error": type(exc).__name__})


def _strays(settings: DistrictSettings, live: dict[str, str]) -> dict[str, str]:
    """SNS subscriptions for the district that neither a contact nor a pending removal names."""
    known = set(settings.subscriptions.values()) | set(settings.pending_unsubscribe.values())
    return {arn: address for arn, address in live.items() if arn not in known}


def _shown(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _settings_item(s: DistrictSettings) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": config_pk(s.district_id),
        "sk": SETTINGS_SK,
        "contacts": list(s.contacts),
        "subscriptions": dict(s.subscriptions),
        "version": s.version,
        "updated_at": s.updated_at,
        "updated_by": s.updated_by,
    }
    if s.licensed_schools is not None:
        item["licensed_schools"] = list(s.licensed_schools)
    if s.pending_unsubscribe:
        item["pending_unsubscribe"] = dict(s.pending_unsubscribe)
    if s.pending_changes:
        item["pending_changes"] = list(s.pending_changes)
    if s.pending_safeguard is not None:
        item["pending_safeguard"] = dict(s.pending_safeguard)
    return item


def _put_safeguard(table: RosterTable, district_id: str, percent: float | None) -> None:
    """CONFIG#<d>/SAFEGUARD, as the import reads it (`SafeguardThresholds.from_item`)."""
    current = table.get_item(config_pk(district_id), SAFEGUARD_SK) or {}
    floor = int(current.get("floor", DEFAULT_FLOOR))
    if percent is None:
        # Back to the deployment's default: an item without a percent (the import then uses it).
        table.put_item({"pk": config_pk(district_id), "sk": SAFEGUARD_SK, "floor": floor})
        return
    table.put_item(
        {"pk": config_pk(district_id), "sk": SAFEGUARD_SK, "archive_percent": percent, "floor": floor}
    )
