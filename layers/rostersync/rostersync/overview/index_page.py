"""`reports/index.html`: every district on one page, for support, written after each night.

Built from each district's `state/<district>/sync-status.json` (`overview.status`) and its
connection state; the same rows feed `rostersync districts`, so the terminal and the page agree.
Self-contained like report.html (its stylesheet, inline): no external assets; one small inline
script sorts the table by a column and filters it by status (`index.html#status=attention`
opens it filtered; without scripts the page is the full table, attention first). Every value is HTML-escaped; the
page carries district names and counts, never a person.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from rostersync.alerts.state import ConnectionStatus, load_connection
from rostersync.errors import StorageError
from rostersync.layout import INDEX_KEY, STATE_PREFIX, sync_status_district
from rostersync.observability import logger
from rostersync.overview.status import ATTENTION, Health, SyncStatus, load_status
from rostersync.ports import PageStore
from rostersync.sources import label as source_label
from rostersync.state_id_registry import Conflict
from rostersync.validate.reports.report_html import STYLE

LinkFor = Callable[[str], str | None]
_ORDER = {h: i for i, h in enumerate(Health)}


@dataclass(frozen=True)
class DistrictRow:
    status: SyncStatus
    health: Health
    connected: bool
    days_since_good: int | None

    @property
    def label(self) -> str:
        return self.status.district_name or self.status.district_id

    @property
    def needs_attention(self) -> bool:
        return self.health in ATTENTION

    @property
    def run_line(self) -> str:
        s = self.status
        parts = [f"fetch {s.fetch}" if s.fetch else "not fetched"]
        if s.failure:
            parts[0] += f" ({s.failure})"
        if s.validation:
            parts.append(f"validate {s.validation}")
        if s.import_status:
            parts.append(f"import {s.import_status}")
        return ", ".join(parts)


def district_rows(store: PageStore, now: datetime) -> list[DistrictRow]:
    """Every district with a sync status, the ones that need attention first, then by name."""
    rows = []
    for key in store.keys(STATE_PREFIX):
        district_id = sync_status_district(key)
        if district_id is None:
            continue
        try:
            status = load_status(store, district_id)
            connection = load_connection(store, district_id)
        except (StorageError, ValueError) as exc:
            logger.warning(
                "district status unreadable", extra={"district_id": district_id, "error": type(exc).__name__}
            )
            continue
        if status is None:
            continue
        connected = connection is None or connection.status is ConnectionStatus.CONNECTED
        if connection is not None and connection.district_name and not status.district_name:
            status = status.model_copy(update={"district_name": connection.district_name})
        rows.append(
            DistrictRow(
                status, status.health(now, connected=connected), connected, status.days_since_good(now)
            )
        )
    rows.sort(key=lambda r: (_ORDER[r.health], r.label.casefold(), r.status.district_id))
    return rows


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


_INDEX_CSS = """
#districts{font-size:.9rem}#districts th{cursor:pointer;user-select:none;white-space:nowrap}
#districts th[aria-sort=ascending]::after{content:" \\25B2"}#districts th[aria-sort=descending]::after{content:" \\25BC"}
#districts tbody tr:nth-child(even){background:#fafafa}#districts td:nth-child(4){min-width:12rem}
.badge{display:inline-block;font-size:.75rem;font-weight:bold;text-transform:uppercase;padding:.05rem .4rem;
border-radius:3px;border:1px solid currentColor;white-space:nowrap}
.h-failed,.h-disconnected,.h-errors{color:#c62828}.h-held,.h-stale{color:#8a5300}.h-warnings{color:#6d5d00}
.h-ok{color:#2e7d32}.h-running{color:#0b4f8a}
tr.attention td:first-child{border-left:6px solid #c62828}
.filters{margin:1rem 0;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
.small{font-size:.8rem;color:#555}
"""

_SCRIPT = """
(function(){
var table=document.getElementById('districts'),body=table.tBodies[0];
var heads=table.tHead.rows[0].cells;
function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-sort');return v===null?c.textContent.trim():v;}
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener('click',function(){
 var asc=th.getAttribute('aria-sort')!=='ascending';
 Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
 th.setAttribute('aria-sort',asc?'ascending':'descending');
 var num=th.classList.contains('n');
 var rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
  var r=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);return asc?r:-r;});
 rows.forEach(function(r){body.appendChild(r);});
});});
var filter=document.getElementById('status-filter');
function apply(){var f=filter.value,shown=0;
 Array.prototype.forEach.call(body.rows,function(r){
  var ok=f==='all'||(f==='attention'?r.classList.contains('attention'):r.getAttribute('data-health')===f);
  r.hidden=!ok;if(ok){shown++;}});
 document.getElementById('shown').textContent=shown;}
filter.addEventListener('change',apply);
var m=/^#status=([a-z]+)$/.exec(location.hash);
if(m&&filter.querySelector('option[value="'+m[1]+'"]')){filter.value=m[1];apply();}
})();
"""


def _conflicts_html(conflicts: Sequence[Conflict], names: Mapping[str, str]) -> list[str]:
    """Support's list of PA Secure ID conflicts: both districts, both students' ids (never a name
    of a student, never the PA Secure ID: `rostersync state-id assign` takes it from the roster)."""
    if not conflicts:
        return []

    def district(d: str) -> str:
        return f'<bdi>{_e(names.get(d) or d)}</bdi><br><span class="small">{_e(d)}</span>'

    rows = "".join(
        f"<tr><td>{district(c.trusted_district)}</td><td>{_e(c.trusted_student)}</td>"
        f"<td>{district(c.district_id)}</td><td>{_e(c.student_id)}</td><td>{_e(c.since[:10])}</td></tr>"
        for c in conflicts
    )
    return [
        f"<h2>PA Secure ID conflicts ({len(conflicts)})</h2>",
        '<p class="meta">Two districts share an active student with one PA Secure ID and the records do not '
        "agree (last name and birth date). Smart Futures trusts the first district's student; the second "
        "district is not told. Ask the district whose SIS is wrong to correct it, or give the trust with "
        "<code>rostersync state-id assign --state-id ID --district DISTRICT</code>.</p>",
        '<table id="state-id-conflicts"><thead><tr><th>Trusted district</th><th>Its student</th>'
        "<th>Other district</th><th>Its student</th><th>Since</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>",
    ]


def render_index(
    rows: Iterable[DistrictRow], *, now: datetime, link_for: LinkFor, conflicts: Sequence[Conflict] = ()
) -> str:
    rows = list(rows)
    names = {r.status.district_id: r.label for r in rows}
    attention = sum(1 for r in rows if r.needs_attention)
    when = now.strftime("%Y-%m-%d %H:%M %Z").strip()
    body = []
    for r in rows:
        s = r.status
        link = link_for(s.report_key) if s.report_key else None
        name = f"<bdi>{_e(r.label)}</bdi>"
        if link:
            name = f'<a href="{_e(link)}">{name}</a>'
        run_at = s.run_at
        days = "never" if r.days_since_good is None else str(r.days_since_good)
        body.append(
            f'<tr class="{"attention" if r.needs_attention else ""}" data-health="{r.health.value}">'
            f'<td data-sort="{_e(r.label.casefold())}">{name}<br><span class="small">{_e(s.district_id)}</span></td>'
            f"<td>{_e(source_label(s.source))}</td>"
            f'<td data-sort="{_ORDER[r.health]}"><span class="badge h-{r.health.value}">{r.health.value}</span></td>'
            f'<td data-sort="{_e(s.run_id or "")}">{_e(run_at.strftime("%Y-%m-%d %H:%M") if run_at else "")}'
            f'<br><span class="small">{_e(r.run_line)}</span></td>'
            f'<td class="n">{s.imported}</td><td class="n">{s.errors}</td><td class="n">{s.warnings}</td>'
            f'<td class="n">{s.held}</td>'
            f"<td>{'connected' if r.connected else '<span class="bad">disconnected</span>'}</td>"
            f'<td class="n" data-sort="{r.days_since_good if r.days_since_good is not None else 99999}">{days}</td>'
            "</tr>"
        )
    if not body:
        body.append('<tr><td colspan="10">No district has run yet.</td></tr>')
    options = "".join(f'<option value="{h.value}">{h.value}</option>' for h in Health)
    head = (
        "<tr><th>District</th><th>Source</th><th>Status</th><th>Last run</th>"
        '<th class="n">Imported</th><th class="n">Errors</th><th class="n">Warnings</th>'
        '<th class="n">Held archives</th><th>Connection</th><th class="n">Days since good sync</th></tr>'
    )
    cls = "headline attention" if attention else "headline"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
            f"<title>Smart Futures roster sync: every district ({_e(when)})</title>",
            f"<style>{STYLE}{_INDEX_CSS}</style></head><body>",
            "<h1>Roster sync: every district</h1>",
            f'<p class="meta">Written {_e(when)} after the nightly sync · {len(rows)} districts</p>',
            f'<p class="{cls}"><strong>{attention}</strong> of {len(rows)} districts need attention.</p>',
            '<div class="filters"><label for="status-filter">Show</label>'
            '<select id="status-filter"><option value="all">every district</option>'
            f'<option value="attention">needing attention</option>{options}</select>'
            f'<span class="small"><span id="shown">{len(rows)}</span> shown; click a column to sort</span></div>',
            f'<table id="districts"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>',
            *_conflicts_html(conflicts, names),
            '<p class="meta">Needs attention: failed, disconnected, held archives, errors, or no good sync '
            "for two days. Each district links to its latest report.</p>",
            f"<script>{_SCRIPT}</script></body></html>",
        ]
    )


def write_index(
    store: PageStore,
    *,
    now: datetime,
    link_for: LinkFor,
    conflicts_for: Callable[[list[str]], Sequence[Conflict]] | None = None,
) -> list[DistrictRow]:
    """Render every district's row (and support's PA Secure ID conflicts) into `reports/index.html`;
    returns the rows."""
    rows = district_rows(store, now)
    conflicts = conflicts_for([r.status.district_id for r in rows]) if conflicts_for else ()
    html = render_index(rows, now=now, link_for=link_for, conflicts=conflicts)
    store.put_file(INDEX_KEY, io.BytesIO(html.encode("utf-8")), "text/html; charset=utf-8")
    return rows
