"""No student data, token or secret in any log line, at DEBUG, while the pipeline runs the demo data
for two nights (a PA Secure ID active in two districts goes through the registry: its reads,
writes and support's alert are scanned too).

Runs fetch and validate through the template's handlers over the sandbox's default districts
with every logger at DEBUG, captures stdout, stderr and every log record, and scans them for
the sandbox's student names, e-mails and state ids, and for the tokens and client secret.
"""

from __future__ import annotations

import logging
import re

import pytest

from rostersync_cli.local_functions import LocalFunctions
from rostersync_cli.sandbox import CleverSandbox
from tests.integration.conftest import connect_pipeline, run_night


def _bare_identifiers(sandbox: CleverSandbox) -> set[str]:
    """Every person's bare first name, last name and SIS id (matched as whole words): a log line
    that names "Kowalski" or "sis-000123" alone leaks as much as one with the full name."""
    words: set[str] = set()
    for district_id in sandbox.district_ids():
        listing = sandbox.district(district_id).listing("users")
        assert listing is not None
        for record in listing.all_records():
            data = record.get("data", record)
            name = data.get("name") or {}
            words.update(
                v for v in (name.get("first"), name.get("last")) if isinstance(v, str) and len(v) >= 3
            )
            for role in (data.get("roles") or {}).values():
                sis_id = role.get("sis_id") if isinstance(role, dict) else None
                if isinstance(sis_id, str) and len(sis_id) >= 4:
                    words.add(sis_id)
    return words


def _sensitive_values(sandbox: CleverSandbox) -> set[str]:
    """Every student's name pair, e-mail and state id; every person's e-mail; tokens; the secret."""
    values = {sandbox.client_secret}
    for district_id in sandbox.district_ids():
        token = sandbox.token(district_id)
        if token:
            values.add(token)
        listing = sandbox.district(district_id).listing("users")
        assert listing is not None
        for record in listing.all_records():
            data = record.get("data", record)
            name = data.get("name") or {}
            if data.get("email"):
                values.add(data["email"])
            student = (data.get("roles") or {}).get("student")
            if student:
                if name.get("first") and name.get("last"):
                    values.add(f"{name['last']}, {name['first']}")
                    values.add(f"{name['first']} {name['last']}")
                state_id = (student.get("state_id") or "").strip()
                if len(state_id) >= 8:
                    values.add(state_id)
    return values


@pytest.fixture
def sandbox() -> CleverSandbox:
    with CleverSandbox() as server:
        yield server


def test_a_debug_run_logs_no_student_data_tokens_or_secrets(
    aws_env: dict[str, str],
    sandbox: CleverSandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    connect_pipeline(monkeypatch, sandbox, POWERTOOLS_LOG_LEVEL="DEBUG", POWERTOOLS_METRICS_DISABLED="true")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("rostersync").setLevel(logging.DEBUG)
    sandbox.faults.unauthorized_once = {sandbox.district_ids()[0]}  # exercise the token-refresh path too
    sandbox.faults.server_errors = 2  # and the retry path

    outcomes = run_night(LocalFunctions())
    # A second night: the student Austin Area shares after they moved from Allegheny Valley (other
    # records: a conflict) stays untrusted there; the registry's work logs, night after night.
    second = run_night(LocalFunctions())

    assert outcomes and all(o.stages.get("validate") for o in outcomes if o.fetch["status"] == "complete")
    conflicts = [
        (o.stages.get("import", {}).get("state_ids") or {}).get("new_conflicts", 0)
        for o in [*outcomes, *second]
    ]
    assert sum(conflicts) == 1, conflicts
    captured = capsys.readouterr()
    text = "\n".join([captured.out, captured.err, *(r.getMessage() for r in caplog.records)])
    text += "\n".join(str(r.__dict__) for r in caplog.records)
    assert len(text) > 1000, "the run should have logged something at DEBUG"
    leaked = sorted(value for value in _sensitive_values(sandbox) if value in text)
    assert not leaked, f"{len(leaked)} sensitive values in logs, e.g. {leaked[0][:3]}..."
    words = _bare_identifiers(sandbox)
    assert len(words) > 100, "the scan should know the sandbox's names and SIS ids"
    found = set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_.'-]*", text))
    bare = sorted(found & words)
    assert not bare, f"{len(bare)} bare names or SIS ids in logs, e.g. {bare[0][:3]}..."
