"""The night runs one way: statemachine/nightly.asl.json in the state machine runner (`LocalNight`,
src/rostersync_cli/nightly.py with local_states.py and local_functions.py), for the CLI, the tests,
the fault suite and the benchmark alike. Nothing else rebuilds the flow.

An ast audit of every module of the repository (but the runner's own): no function, with the
module's own functions it calls, hands a run from validation to the import (calls a validate entry
point and an import entry point: the definition's `Validated?` hand-off), and none interprets the
definition's Catch (reads a `Catch` and publishes). Calling one stage by hand stays allowed (a
handler's own test, a replayed event, an import of a run a night left), and so does fetching then
validating (validate's own tests need a fetched run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.paths import REPO as REPO_ROOT

RUNNER = {
    "src/rostersync_cli/nightly.py",
    "src/rostersync_cli/local_states.py",
    "src/rostersync_cli/local_functions.py",
}
SCANNED = ("tests", "benchmarks", "scripts", "src", "functions", "layers")
FUNCTION_STAGE = {"FetchFunction": "fetch", "ValidateFunction": "validate", "ImportFunction": "import"}
# The stage entry points below the handlers: stage modules and the wiring's operations.
CALLED_STAGE = {
    "fetch_districts": "fetch",
    "fetch_district": "fetch",
    "validate_run": "validate",
    "validate_event": "validate",
    "import_district": "import",
    "import_run": "import",
    "run_import": "import",
}
WIRING_STAGE = {"fetch": "fetch", "validate": "validate", "import_": "import"}


def _modules() -> Iterator[tuple[str, str]]:
    for top in SCANNED:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if relative in RUNNER or "/.venv/" in f"/{relative}" or relative.startswith(".venv"):
                continue
            yield relative, path.read_text(encoding="utf-8")


def _stage_of(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name == "invoke" and call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return FUNCTION_STAGE.get(first.value)
    if name in CALLED_STAGE:
        return CALLED_STAGE[name]
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "wiring":
        return WIRING_STAGE.get(func.attr)
    return None


def _invokes(loop: ast.For) -> bool:
    """The loop's body invokes a function (`invoke`, or the benchmark's `run_child`)."""
    for node in loop.body:
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call):
                func = inner.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in ("invoke", "run_child"):
                    return True
    return False


def _local_name(call: ast.Call) -> str | None:
    """A call of a function or method this module may define (`helper(...)`, `self.helper(...)`)."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in ("self", "cls")
    ):
        return func.attr
    return None


def flow_rebuilds(source: str) -> list[str]:
    """The functions of `source` that rebuild the night's flow, each with why."""
    tree = ast.parse(source)
    functions = {
        node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    interprets: list[str] = []
    for name, node in functions.items():
        stages: set[str] = set()
        local: set[str] = set()
        reads_catch = publishes = False
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call):
                stage = _stage_of(inner)
                if stage:
                    stages.add(stage)
                called = _local_name(inner)
                if called in functions and called != name:
                    local.add(called)
                if isinstance(inner.func, ast.Attribute) and inner.func.attr == "publish":
                    publishes = True
            if isinstance(inner, ast.Constant) and inner.value == "Catch":
                reads_catch = True
            if isinstance(inner, ast.For) and _invokes(inner):  # `for f in ("FetchFunction", ...): invoke`
                named = {c.value for c in ast.walk(inner.iter) if isinstance(c, ast.Constant)}
                stages |= {FUNCTION_STAGE[n] for n in named if n in FUNCTION_STAGE}
        direct[name], calls[name] = stages, local
        if reads_catch and publishes:
            interprets.append(f"{name}: follows the definition's Catch and publishes (an interpreter)")

    def reach(name: str, seen: set[str]) -> set[str]:
        if name in seen:
            return set()
        seen.add(name)
        found = set(direct[name])
        for called in calls[name]:
            found |= reach(called, seen)
        return found

    rebuilds = [
        f"{name}: calls validate and import in one flow"
        for name in functions
        if {"validate", "import"} <= reach(name, set())
    ]
    return rebuilds + interprets


def test_nothing_outside_the_runner_rebuilds_the_flow() -> None:
    found = [f"{path}: {why}" for path, source in _modules() for why in flow_rebuilds(source)]
    assert not found, "run the night through LocalNight instead:\n" + "\n".join(found)


def test_the_audit_scanned_the_tests_and_the_benchmark() -> None:
    scanned = {path for path, _ in _modules()}
    assert {"benchmarks/run.py", "tests/integration/fault_world.py"} <= scanned
    assert "tests/integration/test_account_integrity.py" in scanned
    assert not scanned & RUNNER


HAND_BUILT = {
    "stages by hand": """
def night(self, pages):
    validated = validate_run(self.store, d, run_id)
    return import_district(d, run_id, accepted_records(self.store, validated), [], self.table)
""",
    "handlers chained through a helper": """
def _fetch(functions, d):
    return functions.invoke("FetchFunction", {"district_ids": [d]})["districts"][0]

def _validate_and_import(functions, fetched):
    validated = functions.invoke("ValidateFunction", fetched)
    return functions.invoke("ImportFunction", validated)

def test_chain(functions):
    _validate_and_import(functions, _fetch(functions, "d"))
""",
    "a method chaining through another method": """
class World:
    def _import(self, event):
        return self.functions.invoke("ImportFunction", event)

    def night(self, ids):
        fetched = self.functions.invoke("FetchFunction", {"district_ids": ids})
        return self._import(self.functions.invoke("ValidateFunction", fetched["districts"][0]))
""",
    "a loop over the functions": """
def pipeline_run(env):
    event = {"district_ids": ["d"]}
    for stage, logical_id in (("fetch", "FetchFunction"), ("validate", "ValidateFunction"), ("import", "ImportFunction")):
        event = run_child("stage", {"stage": logical_id, "event": event}, env)
""",
    "a Catch interpreter": """
def catch_path(stage, definition):
    catch = definition["States"][stage]["Catch"][0]
    boto3.client("sns").publish(**definition["States"][catch["Next"]]["Parameters"])
""",
}


@pytest.mark.parametrize("source", HAND_BUILT.values(), ids=HAND_BUILT.keys())
def test_the_audit_finds_a_flow_built_by_hand(source: str) -> None:
    assert flow_rebuilds(source)


def test_one_stage_by_hand_and_fetch_then_validate_are_allowed() -> None:
    allowed = """
def test_replay(functions, outcome):
    functions.invoke("ImportFunction", {"district_id": "d", "run_id": outcome.run_id})

def test_validate_twice(functions):
    fetched = functions.invoke("FetchFunction", {"district_ids": ["d"]})["districts"][0]
    assert functions.invoke("ValidateFunction", fetched) == functions.invoke("ValidateFunction", fetched)
"""
    assert flow_rebuilds(allowed) == []
