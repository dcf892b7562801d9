"""Alert texts, written for the support person and the district data manager who read them.

`validation_findings` and `deletions_held` also reach the district's own contacts (its data
managers, `alert_model.CONTACT_EVENT_TYPES`): one message serves both, written to the data
manager (what to change in the district's source, in its own words), with support's part (a CLI command) last.
They never carry the all-districts index link, which only support may follow.

Pure functions: data in, Alert out. Only counts, rule ids and titles, the rules' fix advice,
school and district names, and source record ids appear; never a person's name, e-mail or state id
(the rule examples in summary.json have names, so they are never used here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rostersync.alert_model import Alert, EventType, district_label, one_line_name, subject
from rostersync.contracts.fetch import Failure, FailureKind
from rostersync.contracts.importer import Rollover
from rostersync.sources import Wording, profile
from rostersync.validate.rules import RULES, Severity, fix_advice
from rostersync.validate.summary import SchoolSummary, Summary

SIGNATURE = "-- RosterSync, the nightly roster sync for Smart Futures"

MAX_LIST_LINES = 100
"""A list in an alert (schools) shows this many lines, then "and N more": the report has them all."""
REASON_MAX = 300


def failure_advice(kind: FailureKind, source: str) -> str:
    """What to do about a failed sync, in the terms of the district's source."""
    return _wording(source).failure_advice[kind.value]


def _wording(source: str) -> Wording:
    """The district's source's wording; an unknown source is an error (`sources.UnknownSource`)."""
    return profile(source).wording


@dataclass(frozen=True, slots=True)
class ReportLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """How these findings relate to the last ones alerted for the district."""

    previous_total: int | None
    """Findings in the last alert; None when there was none (the findings are new)."""

    def sentence(self) -> str:
        if self.previous_total is None:
            return "New since last night: these findings were not reported before."
        return f"Changed since last night (was {self.previous_total:,} findings)."


def source_label(source: str) -> str:
    """The name a person knows a district's source by ("Clever", "ClassLink")."""
    return _wording(source).display_name


def _header(district_id: str, district_name: str | None, run_id: str | None, source: str) -> list[str]:
    label = district_label(district_id, district_name)
    id_label = _wording(source).id_label
    lines = [f"District: {label}" + (f" ({id_label} {district_id})" if label != district_id else "")]
    if run_id:
        lines.append(f"Run: {run_id}")
    return [*lines, ""]


def sync_failed(
    district_id: str,
    run_id: str,
    failure: Failure | None,
    *,
    source: str,
    district_name: str | None = None,
) -> Alert:
    """`source`: the district's source (a registered profile's name): the header and advice name it."""
    kind = failure.kind if failure else FailureKind.INTERNAL_ERROR
    where = f" while fetching {one_line_name(failure.resource, 40)}" if failure and failure.resource else ""
    reason = one_line_name(failure.reason if failure else "the fetch did not complete", REASON_MAX)
    body = [
        *_header(district_id, district_name, run_id, source),
        f"Tonight's roster sync failed{where}, so nothing was validated or imported for this district.",
        "Smart Futures keeps the roster from the last successful sync; nothing was deleted.",
        "",
        f"Why: {kind.value}: {reason}",
        "",
        "What to do",
        f"  {failure_advice(kind, source)}",
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.SYNC_FAILED,
        district_id,
        subject(district_id, district_name, "roster sync failed"),
        "\n".join(body) + "\n",
    )


def district_connected(
    district_id: str,
    *,
    district_name: str | None = None,
    reconnected: bool = False,
    source: str,
) -> Alert:
    """`source`: the source that shares the district (a registered profile's name)."""
    where = source_label(source)
    what = f"reconnected in {where}" if reconnected else f"connected in {where}"
    first = (
        f"The district shares its roster with Smart Futures in {where} again."
        if reconnected
        else f"A new district now shares its roster with Smart Futures in {where}."
    )
    body = [
        *_header(district_id, district_name, None, source),
        first,
        "RosterSync fetches, checks and imports it every night from now on; no action is needed.",
        "If the roster has gaps Smart Futures cannot use, a separate e-mail lists them and what the",
        f"district must change in {where}. What it shares is set {_wording(source).sharing}.",
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.DISTRICT_CONNECTED,
        district_id,
        subject(district_id, district_name, what),
        "\n".join(body) + "\n",
    )


