"""How reports and alerts speak of Abacus (a source's own words: nothing here names another)."""

from __future__ import annotations

from rostersync.sources.profile import Wording
from rostersync.validate.rules import RULES, SOURCE_WORDED

_WHERE = "Abacus Admin > Apps > Smart Futures > Sharing"

WORDING = Wording(
    display_name="Abacus",
    id_label="Abacus district id",
    record_id_label="Abacus id",
    state_id_field="Abacus pa_secure_id",
    sharing=f"in Abacus ({_WHERE})",
    # Every source-worded rule: correct it in the SIS, or in Abacus's sharing.
    fixes={
        rule_id: f"{RULES[rule_id].title}: correct it in your SIS, or in Abacus ({_WHERE}); the next "
        "nightly sync picks up the change. Abacus support can help with any Abacus setting."
        for rule_id in SOURCE_WORDED
    },
    failure_advice={
        kind: f"Abacus could not serve the district tonight ({kind}). Tomorrow's sync tries again; "
        "if it fails two nights in a row, contact Abacus support with the district id."
        for kind in (
            "disconnected",
            "source_error",
            "key_refused",
            "settings_invalid",
            "protocol_error",
            "storage_error",
            "internal_error",
        )
    },
    sync_stale=(
        "Abacus's sync of this district is in error.",
        "Abacus last synced this district {days} days before tonight's fetch{paused}; ",
    ),
    paused=" (Abacus's sync is paused)",
    deletions_missing="Tonight's Abacus roster",
    deletions_check=(f"  Check the district's sharing rules for Smart Futures in Abacus ({_WHERE}).",),
    pause_ended=("  The district's Abacus pause ended on {date}{ago}: a new school year.",),
    archived_where="Abacus",
    reshare=(f"  If not, ask the district to check its sharing in Abacus ({_WHERE}).",),
    reconnect=(
        "is deleted. If the disconnection was not intended, ask the district's Abacus administrator",
        "to share the district with Smart Futures again.",
    ),
    gone_from_list="Abacus no longer lists this district.",
    not_listed="Abacus does not list this district",
)
