"""report.html: one self-contained page for the district's data manager.

Inline CSS only (no scripts, fonts or images), every value escaped, readable when printed.
Built from the Summary alone (it carries up to 5 examples per rule), never from state ids.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TextIO

from rostersync.sources import Wording, profile
from rostersync.validate.rules import RULES, Severity, fix_advice
from rostersync.validate.summary import RuleSummary, SchoolCounts, Summary

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:72rem;
color:#1b1b1b;line-height:1.45;padding:0 1.5rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem}h3{font-size:1.05rem;margin:0}
.meta{color:#555;margin-top:0}
.headline{font-size:1.2rem;padding:.8rem 1rem;border-left:6px solid #2e7d32;background:#f1f8f1}
.headline.attention{border-color:#b26a00;background:#fff8e6}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eee}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
#per-school{font-size:.88rem}#per-school thead tr+tr th{font-size:.8rem;font-weight:600}
#per-school td:nth-child(2){white-space:nowrap;font-variant-numeric:tabular-nums}
#per-school .grp{border-left:2px solid #888}
#per-school tbody tr:nth-child(even){background:#fafafa}
#per-school tbody tr.rejected{background:#fdecea}
.overview{list-style:none;padding:0;margin:.5rem 0 0;columns:2 24rem;column-gap:2rem}
.overview li{margin:.15rem 0;break-inside:avoid;display:flex;gap:.4rem;align-items:baseline}
.overview .n{min-width:2.5rem;text-align:right;font-weight:bold;font-variant-numeric:tabular-nums}
.overview a{color:#0b4f8a}
.overview .sev{min-width:4.2rem;text-align:center}
.overview .error .sev{color:#c62828}.overview .warning .sev{color:#8a5300}
.rule{border:1px solid #ccc;border-radius:6px;padding:.8rem 1rem;margin:1rem 0;break-inside:avoid}
.rule.error{border-left:6px solid #c62828}.rule.warning{border-left:6px solid #b26a00}
.rule.info{border-left:6px solid #1565c0}.overview .info .sev,.info .sev{color:#1565c0}
#per-school tbody tr.unlicensed{background:#eef2f7;color:#555}
.sev{display:inline-block;font-size:.75rem;font-weight:bold;text-transform:uppercase;padding:.05rem .4rem;
border-radius:3px;margin-right:.4rem;border:1px solid currentColor}
.error .sev{color:#c62828}.warning .sev{color:#8a5300}
code{font-size:.85em;color:#444}
.rule h3 .count{font-variant-numeric:tabular-nums}
.rule p.id{margin:.3rem 0 .6rem}
.fix{background:#eef4fb;border:1px solid #c5d7ee;border-radius:4px;padding:.5rem .8rem;margin-top:.6rem}
.fix strong{display:block}
.bad{color:#c62828;font-weight:bold}
bdi{unicode-bidi:isolate}
@media print{body{margin:0;max-width:none}.rule,tr{break-inside:avoid}
.headline,.fix,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


STYLE = _CSS
"""The reports' stylesheet: the index page (`overview.index_page`) shares it, so both look alike."""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _counts(c: SchoolCounts) -> str:
    rej = f'<span class="bad">{c.rejected}</span>' if c.rejected else "0"
    return f'<td class="n grp">{c.shared}</td><td class="n">{c.accepted}</td><td class="n">{rej}</td>'


