"""Clever Data API v3.0 client (requests + urllib3 retries), from Clever's official spec.

- District discovery: `GET {oauth}/oauth/tokens?owner_type=district`, HTTP Basic.
- Per district: Bearer token, `limit=10000` pages following the relative `next` link.
- Rate limits: on 429, wait until the latest `X-Ratelimit-Reset` (several buckets may each send
  one); without it, exponential backoff with jitter. 5xx, resets and read timeouts: retried with
  backoff. Every retry, wait and timeout is bounded, so a fetch never hangs.
- 401: re-fetch the district's token once, then the district is disconnected. 404: disconnected
  only when `/v3.0/districts/<id>` itself is 404; any other 404 is a CleverError.
- Every 200 is checked: JSON, a `data` list, every record with an `id`.
The token only ever goes to CLEVER_API_BASE's host, and never into a log or an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ReadTimeoutError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from rostersync.errors import CleverError, CleverProtocolError, DistrictDisconnected, PageDeferred
from rostersync.observability import logger
from rostersync.ports import Page
from rostersync.records import DistrictRecord, DistrictStatus
from rostersync.settings import Settings
from rostersync.sources.clever.normalize import clean_text, minimize, normalize
from rostersync.sources.clever.resources import SOURCE_NAME, Resource

# Resource -> (path, query) as Clever's v3.0 spec names them. No `contact` role: the product
# has no use for parent data.
RESOURCE_QUERIES: dict[Resource, tuple[str, dict[str, str]]] = {
    Resource.DISTRICTS: ("/v3.0/districts", {}),
    Resource.SCHOOLS: ("/v3.0/schools", {}),
    Resource.STUDENTS: ("/v3.0/users", {"role": "student"}),
    Resource.TEACHERS: ("/v3.0/users", {"role": "teacher"}),
    Resource.STAFF: ("/v3.0/users", {"role": "staff"}),
    Resource.DISTRICT_ADMINS: ("/v3.0/users", {"role": "district_admin"}),
    Resource.SECTIONS: ("/v3.0/sections", {}),
    Resource.TERMS: ("/v3.0/terms", {}),
    Resource.COURSES: ("/v3.0/courses", {}),
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# What a page too large for Clever's gateway gets: a 502/504 from the gateway, or no answer within
# the read timeout. These shrink the page (see DistrictFetch.pages); a 500 or 503 does not.
SLOW_STATUSES = frozenset({502, 504})
TIMED_OUT = "timed out after retries"
Sleep = Callable[[float], None]
_REASON_LIMIT = 160
# Pages of district tokens one discovery follows (Clever answers all in one today; a page holds
# at least one district, and Pennsylvania has about 700).
_TOKEN_PAGES_MAX = 1000


@dataclass(frozen=True)
class CleverCredentials:
    client_id: str
    client_secret: str = field(repr=False)


class CleverRetry(Retry):
    """urllib3 Retry that honours Clever's `X-Ratelimit-Reset` (epoch seconds) on 429.

    Several rate-limit buckets may each send the header; the latest reset wins. The wait is
    capped, so a misbehaving clock cannot stall a fetch for long. Every wait (a rate-limit reset,
    Retry-After or backoff) goes through `sleeper`, and resets are read against `clock`: both
    injectable, so tests need not wait.
    """

    max_rate_limit_wait: float = 65.0
    clock: Callable[[], float] = time.time
    sleeper: Sleep = time.sleep
    # How often one request is retried after a slow failure (502, 504, read timeout); None: as
    # any other status or read error. Past it the failure is returned, and the page shrinks.
    slow_retries: int | None = None

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.max_rate_limit_wait = self.max_rate_limit_wait
        retry.clock = self.clock
        retry.sleeper = self.sleeper
        retry.slow_retries = self.slow_retries
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        status = response.status if response is not None else None
        if self.slow_retries is not None and _slow(status, error):
            slow = sum(1 for h in retry.history if _slow(h.status, h.error))
            if slow > self.slow_retries:
                reason = error or ResponseError(ResponseError.SPECIFIC_ERROR.format(status_code=status))
                raise MaxRetryError(_pool, url, reason) from reason
        return retry

    # urllib3 sleeps with time.sleep; these go through `sleeper` (tests inject one that records).
    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after:
            self.sleeper(retry_after)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleeper(backoff)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        if response.status == 429:
            resets = _header_values(response, "X-Ratelimit-Reset")
            if resets:
                wait = max(resets) - self.clock()
                return min(max(wait, 0.0), self.max_rate_limit_wait)
        retry_after = super().get_retry_after(response)
        if retry_after is None:
            return None
        return min(retry_after, self.max_rate_limit_wait)


def _slow(status: int | None, error: Exception | None) -> bool:
    return status in SLOW_STATUSES or isinstance(error, ReadTimeoutError)


def _header_values(response: BaseHTTPResponse, name: str) -> list[float]:
    values: list[float] = []
    for raw in response.headers.getlist(name):
        for part in str(raw).split(","):
            try:
                values.append(float(part.strip()))
            except ValueError:
                continue
    return values


def build_session(
    settings: Settings,
    *,
    sleeper: Sleep = time.sleep,
    clock: Callable[[], float] = time.time,
) -> requests.Session:
    """A session whose adapter retries transient failures, boundedly (waiting with `sleeper`)."""
    retry = CleverRetry(
        total=settings.clever_max_retries,
        connect=settings.clever_max_retries,
        read=settings.clever_max_retries,
        status=settings.clever_max_retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=settings.clever_backoff_factor,
        backoff_max=30.0,
        backoff_jitter=settings.clever_backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.max_rate_limit_wait = settings.clever_max_rate_limit_wait
    retry.slow_retries = settings.clever_slow_retries
    retry.sleeper, retry.clock = sleeper, clock
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # The token endpoint has no smaller page to fall back on: it keeps every retry the settings
    # allow for a 502/504 or a read timeout (requests picks the longest matching prefix).
    tokens = retry.new()
    tokens.slow_retries = None
    oauth = f"{settings.clever_oauth_base.rstrip('/')}/oauth/"
    session.mount(oauth, HTTPAdapter(max_retries=tokens, pool_connections=1, pool_maxsize=2))
    return session


def _short_reason(response: requests.Response) -> str:
    """A short, token-free reason from a JSON (`message`/`error`) or HTML error body."""
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type:
        try:
            body = response.json()
        except (ValueError, RecursionError):
            body = None
        if isinstance(body, dict):
            for key in ("message", "error", "error_description"):
                if isinstance(body.get(key), str) and body[key]:
                    return clean_text(body[key][:_REASON_LIMIT])
    if "html" in content_type or response.text.lstrip()[:1] == "<":
        return f"HTML error page ({response.reason or 'no reason given'})"
    return (response.reason or "no reason given")[:_REASON_LIMIT]


class CleverClient:
    """Talks to Clever for one sync: discovers districts and opens a fetch per district."""

    def __init__(
        self,
        settings: Settings,
        credentials: CleverCredentials,
        session: requests.Session | None = None,
        *,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._sleep = sleep
        self._session = session or build_session(settings, sleeper=sleep)
        self._api_base = settings.clever_api_base.rstrip("/")
        api = urlsplit(self._api_base)
        self._api_origin = (api.scheme, api.netloc)
        self._timeout = (settings.clever_connect_timeout, settings.clever_read_timeout)

    def close(self) -> None:
        self._session.close()

    # District discovery -------------------------------------------------------------------
    def district_tokens(self, district_id: str | None = None) -> dict[str, str]:
        """district id -> Bearer token, for every district that shares data with us (or just one).

        An answer with a `next` link is followed, page after page, so no district past the first
        page drops out of the night. The client secret goes with every page, so a link is followed
        only on the OAuth host and path, never twice, and at most `_TOKEN_PAGES_MAX` pages."""
        params = {"owner_type": "district"}
        if district_id:
            params["district"] = district_id
        endpoint = "/oauth/tokens"
        oauth_base = self._settings.clever_oauth_base.rstrip("/")
        url: str | None = f"{oauth_base}{endpoint}"
        query: dict[str, str] | None = params  # the first page's; a next link carries its own
        tokens: dict[str, str] = {}
        followed = {f"{endpoint}?{urlencode(params)}"}
        while url is not None:
            body = self._tokens_page(url, query, endpoint, district_id)
            for item in _data_list(body, endpoint, district_id):
                owner = item.get("owner") if isinstance(item, dict) else None
                token = item.get("access_token") if isinstance(item, dict) else None
                if not (
                    isinstance(owner, dict) and owner.get("type") == "district" and isinstance(token, str)
                ):
                    raise CleverProtocolError(
                        endpoint, "token entry without a district owner or access_token", 200
                    )
                tokens[str(owner.get("id"))] = token
            url, query = self._next_tokens_page(body, oauth_base, followed, district_id), None
            if url is not None:
                if len(followed) >= _TOKEN_PAGES_MAX:
                    raise CleverProtocolError(
                        endpoint, f"more than {_TOKEN_PAGES_MAX} pages of district tokens", 200, district_id
                    )
                followed.add(_relative(url))
        return tokens

    def _tokens_page(
        self, url: str, params: dict[str, str] | None, endpoint: str, district_id: str | None
    ) -> dict[str, Any]:
        try:
            response = self._session.get(
                url,
                params=params,
                auth=(self._credentials.client_id, self._credentials.client_secret),
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise CleverError(endpoint, _transport_reason(exc), district_id=district_id) from None
        if response.status_code != 200:
            raise CleverError(endpoint, _short_reason(response), response.status_code, district_id)
        return _json_body(response, endpoint, district_id)

    @staticmethod
    def _next_tokens_page(
        body: dict[str, Any], oauth_base: str, followed: set[str], district_id: str | None
    ) -> str | None:
        """The absolute URL of the next page of tokens, checked, or None on the last page."""
        endpoint = "/oauth/tokens"
        uri = _next_link(body, endpoint, district_id or "")
        if uri is None:
            return None
        url = urljoin(oauth_base + "/", uri)
        if urlsplit(url)[:2] != urlsplit(oauth_base)[:2]:
            raise CleverProtocolError(endpoint, "next link points to another host; refused", 200, district_id)
        if _endpoint(url) != endpoint:
            raise CleverProtocolError(endpoint, "next link leaves /oauth/tokens; refused", 200, district_id)
        if _relative(url) in followed:
            raise CleverProtocolError(endpoint, "next link repeats an earlier page", 200, district_id)
        return url

    def district(self, district_id: str, token: str) -> DistrictFetch:
        return DistrictFetch(self, district_id, token)

    # Shared request path ---------------------------------------------------------------
    def _get(self, url: str, token: str) -> requests.Response:
        scheme, netloc = urlsplit(url)[:2]
        if (scheme, netloc) != self._api_origin:
            # Checked before every request, not only for `next` links: the Bearer token never
            # leaves for another host.
            raise CleverProtocolError(_endpoint(url), "link points to another host; refused", 200)
        return self._session.get(
            url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=self._timeout,
            allow_redirects=False,
        )


class DistrictFetch:
    """Paginated reads of one district's resources with its token; refreshes the token once on 401."""

    source = SOURCE_NAME
    resources = tuple(resource.value for resource in Resource)

    def __init__(self, client: CleverClient, district_id: str, token: str) -> None:
        self._client = client
        self.district_id = district_id
        self._token = token
        self._refreshed = False
        self.requests = 0

    def pages(
        self,
        resource: Resource | str,
        start: str | None = None,
        *,
        index: int = 0,
        seen: Iterable[str] = (),
        fits: Callable[[float], bool] | None = None,
    ) -> Iterator[Page]:
        """Every page of `resource`, following `next` until there is none or a page is empty; each
        page's records are minimized to the fields the product uses (clever/normalize.py).

        A page too slow at its size is asked for again, smaller (`_smaller_page`); when `fits`
        says the invocation has no time left for the worst case of that attempt (every slow retry
        running into the read timeout), `PageDeferred` hands the smaller page's link to the
        fetch, which checkpoints there: one page never holds an invocation past its deadline.

        `start` resumes a pagination at a relative link a previous invocation was given as a
        page's `next` (its pages numbered from `index`, the links it already requested in
        `seen`): it must be a path of the same endpoint on CLEVER_API_BASE's host, and no
        cursor may repeat, across the invocations too.
        """
        resource = Resource(resource)
        path, query = RESOURCE_QUERIES[resource]
        role = query.get("role")
        configured = self._client._settings.clever_page_limit
        if start is None:
            params = "&".join(f"{k}={v}" for k, v in {"limit": configured, **query}.items())
            relative = f"{path}?{params}"
        else:
            relative = self._checked_link(start, path)
        # A smaller page than configured, once a slow page made it so (a resumed link carries it).
        shrunk = _limit_of(relative)
        shrunk = shrunk if shrunk is not None and shrunk < configured else None
        seen_links = set(seen)
        if relative in seen_links:
            raise CleverProtocolError(
                _endpoint(relative), "next link repeats an earlier cursor", 200, self.district_id
            )
        while True:
            seen_links.add(relative)
            try:
                body = self._fetch(relative)
            except CleverError as exc:
                smaller = self._smaller_page(relative, exc)
                if smaller is None:
                    raise
                if fits is not None and not fits(self._worst_attempt_seconds()):
                    raise PageDeferred(smaller) from None
                relative, shrunk = smaller, _limit_of(smaller)
                continue
            records = _data_list(body, _endpoint(relative), self.district_id)
            page = [_record(item, relative, self.district_id) for item in records]
            if not page:
                return
            if role is not None:
                self._check_role(page, role, resource, index, relative)
            next_uri = _next_link(body, relative, self.district_id)
            following = None if next_uri is None else self._checked_link(next_uri, None, relative)
            if following is not None and shrunk is not None:
                following = _with_limit(following, shrunk)
            if following is not None and following in seen_links:
                raise CleverProtocolError(
                    _endpoint(following), "next link repeats an earlier cursor", 200, self.district_id
                )
            minimized = [minimize(resource, record) for record in page]
            yield Page(resource.value, index, minimized, link=relative, next=following)
            index += 1
            if following is None:
                return
            relative = following

    def _worst_attempt_seconds(self) -> float:
        """The longest one page size can take: every slow attempt (CLEVER_SLOW_RETRIES + 1) runs
        into the connect and read timeouts, with a backoff between them."""
        settings = self._client._settings
        attempts = settings.clever_slow_retries + 1
        timeouts = settings.clever_connect_timeout + settings.clever_read_timeout
        return attempts * timeouts + attempts * settings.clever_backoff_factor

    def _smaller_page(self, relative: str, exc: CleverError) -> str | None:
        """`relative` asking for half as many records (not below CLEVER_MIN_PAGE_LIMIT), when `exc`
        is a slow failure (502, 504, read timeout; already retried) of a page that can shrink."""
        slow = exc.status in SLOW_STATUSES or (exc.status is None and exc.reason == TIMED_OUT)
        limit = _limit_of(relative)
        if not slow or limit is None:
            return None
        smaller = max(self._client._settings.clever_min_page_limit, limit // 2)
        if smaller >= limit:
            return None
        logger.warning(
            "Clever page too slow; asking for smaller pages",
            extra={
                "district_id": self.district_id,
                "endpoint": _endpoint(relative),
                "status": exc.status,
                "limit": limit,
                "smaller_limit": smaller,
            },
        )
        self._client._sleep(self._client._settings.clever_backoff_factor)
        return _with_limit(relative, smaller)

    def _check_role(
        self, page: list[dict[str, Any]], role: str, resource: Resource, index: int, relative: str
    ) -> None:
        """Every record of a `role=` listing holds that role (Clever v3.0 users: `roles.<role>`).

        `next` links are followed as Clever sends them; one that lost `role=` would drift into other
        roles unnoticed. The error names the resource and the page, never the record."""
        for record in page:
            roles = record.get("roles")
            if not (isinstance(roles, dict) and isinstance(roles.get(role), dict)):
                raise CleverProtocolError(
                    _endpoint(relative),
                    f"{resource.value} page {index} holds a record without the role {role} it was asked for",
                    200,
                    self.district_id,
                )

    def district_name(self, page: Page) -> str | None:
        """The district's name, from its `districts` page."""
        if (
            page.resource == Resource.DISTRICTS
            and page.records
            and isinstance(page.records[0].get("name"), str)
        ):
            return str(page.records[0]["name"])
        return None

    def district_status(self, page: Page) -> DistrictStatus | None:
        """Clever's sync status of the district (state, last_sync, pause, launch), from its page."""
        if page.resource != Resource.DISTRICTS or not page.records:
            return None
        for record in normalize(Resource.DISTRICTS, page.records[0], self.district_id):
            if isinstance(record, DistrictRecord):
                return record.status()
        return None

    def _checked_link(self, uri: str, path: str | None, came_from: str | None = None) -> str:
        """`uri` as a relative link on CLEVER_API_BASE's host (and, when given, on `path`)."""
        url = urljoin(self._client._api_base + "/", uri)
        if (urlsplit(url).scheme, urlsplit(url).netloc) != self._client._api_origin:
            raise CleverProtocolError(
                _endpoint(came_from or uri),
                "next link points to another host; refused",
                200,
                self.district_id,
            )
        relative = _relative(url)
        if path is not None and _endpoint(relative) != path:
            raise CleverProtocolError(
                _endpoint(relative), "resume link is not this resource's endpoint", 200, self.district_id
            )
        return relative

    def _fetch(self, relative: str) -> dict[str, Any]:
        endpoint = _endpoint(relative)
        while True:
            self.requests += 1
            try:
                response = self._client._get(f"{self._client._api_base}{relative}", self._token)
            except CleverError as exc:
                exc.district_id = self.district_id
                raise
            except requests.RequestException as exc:
                raise CleverError(endpoint, _transport_reason(exc), None, self.district_id) from None
            status = response.status_code
            if status == 200:
                return _json_body(response, endpoint, self.district_id)
            if status == 401 and not self._refreshed:
                self._refreshed = True
                logger.info(
                    "Clever token rejected; fetching a new one", extra={"district_id": self.district_id}
                )
                fresh = self._client.district_tokens(self.district_id).get(self.district_id)
                if fresh is None:
                    raise DistrictDisconnected(endpoint, "token revoked", 401, self.district_id)
                self._token = fresh
                continue
            if status == 401:
                raise DistrictDisconnected(endpoint, _short_reason(response), status, self.district_id)
            if status == 404:
                raise self._not_found(endpoint, _short_reason(response))
            raise CleverError(endpoint, _short_reason(response), status, self.district_id)

    def _district_path(self) -> str:
        return f"{RESOURCE_QUERIES[Resource.DISTRICTS][0]}/{quote(self.district_id, safe='')}"

    def _not_found(self, endpoint: str, reason: str) -> CleverError:
        """A 404 disconnects the district only when `/districts/<id>` itself is 404.

        Clever also answers 404 for a resource the app's sharing does not cover and for a path of an
        API version it does not serve: those fail the district with the reason, they do not
        announce a disconnection. So any other 404 asks the district itself (one request; a 404
        there raises DistrictDisconnected from within, any other error propagates as it is)."""
        if endpoint == self._district_path():
            return DistrictDisconnected(
                endpoint, f"the district itself is not found ({reason})", 404, self.district_id
            )
        self._fetch(self._district_path())
        return CleverError(
            endpoint,
            f"not found ({reason}) while the district itself answers: the resource is not shared with"
            " the app, or the API version is wrong",
            404,
            self.district_id,
        )


def _endpoint(relative_or_url: str) -> str:
    """The path of a URL, without query string: safe to log and to put in errors."""
    return urlsplit(relative_or_url).path or "/"


def _limit_of(relative: str) -> int | None:
    """The `limit` a link asks for (None: none, or not a number)."""
    for name, value in parse_qsl(urlsplit(relative).query, keep_blank_values=True):
        if name == "limit":
            return int(value) if value.isdigit() else None
    return None


def _with_limit(relative: str, limit: int) -> str:
    """`relative` with its `limit` parameter set to `limit` (other parameters kept as they are)."""
    parts = urlsplit(relative)
    params = [p for p in parts.query.split("&") if p and not p.startswith("limit=")] if parts.query else []
    query = "&".join([f"limit={limit}", *params])
    return f"{parts.path}?{query}"


def _relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _transport_reason(exc: requests.RequestException) -> str:
    # After urllib3 exhausts its retries, requests reports a ConnectionError wrapping the last cause.
    cause = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.Timeout) or isinstance(cause, TimeoutError | urllib3.exceptions.TimeoutError):
        return TIMED_OUT
    if isinstance(exc, requests.ConnectionError):
        return "connection failed after retries"
    return f"request failed ({type(exc).__name__})"


