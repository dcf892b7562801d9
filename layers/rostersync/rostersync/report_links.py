"""Report links that last their full 7 days: signed tokens, answered by the report-link function.

An S3 presigned URL dies with the credentials that signed it, and a Lambda role's credentials
last hours. So alerts carry `<REPORT_LINK_BASE_URL>/?t=<token>` instead, where

    token = base64url(payload) "." base64url(HMAC-SHA256(key, base64url(payload)))
    payload = {"v": 1, "d": district_id, "r": run_id, "e": expiry (unix seconds)}

and the key is a Secrets Manager secret only the functions that sign or check links can read.
The report-link function (`ReportLinkFunction`, a Lambda Function URL) checks the signature in
constant time and the expiry, then redirects to a fresh 5-minute presigned GET of that one
`reports/<district>/<run>/report.html`. The token names a district and a run, never a key: a
token, even one signed with a leaked key, can only ever reach a report.html.

Rotating the key invalidates the links already sent (they fail closed with a 403).
No boto3 here: the key comes from a callable, the presigning from a callable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rostersync.layout import REPORT_KEY_PATTERN, report_key
from rostersync.observability import logger

TOKEN_VERSION = 1
REPORT_LINK_SECONDS = 7 * 24 * 3600
# The redirect target lives only long enough to be followed.
REDIRECT_SECONDS = 300
# Tokens we never issue: longer than this, or expiring further ahead than 7 days and a margin.
MAX_TOKEN_CHARS = 1024
_MAX_FUTURE_SECONDS = REPORT_LINK_SECONDS + 3600
MIN_KEY_BYTES = 32

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

KeyProvider = Callable[[], bytes]
Presigner = Callable[[str, int], str]

FORBIDDEN_TEXT = "This report link is invalid or has expired. Ask support for a new one.\n"
UNAVAILABLE_TEXT = "Reports are unavailable right now. Please try again in a few minutes.\n"


class InvalidToken(ValueError):
    """A token that is malformed, tampered with, signed with another key, or expired.

    The message is for logs only (a short reason, never the token); callers answer 403 whatever it says.
    """


@dataclass(frozen=True, slots=True)
class LinkClaims:
    district_id: str
    run_id: str
    expires_at: int  # unix seconds

    def __post_init__(self) -> None:
        if not _ID.fullmatch(self.district_id) or not _ID.fullmatch(self.run_id):
            raise ValueError("district and run ids are 1-64 letters, digits, '-' or '_'")

    @property
    def report_key(self) -> str:
        return report_key(self.district_id, self.run_id)

    @classmethod
    def for_report_key(cls, key: str, expires_at: int) -> LinkClaims:
        """Claims for `reports/<district>/<run>/report.html`; anything else is refused."""
        match = REPORT_KEY_PATTERN.fullmatch(key)
        if match is None:
            raise ValueError("report links point at reports/<district>/<run>/report.html only")
        return cls(match["d"], match["r"], expires_at)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the report link key must be at least {MIN_KEY_BYTES} bytes")


def _signature(key: bytes, payload: str) -> str:
    return _b64encode(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def sign(claims: LinkClaims, key: bytes) -> str:
    """The token for `claims`."""
    _check_key(key)
    body = {"v": TOKEN_VERSION, "d": claims.district_id, "r": claims.run_id, "e": int(claims.expires_at)}
    payload = _b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_signature(key, payload)}"


def verify(token: str, key: bytes, now: float) -> LinkClaims:
    """The claims of a token signed with `key` that has not expired at `now`; InvalidToken otherwise."""
    _check_key(key)
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise InvalidToken("malformed")
    payload, dot, signature = token.partition(".")
    if not dot or not payload or not signature:
        raise InvalidToken("malformed")
    # Constant time over the whole signature: no early exit tells an attacker how much matched.
    if not hmac.compare_digest(_signature(key, payload), signature):
        raise InvalidToken("bad signature")
    try:
        body: Any = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed payload") from None
    if not isinstance(body, dict) or body.get("v") != TOKEN_VERSION:
        raise InvalidToken("unknown version")
    district_id, run_id, expires_at = body.get("d"), body.get("r"), body.get("e")
    if not isinstance(district_id, str) or not isinstance(run_id, str):
        raise InvalidToken("malformed claims")
    if not isinstance(expires_at, int) or isinstance(expires_at, bool):
        raise InvalidToken("malformed claims")
    if expires_at <= now:
        raise InvalidToken("expired")
    if expires_at > now + _MAX_FUTURE_SECONDS:
        raise InvalidToken("expiry too far ahead")
    try:
        return LinkClaims(district_id, run_id, expires_at)
    except ValueError:
        raise InvalidToken("malformed claims") from None


def link_url(base_url: str, token: str) -> str:
    """`https://<function url>/?t=<token>` (tokens are base64url and '.', safe in a query)."""
    return f"{base_url.rstrip('/')}/?t={token}"


class SignedReportLinks:
    """alerts.notify.ReportLinks through the report-link function: links valid for their whole life.

    `presigned_url` keeps the ReportLinks protocol's name; the link it returns is signed by us,
    not by AWS, and only the report-link function turns it into an S3 request.
    """

    def __init__(self, base_url: str, key: KeyProvider, clock: Callable[[], float] = time.time) -> None:
        if not base_url.startswith("https://"):
            raise ValueError("REPORT_LINK_BASE_URL must be an https:// URL")
        self.base_url = base_url
        self._key = key
        self._clock = clock

    def presigned_url(self, key: str, expires_in: int) -> str:
        if not 0 < expires_in <= REPORT_LINK_SECONDS:
            raise ValueError(f"a report link lasts 1 s to 7 days, not {expires_in} s")
        claims = LinkClaims.for_report_key(key, int(self._clock()) + expires_in)
        return link_url(self.base_url, sign(claims, self._key()))


# ------------------------------------------------------------------ the report-link function


def _text(status: int, text: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/plain; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
        "body": text,
    }


def answer(
    event: dict[str, Any], key: KeyProvider, presign: Presigner, clock: Callable[[], float] = time.time
) -> dict[str, Any]:
    """A Function URL request (payload 2.0) -> 302 to the report, or 403 / 405 / 503 in plain text.

    Neither the response nor the log says why a token was refused, and the token is never logged.
    """
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "GET")
    if method not in {"GET", "HEAD"}:
        refused = _text(405, "Method not allowed.\n")
        refused["headers"]["Allow"] = "GET, HEAD"
        return refused
    token = (event.get("queryStringParameters") or {}).get("t") or ""
    try:
        secret = key()
    except Exception as exc:  # the key is unreadable: not the visitor's fault, and not a 403
        logger.error("report link key unavailable", extra={"error": type(exc).__name__})
        return _text(503, UNAVAILABLE_TEXT)
    if len(secret) < MIN_KEY_BYTES:  # misconfigured (not the visitor's fault): say why in the log only
        logger.error(
            "report link key too short", extra={"key_bytes": len(secret), "min_key_bytes": MIN_KEY_BYTES}
        )
        return _text(503, UNAVAILABLE_TEXT)
    try:
        claims = verify(token, secret, clock())
    except InvalidToken as exc:
        logger.info("report link refused", extra={"reason": str(exc)})
        return _text(403, FORBIDDEN_TEXT)
    try:
        location = presign(claims.report_key, REDIRECT_SECONDS)
    except Exception as exc:
        logger.error("report presign failed", extra={"error": type(exc).__name__})
        return _text(503, UNAVAILABLE_TEXT)
    logger.info("report link served", extra={"district_id": claims.district_id, "run_id": claims.run_id})
    response = _text(302, "")
    response["headers"]["Location"] = location
    return response
