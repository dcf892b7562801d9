"""Local Clever Data API v3.0 server on loopback (stdlib `ThreadingHTTPServer`).

Serves `/oauth/tokens` (HTTP Basic) and the bearer-authenticated `/v3.0/...` list endpoints for the
generated districts, with Clever's pagination (`limit`, `starting_after`, relative `next` links) and
injectable faults (see `Faults`).  A second listener, the *trap*, only records hits: it is the
off-host target of `Faults.off_host_next`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import struct
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .config import (
    MAX_SLOW_SECONDS,
    DistrictSpec,
    Faults,
    RequestLogEntry,
    SandboxConfig,
    clever_id,
    default_config,
)
from .generator import SCOPES, DistrictData, dumps, page_items

MAX_LIMIT = 10000
DEFAULT_LIMIT = 100
LIST_RESOURCES = ("districts", "schools", "users", "sections", "terms", "courses")
USER_ROLES = ("student", "teacher", "staff", "district_admin", "contact")
HTML_ERROR = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def _clever_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _live_status(record: dict[str, Any], spec: DistrictSpec) -> dict[str, Any]:
    """The district object with its sync times relative to now (DistrictSpec.last_sync_hours_ago,
    pause_days), to the hour, so that it is stable within a test."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    out = dict(record)
    hours = spec.last_sync_hours_ago
    out["last_sync"] = None if hours is None else _clever_time(now - timedelta(hours=hours))
    if spec.pause_days is not None:
        start, end = spec.pause_days
        out["pause_start"] = _clever_time(now + timedelta(days=start))
        out["pause_end"] = _clever_time(now + timedelta(days=end))
    return out


