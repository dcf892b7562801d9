"""What a source is, in one object: a `SourceProfile` per source, listed in `rostersync.sources`.

A profile says everything the stages, the reports and the alerts need to know about a source,
so that nothing outside `sources/<name>/` asks which source a district has:

* how its districts are read: `build` makes its `ports.Source` from the settings and a secret
  reader (None: the source serves no district tonight), `normalize` or `normalize_district`
  turns its stored pages into `records.Record`s, `id_ok` says what its ids look like;
* what validation asks of its districts beyond the common rules (`rules`, `own_rules`);
* its `wording`: every sentence a report or an alert says about the source.

`Wording` has no defaults on purpose: a source that lacks a piece of wording does not construct,
and `tests/unit/test_source_profiles.py` checks that every registered profile words every rule a
report can show and every alert that can name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from rostersync.records import Normalized, Record

if TYPE_CHECKING:
    from rostersync.ports import Source
    from rostersync.settings import Settings

Normalizer = Callable[[str, Mapping[str, Any], str], Iterator[Record]]
# resource -> that resource's stored records, in stored order (callable again: a fresh read)
ReadResource = Callable[[str], Iterable[Mapping[str, Any]]]
# A whole-district normalizer yields records and its notes about the district (records.SourceNote).
# (read, district id, the night's date: None for today)
DistrictNormalizer = Callable[[ReadResource, str, date | None], Iterator[Normalized]]
# (secret id, what it is for errors: "Clever credentials secret") -> the secret's JSON value,
# or None when there is no such secret
ReadSecret = Callable[[str, str], Any]
# (name prefix, what they are for errors: "OneRoster tenant secrets") -> the names of the
# secrets under the prefix (every page of the listing), each with its tags; values unread
ListSecrets = Callable[[str, str], Mapping[str, Mapping[str, str]]]
Build = Callable[["Settings", ReadSecret, ListSecrets], "Source | None"]


@dataclass(frozen=True)
class SourceRules:
    """What validation asks of a source's districts beyond the common rules."""

    # The district must share its district record (OneRoster: the primary org), else
    # `district.primary_org.missing` rejects the district.
    district_required: bool = False
    # Where students' PA Secure IDs come from when it is a field the district must enable for the
    # app (OneRoster: the metadata field PASECUREID); no student carrying it at all is
    # `student.state_id.not_shared`. None: not checked (Clever always sends state_id's key).
    state_id_field: str | None = None


@dataclass(frozen=True)
class SourceRule:
    """A rule only this source's districts can break (the catalogue, `validate.rules`, adds it)."""

    id: str
    severity: Literal["error", "warning", "info"]
    title: str
    fix: str


@dataclass(frozen=True, kw_only=True)
class Wording:
    """Every sentence reports and alerts say about a source, in the words its districts know.

    Lines (`tuple[str, ...]`) are alert body lines, already indented as the alert prints them."""

    display_name: str
    """How a district data manager knows the source: "Clever", "ClassLink"."""
    id_label: str
    """How an alert's header names the district id: "Clever id", "ClassLink district id"."""
    record_id_label: str
    """How a finding names a record's id: "Clever id", "OneRoster sourcedId"."""
    state_id_field: str
    """Where a student's PA Secure ID comes from, as a finding says it: "Clever state_id"."""
    sharing: str
    """Where the district changes what it shares with Smart Futures, as a sentence's end:
    "in Clever (Applications > Smart Futures > Sharing)"."""
    fixes: Mapping[str, str]
    """Fix advice per rule id (report.html "How to fix", validation_findings), for every rule of
    the catalogue whose advice depends on the source (`validate.rules.SOURCE_WORDED`)."""
    failure_advice: Mapping[str, str]
    """sync_failed: what to do, per fetch failure kind (`contracts.fetch.FailureKind` values)."""
    sync_stale: tuple[str, str]
    """district.sync_stale's findings: (the source's sync is in error, last synced N days ago:
    "{days}" and "{paused}" are filled in)."""
    paused: str
    """The sync_stale finding's note when the source's own sync is paused."""
    deletions_missing: str
    """deletions_held: how the first line names tonight's roster ("Tonight's Clever roster")."""
    deletions_check: tuple[str, ...]
    """deletions_held: where the data manager checks the sharing rules."""
    pause_ended: tuple[str, str]
    """deletions_held on a rollover: the district left the source's pause ("{date}", "{ago}")."""
    archived_where: str
    """records_archived: who no longer shares the records ("Clever", "ClassLink")."""
    reshare: tuple[str, ...]
    """records_archived: what to do if the archive was not intended."""
    reconnect: tuple[str, ...]
    """district_disconnected: what to do if the disconnection was not intended."""
    gone_from_list: str
    """district_disconnected at discovery: how we know the district is gone."""
    disconnect_reasons: Mapping[str, str] = field(default_factory=dict)
    """district_disconnected after a fetch: a failure reason containing a key -> our sentence
    (the first match; none matches: the failure's own reason)."""
    default_disconnect_reason: str | None = None
    """district_disconnected after a fetch whose reason matches no key (None: quote the reason)."""
    not_listed: str
    """The fetch's reason for a district the source does not list ("{district_id}" filled in)."""


@dataclass(frozen=True, kw_only=True)
class SourceProfile:
    """One source: its name (stored in pages, manifests and the state machine's payload), how
    its districts are read and checked, and how reports and alerts speak of it."""

    name: str
    wording: Wording
    build: Build
    normalize: Normalizer | None = None
    normalize_district: DistrictNormalizer | None = None
    id_ok: Callable[[str], bool] | None = None
    rules: SourceRules = SourceRules()
    own_rules: tuple[SourceRule, ...] = ()
    provider_wording: Callable[[str], Wording] | None = None
    """A source whose districts reach us through several providers (OneRoster: ClassLink, a
    SIS's own server): the wording for a district of that provider ("Infinite Campus"), used
    for the source name "<name>:<provider>" (`sources.profile`). None: one provider only."""

    def __post_init__(self) -> None:
        if (self.normalize is None) == (self.normalize_district is None):
            raise ValueError(f"source {self.name!r} needs exactly one of normalize, normalize_district")
