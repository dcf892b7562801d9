"""report.html and the all-districts index.html rendered by a real headless browser (Debian's
/usr/bin/chromium).

Skipped where Chromium is not installed (`apt-get install -y chromium`), so CI without it passes.
Reuses scripts/screenshot_report.py: sandbox over HTTP -> validate -> report.html -> --dump-dom.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_report.py"
CHROMIUM = Path("/usr/bin/chromium")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshot_report", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("screenshot_report", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shot() -> ModuleType:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium); browser check skipped")
    return _load_script()


def test_rendered_report_has_per_school_rows_and_fix_advice(shot: ModuleType, tmp_path: Path) -> None:
    summary = shot.richest(shot.fetch_and_validate())
    html_path = tmp_path / "report.html"
    html_path.write_text(shot.render_html(summary, run_time=shot.RUN_TIME), encoding="utf-8")

    dom = shot.dump_dom(html_path, tmp_path)

    got = shot.check_dom(dom)
    assert got.school_rows == len(summary.schools) > 1
    assert got.fix_blocks == sum(1 for r in summary.rules.values() if r.count) > 1
    assert got.scripts == 0
    assert 'id="per-school"' in dom
    assert "How to fix in Clever" in dom


def test_dom_check_counts_only_the_per_school_body_rows(shot: ModuleType) -> None:
    html = (
        '<table id="per-school"><thead><tr><th>h</th></tr></thead><tbody><tr><td>a</td></tr>'
        "<tr><td><table><tbody><tr><td>nested</td></tr></tbody></table></td></tr></tbody></table>"
        '<table><tbody><tr><td>other</td></tr></tbody></table><div class="rule fix">x</div>'
    )
    assert shot.check_dom(html) == shot.DomCheck(school_rows=2, fix_blocks=1, scripts=0)


def test_rendered_index_lists_every_district_attention_first_and_filters(
    shot: ModuleType, tmp_path: Path
) -> None:
    summaries = shot.fetch_and_validate()
    rows = shot.index_rows(summaries)
    html_path = tmp_path / "index.html"
    html_path.write_text(shot.render_index_page(rows), encoding="utf-8")

    got = shot.check_index_dom(shot.dump_dom(html_path, tmp_path))
    assert len(got.health) == len(summaries) > 1
    assert got.health == tuple(r.health.value for r in rows) and got.hidden == 0
    attention = [r.needs_attention for r in rows]
    assert attention == sorted(attention, reverse=True) and any(attention) and not all(attention)
    assert got.scripts == 1  # the page's own sort/filter script, inline

    # The page's script ran in the browser: #status=attention hides every other district.
    filtered = shot.check_index_dom(shot.dump_dom_url(html_path.as_uri() + "#status=attention", tmp_path))
    assert filtered.hidden == sum(1 for a in attention if not a) > 0

    png = tmp_path / "index.png"
    shot.screenshot(html_path, png, tmp_path, height=900)
    assert png.stat().st_size > 10_000