def _hostile(body: bytes, mode: str, depth: int) -> bytes:
    """A 200 body turned hostile (see `Faults.hostile_json`); the rest of the page is unchanged."""
    depth = max(1, depth)
    if mode == "deep_array":
        return b'{"nested":' + b"[" * depth + b"]" * depth + b"," + body.lstrip()[1:]
    if mode == "deep_field":
        nested = b"[" * depth + b'"x"' + b"]" * depth
        return body.replace(b'"last":', b'"last":' + nested + b',"was_last":', 1)
    return body.replace(b'"last":"', b'"last":"\\ud800', 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    sandbox: CleverSandbox


class _Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []


def _json(status: int, obj: object) -> _Response:
    return _Response(status, dumps(obj))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CleverSandbox/1.0"
    sys_version = ""
    timeout = 10
    disable_nagle_algorithm = True
    server: _Server
    was_reset = False
    _headers_buffer: list[bytes]

    def log_message(self, format: str, *args: Any) -> None:
        return  # never log requests to stderr

    def do_GET(self) -> None:
        self.server.sandbox._dispatch(self)

    def do_POST(self) -> None:
        self.server.sandbox._dispatch(self)

    def send(self, resp: _Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers:
            self.send_header(name, value)
        # headers and body in one write (no Nagle/delayed-ACK stall between them)
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(resp.body)
        self.flush_headers()

    def reset_connection(self) -> None:
        """Close the socket with an RST and no response at all."""
        self.close_connection = True
        self.was_reset = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.wfile = _NullWriter()  # type: ignore[assignment]


class _NullWriter:
    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    @property
    def closed(self) -> bool:
        return False


class _TrapHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        sandbox = self.server.sandbox
        with sandbox._lock:
            sandbox.trap_hits.append(self.path)
        body = b'{"message": "nothing here"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class CleverSandbox:
    """A local Clever API; use as a context manager or `start()`/`stop()`."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or default_config()
        self.client_id = self.config.client_id
        self.client_secret = self.config.client_secret
        self.faults = Faults()
        self.requests: list[RequestLogEntry] = []
        self.trap_hits: list[str] = []
        self.api_base = ""
        self.oauth_base = ""
        self.trap_base = ""
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._data: dict[str, DistrictData] = {d.id: DistrictData(d) for d in self.config.districts}
        self._generation: dict[str, int] = dict.fromkeys(self._data, 0)
        self._revoked: set[str] = set()
        self._tokens: dict[str, str] = {}  # bearer -> district id
        self._rate_counter = 0
        self._error_counter = 0
        self._slow_in_flight = 0  # requests held by the slow_seconds fault right now
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        for district_id in self._data:
            self._tokens[self._token_for(district_id)] = district_id

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> CleverSandbox:
        if self._servers:
            return self
        self._stop.clear()
        api = _Server((self.config.host, 0), _Handler)
        try:
            trap = _Server((self.config.trap_host, 0), _TrapHandler)
        except OSError:
            trap = _Server((self.config.host, 0), _TrapHandler)
        for srv in (api, trap):
            srv.sandbox = self
            thread = threading.Thread(
                target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="clever-sandbox"
            )
            thread.start()
            self._servers.append(srv)
            self._threads.append(thread)
        host, port = api.server_address[:2]
        self.api_base = f"http://{host!s}:{port}"
        self.oauth_base = self.api_base
        thost, tport = trap.server_address[:2]
        self.trap_base = f"http://{thost!s}:{tport}"
        return self

    def busy(self) -> bool:
        """Whether a request is being held by the `slow_seconds` fault right now (tests wait for it
        instead of sleeping)."""
        with self._lock:
            return self._slow_in_flight > 0

    def stop(self) -> None:
        self._stop.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for thread in self._threads:
            thread.join(timeout=1)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> CleverSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- tokens -------------------------------------------------------------------------------
    def district_ids(self) -> list[str]:
        return list(self._data)

    def district(self, district_id: str) -> DistrictData:
        return self._data[district_id]

    def _token_for(self, district_id: str) -> str:
        gen = self._generation[district_id]
        seed = self._data[district_id].seed
        return hashlib.sha256(f"clever-sandbox-token:{seed}:{district_id}:{gen}".encode()).hexdigest()[:40]

    def token(self, district_id: str) -> str | None:
        """Current bearer of a district (None if revoked)."""
        with self._lock:
            return None if district_id in self._revoked else self._token_for(district_id)

    def revoke(self, district_id: str) -> None:
        with self._lock:
            self._revoked.add(district_id)
            self._tokens = {t: d for t, d in self._tokens.items() if d != district_id}

    def restore(self, district_id: str) -> None:
        """Undo `revoke` (a fresh token is issued)."""
        with self._lock:
            self._revoked.discard(district_id)
            self.rotate_token(district_id)

    def rotate_token(self, district_id: str) -> None:
        with self._lock:
            self._tokens = {t: d for t, d in self._tokens.items() if d != district_id}
            self._generation[district_id] += 1
            if district_id not in self._revoked:
                self._tokens[self._token_for(district_id)] = district_id

    def _token_entry(self, district_id: str) -> dict[str, Any]:
        gen = self._generation[district_id]
        seed = self._data[district_id].seed
        return {
            "id": clever_id(seed, 11, gen),
            "created": self.config.created,
            "owner": {"type": "district", "id": district_id},
            "access_token": self._token_for(district_id),
            "scopes": list(SCOPES),
        }

    # --- request handling -----------------------------------------------------------------------
    def _log(self, h: _Handler, path: str, query: dict[str, str], district: str | None, status: int) -> None:
        with self._lock:
            self.requests.append(RequestLogEntry(h.command, path, query, district, status))

    def _dispatch(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        district: str | None = None
        if path == "/oauth/tokens":
            faulted = self.faults.include_oauth and self._matches(h.path, None)
            resp = self._apply_faults(h, faulted) if faulted else None
            if resp is None and not h.was_reset:
                resp = self._tokens_endpoint(h, query)
        elif path.startswith("/v3.0/"):
            district, resp = self._authenticate(h)
            if resp is None:
                faulted = self._matches(h.path, district)
                resp = self._apply_faults(h, faulted) if faulted else None
                if resp is None and not h.was_reset and faulted:
                    resp = self._big_page(query)
                if resp is None and not h.was_reset:
                    resp = self._api(path, query, district)
                    if faulted:
                        resp = self._mangle_ok(resp)
        else:
            resp = _json(404, {"message": f"unknown path {path}"})
        if h.was_reset or resp is None:
            self._log(h, path, query, district, 0)
            return
        self._log(h, path, query, district, resp.status)
        h.send(resp)

    def _matches(self, target: str, district: str | None) -> bool:
        f = self.faults
        if f.match_district is not None and f.match_district != district:
            return False
        return not (f.match_path is not None and f.match_path not in target)

    def _take(self, name: str) -> bool:
        """Atomically consume one unit of a 'next K requests' fault counter."""
        with self._lock:
            left = getattr(self.faults, name)
            if left > 0:
                setattr(self.faults, name, left - 1)
                return True
            return False

    def _apply_faults(self, h: _Handler, faulted: bool) -> _Response | None:
        f = self.faults
        if f.slow_seconds > 0:
            with self._lock:
                self._slow_in_flight += 1
            try:
                self._stop.wait(min(float(f.slow_seconds), MAX_SLOW_SECONDS))
            finally:
                with self._lock:
                    self._slow_in_flight -= 1
        if self._take("connection_reset"):
            h.reset_connection()
            return None
        if f.rate_limit_every > 0:
            with self._lock:
                self._rate_counter += 1
                hit = self._rate_counter % f.rate_limit_every == 0
            if hit:
                return self._rate_limited()
        if self._take("server_errors"):
            with self._lock:
                statuses = f.server_error_statuses or (500,)
                status = statuses[self._error_counter % len(statuses)]
                self._error_counter += 1
            if f.html_errors:
                return _Response(status, HTML_ERROR, "text/html")
            return _json(status, {"message": _REASONS.get(status, "error")})
        return None

    def _big_page(self, query: dict[str, str]) -> _Response | None:
        """`Faults.big_page_limit`: a gateway error (or a slow answer) for pages above the limit."""
        f = self.faults
        try:
            limit = int(query.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            return None
        if f.big_page_limit <= 0 or limit <= f.big_page_limit:
            return None
        if f.big_page_status:
            return _json(f.big_page_status, {"message": "Gateway Timeout"})
        self._stop.wait(min(float(f.big_page_sleep), MAX_SLOW_SECONDS))
        return None

    def _rate_limited(self) -> _Response:
        now = int(time.time())
        headers: list[tuple[str, str]] = []
        for limit, offset in self.faults.rate_limit_buckets:
            headers.append(("X-Ratelimit-Limit", str(limit)))
            headers.append(("X-Ratelimit-Remaining", "0"))
            headers.append(("X-Ratelimit-Reset", str(now + max(0, min(int(offset), 5)))))
        if self.faults.html_errors:
            return _Response(
                429, b"<html><body><h1>429 Too Many Requests</h1></body></html>", "text/html", headers
            )
        return _Response(429, dumps({"message": "Too Many Requests"}), headers=headers)

    def _mangle_ok(self, resp: _Response) -> _Response:
        if resp.status != 200:
            return resp
        if self._take("garbage_200"):
            if self.faults.garbage_mode == "no_id":
                body = resp.body.replace(b'"id":', b'"not_id":')
                return _Response(200, body)
            return _json(200, {"links": []})
        if self._take("truncated_json"):
            return _Response(200, resp.body[: max(1, len(resp.body) // 2)])
        if self._take("hostile_json"):
            return _Response(200, _hostile(resp.body, self.faults.hostile_mode, self.faults.hostile_depth))
        return resp

    def _authenticate(self, h: _Handler) -> tuple[str | None, _Response | None]:
        auth = h.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, _json(401, {"message": "missing bearer token"})
        with self._lock:
            district = self._tokens.get(token.strip())
            if district is None:
                return None, _json(401, {"message": "invalid or revoked token"})
            if district in self.faults.unauthorized_once:
                self.faults.unauthorized_once.discard(district)
                self.rotate_token(district)
                return district, _json(401, {"message": "token expired"})
        return district, None

    def _tokens_endpoint(self, h: _Handler, query: dict[str, str]) -> _Response:
        auth = h.headers.get("Authorization", "")
        scheme, _, encoded = auth.partition(" ")
        ok = False
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except ValueError:
                user, password = "", ""
            ok = hmac.compare_digest(user, self.client_id) and hmac.compare_digest(
                password, self.client_secret
            )
        if not ok:
            return _Response(
                401,
                dumps({"error": "invalid_client"}),
                headers=[("WWW-Authenticate", 'Basic realm="Clever"')],
            )
        owner_type = query.get("owner_type", "district")
        if owner_type != "district":
            return _json(400, {"error": "invalid_request", "message": "owner_type must be district"})
        with self._lock:
            wanted = query.get("district")
            ids = [wanted] if wanted else list(self._data)
            ids = [d for d in ids if d in self._data and d not in self._revoked]
            size = self.config.tokens_page_size
            if not size:
                return _json(200, {"data": [self._token_entry(d) for d in ids]})
            cursor = query.get("starting_after") or None
            start = ids.index(cursor) + 1 if cursor in ids else 0
            page = ids[start : start + size]
            data = [self._token_entry(d) for d in page]
        links: list[dict[str, str]] = []
        if page and start + len(page) < len(ids):
            f = self.faults
            next_cursor = cursor if (f.include_oauth and f.repeat_cursor and cursor) else page[-1]
            params = {k: v for k, v in query.items() if k != "starting_after"}
            uri = f"/oauth/tokens?{urlencode([*sorted(params.items()), ('starting_after', next_cursor)])}"
            if f.include_oauth and f.off_host_next:
                uri = self.trap_base + uri
            links.append({"rel": "next", "uri": uri})
        return _json(200, {"data": data, "links": links})

    def _api(self, path: str, query: dict[str, str], district: str | None) -> _Response:
        assert district is not None
        data = self._data[district]
        segments = [p for p in path[len("/v3.0/") :].split("/") if p]
        if not segments or segments[0] not in LIST_RESOURCES or len(segments) > 2:
            return _json(404, {"message": f"unknown path {path}"})
        resource = segments[0]
        role = query.get("role") or None
        if resource == "users" and role is not None and role not in USER_ROLES:
            return _json(400, {"message": f"invalid role {role!r}"})
        listing = data.listing(resource, role)
        assert listing is not None
        if len(segments) == 2:
            rec = listing.find(segments[1])
            if rec is None:
                return _json(404, {"message": f"{resource[:-1]} {segments[1]} not found"})
            if resource == "districts":
                rec = _live_status(rec, data.spec)
            return _json(200, {"data": rec, "links": [{"rel": "self", "uri": path}]})

        raw_limit = query.get("limit", "")
        try:
            limit = int(raw_limit) if raw_limit else DEFAULT_LIMIT
        except ValueError:
            return _json(400, {"message": f"invalid limit {raw_limit!r}"})
        if limit > MAX_LIMIT:
            return _json(413, {"message": f"limit must be at most {MAX_LIMIT}"})
        if limit < 1:
            return _json(400, {"message": "limit must be positive"})
        cursor = query.get("starting_after") or None
        start = listing.position_after(cursor)
        if cursor and self.faults.duplicate_across_pages:
            start = max(0, start - 1)  # the previous page's last record, served again
        items = page_items(listing, start, limit)
        if resource == "districts":
            items = [{**item, "data": _live_status(item["data"], data.spec)} for item in items]
        target = path + ("?" + urlencode(query) if query else "")
        links: list[dict[str, str]] = [{"rel": "self", "uri": target}]
        more = start + len(items) < len(listing)
        f = self.faults
        if items and (more or f.empty_trailing_page):
            next_cursor = items[-1]["data"]["id"]
            if f.repeat_cursor and cursor:
                next_cursor = cursor
            dropped = ["starting_after", "ending_before"]
            if f.next_drops_role and f.match_district in (None, district):
                dropped.append("role")
            params = {k: v for k, v in query.items() if k not in dropped}
            params["limit"] = str(limit)
            ordered = sorted(params.items())
            ordered.append(("starting_after", next_cursor))
            uri = f"{path}?{urlencode(ordered)}"
            if f.off_host_next:
                uri = self.trap_base + uri
            links.append({"rel": "next", "uri": uri})
        return _json(200, {"data": items, "links": links})
