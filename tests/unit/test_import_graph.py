"""The runtime package's import graph: no cycles, and the domain never reaches AWS directly.

Read with `ast` (nothing is imported): every `import` and `from ... import` of a module of the
`rostersync` package, except those under `if TYPE_CHECKING:` (type hints only, never executed).
Importing `a.b.c` also executes the packages `a` and `a.b`, so those are edges too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import REPO

PACKAGE_ROOT = REPO / "layers" / "rostersync"
PACKAGE = PACKAGE_ROOT / "rostersync"
# Modules that may build adapters and touch AWS SDKs: the adapters and the one wiring module.
ADAPTER_LAYER = ("rostersync.adapters", "rostersync.wiring")
AWS_SDKS = ("boto3", "botocore", "s3transfer", "mypy_boto3")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _with_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _imported(module: str) -> set[str]:
    """Every module name the module's runtime imports name (ours and third-party)."""
    names: set[str] = set()
    for node in _runtime_imports(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif node.module is not None and node.level == 0:
            names.add(node.module)
            # `from package import submodule` imports the submodule.
            names |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
    return names


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        ours = {m for name in _imported(module) for m in _with_parents(name) if m in MODULES}
        graph[module] = ours - {module} - _with_parents(module)  # a package's own parents are not a cycle
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component larger than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def test_the_scan_sees_the_package() -> None:
    graph = _graph()
    assert len(graph) >= 40, sorted(graph)
    assert "rostersync.fetch.stage" in graph and "rostersync.ports" in graph["rostersync.fetch.stage"]
    assert "rostersync.adapters.s3_page_store" in graph["rostersync.wiring"]


def test_the_runtime_package_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_domain_modules_never_import_adapters_or_an_aws_sdk() -> None:
    offences = []
    for module in MODULES:
        if module.startswith(ADAPTER_LAYER):
            continue
        for name in _imported(module):
            if name.startswith(ADAPTER_LAYER) or name.split(".")[0] in AWS_SDKS:
                offences.append(f"{module} imports {name}")
    assert offences == []


def test_adapters_are_imported_only_by_the_wiring() -> None:
    importers = {
        module
        for module in MODULES
        if any(name.startswith("rostersync.adapters") for name in _imported(module))
    }
    assert importers - {m for m in MODULES if m.startswith("rostersync.adapters")} == {"rostersync.wiring"}


def test_handlers_make_one_call_into_the_wiring() -> None:
    handlers = sorted((REPO / "functions").glob("*/*/handler.py"))
    assert len(handlers) == 4
    for path in handlers:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        ours = {
            node.module
            for node in _runtime_imports(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rostersync")
        }
        ours |= {
            f"{node.module}.{a.name}"
            for node in _runtime_imports(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "rostersync"
            for a in node.names
        }
        assert not any(name.startswith("rostersync.adapters") for name in ours), path
        [handler] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler"]
        calls = [n for n in ast.walk(handler) if isinstance(n, ast.Call)]
        wiring_calls = [
            c
            for c in calls
            if isinstance(c.func, ast.Attribute)
            and isinstance(c.func.value, ast.Name)
            and c.func.value.id == "wiring"
        ]
        assert len(wiring_calls) == 1, f"{path}: {len(wiring_calls)} calls into rostersync.wiring"
