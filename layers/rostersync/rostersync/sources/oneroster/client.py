"""OneRoster 1.1 and 1.2 REST client for one tenant (ClassLink Roster Server, a SIS's own server),
requests + requests-oauthlib. The version is the tenant's base URL path's (`/ims/oneroster/v1p1`,
`/ims/oneroster/rostering/v1p2`): the collections, envelopes and paging read here are the same.

- A tenant authenticates as its provider asks (`OneRosterTenant.auth`):
  - `oauth1` (ClassLink Roster Server): every request is signed by requests-oauthlib (oauthlib
    underneath): an OAuth 1.0a `Authorization` header, `HMAC-SHA256`, consumer key and secret
    only (no token), a fresh timestamp and nonce per request, the query parameters in the
    signature base string.
  - `oauth2` (1EdTech's successor to 1.0a, which many SIS use): a client-credentials token from
    the tenant's `token_url` through requests-oauthlib's OAuth 2.0 session (the client id and
    secret in HTTP Basic, the version's read scopes unless the tenant names its own), sent as a
    Bearer token. It is fetched once, kept until shortly before its `expires_in`, and fetched
    again once when the provider answers 401 (a token revoked or expired early); a second 401,
    or a token endpoint that refuses the client, is the same `key_refused` as a refused
    signature. The token endpoint's 429/5xx and connection errors are retried like pages.
- Collections are paged with `limit` and `offset`, in a stable order: OneRoster 1.1 leaves the
  order undefined unless `sort` is given, and offset paging over an order that drifts between
  requests skips some records and repeats others, so every listing asks `sort=sourcedId&orderBy=asc`.
  A provider may cap the page size below what was asked: the `Link` header's `rel="next"` is
  followed when it is on the tenant's server (after normalizing scheme, host case and default
  ports; anything else falls back to offset paging), otherwise the offset advances by the number
  of records actually returned.
- Completeness is proved, not assumed (`_Listing`): the sourcedIds seen per listing are kept, a
  record seen before is dropped and counted, and the distinct ids are compared with
  `X-Total-Count` when the provider sends it. A listing that ends short of its count, a page that
  brings nothing new, or repeats without a count to prove nothing was skipped, raise
  `ListingIncomplete` (`listing.incomplete: <collection> ...`): the district's fetch fails and
  its manifest is never `complete`. No listing runs past its count, nor (without one) past a page
  that brings nothing new, so a provider that ignores `offset` is not read forever.
- Pages are read as a stream, refused past `OneRosterLimits.max_page_bytes`, each request's
  total time bounded by `read_timeout` (a page that trickles in is a timeout, not a hang), and a
  request or retry that would not fit the invocation's remaining time (`fits`) is deferred to the
  next invocation (`PageDeferred`, as Clever's pages are).
- 429 (its `Retry-After` honoured, capped), 5xx, a 200 that is an HTML page, connection errors
  and timeouts: retried with exponential backoff and jitter, bounded. Each attempt is signed
  anew: urllib3's adapter-level retries would replay the same nonce and timestamp, which an
  OAuth 1.0a provider must refuse as a replay (RFC 5849 section 3.3), so the retries run here.
  Sleeps go through an injectable `sleep`, so tests never sleep.
- 401/403: the district fails at once, "the provider refused the key", no retry. Error bodies
  may be OneRoster's `imsx_StatusInfo` (`imsx_codeMajor`, `imsx_description`): quoted, clipped.
  Demographics are optional: refused (401/403) or absent (404/501) there, the listing is empty
  and validation warns once that birth dates are not shared.
- Requests go only to the tenant's base URL host and path (and, for OAuth 2.0, its token URL).
  The client secret lives in the OAuth1 signer or the token request only, and the token in the
  Bearer auth only: never in a log (requests-oauthlib's debug lines, which print both, are kept
  quiet), an error, a page or a repr.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urljoin, urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import AuthBase, HTTPBasicAuth
from requests_oauthlib import OAuth1, OAuth2Session
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from rostersync.errors import OneRosterError, OneRosterKeyRefused, OneRosterProtocolError, PageDeferred
from rostersync.observability import logger
from rostersync.ports import Page
from rostersync.records import DistrictStatus
from rostersync.sources.clever.normalize import clean_text
from rostersync.sources.oneroster.normalize import minimize, source_id
from rostersync.sources.oneroster.resources import DEFAULT_PROVIDER, Resource, source_name

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403})
TIMED_OUT = "timed out after retries"
REFUSED = "the provider refused the key"
Sleep = Callable[[float], None]
_REASON_LIMIT = 160
_BACKOFF_MAX = 30.0
# requests-oauthlib and oauthlib print request headers (HTTP Basic: the client secret), bodies and
# tokens at DEBUG: never, whatever level the function logs at.
for _name in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_name).setLevel(logging.WARNING)

OAUTH1, OAUTH2 = "oauth1", "oauth2"
AUTH_METHODS = (OAUTH1, OAUTH2)
# The REST binding's base path of each version, as a tenant's base_url ends; the version is read
# from it (the same collections, envelopes and paging in both; 1.2's users carry a `roles` array).
VERSION_PATHS = {"1.1": "/ims/oneroster/v1p1", "1.2": "/ims/oneroster/rostering/v1p2"}
_SCOPE_NAMES = ("roster-core", "roster", "roster-demographics")
# The read scopes of each version's REST binding: core rostering, the full roster, demographics.
SCOPES = {
    version: tuple(f"https://purl.imsglobal.org/spec/or/{path[-4:]}/scope/{n}.readonly" for n in _SCOPE_NAMES)
    for version, path in VERSION_PATHS.items()
}
V1P1_SCOPES, V1P2_SCOPES = SCOPES["1.1"], SCOPES["1.2"]


def version_of(base_url: str) -> str | None:
    """The OneRoster version a base URL's path names ("1.1", "1.2"), or None."""
    path = urlsplit(base_url.strip()).path.rstrip("/")
    return next((v for v, p in VERSION_PATHS.items() if path.endswith(p)), None)