def district_disconnected(
    district_id: str, reason: str, *, district_name: str | None = None, source: str
) -> Alert:
    where = _wording(source)
    body = [
        *_header(district_id, district_name, None, source),
        f"The district no longer shares its roster with Smart Futures in {where.display_name}.",
        f"How we know: {one_line_name(reason, REASON_MAX)}",
        "",
        "RosterSync stops syncing it. Its roster in Smart Futures is kept as of the last sync; nothing",
        *where.reconnect,
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.DISTRICT_DISCONNECTED,
        district_id,
        subject(district_id, district_name, f"disconnected in {where.display_name}"),
        "\n".join(body) + "\n",
    )


def district_gone(district_id: str, reason: str | None = None, *, district_name: str | None = None) -> Alert:
    """district_disconnected for a district no registered source lists (none to name or to ask):
    its id was named by hand, or its connection state predates remembering sources."""
    label = district_label(district_id, district_name)
    body = [
        f"District: {label}" + (f" (id {district_id})" if label != district_id else ""),
        "",
        "The district no longer shares its roster with Smart Futures: no source lists it.",
        *([f"How we know: {one_line_name(reason, REASON_MAX)}"] if reason else []),
        "",
        "RosterSync stops syncing it. Its roster in Smart Futures is kept as of the last sync; nothing",
        "is deleted. If this was not intended, check which source should list the district (its",
        "credentials or tenants secret) and ask the district's administrator there to share it again.",
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.DISTRICT_DISCONNECTED,
        district_id,
        subject(district_id, district_name, "no longer listed by any source"),
        "\n".join(body) + "\n",
    )


def import_locked(district_id: str, run_id: str, *, source: str, district_name: str | None = None) -> Alert:
    """The import was refused: another run of the district holds its lease (or a dead one still did)."""
    body = [
        *_header(district_id, district_name, run_id, source),
        "Tonight's roster import did not run for this district: another import run of the same district",
        "held its lock. Either two runs overlapped (a manual run during the nightly one), or an earlier",
        "attempt tonight stopped part way (for example a Lambda timeout) and its lock had not expired yet.",
        "Smart Futures keeps the roster as it was; nothing was deleted. The next nightly sync finishes",
        "any work a stopped run left.",
        "",
        "What to do",
        "  Nothing, if tomorrow's sync succeeds. If this e-mail comes two nights in a row, send it to the",
        "  RosterSync engineers: the run id finds the logs.",
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.SYNC_FAILED,
        district_id,
        subject(district_id, district_name, "roster import skipped (locked)"),
        "\n".join(body) + "\n",
    )


def import_stale(
    district_id: str, run_id: str, reason: str | None, *, source: str, district_name: str | None = None
) -> Alert:
    """The import was refused: a newer run had already started for the district (fencing)."""
    body = [
        *_header(district_id, district_name, run_id, source),
        "Tonight's roster import did not run for this district: a newer run had already started for it,",
        "and an older run never overwrites a newer one. Smart Futures keeps the roster as it was; nothing",
        "was deleted.",
        "",
        f"Why: {one_line_name(reason or 'a newer run already started', REASON_MAX)}",
        "",
        "What to do",
        "  Usually nothing: two runs overlapped (a run started by hand during the nightly one) and the",
        "  newer run's import brings the roster up to date. If this e-mail comes two nights in a row,",
        "  send it to the RosterSync engineers: the run ids find the logs. Never start a run with a",
        "  run_id of your own: run ids come from the clock.",
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.SYNC_FAILED,
        district_id,
        subject(district_id, district_name, "roster import skipped (newer run)"),
        "\n".join(body) + "\n",
    )


