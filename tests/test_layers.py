"""The import-layer contract: the package layout shows the data flow, and stays that way.

``cli -> workflows -> steps -> engines -> foundation`` (docs/ARCHITECTURE.md). Every import of an
ollama_forge module counts, at module level and inside functions (a function-level import is a
dependency that runs later, not a lesser one), and ``if TYPE_CHECKING:`` imports too. The test
asserts:

* no module imports from a higher layer;
* a step imports another step only along an edge of the data flow listed in ``STEP_EDGES``;
* no import cycles between modules (strongly connected components of the graph of imports that
  run: module level and function level). ``if TYPE_CHECKING:`` imports never run, so a type-only
  back reference (``modelfile.render`` naming ``Modelfile``) is no cycle; they still count for
  the layer rules above. The ``TYPE_CHECKING`` mirror of a lazy package ``__init__`` (PEP 562,
  ``_lazy.lazy_exports``) re-exports names that are imported on first use.

An edge that is not allowed fails here with the importing module, line and target; widen the
lists below only when the data flow really changed, so erosion is a visible, reviewed diff.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ollama_forge"

FOUNDATION = {"errors", "config", "digests", "store", "budget", "_version", "_lazy", "text"}
ENGINES = {"gotemplate"}
STEPS = {"gguf", "hub", "families", "modelfile", "ollama", "runners", "fidelity"}
LAYERS = {"foundation": 0, "engines": 1, "steps": 2, "workflows": 3, "cli": 4, "entry": 5}

#: step -> the steps it may import (the data flow: Hub -> GGUF -> family/template -> Modelfile -> Ollama)
STEP_EDGES: dict[str, set[str]] = {
    "gguf": set(),
    "modelfile": set(),
    "hub": {"gguf"},  # remote headers are parsed by the GGUF reader; quant names and sizes
    "families": {
        "gguf",
        "modelfile",
    },  # detection reads GGUF metadata; family files hold Modelfile values
    "fidelity": {
        "gguf",
        "ollama",
    },  # capabilities and live checks read GGUF metadata and Ollama's answers
    "ollama": {
        "modelfile",
        "fidelity",
    },  # Modelfile -> create request; versions: which path a TEMPLATE takes
    "runners": {
        "modelfile",
        "gguf",
        "fidelity",
        "hub",
    },  # Ollama's prompt building; hub.reach (offline probe)
}

#: facades: a step package re-exports a use case lazily, for the public API it always had
FACADE_EXCEPTIONS: set[tuple[str, str]] = set()


#: known upward imports still to untangle: (importer, imported) -> why it is there
LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_checking: bool


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _known(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_lazy_package(path: Path, tree: ast.Module) -> bool:
    return path.name == "__init__.py" and any(
        isinstance(node, ast.Assign)
        and any(
            isinstance(t, ast.Tuple)
            and any(isinstance(e, ast.Name) and e.id == "__getattr__" for e in t.elts)
            for t in node.targets
        )
        for node in tree.body
    )


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _edges() -> tuple[list[Edge], set[str]]:
    edges: list[Edge] = []
    lazy: set[str] = set()
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if _is_lazy_package(path, tree):
            lazy.add(name)
        guarded = _type_checking_lines(tree)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                for alias in node.names:  # `from pkg import submodule` depends on the submodule
                    targets.append(
                        f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                    )
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                known = _known(target) if target.startswith("ollama_forge") else None
                if known and known != name:
                    edges.append(Edge(name, known, node.lineno, node.lineno in guarded))
    return edges, lazy


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module: str) -> str:
    group = _group(module)
    if module in ("ollama_forge", "ollama_forge.__main__"):
        return "entry"
    if group in FOUNDATION:
        return "foundation"
    if group in ENGINES:
        return "engines"
    if group in STEPS:
        return "steps"
    if group in ("workflows", "cli"):
        return group
    raise AssertionError(f"{module} is in no layer: add its package to tests/test_layers.py")


EDGES, LAZY = _edges()


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)
    root_modules = {m for m in MODULES if m.count(".") == 1 and MODULES[m].name != "__init__.py"}
    assert root_modules <= {f"ollama_forge.{n}" for n in FOUNDATION | {"__main__"}}, (
        "only foundation modules sit at the package root"
    )


def test_no_upward_imports() -> None:
    bad = [
        f"{e.source}:{e.line} imports {e.target} ({_layer(e.source)} -> {_layer(e.target)})"
        for e in EDGES
        if LAYERS[_layer(e.target)] > LAYERS[_layer(e.source)]
        and (e.source, e.target) not in FACADE_EXCEPTIONS | set(LAYER_EXCEPTIONS)
    ]
    assert bad == []
    stale = [
        pair for pair in LAYER_EXCEPTIONS if not any((e.source, e.target) == pair for e in EDGES)
    ]
    assert stale == [], "untangled: drop it from LAYER_EXCEPTIONS"


def test_facade_exceptions_are_lazy_and_still_needed() -> None:
    for source, target in FACADE_EXCEPTIONS:
        assert source in LAZY, f"{source} re-exports {target} but is not a lazy (PEP 562) package"
        found = [e for e in EDGES if (e.source, e.target) == (source, target)]
        assert found and all(e.type_checking for e in found), (
            f"{source} -> {target}: only its TYPE_CHECKING mirror"
        )


def test_steps_import_steps_only_along_the_data_flow() -> None:
    bad = sorted(
        {
            f"{e.source}:{e.line} imports {e.target}"
            for e in EDGES
            if _layer(e.source) == _layer(e.target) == "steps"
            and _group(e.source) != _group(e.target)
            and _group(e.target) not in STEP_EDGES[_group(e.source)]
        }
    )
    assert bad == []


def test_listed_step_edges_are_all_used() -> None:
    used = {
        (_group(e.source), _group(e.target))
        for e in EDGES
        if _layer(e.source) == _layer(e.target) == "steps" and _group(e.source) != _group(e.target)
    }
    listed = {(s, t) for s, targets in STEP_EDGES.items() for t in targets}
    assert listed - used == set(), "an allowed edge nobody uses: drop it from STEP_EDGES"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative Tarjan (no recursion limit on deep graphs)
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in EDGES:
        if not e.type_checking:
            graph[e.source].add(e.target)
    assert _cycles(graph) == []


def test_no_type_only_cycles_either() -> None:
    # A type-only back reference is no runtime cycle, but it still ties two modules into one
    # unit; a Protocol of what is read keeps them apart (gguf.info.HeaderView,
    # modelfile.render.ModelfileFields). Lazy package mirrors re-export and are left out.
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in EDGES:
        if not (e.type_checking and MODULES[e.source].name == "__init__.py"):
            graph[e.source].add(e.target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
