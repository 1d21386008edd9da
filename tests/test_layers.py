"""The package's layers import only downward, and no module imports itself through a cycle.

Layers, lowest first: core → io → batch → analysis → plots → app. A module may import from its
own layer or a lower one, never a higher one; inside the package, the import graph of modules
has no cycle. Imports are read from the source (AST), including lazy ones inside functions; imports only for
type hints (under ``if TYPE_CHECKING:``) do not count.
"""

import ast
from pathlib import Path

from tests.conftest import ROOT

SIM = ROOT / "sim"
LAYERS = ("core", "io", "batch", "analysis", "plots", "app")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (type hints only: never imported at run time)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def imports_of(path: Path) -> set[str]:
    """Every ``sim.*`` module a file imports (``from sim.x import y`` counts as sim.x or sim.x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sim")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sim"):
            found.add(node.module)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SIM.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports_of(path):
            # resolve to the longest known module ("sim.core.levers.base", else its package)
            while imported not in modules and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in modules and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for source, targets in edges.items():
        for target in targets:
            low, high = layer_of(target), layer_of(source)
            if target == "sim" or source == "sim":
                continue
            if low is None or high is None or low > high:
                bad.append(f"{source} imports {target}")
    return sorted(bad)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_every_module_sits_in_a_layer():
    edges = graph()
    stray = [m for m in edges if m != "sim" and layer_of(m) is None]
    assert not stray, stray


def test_layers_import_only_downward():
    assert upward_imports(graph()) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle():
    edges = {"sim.core.model": {"sim.plots.charts"}, "sim.plots.charts": {"sim.core.model"}}
    assert upward_imports(edges) == ["sim.core.model imports sim.plots.charts"]
    assert cycles(edges) == [["sim.core.model", "sim.plots.charts"]]
