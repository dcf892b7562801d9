"""The report-link function against the moto server: a signed link -> 302 -> the report; else 403."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests

from rostersync.report_links import FORBIDDEN_TEXT, LinkClaims, sign
from rostersync.settings import Settings, get_settings
from rostersync_cli.lambda_context import LocalLambdaContext
from rostersync_cli.template import functions, load_handler, load_template

DISTRICT = "c838df5300011057e7000000"
RUN = "20261128T070000123456Z-3f9a1c"
REPORT = f"reports/{DISTRICT}/{RUN}/report.html"
HTML = "<!doctype html><title>Report</title><h1>Schuylkill Haven</h1>"


@pytest.fixture
def link_key(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A ReportLinkKeySecret in moto, like the template's GenerateSecretString makes."""
    value = secrets.token_urlsafe(48)
    name = f"{aws_env['CLEVER_SECRET_ID']}/report-link-key"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
    monkeypatch.setenv("REPORT_LINK_SECRET_ID", name)
    get_settings.cache_clear()
    return value.encode()


@pytest.fixture
def report(raw_bucket: str) -> str:
    boto3.client("s3").put_object(
        Bucket=raw_bucket, Key=REPORT, Body=HTML.encode(), ContentType="text/html; charset=utf-8"
    )
    return REPORT


@pytest.fixture
def handler() -> Callable[..., Any]:
    return load_handler(functions(load_template())["ReportLinkFunction"])


def _request(token: str) -> dict[str, Any]:
    """A Function URL request (payload format 2.0), as Lambda passes it."""
    return {
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": f"t={token}",
        "queryStringParameters": {"t": token},
        "requestContext": {"http": {"method": "GET", "path": "/"}},
        "isBase64Encoded": False,
    }


def test_a_valid_link_redirects_to_a_url_that_gets_the_report(
    settings: Settings, report: str, link_key: bytes, handler: Callable[..., Any]
) -> None:
    token = sign(LinkClaims.for_report_key(report, int(time.time()) + 7 * 24 * 3600), link_key)

    response = handler(_request(token), LocalLambdaContext("ReportLinkFunction"))

    assert response["statusCode"] == 302
    location = response["headers"]["Location"]
    assert "X-Amz-Expires=300" in location and settings.raw_bucket in location
    fetched = requests.get(location, timeout=10, allow_redirects=False)
    assert fetched.status_code == 200
    assert fetched.text == HTML


def test_an_expired_link_is_refused(report: str, link_key: bytes, handler: Callable[..., Any]) -> None:
    token = sign(LinkClaims.for_report_key(report, int(time.time()) - 1), link_key)

    response = handler(_request(token), LocalLambdaContext("ReportLinkFunction"))

    assert response["statusCode"] == 403
    assert response["body"] == FORBIDDEN_TEXT
    assert "Location" not in response["headers"]


def test_a_link_signed_with_another_key_is_refused(
    report: str, link_key: bytes, handler: Callable[..., Any]
) -> None:
    token = sign(LinkClaims.for_report_key(report, int(time.time()) + 60), b"x" * 64)
    assert handler(_request(token), LocalLambdaContext("ReportLinkFunction"))["statusCode"] == 403


def test_a_missing_key_secret_is_a_503(
    report: str, aws_env: dict[str, str], handler: Callable[..., Any]
) -> None:
    """No ReportLinkKeySecret (or no permission to read it): unavailable, not 'your link is bad'."""
    token = sign(LinkClaims.for_report_key(report, int(time.time()) + 60), b"x" * 64)
    response = handler(_request(token), LocalLambdaContext("ReportLinkFunction"))
    assert response["statusCode"] == 503
