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


class SourceError(RosterSyncError):
    """A district's source answered with an error, or could not be reached after bounded retries.
    The fetch stage fails the district with `source_error` for any source's (its profile words
    the alert). A subclass names its source in the message (`label`)."""

    label = "the source"

    def __init__(self, endpoint: str, reason: str, status: int | None = None, district_id: str | None = None):
        # Both may come from what the source sent (a next link's path, an error message): no lone
        # surrogate may reach a manifest, a log line or an alert that must encode as UTF-8.
        endpoint, reason = _utf8(endpoint), _utf8(reason)
        self.endpoint = endpoint
        self.reason = reason
        self.status = status
        self.district_id = district_id
        where = f"district {district_id} " if district_id else ""
        code = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{self.label} {code} on {where}{endpoint}: {reason}")


class SourceProtocolError(SourceError):
    """The source answered 200 but the body breaks its contract (`protocol_error`)."""


class SourceKeyRefused(SourceError):
    """The source refuses our credentials for the district (`key_refused`: no retry, support acts)."""


class CleverError(SourceError):
    """Clever answered with an error, or could not be reached after bounded retries."""

    label = "Clever"


class CleverProtocolError(CleverError, SourceProtocolError):
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


class DistrictSettingsInvalid(RosterSyncError):
    """Our own settings for one district are not usable (a OneRoster tenant that breaks a rule):
    that district fails with `settings_invalid`, naming it and the rule, never a credential.
    `source`: the district's source name, for the failure's manifest and alert."""

    def __init__(self, district_id: str, problem: str, source: str):
        super().__init__(f"the tenant of district {district_id} is not usable: {problem}")
        self.district_id, self.problem, self.source = district_id, problem, source


class StorageError(RosterSyncError):
    """A page, manifest or report could not be written or read."""


class OneRosterError(SourceError):
    """A OneRoster 1.1 provider (ClassLink Roster Server) answered with an error, or could not be
    reached after bounded retries."""

    label = "OneRoster"


class OneRosterProtocolError(OneRosterError, SourceProtocolError):
    """The provider answered 200 but the body breaks OneRoster 1.1 (no envelope, no sourcedId,
    a link to another host, a repeated page)."""


class OneRosterKeyRefused(OneRosterError, SourceKeyRefused):
    """The provider answered 401 or 403: it refuses the tenant's consumer key and secret."""
