"""The demo's district settings: one default sandbox district licenses only some of its schools.

A licence is Smart Futures' setting, not Clever data, so the sandbox cannot serve it; the demo
applies it (`rostersync district set`) before the night, and the tests that check every rule
fires pass it to validation, so `school.not_licensed` and `school.licensed_not_shared` show in the
demo's reports like every other rule.
"""

from __future__ import annotations

import re

from .server import CleverSandbox

DEMO_LICENSED_DISTRICT = "Susquehanna Township School District"
UNSHARED_LICENSED_NCES = "420000199999"  # licensed, but the district shares no such school
_PA_NCES = re.compile(r"42[0-9]{10}")


def demo_licences(sandbox: CleverSandbox) -> dict[str, list[str]]:
    """district id -> licensed NCES ids: every valid school of DEMO_LICENSED_DISTRICT but its last
    one (shared, not licensed), plus one licensed school it does not share."""
    for spec in sandbox.config.districts:
        if spec.name != DEMO_LICENSED_DISTRICT:
            continue
        data = sandbox.district(spec.id)
        nces = [str(data.school(k).get("nces_id") or "").strip() for k in range(spec.schools)]
        valid = [n for n in dict.fromkeys(nces) if _PA_NCES.fullmatch(n) and nces.count(n) == 1]
        if len(valid) < 2:
            return {}
        return {spec.id: sorted([*valid[:-1], UNSHARED_LICENSED_NCES])}
    return {}