# A token is renewed this long before its `expires_in` runs out (at most half its life), so no
# request leaves with a token that dies on the way.
TOKEN_RENEW_MARGIN = 60.0
NOT_GRANTED = "the provider's token endpoint refused the client id and secret"


@dataclass(frozen=True)
class OneRosterTenant:
    """One district served by a OneRoster provider (an entry of the ONEROSTER_SECRET_ID secret)."""

    district_id: str
    name: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    auth: str = OAUTH1  # or OAUTH2 (client credentials, from token_url)
    token_url: str = ""
    scope: str | None = None  # OAuth 2.0: None asks the version's read scopes; "" asks none
    provider: str = DEFAULT_PROVIDER  # how reports and alerts name the district's provider

    @property
    def version(self) -> str:
        """The OneRoster version of the tenant's base URL (1.1 unless its path is 1.2's)."""
        return version_of(self.base_url) or "1.1"


class _TokenNotGranted(Exception):
    """The token endpoint answered something to retry (429, 5xx) or to refuse on (400, 401, 403)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class _BearerToken(AuthBase):
    """OAuth 2.0 client credentials for one tenant: the token, fetched when none is held or it
    is about to expire, sent as `Authorization: Bearer`. Never in a repr, a log or an error."""

    def __init__(self, client: OneRosterClient, tenant: OneRosterTenant) -> None:
        self._client = client
        self._client_id, self._secret = tenant.client_id, tenant.client_secret
        self._url = tenant.token_url
        scope = " ".join(SCOPES[tenant.version]) if tenant.scope is None else tenant.scope
        self._scope = scope.split() or None
        self._token: str | None = None
        self._renew_at = 0.0
        self.fetched = 0

    def __repr__(self) -> str:
        return "<_BearerToken>"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None or self._client._clock() >= self._renew_at:
            self._token = self._fetch()
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def forget(self) -> None:
        """The provider refused the token (401): the next request fetches a new one."""
        self._token = None

    def _fetch(self) -> str:
        """A new token, the token endpoint's failures retried as pages' are (bounded)."""
        limits = self._client._limits
        path = urlsplit(self._url).path or "/"
        attempt = 0
        while True:
            status: int | None = None
            try:
                return self._request()
            except _TokenNotGranted as exc:
                status, reason = exc.status, exc.reason
                if status not in RETRY_STATUSES:
                    raise OneRosterKeyRefused(
                        path, f"{NOT_GRANTED} ({reason})", status, self._client.district_id
                    ) from None
            except requests.RequestException as exc:
                reason = TIMED_OUT if isinstance(exc, requests.Timeout) else "connection failed after retries"
            if attempt >= limits.max_retries:
                raise OneRosterError(path, f"token request: {reason}", status, self._client.district_id)
            attempt += 1
            self._client._sleep(min(self._client._backoff(attempt), limits.max_retry_wait))

    def _request(self) -> str:
        limits = self._client._limits
        client = BackendApplicationClient(client_id=self._client_id, scope=self._scope)
        session = OAuth2Session(client=client, scope=self._scope)
        session.trust_env = self._client._session.trust_env
        session.register_compliance_hook("access_token_response", _granted)
        self.fetched += 1
        self._client.requests += 1
        try:
            token = session.fetch_token(
                self._url,
                auth=HTTPBasicAuth(self._client_id, self._secret),
                include_client_id=False,
                timeout=(limits.connect_timeout, limits.read_timeout),
            )
        except Warning as granted_less:  # oauthlib: the scope granted differs from the one asked
            token = getattr(granted_less, "token", None) or {}
        except OAuth2Error as exc:  # a 200 that is no token, or an error oauthlib read from the body
            raise _TokenNotGranted(
                exc.status_code or 400, clean_text(str(exc.error)[:_REASON_LIMIT])
            ) from None
        except ValueError:
            raise _TokenNotGranted(502, "the token endpoint's answer is not a token") from None
        finally:
            session.close()
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise _TokenNotGranted(502, "the token endpoint's answer holds no access_token")
        lifetime = _seconds(token.get("expires_in"))
        margin = min(TOKEN_RENEW_MARGIN, lifetime / 2) if lifetime else 0.0
        self._renew_at = self._client._clock() + lifetime - margin if lifetime else float("inf")
        return access


def _granted(response: requests.Response) -> requests.Response:
    """The token endpoint's answer, checked before oauthlib reads it: anything but a 200 is
    refused (400/401/403: RFC 6749's `invalid_client` and kin) or retried (429, 5xx)."""
    if response.status_code != 200:
        reason = response.reason or "no reason given"
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            reason = body["error"]
        raise _TokenNotGranted(response.status_code, clean_text(reason[:_REASON_LIMIT]))
    return response


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if 0 < seconds < 10**7 else 0.0


@dataclass(frozen=True)
class OneRosterLimits:
    """Bounds on every request (settings.oneroster_*)."""

    page_limit: int = 1000
    connect_timeout: float = 5.0
    read_timeout: float = 60.0  # also the bound on one response's whole body, however it trickles
    max_retries: int = 5
    backoff_factor: float = 1.0
    max_retry_wait: float = 60.0
    # A page's body is refused past this (None: 16 KiB per record asked for, at least 1 MiB), so a
    # provider that ignores `limit` cannot make one page outgrow the fetch function's memory.
    max_page_bytes: int | None = None

    def page_bytes(self) -> int:
        return self.max_page_bytes or max(1 << 20, self.page_limit * 16 * 1024)


class ListingIncomplete(OneRosterProtocolError):
    """A listing's records cannot be proved complete: it ended short of its count, a page brought
    nothing new, or records repeated with no count to prove none was skipped."""


# Collections a district may switch off for an app without breaking the roster: refused or absent
# there, the listing is empty (validation warns once; see validate.rules DISTRICT_BIRTH_DATES_NOT_SHARED).
OPTIONAL = frozenset({Resource.DEMOGRAPHICS})
_OPTIONAL_STATUSES = frozenset({401, 403, 404, 501})
_DEFAULT_PORTS = {"http": 80, "https": 443}
SORTED = {"sort": "sourcedId", "orderBy": "asc"}


class _Listing:
    """What one listing of a collection has brought so far: its distinct sourcedIds, the repeats
    dropped, and the provider's count. `before` counts records an earlier invocation stored (the
    resumed offset; their ids are not known here); None when a resumed link carries no offset,
    so nothing can be compared with the count (repeats in this invocation still fail it)."""

    def __init__(self, resource: Resource, path: str, district_id: str, before: int | None) -> None:
        self.resource, self.path, self.district_id = resource, path, district_id
        self.ids: set[str] = set()
        self.repeats = 0
        self.total: int | None = None
        self.before = before

    @property
    def distinct(self) -> int:
        return (self.before or 0) + len(self.ids)

    @property
    def counted(self) -> bool:
        """The distinct records can be compared with the provider's count."""
        return self.total is not None and self.before is not None

    def fresh(self, records: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
        """The records not seen before in this listing (repeats dropped and counted); a page that
        brings nothing new fails the listing (a provider ignoring `offset` would never end)."""
        kept = []
        for record in records:
            sid = record["sourcedId"]
            if sid in self.ids:
                self.repeats += 1
            else:
                self.ids.add(sid)
                kept.append(record)
        if not kept:
            self.fail(
                f"page {index} brought no record not seen before (a page repeated, or `offset` ignored)"
            )
        return kept

    def done(self) -> bool:
        """The count is reached: asking further would run past it."""
        return self.counted and self.distinct >= (self.total or 0)

    def finish(self) -> None:
        """The listing ended: prove it complete, or fail it."""
        if self.counted and self.distinct < (self.total or 0):
            self.fail(
                f"ended with {self.distinct} distinct records of the {self.total} its X-Total-Count "
                f"announced ({self.repeats} repeated)"
            )
        if not self.counted and self.repeats:
            self.fail(f"{self.repeats} records repeated and no X-Total-Count proves none was skipped")
        if self.repeats:
            logger.warning(
                "OneRoster records repeated across pages were dropped",
                extra={"district_id": self.district_id, "endpoint": self.path, "repeats": self.repeats},
            )

    def fail(self, why: str) -> None:
        raise ListingIncomplete(
            self.path, f"listing.incomplete: {self.resource.value} {why}", 200, self.district_id
        )


class OneRosterClient:
    """Paginated, signed reads of one tenant's collections (a `ports.DistrictPages`)."""

    resources = tuple(resource.value for resource in Resource)

    def __init__(
        self,
        tenant: OneRosterTenant,
        limits: OneRosterLimits | None = None,
        session: requests.Session | None = None,
        *,
        sleep: Sleep = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.district_id = tenant.district_id
        self.name = tenant.name
        self.source = source_name(tenant.provider)  # the provider travels with the source's name
        self.requests = 0
        self._limits = limits or OneRosterLimits()
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._session = session or requests.Session()
        self._base = tenant.base_url.rstrip("/")
        base = urlsplit(self._base)
        if base.scheme not in ("https", "http") or not base.netloc:
            raise OneRosterError("/", "the tenant's base_url is not an http(s) URL", None, self.district_id)
        self._origin = (base.scheme, base.netloc)
        self._server = _server(base)
        self._base_path = base.path.rstrip("/")
        self.version = tenant.version
        self._bearer: _BearerToken | None = None
        self._auth: AuthBase
        if tenant.auth == OAUTH2:
            self._auth = self._bearer = _BearerToken(self, tenant)
        elif tenant.auth == OAUTH1:
            self._auth = OAuth1(
                tenant.client_id,
                client_secret=tenant.client_secret,
                signature_method=SIGNATURE_HMAC_SHA256,
                signature_type=SIGNATURE_TYPE_AUTH_HEADER,
            )
        else:
            raise OneRosterError(
                "/", f"the tenant's auth is not one of {', '.join(AUTH_METHODS)}", None, self.district_id
            )

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------------- DistrictPages

    def pages(
        self,
        resource: Resource | str,
        start: str | None = None,
        *,
        index: int = 0,
        seen: Iterable[str] = (),
        fits: Callable[[float], bool] | None = None,
    ) -> Iterator[Page]:
        """Every page of `resource` (records minimized, see normalize.minimize), from its first page
        or from `start`, a link a previous invocation was given as a page's `next`.

        Each page's records are those not seen before in the listing; the listing ends proved
        complete or raises ListingIncomplete. A request that would not fit `fits` (after this
        invocation's first) raises PageDeferred with its link, where the next invocation resumes."""
        resource = Resource(resource)
        path = f"{self._base_path}/{resource.value}"
        if start is None:
            link = f"{path}?{urlencode({'limit': self._limits.page_limit, 'offset': 0, **SORTED})}"
        else:
            link = self._checked(start, path, start)
        seen_links = set(seen)
        if link in seen_links:
            raise OneRosterProtocolError(path, "next link repeats an earlier page", 200, self.district_id)
        # A resumed listing: the records before its offset were stored by an earlier invocation.
        before = _int(dict(parse_qsl(urlsplit(link).query)).get("offset")) if start else 0
        listing = _Listing(resource, path, self.district_id, before)
        while True:
            seen_links.add(link)
            try:
                response, body = self._fetch(link, fits)
            except OneRosterError as exc:
                if resource in OPTIONAL and start is None and index == 0 and exc.status in _OPTIONAL_STATUSES:
                    logger.warning(
                        "OneRoster optional collection not shared; the district imports without it",
                        extra={"district_id": self.district_id, "endpoint": path, "status": exc.status},
                    )
                    return
                raise
            total = _int(response.headers.get("X-Total-Count"))
            listing.total = total if total is not None else listing.total
            records = self._records(body, resource, link, index)
            if not records:
                listing.finish()
                return
            fresh = listing.fresh(records, index)
            following = None if listing.done() else self._next(response, link, path, len(records), total)
            if following is not None and following in seen_links:
                raise OneRosterProtocolError(path, "next link repeats an earlier page", 200, self.district_id)
            if following is None:
                listing.finish()
            kept = [m for m in (minimize(resource, r) for r in fresh) if m is not None]
            yield Page(resource.value, index, kept, link=link, next=following)
            index += 1
            if following is None:
                return
            link = following

    def district_name(self, page: Page) -> str | None:
        """The district org's name (the primary org), else, on the first orgs page, the name support
        gave the tenant (a later page without the district org keeps what an earlier one found)."""
        if page.resource == Resource.ORGS:
            for record in page.records:
                if record.get("type") == "district" and isinstance(record.get("name"), str):
                    return str(record["name"])
            if page.index == 0:
                return self.name or None
        return None

    def district_status(self, page: Page) -> DistrictStatus | None:
        """OneRoster has no sync status of the district (Clever's `state`, `last_sync`): None."""
        return None

    # ----------------------------------------------------------------------------- internals

    def _checked(self, uri: str, path: str, came_from: str) -> str:
        """A link this client made (`start`, resumed) as a path+query under the collection's `path`
        on the tenant's server; anything else is refused before any request is made."""
        following = self._same_server(uri, came_from)
        parts = urlsplit(following or "")
        if following is None:
            raise OneRosterProtocolError(path, "link points to another host; refused", 200, self.district_id)
        if parts.path.rstrip("/") != path:
            raise OneRosterProtocolError(
                path, "link is not this collection's endpoint; refused", 200, self.district_id
            )
        return following

    def _same_server(self, uri: str, came_from: str) -> str | None:
        """`uri` (absolute or relative to `came_from`) as a path+query when it is on the tenant's
        server once scheme, host case and default ports are normalized (`http` for the `https`
        host too: a TLS terminator writes links as it sees them), else None."""
        url = urljoin(f"{self._origin[0]}://{self._origin[1]}{came_from}", uri)
        try:
            parts = urlsplit(url)
            server = _server(parts)
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or server[1] != self._server[1]:
            return None
        if server[2] != self._server[2] and not (_default_port(server) and _default_port(self._server)):
            return None
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def _next(
        self, response: requests.Response, link: str, path: str, returned: int, total: int | None
    ) -> str | None:
        params = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
        offset = _int(params.get("offset")) or 0
        if total is not None and offset + returned >= total:
            return None
        following = response.links.get("next", {}).get("url")
        if following:
            relative = self._same_server(following, link)
            if relative is not None and urlsplit(relative).path.rstrip("/") == path:
                return relative
            logger.warning(
                "OneRoster next link is not on the tenant's server or endpoint; paging by offset",
                extra={"district_id": self.district_id, "endpoint": path},
            )
        params["offset"] = str(offset + returned)
        params.setdefault("limit", str(self._limits.page_limit))
        return f"{path}?{urlencode(params)}"

    def _records(self, body: bytes, resource: Resource, link: str, index: int) -> list[dict[str, Any]]:
        path = urlsplit(link).path
        try:
            parsed = json.loads(body)
        except RecursionError:
            raise OneRosterProtocolError(
                path, "200 with JSON nested too deeply to read", 200, self.district_id
            ) from None
        except ValueError:
            raise OneRosterProtocolError(
                path, "200 with a body that is not JSON", 200, self.district_id
            ) from None
        items = parsed.get(resource.value) if isinstance(parsed, dict) else None
        if not isinstance(items, list):
            raise OneRosterProtocolError(
                path,
                f"200 without the `{resource.value}` list of OneRoster {self.version}",
                200,
                self.district_id,
            )
        for item in items:
            sid = source_id(item.get("sourcedId")) if isinstance(item, dict) else None
            if sid is None:
                raise OneRosterProtocolError(
                    path,
                    f"{resource.value} page {index} holds a record without a `sourcedId`",
                    200,
                    self.district_id,
                )
            item["sourcedId"] = sid
        return items

    def _worst_request_seconds(self, wait: float = 0.0) -> float:
        """The longest one attempt can take: `wait` before it, then its connect and whole-body bounds."""
        return wait + self._limits.connect_timeout + self._limits.read_timeout

    def _fetch(
        self, link: str, fits: Callable[[float], bool] | None = None
    ) -> tuple[requests.Response, bytes]:
        """GET one page, signed per attempt, retried boundedly; a non-200 raises OneRosterError.
        An attempt that would not fit `fits` (once this invocation has made a request) raises
        PageDeferred(link): the next invocation asks for the page."""
        path = urlsplit(link).path
        url = f"{self._origin[0]}://{self._origin[1]}{link}"
        attempt = 0
        wait = 0.0
        renewed = False  # OAuth 2.0: a 401 asks for a new token once
        while True:
            if fits is not None and self.requests and not fits(self._worst_request_seconds(wait)):
                raise PageDeferred(link)
            if wait:
                self._sleep(wait)
            self.requests += 1
            retry_after: float | None = None
            try:
                response = self._session.get(
                    url,
                    auth=self._auth,
                    headers={"Accept": "application/json"},
                    timeout=(self._limits.connect_timeout, self._limits.read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
                body = self._body(response, path)
            except requests.RequestException as exc:
                reason = TIMED_OUT if isinstance(exc, requests.Timeout) else "connection failed after retries"
                status: int | None = None
            else:
                status = response.status_code
                if status == 200 and not _html(response, body):
                    return response, body
                if status == 401 and self._bearer is not None and not renewed:
                    renewed = True  # the token expired or was revoked early: one new token, at once
                    self._bearer.forget()
                    wait = 0.0
                    continue
                if status in REFUSED_STATUSES:
                    raise OneRosterKeyRefused(
                        path, f"{REFUSED} ({_short_reason(response, body)})", status, self.district_id
                    )
                if status != 200 and status not in RETRY_STATUSES:
                    raise OneRosterError(path, _short_reason(response, body), status, self.district_id)
                reason = "an HTML page instead of JSON" if status == 200 else _short_reason(response, body)
                if status == 429:
                    retry_after = _retry_after(response)
            if attempt >= self._limits.max_retries:
                if status == 200:
                    raise OneRosterProtocolError(path, f"{reason}, after retries", 200, self.district_id)
                raise OneRosterError(path, reason, status, self.district_id)
            attempt += 1
            wait = self._backoff(attempt) if retry_after is None else retry_after
            wait = min(wait, self._limits.max_retry_wait)
            logger.info(
                "OneRoster request retried",
                extra={
                    "district_id": self.district_id,
                    "endpoint": path,
                    "status": status,
                    "attempt": attempt,
                },
            )

    def _body(self, response: requests.Response, path: str) -> bytes:
        """The response's body, read as a stream: refused past the page bound, and a timeout when
        the whole of it takes longer than the read timeout (each read alone may be quick)."""
        bound = self._limits.page_bytes()
        deadline = self._clock() + self._limits.read_timeout
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > bound:
                    raise OneRosterProtocolError(
                        path,
                        f"a page larger than {bound} bytes (the provider ignores `limit`?); refused",
                        response.status_code,
                        self.district_id,
                    )
                if self._clock() > deadline:
                    raise requests.Timeout(f"the body took longer than {self._limits.read_timeout} s")
                chunks.append(chunk)
        finally:
            response.close()
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        factor = self._limits.backoff_factor
        return min(_BACKOFF_MAX, factor * 2 ** (attempt - 1)) + factor * self._jitter()


def _server(parts: SplitResult) -> tuple[str, str, int]:
    """(scheme, host, port) with the host lowercased and the scheme's default port made explicit."""
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def _default_port(server: tuple[str, str, int]) -> bool:
    return _DEFAULT_PORTS.get(server[0]) == server[2]


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds, or as an HTTP date (both are RFC 9110's forms; urllib3 parses them,
    a date in the past is 0); None when absent or unreadable (the backoff applies)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return float(Retry().parse_retry_after(value))
    except InvalidHeader:
        return None


def _html(response: requests.Response, body: bytes) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "html" in content_type or body.lstrip()[:1] == b"<"


def imsx_reason(body: Any) -> str | None:
    """`imsx_codeMajor: imsx_description` from a OneRoster status body (top level, under
    `imsx_StatusInfo` in any case, or the first of a list), or None."""
    if isinstance(body, Mapping):
        for key, value in body.items():
            if isinstance(key, str) and key.lower() == "imsx_statusinfo":
                return imsx_reason(value[0] if isinstance(value, list) and value else value)
        major, description = body.get("imsx_codeMajor"), body.get("imsx_description")
        if isinstance(major, str) or isinstance(description, str):
            parts = [p for p in (major, description) if isinstance(p, str) and p]
            return ": ".join(parts) or None
    return None


def _short_reason(response: requests.Response, raw: bytes) -> str:
    """A short reason from an imsx_StatusInfo or other JSON body, or an HTML page, never a secret."""
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        reason = imsx_reason(body)
        if reason is None and isinstance(body, dict):
            for key in ("message", "error", "error_description"):
                if isinstance(body.get(key), str) and body[key]:
                    reason = body[key]
                    break
        if reason:
            return clean_text(reason[:_REASON_LIMIT])
    if _html(response, raw):
        return f"HTML error page ({response.reason or 'no reason given'})"
    return (response.reason or "no reason given")[:_REASON_LIMIT]