def _school_table(summary: Summary) -> str:
    rows = []
    for s in sorted(summary.schools, key=lambda s: (s.name or "", s.school_id)):
        status = "imported" if s.accepted else '<span class="bad">rejected</span>'
        row_cls = "" if s.accepted else ' class="rejected"'
        if not s.licensed:
            status, row_cls = "not licensed", ' class="unlicensed"'
        nces = _e(s.nces_id) if s.nces_id and s.nces_id.strip() else '<span class="bad">missing</span>'
        rows.append(
            f"<tr{row_cls}><td><bdi>{_e(s.name or s.school_id)}</bdi></td><td>{nces}</td><td>{status}</td>"
            f"{_counts(s.students)}{_counts(s.teachers)}{_counts(s.sections)}</tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="12">No schools were shared.</td></tr>')
    head = (
        '<tr><th rowspan="2">School</th><th rowspan="2">NCES id</th><th rowspan="2">Status</th>'
        '<th colspan="3" class="grp">Students</th><th colspan="3" class="grp">Teachers</th>'
        '<th colspan="3" class="grp">Sections</th></tr>'
        "<tr>"
        + '<th class="n grp">shared</th><th class="n">imported</th><th class="n">rejected</th>' * 3
        + "</tr>"
    )
    return f'<table id="per-school"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _rule_block(rs: RuleSummary, wording: Wording) -> str:
    rule = RULES[rs.rule]
    sev = rule.severity.value
    effect = {
        Severity.ERROR: "not imported",
        Severity.WARNING: "imported, please review",
        Severity.INFO: "not imported, nothing to fix",
    }[rule.severity]
    examples = "".join(
        f"<tr><td><bdi>{_e(ex.name)}</bdi></td><td>{_e(ex.record_type.replace('_', ' '))}</td>"
        f"<td>{_e(ex.sis_id)}</td><td><bdi>{_e(ex.message)}</bdi></td></tr>"
        for ex in rs.examples
    )
    more = rs.count - len(rs.examples)
    more_txt = f"<p>…and {more} more in findings.csv.</p>" if more > 0 else ""
    return (
        f'<section class="rule {sev}" id="rule-{_e(rule.id)}">'
        f'<h3><span class="sev">{sev}</span>{_e(rule.title)}: <span class="count">{rs.count}</span> '
        f"({effect})</h3>"
        f'<p class="id">Rule <code>{_e(rule.id)}</code></p>'
        "<table><thead><tr><th>Name</th><th>Type</th><th>SIS id</th><th>What is wrong</th></tr></thead>"
        f"<tbody>{examples}</tbody></table>{more_txt}"
        f'<div class="fix"><strong>How to fix in {_e(wording.display_name)}</strong>'
        f"{_e(fix_advice(rule.id, wording))}</div>"
        "</section>"
    )


def _overview(fired: list[RuleSummary]) -> str:
    """One line per fired rule, linking to its block: the data manager's to-do list."""
    items = []
    for rs in fired:
        rule = RULES[rs.rule]
        sev = rule.severity.value
        items.append(
            f'<li class="{sev}"><span class="sev">{sev}</span><span class="n">{rs.count}</span>'
            f'<a href="#rule-{_e(rule.id)}">{_e(rule.title)}</a></li>'
        )
    return f'<ul class="overview">{"".join(items)}</ul>'


def render_html(summary: Summary, *, run_time: datetime) -> str:
    """The whole report page as a string."""
    district = summary.district_name or summary.district_id
    wording = profile(summary.source).wording
    source = wording.display_name
    when = run_time.strftime("%Y-%m-%d %H:%M %Z").strip()
    imported, attention = summary.imported_total, summary.needs_attention
    fired = [rs for rs in summary.rules.values() if rs.count]
    fired.sort(key=lambda rs: (_SEVERITY_ORDER[RULES[rs.rule].severity], -rs.count, rs.rule))
    cls = "headline attention" if attention else "headline"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Smart Futures roster sync: {_e(district)} ({_e(when)})</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Roster sync report: <bdi>{_e(district)}</bdi></h1>",
        f'<p class="meta">Run of {_e(when)} · {_e(source)} district id {_e(summary.district_id)}</p>',
        *(
            [f'<p class="meta">{_e(source)}: {_e(summary.district_status.line())}</p>']
            if summary.district_status
            else []
        ),
        *(
            [
                f'<p class="meta">Licensed with Smart Futures: {len(summary.licensed_schools)} school(s) '
                f"(NCES {_e(', '.join(summary.licensed_schools) or 'none')})</p>"
            ]
            if summary.licensed_schools is not None
            else []
        ),
        f'<p class="{cls}"><strong>{imported}</strong> records imported, '
        f"<strong>{attention}</strong> need attention."
        + (
            f" {summary.excluded_total} records of schools outside the licence were not imported."
            if summary.excluded_total
            else ""
        )
        + "</p>",
    ]
    if summary.empty:
        parts.append(
            f'<p class="bad">Nothing was imported: {escape(summary.nothing_imported_because())}.</p>'
        )
    if fired:
        parts += ["<h2>At a glance</h2>", _overview(fired)]
    parts += ["<h2>Per school</h2>", _school_table(summary), "<h2>What needs attention</h2>"]
    if fired:
        parts += [_rule_block(rs, wording) for rs in fired]
    else:
        parts.append("<p>Nothing: every shared record was imported without findings.</p>")
    parts.append(
        '<p class="meta">Errors keep a record out of Smart Futures until it is fixed; warnings are '
        "imported; info says what was left out on purpose (schools outside the licence). Every finding is listed in findings.csv. Changes made in your SIS or in "
        f"{_e(source)} are picked up by the next nightly sync.</p></body></html>"
    )
    return "\n".join(parts)


def write_html(summary: Summary, out: TextIO, *, run_time: datetime) -> None:
    out.write(render_html(summary, run_time=run_time))
