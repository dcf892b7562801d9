"""Errors that carry context (which district, which endpoint, what went wrong) and never secrets.

Messages name the district id, the resource or endpoint path and a short reason.
They never contain tokens, client secrets, or any student's data.
"""

from __future__ import annotations


def _utf8(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (unchanged when it encodes as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


class RosterSyncError(Exception):
    """Base class for failures this project raises on purpose."""


class CleverError(RosterSyncError):
    """Clever answered with an error, or could not be reached after bounded retries."""

    def __init__(self, endpoint: str, reason: str, status: int | None = None, district_id: str | None = None):
        # Both may come from what Clever sent (a next link's path, an error message): no lone
        # surrogate may reach a manifest, a log line or an alert that must encode as UTF-8.
        endpoint, reason = _utf8(endpoint), _utf8(reason)
        self.endpoint = endpoint
        self.reason = reason
        self.status = status
        self.district_id = district_id
        where = f"district {district_id} " if district_id else ""
        code = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"Clever {code} on {where}{endpoint}: {reason}")


class CleverProtocolError(CleverError):
    """Clever answered 200 but the body breaks the contract (not JSON, no `data`, ids missing, bad links)."""


class DistrictDisconnected(CleverError):
    """The district's token is revoked or the district is gone: 401 after a token refresh, or 404
    for `/districts/<id>` itself."""


class PageDeferred(RosterSyncError):
    """A source stopped before asking for a page again at a smaller size, because the invocation's
    time would not fit the attempt: `link` is that smaller page, where a further invocation resumes.
    Not a failure: the fetch checkpoints and continues."""

    def __init__(self, link: str):
        super().__init__(f"page deferred to the next invocation: {link}")
        self.link = link


class StorageError(RosterSyncError):
    """A page, manifest or report could not be written or read."""


class OneRosterError(CleverError):
    """A OneRoster 1.1 provider (ClassLink Roster Server) answered with an error, or could not be
    reached after bounded retries. A CleverError subclass so the fetch stage fails the district
    the same way (`clever_error` is the failure kind of any source's API error)."""

    def __init__(self, endpoint: str, reason: str, status: int | None = None, district_id: str | None = None):
        super().__init__(endpoint, reason, status, district_id)
        where = f"district {district_id} " if district_id else ""
        code = f"HTTP {status}" if status is not None else "no response"
        Exception.__init__(self, f"OneRoster {code} on {where}{self.endpoint}: {self.reason}")


class OneRosterProtocolError(OneRosterError, CleverProtocolError):
    """The provider answered 200 but the body breaks OneRoster 1.1 (no envelope, no sourcedId,
    a link to another host, a repeated page)."""


class OneRosterKeyRefused(OneRosterError):
    """The provider answered 401 or 403: it refuses the tenant's consumer key and secret."""
