"""Signed report links: sign/verify, tampering, expiry, the wrong key, and the function's answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from rostersync.report_links import (
    FORBIDDEN_TEXT,
    REDIRECT_SECONDS,
    REPORT_LINK_SECONDS,
    UNAVAILABLE_TEXT,
    InvalidToken,
    LinkClaims,
    SignedReportLinks,
    answer,
    sign,
    verify,
)

KEY = b"k" * 48
OTHER_KEY = b"o" * 48
NOW = 1_800_000_000
DISTRICT = "c838df5300011057e7000000"
RUN = "20261128T070000123456Z-3f9a1c"
REPORT = f"reports/{DISTRICT}/{RUN}/report.html"


def _claims(expires_at: int = NOW + 60) -> LinkClaims:
    return LinkClaims(DISTRICT, RUN, expires_at)


def _event(token: str | None, method: str = "GET") -> dict[str, Any]:
    event: dict[str, Any] = {"requestContext": {"http": {"method": method}}, "rawPath": "/"}
    if token is not None:
        event["queryStringParameters"] = {"t": token}
    return event


def test_a_signed_token_verifies_to_its_claims() -> None:
    token = sign(_claims(), KEY)
    assert verify(token, KEY, NOW) == _claims()
    assert verify(token, KEY, NOW).report_key == REPORT
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidToken, match="signature"):
        verify(sign(_claims(), OTHER_KEY), KEY, NOW)


def test_an_expired_token_is_refused() -> None:
    token = sign(_claims(expires_at=NOW), KEY)
    assert verify(token, KEY, NOW - 1)
    with pytest.raises(InvalidToken, match="expired"):
        verify(token, KEY, NOW)


def test_a_tampered_payload_is_refused() -> None:
    payload, _, signature = sign(_claims(), KEY).partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for change in ({"e": NOW + 10**6}, {"d": "someone-else"}, {"r": "20250101T000000Z-000000"}):
        forged = base64.urlsafe_b64encode(json.dumps(body | change).encode()).rstrip(b"=").decode()
        with pytest.raises(InvalidToken, match="signature"):
            verify(f"{forged}.{signature}", KEY, NOW)


def test_a_tampered_signature_is_refused() -> None:
    token = sign(_claims(), KEY)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(InvalidToken):
        verify(flipped, KEY, NOW)


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.", ".abc", "a.b.c", "é.x", "x" * 2000])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify(token, KEY, NOW)


def test_a_validly_signed_but_unexpected_payload_is_refused() -> None:
    """Defence in depth: only what `sign` issues is accepted, even under the right key."""
    from rostersync.report_links import _b64encode, _signature

    for body in (
        {"v": 2, "d": DISTRICT, "r": RUN, "e": NOW + 60},
        {"v": 1, "d": "../raw", "r": RUN, "e": NOW + 60},
        {"v": 1, "d": DISTRICT, "r": RUN, "e": "soon"},
        {"v": 1, "d": DISTRICT, "r": RUN, "e": NOW + REPORT_LINK_SECONDS * 10},
        [1, 2],
    ):
        payload = _b64encode(json.dumps(body).encode())
        with pytest.raises(InvalidToken):
            verify(f"{payload}.{_signature(KEY, payload)}", KEY, NOW)


def test_short_keys_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sign(_claims(), b"short")


def test_links_only_point_at_report_html() -> None:
    assert LinkClaims.for_report_key(REPORT, NOW).run_id == RUN
    for key in (
        f"raw/{DISTRICT}/{RUN}/manifest.json",
        f"reports/{DISTRICT}/{RUN}/findings.csv",
        "reports/../x",
    ):
        with pytest.raises(ValueError, match=r"report\.html"):
            LinkClaims.for_report_key(key, NOW)


def test_signed_report_links_last_the_full_seven_days() -> None:
    links = SignedReportLinks("https://abc.lambda-url.us-east-1.on.aws/", lambda: KEY, clock=lambda: NOW)
    url = links.presigned_url(REPORT, REPORT_LINK_SECONDS)
    assert url.startswith("https://abc.lambda-url.us-east-1.on.aws/?t=")
    claims = verify(url.partition("?t=")[2], KEY, NOW + REPORT_LINK_SECONDS - 1)
    assert claims.expires_at == NOW + REPORT_LINK_SECONDS
    with pytest.raises(InvalidToken, match="expired"):
        verify(url.partition("?t=")[2], KEY, NOW + REPORT_LINK_SECONDS)
    with pytest.raises(ValueError, match="7 days"):
        links.presigned_url(REPORT, REPORT_LINK_SECONDS + 1)
    with pytest.raises(ValueError, match="https"):
        SignedReportLinks("http://insecure.example", lambda: KEY)


# ------------------------------------------------------------------------------ answer


def _presign(key: str, expires_in: int) -> str:
    return f"https://bucket.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}"


def test_a_valid_token_redirects_to_a_short_lived_presign_of_its_report() -> None:
    response = answer(_event(sign(_claims(), KEY)), lambda: KEY, _presign, clock=lambda: NOW)
    assert response["statusCode"] == 302
    assert response["headers"]["Location"] == _presign(REPORT, REDIRECT_SECONDS)
    assert REDIRECT_SECONDS == 300
    assert response["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "token",
    [None, "", "garbage", sign(_claims(), OTHER_KEY), sign(_claims(expires_at=NOW - 1), KEY)],
    ids=["absent", "empty", "garbage", "wrong-key", "expired"],
)
def test_every_refusal_is_the_same_plain_403(token: str | None, caplog: pytest.LogCaptureFixture) -> None:
    response = answer(_event(token), lambda: KEY, _presign, clock=lambda: NOW)
    assert response["statusCode"] == 403
    assert response["body"] == FORBIDDEN_TEXT
    assert "Location" not in response["headers"]
    if token:
        assert token not in caplog.text


def test_other_methods_are_not_allowed() -> None:
    response = answer(_event(sign(_claims(), KEY), method="POST"), lambda: KEY, _presign, clock=lambda: NOW)
    assert response["statusCode"] == 405


def test_an_unreadable_key_is_a_503_not_a_403() -> None:
    def broken() -> bytes:
        raise RuntimeError("AccessDenied")

    response = answer(_event(sign(_claims(), KEY)), broken, _presign, clock=lambda: NOW)
    assert response["statusCode"] == 503
    assert "AccessDenied" not in response["body"]


def test_a_key_under_32_bytes_is_a_logged_503_not_an_unhandled_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 14: a short ReportLinkKeySecret made verify raise ValueError out of the handler (500).
    token = sign(_claims(), KEY)
    response = answer(_event(token), lambda: b"short", _presign, clock=lambda: NOW)
    assert response["statusCode"] == 503
    assert response["body"] == UNAVAILABLE_TEXT
    assert "report link key too short" in caplog.text
    assert token not in caplog.text and "short'" not in caplog.text
