"""The suite's own machinery: markers by directory, hypothesis's CI profile, the coverage floors."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

from tests.conftest import marker_for
from tests.paths import REPO


def _coverage_floor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_floor", REPO / "scripts" / "coverage_floor.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(statements: tuple[int, int], branches: tuple[int, int]) -> dict:
    return {
        "totals": {
            "covered_lines": statements[0],
            "num_statements": statements[1],
            "covered_branches": branches[0],
            "num_branches": branches[1],
        }
    }


# ------------------------------------------------------------------------------------ markers


def test_a_test_is_marked_by_the_directory_it_is_in() -> None:
    assert marker_for(REPO / "tests" / "unit" / "test_x.py") == "unit"
    assert marker_for(REPO / "tests" / "integration" / "test_x.py") == "integration"
    with pytest.raises(pytest.UsageError, match="tests live in tests/unit or tests/integration"):
        marker_for(REPO / "tests" / "test_stray.py")
    with pytest.raises(pytest.UsageError, match="tests live in"):
        marker_for(REPO / "src" / "test_elsewhere.py")


def test_this_test_carries_the_unit_marker_only(request: pytest.FixtureRequest) -> None:
    names = {mark.name for mark in request.node.iter_markers()}
    assert "unit" in names and "integration" not in names


def test_both_markers_are_registered() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    registered = {line.split(":")[0] for line in config["tool"]["pytest"]["ini_options"]["markers"]}
    assert {"unit", "integration"} <= registered
    assert "--strict-markers" in config["tool"]["pytest"]["ini_options"]["addopts"]


# --------------------------------------------------------------------------------- hypothesis


def test_the_ci_profile_fixes_the_examples_and_keeps_no_database() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True
    assert ci.database is None


# ----------------------------------------------------------------------------------- coverage


def test_the_floors_are_in_pyproject_and_at_least_the_issue_s() -> None:
    floors = _coverage_floor().floors()
    assert floors["statements"] >= 95 and floors["branches"] >= 90
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["coverage"]
    assert config["run"]["branch"] is True
    assert set(config["run"]["source"]) == {"layers/rostersync/rostersync", "functions"}
    assert config["report"]["fail_under"] >= 95


def test_a_measure_under_its_floor_fails_and_names_itself() -> None:
    check = _coverage_floor().check
    floors = {"statements": 95.0, "branches": 90.0}
    assert check(_report((96, 100), (90, 100)), floors) == []
    assert check(_report((94, 100), (95, 100)), floors) == [
        "statements coverage 94.00% is under the floor of 95%"
    ]
    assert check(_report((99, 100), (89, 100)), floors) == [
        "branches coverage 89.00% is under the floor of 90%"
    ]


def test_the_floor_script_exits_non_zero_under_a_floor_and_on_a_missing_report(tmp_path: Path) -> None:
    module = _coverage_floor()
    low, high = tmp_path / "low.json", tmp_path / "high.json"
    low.write_text(json.dumps(_report((50, 100), (50, 100))), encoding="utf-8")
    high.write_text(json.dumps(_report((100, 100), (100, 100))), encoding="utf-8")
    assert module.main(["coverage_floor.py", str(low)]) == 1
    assert module.main(["coverage_floor.py", str(high)]) == 0
    assert module.main(["coverage_floor.py", str(tmp_path / "missing.json")]) == 2


def test_make_test_runs_coverage_and_then_the_floor_check() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no test target"
    lines = recipe.group(1).splitlines()
    assert "--cov " in lines[0] + " " and "--cov-report=json:" in lines[0]
    assert "scripts/coverage_floor.py" in lines[1]