def deletions_held(
    district_id: str,
    run_id: str,
    would_archive: Mapping[str, int],
    existing: int,
    threshold_percent: float,
    *,
    source: str,
    district_name: str | None = None,
    link: ReportLink | None = None,
    rollover: Rollover | None = None,
) -> Alert:
    """The import refused to archive more than the safeguard allows (a truncated or mis-scoped share?).

    With `rollover` signs (the district just left its source's pause, its terms changed), the alert says
    the change is probably the new school year and how to release it, for many districts at once."""
    total = sum(would_archive.values())
    share = f"{100 * total / existing:.1f}%" if existing else "all"
    words = _wording(source)
    body = [
        *_header(district_id, district_name, run_id, source),
        f"{words.deletions_missing} is missing {total:,} of the {existing:,} records Smart Futures has for",
        f"this district ({share}; the safeguard allows {threshold_percent:g}%). RosterSync did not archive",
        "them: they stay in Smart Futures until someone confirms the change.",
        "",
        "Records that would have been archived",
        *(f"  {kind:<16} {count:>8,}" for kind, count in sorted(would_archive.items()) if count),
        "",
        "What to do (the district's data manager)",
        *words.deletions_check,
        "  A school, a grade or a group of students may have been unshared by mistake: share it again",
        "  and the next nightly sync keeps these records. If the change is intended (a school closed,",
        "  left the Smart Futures licence, the district reorganized), tell Smart Futures support so the",
        "  archive can run.",
        *_rollover_lines(district_id, rollover, words),
        *_link_lines(link),
        *(
            [
                "",
                "For Smart Futures support: once the district confirms the change, release the hold with",
                f"  rostersync release --district {district_id}",
            ]
            if rollover is None
            else []
        ),
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.DELETIONS_HELD,
        district_id,
        subject(district_id, district_name, f"{total:,} deletions held"),
        "\n".join(body) + "\n",
    )


def state_id_conflicts(
    district_id: str,
    run_id: str,
    state_ids: Mapping[str, Any],
    *,
    district_name: str | None = None,
    source: str,
) -> Alert:
    """For support only (never a district's contacts): PA Secure ID conflicts that began in tonight's
    import, with both districts and both students' ids, or the one summary of those that existed
    before the registry (the district's first night with it). Never a name or a PA Secure ID."""
    new = int(state_ids.get("new_conflicts") or 0)
    existing = int(state_ids.get("existing_conflicts") or 0)
    listed = list(state_ids.get("conflicts") or [])
    body = [*_header(district_id, district_name, run_id, source)]
    if existing:
        body += [
            f"Building the PA Secure ID registry for this district found {existing:,} PA Secure ID(s) that",
            "another district's active student also carries (conflicts that existed before tonight).",
            "Smart Futures keeps trusting the student it trusted before. Neither district was told.",
            "",
        ]
    if new:
        body += [
            f"Tonight {new:,} student(s) of this district arrived with a PA Secure ID that another district's",
            "active student is trusted with, and the two records do not agree on last name and birth date.",
            "Smart Futures keeps trusting the other district's student; this district was not told.",
            "",
            "Trusted district / its student  <-  this district's student (since)",
            *(
                f"  {c.get('trusted_district')} / {c.get('trusted_student')}  <-  "
                f"{c.get('student_id')} ({str(c.get('since', ''))[:10]})"
                for c in listed[:MAX_LIST_LINES]
            ),
            *(
                [f"  and {new - len(listed[:MAX_LIST_LINES]):,} more"]
                if new > len(listed[:MAX_LIST_LINES])
                else []
            ),
            "",
        ]
    body += [
        "What to do",
        "  `rostersync districts` and reports/index.html list every open conflict with both districts.",
        "  Ask the district whose SIS is wrong to correct the PA Secure ID, or end the enrollment the",
        "  student left. If the other district's record is the wrong one, give the trust with",
        "  `rostersync state-id assign --state-id ID --district DISTRICT` (recorded with who and when).",
        "",
        SIGNATURE,
    ]
    what = f"{new:,} PA Secure ID conflicts" if new else f"{existing:,} existing PA Secure ID conflicts"
    return Alert(
        EventType.STATE_ID_CONFLICTS,
        district_id,
        subject(district_id, district_name, what),
        "\n".join(body) + "\n",
    )


