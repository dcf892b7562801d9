"""`rostersync invoke <LogicalId> --event FILE`: one function, its template environment, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rostersync.settings import get_settings
from rostersync_cli.invoke import function_environment
from rostersync_cli.main import main
from rostersync_cli.sandbox import CleverSandbox, DistrictSpec, SandboxConfig
from rostersync_cli.template import functions, load_template
from tests.integration.conftest import connect_pipeline
from tests.paths import EVENTS, REPO

SMALL = DistrictSpec("Clarion Invoke SD", seed=8501, schools=1, students=20, teachers=2, sections=2)


@pytest.fixture
def sandbox() -> Iterator[CleverSandbox]:
    with CleverSandbox(SandboxConfig(districts=(SMALL,))) as server:
        yield server


@pytest.fixture
def environment(
    aws_env: dict[str, str], sandbox: CleverSandbox, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    connect_pipeline(monkeypatch, sandbox)
    return dict(os.environ)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rostersync_cli.main", *args],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO / "src") + os.pathsep + str(REPO / "layers" / "rostersync")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_invoke_runs_fetch_then_validate_and_prints_each_result_as_json(
    environment: dict[str, str], tmp_path: Path
) -> None:
    fetched = _cli(environment, "invoke", "FetchFunction", "--event", "events/fetch-schedule.json")
    assert fetched.returncode == 0, fetched.stderr
    result = json.loads(fetched.stdout)
    [district] = result["districts"]
    assert district["district_id"] == SMALL.id and district["status"] == "complete"
    assert '"message"' in fetched.stderr  # the handler's logs, kept off stdout

    event = tmp_path / "validate.json"
    event.write_text(json.dumps(district), encoding="utf-8")
    validated = _cli(environment, "invoke", "ValidateFunction", "-e", str(event))
    assert validated.returncode == 0, validated.stderr
    assert json.loads(validated.stdout)["status"] == "validated"


def test_the_function_gets_its_template_environment_pointing_at_the_local_resources(
    environment: dict[str, str], sandbox: CleverSandbox
) -> None:
    spec = functions(load_template())["FetchFunction"]
    env = function_environment(spec)
    settings = get_settings()
    assert env["RAW_BUCKET"] == settings.raw_bucket
    assert env["ALERT_TOPIC_ARN"] == settings.alert_topic_arn
    assert env["CLEVER_SECRET_ID"] == settings.clever_secret_id
    assert env["CLEVER_API_BASE"] == sandbox.api_base
    assert env["STAGE"] == "dev"
    assert function_environment(spec, overrides={"Stage": "prod"})["STAGE"] == "prod"


def test_invoke_in_process_restores_the_environment(
    environment: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED"):  # main() sets these defaults
        monkeypatch.setenv(name, os.environ.get(name, {"POWERTOOLS_LOG_LEVEL": "WARNING"}.get(name, "true")))
    before = dict(os.environ)
    assert main(["invoke", "FetchFunction", "--event", str(EVENTS / "fetch-districts.json")]) == 0
    assert dict(os.environ) == before
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{\n") :])["districts"][0]["status"] == "failed"  # unknown district


def test_invoke_names_an_unknown_function_and_a_missing_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invoke", "NoSuchFunction"]) == 2
    assert "FetchFunction" in capsys.readouterr().err
    assert main(["invoke", "FetchFunction", "--event", "events/does-not-exist.json"]) == 2
    assert "cannot read the event" in capsys.readouterr().err
