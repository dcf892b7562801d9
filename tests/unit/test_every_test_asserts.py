"""Every test function asserts something about the product, and nothing skips but a missing browser.

Read with `ast`: a test function counts when its body has an `assert`, a `pytest.raises(...)`, or
a call to a helper that asserts (a function named `assert_*`/`check_*`/`expect_*`, or one defined
in the same module whose own body asserts or raises).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import REPO

TESTS = REPO / "tests"
HELPER_PREFIXES = ("assert", "check", "expect", "verify", "_assert")
# The one allowed skip: the browser checks need Chromium, which a machine may not have.
ALLOWED_SKIPS = {"tests/integration/test_report_in_browser.py"}


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _asserting_helpers(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("test_")
        and any(isinstance(n, ast.Assert | ast.Raise) for n in ast.walk(node))
    }


def _asserts(function: ast.FunctionDef, helpers: set[str]) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name == "raises" or name.startswith(HELPER_PREFIXES) or name in helpers:
                return True
    return False


def _test_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        found += [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    return found


def _unasserted(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    helpers = _asserting_helpers(tree)
    return [
        f"{path.relative_to(REPO)}::{fn.name}" for fn in _test_functions(tree) if not _asserts(fn, helpers)
    ]


def test_every_test_function_asserts_something() -> None:
    files = sorted(TESTS.rglob("test_*.py"))
    functions = sum(len(_test_functions(ast.parse(p.read_text(encoding="utf-8")))) for p in files)
    assert len(files) >= 60 and functions >= 400, (len(files), functions)  # the scan sees the suite
    assert [name for path in files for name in _unasserted(path)] == []


def test_the_audit_catches_a_test_that_asserts_nothing() -> None:
    source = "def helper():\n    return 1\n\ndef test_nothing():\n    helper()\n\ndef test_something():\n    assert helper()\n"
    tree = ast.parse(source)
    helpers = _asserting_helpers(tree)
    assert [fn.name for fn in _test_functions(tree) if not _asserts(fn, helpers)] == ["test_nothing"]


def test_nothing_skips_or_xfails_but_a_missing_browser() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        relative = str(path.relative_to(REPO))
        if relative == "tests/unit/test_every_test_asserts.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            skips = isinstance(node, ast.Attribute) and node.attr in {
                "skip",
                "skipif",
                "xfail",
                "importorskip",
            }
            if skips and relative not in ALLOWED_SKIPS:
                offenders.append(f"{relative}:{node.lineno} {node.attr}")
    assert offenders == []
