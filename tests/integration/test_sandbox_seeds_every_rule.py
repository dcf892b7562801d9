"""The sandbox's default districts, fetched over HTTP and validated, fire every validation rule.

This is what makes `rostersync demo` (and the screenshots and docs made from it) show every
finding a district data manager can get: a rule no default district seeds is a rule whose
report section, fix advice and code path nobody sees end to end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from rostersync.sources import id_check, source_rules
from rostersync.validate.engine import CollectingSink, validate_district
from rostersync.validate.rules import RULES
from rostersync.validate.summary import Summary
from rostersync_cli.sandbox import CleverSandbox
from rostersync_cli.sandbox.licences import demo_licences
from rostersync_cli.sandbox.oneroster import OneRosterSandbox
from rostersync_cli.sandbox.oneroster import fetch_normalized as fetch_oneroster
from rostersync_cli.sandbox.records import fetch_normalized

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture(scope="module")
def validated() -> Iterator[dict[str, tuple[Summary, CollectingSink]]]:
    with CleverSandbox() as sandbox:
        records = fetch_normalized(sandbox)
        names = {d.id: d.name for d in sandbox.config.districts}
        licences = demo_licences(sandbox)  # what `rostersync demo` sets (issue 15's two rules)
    assert set(records) == set(names), "every default district must be discoverable"
    out: dict[str, tuple[Summary, CollectingSink]] = {}
    for district_id, recs in records.items():
        sink = CollectingSink()
        summary = validate_district(
            district_id,
            recs.copy,
            sink,
            id_ok=id_check("clever"),
            licensed=licences.get(district_id),
        )
        out[names[district_id]] = (summary, sink)
    # The ClassLink (OneRoster) tenants the demo syncs beside them fire the OneRoster rules.
    with OneRosterSandbox() as classlink:
        tenants = fetch_oneroster(classlink)
        names = {d: spec.name for d, spec in classlink.specs.items()}
    for district_id, recs in tenants.items():
        sink = CollectingSink()
        summary = validate_district(district_id, recs.copy, sink, source_rules=source_rules("oneroster"))
        out[names[district_id]] = (summary, sink)
    yield out


def test_every_rule_fires_in_some_default_district(
    validated: dict[str, tuple[Summary, CollectingSink]],
) -> None:
    fired: dict[str, Counter[str]] = {
        name: Counter(f.rule for f in sink.findings) for name, (_summary, sink) in validated.items()
    }
    seen = set().union(*fired.values())
    missing = sorted(set(RULES) - seen)
    per_district = {name: sorted(c) for name, c in fired.items()}
    assert not missing, (
        f"rules no default sandbox district fires: {missing}; fired per district: {per_district}"
    )


def test_findings_and_summaries_agree(validated: dict[str, tuple[Summary, CollectingSink]]) -> None:
    for name, (summary, sink) in validated.items():
        counted = Counter(f.rule for f in sink.findings)
        assert {r: s.count for r, s in summary.rules.items() if s.count} == dict(counted), name


def test_clean_and_tiny_districts_stay_clean(validated: dict[str, tuple[Summary, CollectingSink]]) -> None:
    # The clean districts are the control group: only the engine's own consequences of the
    # generator's shape (a counselor-free teaching load) may appear, never an error.
    for name in ("Allegheny Valley School District", "Austin Area School District"):
        summary, sink = validated[name]
        errors = sorted({f.rule for f in sink.findings if f.severity == "error"})
        assert not errors, (name, errors)
        assert not summary.empty, name
