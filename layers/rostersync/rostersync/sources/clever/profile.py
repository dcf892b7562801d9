"""The Clever source as one profile: how its districts are read, checked and worded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rostersync.errors import RosterSyncError
from rostersync.sources.clever import normalize
from rostersync.sources.clever.resources import SOURCE_NAME
from rostersync.sources.clever.wording import WORDING
from rostersync.sources.profile import ListSecrets, ReadSecret, SourceProfile

if TYPE_CHECKING:
    from rostersync.settings import Settings
    from rostersync.sources.clever.client import CleverCredentials
    from rostersync.sources.clever.source import CleverSource

CREDENTIALS_LABEL = "Clever credentials secret"

# The clients are imported when a source is built, not with its profile: the registry is read by
# every stage (validation reads pages back, alerts word them), the clients only by the fetch, and
# importing them here would run `ports` and the stages' modules from inside this registry.


def parse_credentials(value: Any, secret_id: str) -> CleverCredentials:
    """`{"client_id": ..., "client_secret": ...}`; errors name the secret, never its value."""
    from rostersync.sources.clever.client import CleverCredentials  # noqa: PLC0415

    if value is None:
        raise RosterSyncError(f"could not read the {CREDENTIALS_LABEL} {secret_id}")
    if not isinstance(value, dict) or not value.get("client_id") or not value.get("client_secret"):
        raise RosterSyncError(f"the {CREDENTIALS_LABEL} {secret_id} lacks client_id or client_secret")
    return CleverCredentials(client_id=str(value["client_id"]), client_secret=str(value["client_secret"]))


def build(settings: Settings, read_secret: ReadSecret, list_secrets: ListSecrets) -> CleverSource:
    """Clever's districts: those `/oauth/tokens` lists, with the credentials of CLEVER_SECRET_ID."""
    from rostersync.sources.clever.client import CleverClient  # noqa: PLC0415
    from rostersync.sources.clever.source import CleverSource  # noqa: PLC0415

    credentials = parse_credentials(
        read_secret(settings.clever_secret_id, CREDENTIALS_LABEL), settings.clever_secret_id
    )
    return CleverSource(CleverClient(settings, credentials))


PROFILE = SourceProfile(
    name=SOURCE_NAME,
    wording=WORDING,
    build=build,
    normalize=normalize.normalize,
    id_ok=normalize.is_clever_id,
)
