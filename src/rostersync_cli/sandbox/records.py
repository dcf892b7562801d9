"""The sandbox's districts as normalized records, fetched over HTTP with the real Clever client."""

from __future__ import annotations

from rostersync.records import Record
from rostersync.settings import Settings
from rostersync.sources.clever.client import CleverClient, CleverCredentials
from rostersync.sources.clever.normalize import minimize, normalize
from rostersync.sources.clever.resources import Resource
from rostersync_cli.sandbox.server import CleverSandbox


def fetch_normalized(sandbox: CleverSandbox) -> dict[str, list[Record]]:
    """district id -> its records in fetch order, minimized and normalized as the pipeline does."""
    settings = Settings().model_copy(  # type: ignore[call-arg]
        update={"clever_api_base": sandbox.api_base, "clever_oauth_base": sandbox.oauth_base}
    )
    client = CleverClient(settings, CleverCredentials(sandbox.client_id, sandbox.client_secret))
    client._session.trust_env = False  # loopback only, never a proxy
    out: dict[str, list[Record]] = {}
    try:
        for district_id, token in client.district_tokens().items():
            fetch = client.district(district_id, token)
            out[district_id] = [
                record
                for resource in Resource
                for page in fetch.pages(resource)
                for raw in page.records
                for record in normalize(resource, minimize(resource, raw), district_id)
            ]
    finally:
        client.close()
    return out
