"""The package's layout: its import graph has no circle, and nothing is imported inside a function
but the heavy libraries (and our modules that import them at their top) that a cheap path keeps
out of ``import roofline``, ``roofline --help`` and computing a study.

Every module of ``roofline/`` is parsed with :mod:`ast` (nothing is imported); each import is
resolved to the module it names (``from roofline.plot import studies`` names
``roofline.plot.studies``, ``from roofline.api import evaluate`` names ``roofline.api``). Imports
inside functions and under ``if TYPE_CHECKING:`` count as arrows too: a hidden arrow still ties
two modules. ``importlib.import_module`` by name (the lazy exports of ``roofline/__init__.py``,
the command registry of ``roofline/cli/main.py``) is not an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "roofline"

#: libraries that may be imported inside a function, to keep them off the cheap paths
HEAVY_LIBRARIES = frozenset(
    {"matplotlib", "scipy", "pandas", "torch", "onnx", "dask", "pyarrow", "ipywidgets"}
)
#: our modules that may be imported inside a function: each imports a heavy library at its top
HEAVY_MODULES = frozenset(
    {
        "roofline.plot",
        "roofline.plot.studies",
        "roofline.plot.validation",
        "roofline.widgets",
        "roofline.importers.torch_trace",
        "roofline.importers.onnx_import",
        "roofline.importers.torchvision_compat",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


class Import:
    """One import statement's target: a module of ours or a library (its top-level name)."""

    def __init__(self, module: str, target: str, line: int, in_function: bool) -> None:
        self.module, self.target, self.line, self.in_function = module, target, line, in_function

    def __repr__(self) -> str:
        where = "inside a function" if self.in_function else "at module level"
        return f"{self.module}:{self.line} imports {self.target} {where}"


def _ours(name: str) -> str:
    """The module of ours that ``name`` (a module, or a name defined in one) lies in."""
    while name not in MODULES:
        name = name.rsplit(".", 1)[0]
    return name


def _target(name: str) -> str:
    return _ours(name) if name.split(".")[0] == "roofline" else name.split(".")[0]


def imports_of(module: str) -> list[Import]:
    """Every import in ``module``, resolved."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, _target(alias.name), child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package[: len(package) - child.level + 1]
                    base = ".".join([*up, *([child.module] if child.module else [])])
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    name = full if full in MODULES else base
                    found.append(Import(module, _target(name), child.lineno, in_function))
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, in_function or inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


IMPORTS = {m: imports_of(m) for m in MODULES}
GRAPH = {m: {i.target for i in imps if i.target in MODULES} for m, imps in IMPORTS.items()}


def circles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of ``graph`` with more than one module (or an arrow to
    itself): Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.add(x)
                    if x == v:
                        break
                if len(comp) > 1 or v in graph[v]:
                    out.append(frozenset(comp))
    return out


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    assert sorted(map(sorted, circles(graph))) == [["a", "b", "c"], ["d"]]


def test_every_module_is_parsed():
    assert "roofline.cli.main" in MODULES and "roofline.studies" in MODULES
    assert GRAPH["roofline.studies.embedding"] >= {"roofline.studies.base", "roofline.counting"}


def test_no_import_circle_but_the_known_core_ones():
    found = [sorted(c) for c in circles(GRAPH)]
    assert found == [], f"import circles: {found}"


def test_no_import_inside_a_function_but_of_heavy_libraries():
    allowed = HEAVY_LIBRARIES | HEAVY_MODULES
    bad = [
        i for imps in IMPORTS.values() for i in imps if i.in_function and i.target not in allowed
    ]
    assert bad == []


@pytest.mark.parametrize("module", sorted(HEAVY_MODULES))
def test_each_allowed_heavy_module_imports_a_heavy_library_at_its_top(module):
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        seen.add(m)
        top = [i.target for i in IMPORTS[m] if not i.in_function]
        if HEAVY_LIBRARIES & set(top):
            return
        todo += [t for t in top if t in MODULES and t not in seen]
    pytest.fail(f"{module} imports no heavy library at its top: import it at module level")
