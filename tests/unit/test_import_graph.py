"""The runtime package's import graph: no cycles, layers that only point down, and the domain
never reaches AWS directly.

Read with `ast` (nothing is imported): every `import` and `from ... import` of a module of the
`rostersync` package. For cycles, those under `if TYPE_CHECKING:` (type hints only, never
executed) are left out, and importing `a.b.c` also executes the packages `a` and `a.b`, so those
are edges too. For the layers (the table in docs/ARCHITECTURE.md, "Layers"), every import counts,
type hints included, and a parent package counts when its `__init__` imports anything of ours.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
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


def _all_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import, those under `if TYPE_CHECKING:` included."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def _with_parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _imported(module: str, *, type_hints: bool = False) -> set[str]:
    """Every module name the module's runtime imports name (ours and third-party); with
    `type_hints`, those under `if TYPE_CHECKING:` too."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in _all_imports(tree) if type_hints else _runtime_imports(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{module}: relative import (line {node.lineno}); name the module")
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


# ---------------------------------------------------------------------------------- layers

ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"


@dataclass(frozen=True)
class Layer:
    rank: int  # 0: the floor
    name: str
    names: tuple[str, ...]  # module names under `rostersync.`, each covering its submodules
    apart: bool  # its names never import one another (the stages)


def _layers(text: str | None = None) -> list[Layer]:
    """The layer table of docs/ARCHITECTURE.md's "Layers" section, floor first."""
    text = ARCHITECTURE.read_text(encoding="utf-8") if text is None else text
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].isdigit():
            continue
        rank, name, modules, rule = cells
        names = tuple(re.findall(r"`([a-z_][a-z0-9_.]*)`", modules))
        layers.append(Layer(int(rank), name, names, "**apart**" in rule))
    return sorted(layers, key=lambda layer: layer.rank)


def _place(module: str, layers: list[Layer]) -> tuple[Layer, str] | None:
    """The layer of a module and the name in it that covers the module (the longest that does)."""
    short = module.removeprefix("rostersync.")
    found = [
        (len(name), layer, name)
        for layer in layers
        for name in layer.names
        if short == name or short.startswith(f"{name}.")
    ]
    if not found:
        return None
    _, layer, name = max(found, key=lambda f: f[0])
    return layer, name


def _inert(module: str) -> bool:
    """A package whose `__init__` imports nothing of ours: importing through it runs none of our code."""
    return MODULES[module].name == "__init__.py" and not any(
        name.startswith("rostersync") for name in _imported(module, type_hints=True)
    )


def _layer_graph() -> dict[str, set[str]]:
    """Every module's imports of ours (type hints included), with the parents that run code."""
    graph = {}
    for module in sorted(MODULES.keys() - {"rostersync"}):  # the root: see the table's test
        named = {name for name in _imported(module, type_hints=True) if name in MODULES}
        parents = {p for name in named | {module} for p in _with_parents(name) if p in MODULES}
        graph[module] = (named | {p for p in parents if not _inert(p)}) - {module, "rostersync"}
    return graph


def _layer_offences(graph: dict[str, set[str]], layers: list[Layer]) -> list[str]:
    """Imports up the table, and between two names of an apart layer (a stage into another)."""
    offences = []
    for module, targets in sorted(graph.items()):
        here = _place(module, layers)
        assert here is not None, f"{module} has no layer: give it one in docs/ARCHITECTURE.md, Layers"
        for target in sorted(targets):
            there = _place(target, layers)
            assert there is not None, f"{target} has no layer: give it one in docs/ARCHITECTURE.md, Layers"
            (layer, name), (target_layer, target_name) = here, there
            if target_layer.rank > layer.rank:
                offences.append(
                    f"{module} ({layer.name}) imports {target} ({target_layer.name}): an upward import"
                )
            elif layer.apart and target_layer == layer and target_name != name:
                offences.append(
                    f"{module} imports {target}: {name} and {target_name} are apart ({layer.name})"
                )
    return offences


def test_the_layer_table_covers_the_package() -> None:
    layers = _layers()
    assert [layer.rank for layer in layers] == list(range(len(layers))), "ranks 0..n, once each"
    assert layers[0].name == "floor" and "errors" in layers[0].names
    assert [layer.name for layer in layers if layer.apart] == ["stages"]
    listed = [name for layer in layers for name in layer.names]
    assert len(listed) == len(set(listed)), "a name is in one layer only"
    for name in listed:  # a name that covers nothing is stale
        assert any(m == f"rostersync.{name}" or m.startswith(f"rostersync.{name}.") for m in MODULES), name
    assert [m for m in MODULES if m != "rostersync" and _place(m, layers) is None] == []
    assert _imported("rostersync") == set(), "the root package runs nothing: it is every module's parent"


def test_every_import_points_down_the_layers_and_no_stage_imports_another() -> None:
    offences = _layer_offences(_layer_graph(), _layers())
    assert offences == [], "\n".join(offences)


def test_the_layer_check_finds_an_upward_import_and_a_stage_importing_another() -> None:
    layers = _layers()
    graph = {
        "rostersync.ports": {"rostersync.roster_items", "rostersync.importer.service"},
        "rostersync.importer.release": {"rostersync.run_artifacts", "rostersync.validate.stage"},
        "rostersync.validate.stage": {"rostersync.contracts.fetch", "rostersync.validate.engine"},
    }
    assert _layer_offences(graph, layers) == [
        "rostersync.importer.release imports rostersync.validate.stage: importer and validate are apart (stages)",
        "rostersync.ports (ports) imports rostersync.importer.service (stages): an upward import",
    ]


def test_the_layer_table_is_read_as_written() -> None:
    table = """
## Layers

| # | layer | modules (under `rostersync.`) | rule |
|---|---|---|---|
| 1 | stages | `fetch`, `validate` | **apart**: no stage imports another |
| 0 | floor | `errors`, `contracts.fetch` | nothing above |

## Next
| 9 | not a layer | `wiring` | |
"""
    assert _layers(table) == [
        Layer(0, "floor", ("errors", "contracts.fetch"), False),
        Layer(1, "stages", ("fetch", "validate"), True),
    ]
    placed = _place("rostersync.contracts.fetch", _layers(table))
    assert placed is not None and placed[0].name == "floor"
    assert _place("rostersync.wiring", _layers(table)) is None


def test_domain_modules_never_import_adapters_or_an_aws_sdk() -> None:
    offences = []
    for module in MODULES:
        if module.startswith(ADAPTER_LAYER):
            continue
        for name in _imported(module, type_hints=True):
            if name.startswith(ADAPTER_LAYER) or name.split(".")[0] in AWS_SDKS:
                offences.append(f"{module} imports {name}")
    # The CLI's operations run on the wiring's adapters, through the wiring (never an adapter).
    assert offences == ["rostersync.operations imports rostersync.wiring"]


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
