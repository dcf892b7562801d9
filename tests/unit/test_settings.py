"""Settings: the data's locations are explicit in Lambda; the defaults serve the local CLI only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rostersync.settings import REQUIRED_IN_LAMBDA, Settings

LOCATIONS = {
    "RAW_BUCKET": "stack-raw-123",
    "ROSTER_TABLE": "stack-roster",
    "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:stack-alerts",
}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*LOCATIONS, "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_outside_lambda_the_local_defaults_apply(clean_environment: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.raw_bucket == "rostersync-raw"
    assert settings.roster_table == "rostersync-roster"


@pytest.mark.parametrize("missing", REQUIRED_IN_LAMBDA)
def test_in_lambda_a_missing_location_fails_the_cold_start_naming_it(
    clean_environment: pytest.MonkeyPatch, missing: str
) -> None:
    """Bug: in Lambda a missing RAW_BUCKET fell back to `rostersync-raw`, a bucket name anyone in
    the world could own, and the function wrote student data there."""
    clean_environment.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-FetchFunction-abc")
    for name, value in LOCATIONS.items():
        if name != missing:
            clean_environment.setenv(name, value)
    with pytest.raises(ValidationError, match=rf"{missing} must be set in the function's environment"):
        Settings()


def test_in_lambda_the_given_locations_are_used(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("AWS_LAMBDA_FUNCTION_NAME", "stack-FetchFunction-abc")
    for name, value in LOCATIONS.items():
        clean_environment.setenv(name, value)
    settings = Settings()
    assert (settings.raw_bucket, settings.roster_table, settings.alert_topic_arn) == tuple(LOCATIONS.values())
