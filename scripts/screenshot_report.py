"""Render a sandbox district's report.html and the all-districts index.html in headless Chromium:
screenshot them and check their DOM.

    .venv/bin/python scripts/screenshot_report.py [--out docs/report-screenshot.png]
                                                  [--index-out docs/index-screenshot.png]

Fetches every default sandbox district over HTTP (the real Clever client against the local
sandbox), validates it in process, picks the district that fires the most distinct rules, writes
its report.html to a temp dir and runs Debian's /usr/bin/chromium on it twice: once for the
screenshot, once with --dump-dom to check that the per-school table has one row per school and
that every fired rule has its fix advice. The index page (reports/index.html, one line per
district) is built from the same districts' validation, as the nightly index step builds it from
the stages' sync status, rendered, checked (one row per district, the ones that need attention
first, its status filter applied by the page's own script) and screenshot too. No network:
Chromium only ever opens a file:// URL.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in ("layers/rostersync", "src"):
    if str(ROOT / _p) not in sys.path:
        sys.path.insert(0, str(ROOT / _p))

from rostersync.overview.index_page import DistrictRow, render_index  # noqa: E402
from rostersync.overview.status import SyncStatus  # noqa: E402
from rostersync.validate.engine import CollectingSink, validate_district  # noqa: E402
from rostersync.validate.reports.report_html import render_html  # noqa: E402
from rostersync.validate.summary import Summary  # noqa: E402
from rostersync_cli.sandbox import CleverSandbox  # noqa: E402
from rostersync_cli.sandbox.licences import demo_licences  # noqa: E402
from rostersync_cli.sandbox.records import fetch_normalized  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_OUT = ROOT / "docs" / "report-screenshot.png"
DEFAULT_INDEX_OUT = ROOT / "docs" / "index-screenshot.png"
RUN_ID = "20250902T021500Z-5a1e00"
RUN_TIME = datetime(2025, 9, 2, 2, 15, tzinfo=UTC)  # fixed: the screenshot is reproducible
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def fetch_and_validate() -> list[Summary]:
    """Every default sandbox district, fetched over HTTP and validated, as Summaries."""
    with CleverSandbox() as sandbox:
        fetched = fetch_normalized(sandbox)
        licences = demo_licences(sandbox)  # the licence `rostersync demo` sets for one district
    return [
        validate_district(district_id, records.copy, CollectingSink(), licensed=licences.get(district_id))
        for district_id, records in fetched.items()
    ]


def richest(summaries: Sequence[Summary]) -> Summary:
    """The district whose report shows the most distinct rules (ties: more findings)."""
    return max(
        summaries,
        key=lambda s: (
            sum(1 for r in s.rules.values() if r.count),
            sum(r.count for r in s.rules.values()),
        ),
    )


def chromium(*args: str, user_data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        stdin=subprocess.DEVNULL,
    )


class _DomCounts(HTMLParser):
    """Rows of table#per-school's body, elements of class `fix`, and whether a <script> appears."""

    def __init__(self) -> None:
        super().__init__()
        self.school_rows = 0
        self.fix_blocks = 0
        self.scripts = 0
        self._table_depth = 0  # >0 while inside table#per-school (nested tables counted)
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "fix" in (a.get("class") or "").split():
            self.fix_blocks += 1
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            if self._table_depth or a.get("id") == "per-school":
                self._table_depth += 1
        elif self._table_depth == 1 and tag == "tbody":
            self._in_body = True
        elif self._table_depth == 1 and self._in_body and tag == "tr":
            self.school_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table_depth:
            self._table_depth -= 1
        elif tag == "tbody" and self._table_depth == 1:
            self._in_body = False


@dataclass(frozen=True)
class DomCheck:
    school_rows: int
    fix_blocks: int
    scripts: int


def check_dom(dom: str) -> DomCheck:
    parser = _DomCounts()
    parser.feed(dom)
    parser.close()
    return DomCheck(parser.school_rows, parser.fix_blocks, parser.scripts)


def dump_dom(html_path: Path, workdir: Path) -> str:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    return chromium("--dump-dom", html_path.as_uri(), user_data_dir=profile).stdout


def screenshot(html_path: Path, png: Path, workdir: Path, *, width: int = 1280, height: int = 2000) -> None:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    chromium(
        f"--window-size={width},{height}",
        f"--screenshot={png}",
        html_path.as_uri(),
        user_data_dir=profile,
    )
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot to {png}")


