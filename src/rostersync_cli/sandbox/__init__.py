"""Clever sandbox: a local, deterministic Clever Data API v3.0 server for the demo, tests and benchmarks.

with CleverSandbox() as sandbox:          # default_config(): five Pennsylvania-like districts
    token = requests.get(f"{sandbox.oauth_base}/oauth/tokens", params={"owner_type": "district"},
                         auth=(sandbox.client_id, sandbox.client_secret)).json()["data"][0]["access_token"]
    requests.get(f"{sandbox.api_base}/v3.0/users", params={"role": "student", "limit": 10000},
                 headers={"Authorization": f"Bearer {token}"})
"""

from .config import DistrictSpec, Faults, Gaps, RequestLogEntry, SandboxConfig, clever_id, default_config
from .generator import DistrictData, Listing
from .server import MAX_LIMIT, CleverSandbox

__all__ = [
    "MAX_LIMIT",
    "CleverSandbox",
    "DistrictData",
    "DistrictSpec",
    "Faults",
    "Gaps",
    "Listing",
    "RequestLogEntry",
    "SandboxConfig",
    "clever_id",
    "default_config",
]
