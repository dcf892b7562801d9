"""OneRoster 1.1 REST client for one tenant (ClassLink Roster Server), requests + requests-oauthlib.

- Every request is signed by requests-oauthlib (oauthlib underneath): an OAuth 1.0a
  `Authorization` header, `HMAC-SHA256`, consumer key and secret only (no token), a fresh
  timestamp and nonce per request, the query parameters in the signature base string.
- Collections are paged with `limit` and `offset`. A provider may cap the page size below what
  was asked: the `Link` header's `rel="next"` is followed when present, otherwise the offset
  advances by the number of records actually returned; the listing stops at `X-Total-Count` or
  at an empty page. A page shorter than asked is not the end while `X-Total-Count` says more
  remain (and without `X-Total-Count` only an empty page ends it).
- 429 (its `Retry-After` honoured, capped), 5xx, a 200 that is an HTML page, connection errors
  and timeouts: retried with exponential backoff and jitter, bounded. Each attempt is signed
  anew: urllib3's adapter-level retries would replay the same nonce and timestamp, which an
  OAuth 1.0a provider must refuse as a replay (RFC 5849 section 3.3), so the retries run here.
  Sleeps go through an injectable `sleep`, so tests never sleep.
- 401/403: the district fails at once, "the provider refused the key", no retry. Error bodies
  may be OneRoster's `imsx_StatusInfo` (`imsx_codeMajor`, `imsx_description`): quoted, clipped.
- Requests go only to the tenant's base URL host and path; a `next` link elsewhere is refused.
  The client secret lives in the OAuth1 signer only: never in a log, an error, a page or a repr.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from requests_oauthlib import OAuth1
from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

from rostersync.errors import OneRosterError, OneRosterKeyRefused, OneRosterProtocolError
from rostersync.observability import logger
from rostersync.ports import Page
from rostersync.records import DistrictStatus
from rostersync.sources.clever.normalize import clean_text
from rostersync.sources.oneroster.normalize import minimize
from rostersync.sources.oneroster.resources import SOURCE_NAME, Resource

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403})
TIMED_OUT = "timed out after retries"
REFUSED = "the provider refused the key"
Sleep = Callable[[float], None]
_REASON_LIMIT = 160
_BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class OneRosterTenant:
    """One district served by a OneRoster provider (an entry of the ONEROSTER_SECRET_ID secret)."""

    district_id: str
    name: str
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class OneRosterLimits:
    """Bounds on every request (settings.oneroster_*)."""

    page_limit: int = 1000
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 5
    backoff_factor: float = 1.0
    max_retry_wait: float = 60.0


class OneRosterClient:
    """Paginated, signed reads of one tenant's collections (a `ports.DistrictPages`)."""

    source = SOURCE_NAME
    resources = tuple(resource.value for resource in Resource)

    def __init__(
        self,
        tenant: OneRosterTenant,
        limits: OneRosterLimits | None = None,
        session: requests.Session | None = None,
        *,
        sleep: Sleep = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.district_id = tenant.district_id
        self.name = tenant.name
        self.requests = 0
        self._limits = limits or OneRosterLimits()
        self._sleep = sleep
        self._jitter = jitter
        self._session = session or requests.Session()
        self._base = tenant.base_url.rstrip("/")
        base = urlsplit(self._base)
        if base.scheme not in ("https", "http") or not base.netloc:
            raise OneRosterError("/", "the tenant's base_url is not an http(s) URL", None, self.district_id)
        self._origin = (base.scheme, base.netloc)
        self._base_path = base.path.rstrip("/")
        self._auth = OAuth1(
            tenant.client_id,
            client_secret=tenant.client_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
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
        fits: Callable[[float], bool] | None = None,  # OneRoster pages never shrink: unused
    ) -> Iterator[Page]:
        """Every page of `resource` (records minimized, see normalize.minimize), from its first page
        or from `start`, a link a previous invocation was given as a page's `next`."""
        resource = Resource(resource)
        path = f"{self._base_path}/{resource.value}"
        if start is None:
            link = f"{path}?{urlencode({'limit': self._limits.page_limit, 'offset': 0})}"
        else:
            link = self._checked(start, path, start)
        seen_links = set(seen)
        if link in seen_links:
            raise OneRosterProtocolError(path, "next link repeats an earlier page", 200, self.district_id)
        while True:
            seen_links.add(link)
            response = self._fetch(link)
            records = self._records(response, resource, link, index)
            if not records:
                return
            following = self._next(response, link, path, len(records))
            if following is not None and following in seen_links:
                raise OneRosterProtocolError(path, "next link repeats an earlier page", 200, self.district_id)
            kept = [m for m in (minimize(resource, r) for r in records) if m is not None]
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
        """`uri` (absolute or relative to the current page) as a path+query on the tenant's host,
        under the collection's `path`; anything else is refused before any request is made."""
        url = urljoin(f"{self._origin[0]}://{self._origin[1]}{came_from}", uri)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise OneRosterProtocolError(
                path, "next link points to another host; refused", 200, self.district_id
            )
        if parts.path.rstrip("/") != path:
            raise OneRosterProtocolError(
                path, "next link is not this collection's endpoint; refused", 200, self.district_id
            )
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def _next(self, response: requests.Response, link: str, path: str, returned: int) -> str | None:
        params = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))
        offset = _int(params.get("offset")) or 0
        total = _int(response.headers.get("X-Total-Count"))
        if total is not None and offset + returned >= total:
            return None
        following = response.links.get("next", {}).get("url")
        if following:
            return self._checked(following, path, link)
        params["offset"] = str(offset + returned)
        params.setdefault("limit", str(self._limits.page_limit))
        return f"{path}?{urlencode(params)}"

    def _records(
        self, response: requests.Response, resource: Resource, link: str, index: int
    ) -> list[dict[str, Any]]:
        path = urlsplit(link).path
        try:
            body = response.json()
        except RecursionError:
            raise OneRosterProtocolError(
                path, "200 with JSON nested too deeply to read", 200, self.district_id
            ) from None
        except ValueError:
            raise OneRosterProtocolError(
                path, "200 with a body that is not JSON", 200, self.district_id
            ) from None
        items = body.get(resource.value) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise OneRosterProtocolError(
                path, f"200 without the `{resource.value}` list of OneRoster 1.1", 200, self.district_id
            )
        for item in items:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("sourcedId"), str)
                or not item["sourcedId"]
            ):
                raise OneRosterProtocolError(
                    path,
                    f"{resource.value} page {index} holds a record without a `sourcedId`",
                    200,
                    self.district_id,
                )
        return items

    def _fetch(self, link: str) -> requests.Response:
        """GET one page, signed per attempt, retried boundedly; a non-200 raises OneRosterError."""
        path = urlsplit(link).path
        url = f"{self._origin[0]}://{self._origin[1]}{link}"
        attempt = 0
        while True:
            self.requests += 1
            retry_after: float | None = None
            try:
                response = self._session.get(
                    url,
                    auth=self._auth,
                    headers={"Accept": "application/json"},
                    timeout=(self._limits.connect_timeout, self._limits.read_timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                reason = TIMED_OUT if isinstance(exc, requests.Timeout) else "connection failed after retries"
                status: int | None = None
            else:
                status = response.status_code
                if status == 200 and not _html(response):
                    return response
                if status in REFUSED_STATUSES:
                    raise OneRosterKeyRefused(
                        path, f"{REFUSED} ({_short_reason(response)})", status, self.district_id
                    )
                if status != 200 and status not in RETRY_STATUSES:
                    raise OneRosterError(path, _short_reason(response), status, self.district_id)
                reason = "an HTML page instead of JSON" if status == 200 else _short_reason(response)
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
            self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        factor = self._limits.backoff_factor
        return min(_BACKOFF_MAX, factor * 2 ** (attempt - 1)) + factor * self._jitter()


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


def _html(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "")
    return "html" in content_type or response.content.lstrip()[:1] == b"<"


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


def _short_reason(response: requests.Response) -> str:
    """A short reason from an imsx_StatusInfo or other JSON body, or an HTML page, never a secret."""
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
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
    if _html(response):
        return f"HTML error page ({response.reason or 'no reason given'})"
    return (response.reason or "no reason given")[:_REASON_LIMIT]
