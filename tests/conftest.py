"""Suite-wide settings: every test marked by its directory, and hypothesis fixed in CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).resolve().parent
# tests/<directory>/... -> the marker every test in it carries (`pytest -m unit`, `-m integration`).
MARKER_OF_DIRECTORY = {"unit": "unit", "integration": "integration"}

# In CI the property tests are reproducible: a fixed derivation of examples from each test, and no
# example database carried between runs. Locally, hypothesis explores as usual.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Each test leaves the process environment as it found it: the CLI's `main()`, run in process,
    sets its defaults (POWERTOOLS_LOG_LEVEL=WARNING...) in os.environ as a process entry point
    should, and a later test on the same worker would otherwise inherit them. Fixtures of wider
    scope (the embedded AWS) are set up before this snapshot, so what they set stays."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


def marker_for(path: Path) -> str:
    """The marker of the test directory `path` is in; a test file anywhere else is a mistake."""
    try:
        directory = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        directory = ""
    if directory not in MARKER_OF_DIRECTORY:
        raise pytest.UsageError(f"{path}: tests live in tests/unit or tests/integration")
    return MARKER_OF_DIRECTORY[directory]


# The multi-night fault, security and IAM suites: each test runs several nights through the state
# machine runner (10-60 s each on two cores). `make test` leaves them out to stay near the CI budget;
# `make test-all` runs them too.
SLOW_MODULES = frozenset(
    {
        "test_faults_aws.py",
        "test_account_integrity.py",
        "test_no_pii_in_logs.py",
        "test_faults_security.py",
        "test_iam_replay.py",
        "test_oneroster_pipeline.py",
        "test_moved_student_pipeline.py",
        "test_faults_clever.py",
        "test_oneroster_tenant_secrets.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, marker_for(Path(str(item.path)))))
        if Path(str(item.path)).name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