def _json_body(response: requests.Response, endpoint: str, district_id: str | None) -> dict[str, Any]:
    try:
        body = response.json()
    except RecursionError:
        # Python's decoder recurses per nesting level: an array nested 100,000 deep cannot be read.
        raise CleverProtocolError(
            endpoint, "200 with JSON nested too deeply to read", 200, district_id
        ) from None
    except (ValueError, requests.exceptions.ChunkedEncodingError):
        raise CleverProtocolError(
            endpoint, "200 with a body that is not valid JSON", 200, district_id
        ) from None
    if not isinstance(body, dict):
        raise CleverProtocolError(endpoint, "200 with a JSON body that is not an object", 200, district_id)
    return body


def _data_list(body: dict[str, Any], endpoint: str, district_id: str | None) -> list[Any]:
    data = body.get("data")
    if not isinstance(data, list):
        raise CleverProtocolError(endpoint, "200 without a `data` list", 200, district_id)
    return data


def _record(item: Any, relative: str, district_id: str) -> dict[str, Any]:
    data = item.get("data") if isinstance(item, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise CleverProtocolError(_endpoint(relative), "a record without an `id`", 200, district_id)
    return data


def _next_link(body: dict[str, Any], relative: str, district_id: str) -> str | None:
    links = body.get("links") or []
    if not isinstance(links, list):
        raise CleverProtocolError(_endpoint(relative), "`links` is not a list", 200, district_id)
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next":
            uri = link.get("uri")
            if not isinstance(uri, str) or not uri:
                raise CleverProtocolError(_endpoint(relative), "`next` link without a uri", 200, district_id)
            return uri
    return None
