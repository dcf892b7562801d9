"""The OneRoster (ClassLink) source as one profile: how its districts are read, checked and worded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rostersync.errors import RosterSyncError
from rostersync.sources.clever.normalize import is_clever_id
from rostersync.sources.oneroster import normalize
from rostersync.sources.oneroster.resources import SOURCE_NAME
from rostersync.sources.oneroster.wording import FIXES, WORDING, provider_wording
from rostersync.sources.profile import ListSecrets, ReadSecret, SourceProfile, SourceRule, SourceRules

if TYPE_CHECKING:
    from rostersync.settings import Settings
    from rostersync.sources.oneroster.source import OneRosterSource

TENANTS_LABEL = "OneRoster tenants secret"
DISTRICT_PRIMARY_ORG_MISSING = "district.primary_org.missing"
STUDENT_STATE_ID_NOT_SHARED = "student.state_id.not_shared"

# The clients are imported when a source is built, not with its profile: the registry is read by
# every stage (validation reads pages back, alerts word them), the clients only by the fetch, and
# importing them here would run `ports` and the stages' modules from inside this registry.


def build(settings: Settings, read_secret: ReadSecret, list_secrets: ListSecrets) -> OneRosterSource | None:
    """The tenants of ONEROSTER_SECRET_ID and of the tenant secrets under
    ONEROSTER_TENANT_SECRET_PREFIX (None when the secret lists none and there is no prefix)."""
    from rostersync.sources.oneroster.client import OneRosterLimits  # noqa: PLC0415
    from rostersync.sources.oneroster.source import OneRosterSource, TenantSecrets, read_tenants  # noqa: PLC0415

    value = read_secret(settings.oneroster_secret_id, TENANTS_LABEL)
    if value is not None and not isinstance(value, dict):
        raise RosterSyncError(f"the {TENANTS_LABEL} {settings.oneroster_secret_id} is not a JSON object")
    tenants = read_tenants(value, reserved=is_clever_id)
    prefix = settings.oneroster_tenant_secret_prefix
    secrets = TenantSecrets(prefix, read_secret, list_secrets) if prefix else None
    if not tenants.usable and not tenants.broken and secrets is None:
        return None
    limits = OneRosterLimits(
        page_limit=settings.oneroster_page_limit,
        connect_timeout=settings.oneroster_connect_timeout,
        read_timeout=settings.oneroster_read_timeout,
        max_retries=settings.oneroster_max_retries,
        backoff_factor=settings.oneroster_backoff_factor,
        max_retry_wait=settings.oneroster_max_retry_wait,
    )
    return OneRosterSource(
        tenants.usable, limits, broken=tenants.broken, secrets=secrets, reserved=is_clever_id
    )


PROFILE = SourceProfile(
    name=SOURCE_NAME,
    wording=WORDING,
    provider_wording=provider_wording,
    build=build,
    normalize_district=normalize.normalize_district,
    # sourcedIds are any string the provider chose: the system-wide id form applies (rules.SAFE_ID).
    id_ok=None,
    rules=SourceRules(district_required=True, state_id_field=normalize.STATE_ID_FIELD),
    own_rules=(
        SourceRule(
            DISTRICT_PRIMARY_ORG_MISSING,
            "error",
            "The district is not shared as the primary org (OneRoster)",
            FIXES[DISTRICT_PRIMARY_ORG_MISSING],
        ),
        SourceRule(
            STUDENT_STATE_ID_NOT_SHARED,
            "error",
            "No student carries the PASECUREID field (OneRoster)",
            FIXES[STUDENT_STATE_ID_NOT_SHARED],
        ),
        # What the normalizer notes about the district (records.SourceNote) becomes findings of these.
        SourceRule(
            normalize.ACCOUNTS_JOINED,
            "info",
            "Several accounts imported as one person (OneRoster)",
            FIXES[normalize.ACCOUNTS_JOINED],
        ),
        SourceRule(
            normalize.SHARES_ADDRESS_WITH_STUDENT,
            "warning",
            "An adult shares an e-mail address or username with a student (OneRoster)",
            FIXES[normalize.SHARES_ADDRESS_WITH_STUDENT],
        ),
        SourceRule(
            normalize.NOT_ACTIVE,
            "info",
            "Users shared but switched off (OneRoster)",
            FIXES[normalize.NOT_ACTIVE],
        ),
        SourceRule(
            normalize.BIRTH_DATES_NOT_SHARED,
            "warning",
            "Birth dates are not shared (OneRoster demographics)",
            FIXES[normalize.BIRTH_DATES_NOT_SHARED],
        ),
        SourceRule(
            normalize.STAFF_NOT_SHARED,
            "warning",
            "No administrator or counselor is shared (OneRoster)",
            FIXES[normalize.STAFF_NOT_SHARED],
        ),
    ),
)