def records_archived(
    district_id: str,
    run_id: str,
    archived: Mapping[str, tuple[int, int]],
    *,
    source: str,
    district_name: str | None = None,
) -> Alert:
    """Tonight's import archived records (below the safeguard): how many of each kind, never who.

    `archived`: kind -> (archived tonight, active before tonight).
    """
    total = sum(n for n, _ in archived.values())
    where = _wording(source)
    records = f"record{'s' if total != 1 else ''}"
    body = [
        *_header(district_id, district_name, run_id, source),
        f"Tonight's import archived {total:,} {records}: {where.archived_where} no longer shares them with",
        "Smart Futures. They are kept (archived, not deleted) and come back by themselves if",
        f"{where.archived_where} shares them again.",
        "The safeguard did not stop this: it holds only larger losses.",
        "",
        "Archived tonight (of the active records before tonight)",
        *(f"  {kind:<16} {n:>8,} of {before:,}" for kind, (n, before) in sorted(archived.items()) if n),
        "",
        "What to do",
        "  Nothing, if these students, staff or classes left the district or were unshared on purpose.",
        *where.reshare,
        "",
        SIGNATURE,
    ]
    return Alert(
        EventType.RECORDS_ARCHIVED,
        district_id,
        subject(district_id, district_name, f"{total:,} records archived"),
        "\n".join(body) + "\n",
    )


def validation_findings(
    summary: Summary,
    run_id: str,
    change: Change,
    *,
    link: ReportLink | None = None,
) -> Alert:
    """What the district must fix, from summary.json (never its examples, which name people)."""
    district_id = summary.district_id
    # Info findings (schools outside the licence) are decisions, not problems: the report has them.
    counts = {
        rule_id: r for rule_id, r in summary.rules.items() if r.count and r.severity is not Severity.INFO
    }
    total = sum(r.count for r in counts.values())
    errors = sum(r.count for r in counts.values() if r.severity is Severity.ERROR)
    warnings = total - errors
    fetched = sum(c.fetched for c in summary.records.values())
    rejected = summary.rejected_total
    excluded = summary.excluded_total
    ordered = sorted(counts.values(), key=lambda r: (r.severity is not Severity.ERROR, -r.count, r.rule))

    words = _wording(summary.source)
    source = words.display_name
    body = [*_header(district_id, summary.district_name, run_id, summary.source), change.sentence(), ""]
    body += ["What happened"]
    if summary.empty:
        body.append(
            f"  {summary.nothing_imported_because()[:1].upper()}{summary.nothing_imported_because()[1:]}:"
            " nothing was imported."
        )
    else:
        body.append(
            f"  Tonight's sync checked {fetched:,} records from {source}: {fetched - rejected - excluded:,} were accepted"
            f" for import and {rejected:,} held back."
        )
        if excluded:
            body.append(
                f"  {excluded:,} records of schools outside the district's Smart Futures licence were not imported."
            )
    body.append(
        f"  {total:,} findings: {errors:,} errors (the record is held back until fixed) and"
        f" {warnings:,} warnings (imported, but needs a fix)."
    )
    body += ["", "Findings by rule"]
    width = max(len(r.rule) for r in ordered) if ordered else 0
    for r in ordered:
        body.append(f"  {r.rule:<{width}}  {r.count:>6,}  {r.severity.value:<7}  {r.title}")
    schools = _school_lines(summary.schools)
    if schools:
        body += ["", "Schools affected", *schools]
    body += ["", f"What to change in {source} (or in the SIS that feeds it)"]
    for r in ordered:
        if r.rule in RULES:
            body += [f"  {r.rule}:", *_wrap(fix_advice(r.rule, words), "    ")]
    body += _link_lines(link)
    body += [
        "",
        f"Changes made in {source} are picked up by the next nightly sync. You get this e-mail again only",
        "when the findings change.",
        "",
        SIGNATURE,
    ]
    what = f"{total:,} roster finding{'s' if total != 1 else ''}" + (
        " (new)" if change.previous_total is None else " (changed)"
    )
    return Alert(
        EventType.VALIDATION_FINDINGS,
        district_id,
        subject(district_id, summary.district_name, what),
        "\n".join(body) + "\n",
    )