def index_rows(summaries: Sequence[Summary]) -> list[DistrictRow]:
    """The index page's rows for these districts, as the stages would have recorded tonight's run
    (fetched, validated, imported; counts from validation). Fixed times: reproducible."""
    rows = []
    for s in summaries:
        errors = sum(r.count for r in s.rules.values() if r.count and r.severity.value == "error")
        warnings = sum(r.count for r in s.rules.values() if r.count and r.severity.value == "warning")
        status = SyncStatus(
            district_id=s.district_id,
            district_name=s.district_name,
            source="clever",
            run_id=RUN_ID,
            fetch="complete",
            validation="rejected" if s.empty else "validated",
            fetched=sum(c.fetched for c in s.records.values()),
            accepted=sum(c.accepted for c in s.records.values()),
            errors=errors,
            warnings=warnings,
            imported=s.imported_total,
            import_status="skipped" if s.empty else "succeeded",
            report_key=f"reports/{s.district_id}/{RUN_ID}/report.html",
            report_run_id=RUN_ID,
            last_good_run_id=None if s.empty else RUN_ID,
        )
        rows.append(DistrictRow(status, status.health(RUN_TIME), True, status.days_since_good(RUN_TIME)))
    order = {h: i for i, h in enumerate(type(rows[0].health))} if rows else {}
    rows.sort(key=lambda r: (order[r.health], r.label.casefold()))
    return rows


def render_index_page(rows: Sequence[DistrictRow]) -> str:
    return render_index(rows, now=RUN_TIME, link_for=lambda key: key.removeprefix("reports/"))


class _IndexCounts(HTMLParser):
    """table#districts body rows: how many, how many hidden, and the order of their health."""

    def __init__(self) -> None:
        super().__init__()
        self.health: list[str] = []
        self.hidden = 0
        self.scripts = 0
        self._in_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "table" and a.get("id") == "districts":
            self._in_table = True
        elif self._in_table and tag == "tr" and "data-health" in a:
            self.health.append(a["data-health"] or "")
            self.hidden += "hidden" in a

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False


@dataclass(frozen=True)
class IndexCheck:
    health: tuple[str, ...]
    hidden: int
    scripts: int


def check_index_dom(dom: str) -> IndexCheck:
    parser = _IndexCounts()
    parser.feed(dom)
    parser.close()
    return IndexCheck(tuple(parser.health), parser.hidden, parser.scripts)


def dump_dom_url(url: str, workdir: Path) -> str:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=workdir))
    return chromium("--dump-dom", url, user_data_dir=profile).stdout


def expected(summary: Summary) -> DomCheck:
    return DomCheck(
        school_rows=max(1, len(summary.schools)),  # an empty table still has its "no schools" row
        fix_blocks=sum(1 for r in summary.rules.values() if r.count),
        scripts=0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--height", type=int, default=2000, help="viewport height in px (default: 2000)")
    parser.add_argument(
        "--index-out",
        type=Path,
        default=DEFAULT_INDEX_OUT,
        help=f"PNG of the all-districts page (default: {DEFAULT_INDEX_OUT})",
    )
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} not found: apt-get install -y chromium", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    summaries = fetch_and_validate()
    summary = richest(summaries)
    name = summary.district_name or summary.district_id
    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        work = Path(tmp)
        html_path = work / "report.html"
        html_path.write_text(render_html(summary, run_time=RUN_TIME), encoding="utf-8")
        got, want = check_dom(dump_dom(html_path, work)), expected(summary)
        if got != want:
            print(f"rendered DOM of {name}: {got}, expected {want}", file=sys.stderr)
            return 1
        png = work / "report.png"
        screenshot(html_path, png, work, height=args.height)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(png.read_bytes())
        rows = index_rows(summaries)
        index_path = work / "index.html"
        index_path.write_text(render_index_page(rows), encoding="utf-8")
        index = check_index_dom(dump_dom(index_path, work))
        if index.health != tuple(r.health.value for r in rows) or index.hidden:
            print(f"rendered index: {index}, expected {[r.health.value for r in rows]}", file=sys.stderr)
            return 1
        index_png = work / "index.png"
        screenshot(index_path, index_png, work, height=900)
        args.index_out.parent.mkdir(parents=True, exist_ok=True)
        args.index_out.write_bytes(index_png.read_bytes())
    print(
        f"{name}: {want.school_rows} school rows, {want.fix_blocks} fix blocks; index: {len(rows)} "
        f"districts; wrote {args.out} and {args.index_out} in {time.monotonic() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