def _school_lines(schools: list[SchoolSummary]) -> list[str]:
    lines = []
    for school in schools:
        if not school.licensed:
            continue  # outside the licence: not a problem to fix (the report lists it)
        # Names and ids as the district typed them: one line each, shortened (see one_line_name).
        name = one_line_name(school.name) or f"school {one_line_name(school.school_id, 40)}"
        nces = f" (NCES {one_line_name(school.nces_id, 24)})" if school.nces_id else " (no NCES id)"
        if not school.accepted:
            lines.append(
                f"  {name}{nces}: held back with all its {school.students.shared:,} students,"
                f" {school.teachers.shared:,} teachers and {school.sections.shared:,} sections"
            )
            continue
        parts = [
            f"{counts.rejected:,} of {counts.shared:,} {what}"
            for what, counts in (
                ("students", school.students),
                ("teachers", school.teachers),
                ("sections", school.sections),
            )
            if counts.rejected
        ]
        if parts:
            lines.append(f"  {name}{nces}: " + ", ".join(parts) + " held back")
    return _at_most(lines, "schools")


def _at_most(lines: list[str], what: str) -> list[str]:
    """The first MAX_LIST_LINES lines, then how many more there are (the report lists them all)."""
    if len(lines) <= MAX_LIST_LINES:
        return lines
    more = len(lines) - MAX_LIST_LINES
    return [*lines[:MAX_LIST_LINES], f"  ... and {more:,} more {what} (the full report lists every one)"]


def _rollover_lines(district_id: str, rollover: Rollover | None, words: Wording) -> list[str]:
    """Why the hold is probably the new school year. Only counts and parsed dates: bounded, no PII."""
    if rollover is None:
        return []
    lines = ["", "Why this is probably the new school year"]
    if rollover.pause_ended is not None:
        days = rollover.pause_ended_days_ago
        ago = f" ({days} days before this run)" if days is not None else ""
        lines += [line.format(date=rollover.pause_ended, ago=ago) for line in words.pause_ended]
    if rollover.new_school_year:
        start = f" (the first starts {rollover.new_terms_start})" if rollover.new_terms_start else ""
        lines += [
            f"  Its terms changed: {rollover.terms_created:,} new term(s){start}, {rollover.terms_gone:,} earlier",
            "  term(s) no longer shared: a new school year.",
        ]
    lines += [
        "  If the records that would be archived are last year's (graduates, students who moved), release",
        f"  the hold: rostersync release --district {district_id}",
        "  Several districts at once: rostersync release --district A --district B ..., or",
        "  rostersync release --districts-file FILE (one district id per line).",
    ]
    return lines


def _link_lines(link: ReportLink | None) -> list[str]:
    if link is None:
        return []
    return [
        "",
        "The full report (every record and what to fix; the link works until "
        f"{link.expires_at:%Y-%m-%d %H:%M} UTC):",
        f"  {link.url}",
    ]


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    lines: list[str] = []
    current = indent
    for word in text.split():
        if len(current) + len(word) + 1 > width and current.strip():
            lines.append(current.rstrip())
            current = indent
        current += word + " "
    if current.strip():
        lines.append(current.rstrip())
    return lines
