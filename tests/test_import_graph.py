"""The import graph of ``mmcontrast/``: no cycle, and no import from a lower layer up into a higher one.

Every ``import`` / ``from ... import`` of every module is read with ``ast`` (module-level and inside functions,
relative and absolute), so an upward import hidden in a function body counts as much as one at the top. Each
import is mapped to the top-level unit it reaches (``mmcontrast.data.beir`` -> ``data``, ``mmcontrast.temperature``
-> ``temperature``). The layers, lowest first:

- L0 leaves (``registry``, ``batch``, ``errors``, ...), importing only each other (without a cycle);
- L1 components and model code (``data``, ``views``, ``encoders``, ...), which may import L0 and each other
  without a cycle (``encoders`` never imports ``objectives``);
- L2 ``evaluation`` and the ``retrieval`` library; L3 ``config``; L4 ``export``; L5 ``training``;
- L6 the command line (``cli`` and its command modules), which nothing in the library imports.

A new top-level module or package must be placed in ``LAYERS`` (the test says so). The package imports its own
modules at module top only (no import inside a function to hide a cycle).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mmcontrast"

LAYERS: dict[str, int] = {
    # L0: leaves
    "registry": 0, "batch": 0, "distributed": 0, "errors": 0, "value_types": 0, "yaml12": 0, "secrets": 0,
    "temperature": 0, "citations": 0, "component_params": 0, "text_files": 0,
    # L1: components and model code
    "data": 1, "views": 1, "encoders": 1, "negatives": 1, "objectives": 1, "miners": 1, "words": 1,
    # L2: evaluators and the retrieval library
    "evaluation": 2, "retrieval": 2,
    # L3: the config (axis -> registry table)
    "config": 3,
    # L4: export
    "export": 4,
    # L5: training
    "training": 5,
    # L6: the command line
    "cli": 6, "cli_retrieval": 6,
}
LAYER_NAMES = {0: "L0 leaves", 1: "L1 components", 2: "L2 evaluation/retrieval", 3: "L3 config", 4: "L4 export",
               5: "L5 training", 6: "L6 cli"}
#: same-layer imports that are not allowed either: (importer, imported)
FORBIDDEN: dict[tuple[str, str], str] = {
    ("encoders", "objectives"): "encoders must not import objectives (a temperature lives in mmcontrast.temperature)",
}
#: the command-line units: the library never imports them
COMMAND_LINE = {"cli", "cli_retrieval"}
#: imports exempt from the layer and unit-cycle checks while being removed: (importing file, imported module).
#: Keep it empty.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository root, e.g. mmcontrast/data/beir.py
    line: int
    source: str  # the importing module, e.g. mmcontrast.data.beir
    target: str  # the imported module (or module.name for ``from package import name``)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_name(path: Path, package_dir: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, package_dir: Path = PACKAGE) -> list[Import]:
    """Every import of the package's own modules in ``path``, at any depth (functions, classes, branches)."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    file = path.relative_to(package_dir.parent).as_posix()
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=file)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from pkg import name`` may import a submodule: keep the name, the unit is the same either way
            targets = [f"{module}.{alias.name}" for alias in node.names] if not node.module else [module]
        else:
            continue
        found += [Import(file, node.lineno, name, t) for t in targets if t.split(".")[0] == package_dir.name]
    return found


def unit_of(module: str) -> str:
    """The top-level unit of a module of the package: ``mmcontrast.data.beir`` -> ``data``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def all_imports() -> list[Import]:
    return [imp for path in sorted(PACKAGE.rglob("*.py")) for imp in imports_of(path)]


def cross_unit_imports() -> list[Import]:
    return [imp for imp in all_imports()
            if unit_of(imp.source) and unit_of(imp.target) and unit_of(imp.source) != unit_of(imp.target)
            and (imp.file, imp.target) not in KNOWN_VIOLATIONS]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node (the import cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def describe_cycle(component: list[str], edges: dict[tuple[str, str], list[Import]]) -> str:
    inside = set(component)
    lines = [f"  {a} -> {b}: {', '.join(i.where for i in imps[:3])}" for (a, b), imps in sorted(edges.items())
             if a in inside and b in inside]
    return f"cycle between {', '.join(component)}:\n" + "\n".join(lines)


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")} - {""}
    missing = sorted(units - set(LAYERS))
    assert not missing, (f"mmcontrast.{', mmcontrast.'.join(missing)}: not in LAYERS of {Path(__file__).name}; "
                         "place each new top-level module or package in the layer it belongs to")


def test_no_import_from_a_lower_layer_into_a_higher_one() -> None:
    problems = []
    for imp in cross_unit_imports():
        src, dst = unit_of(imp.source), unit_of(imp.target)
        if src not in LAYERS or dst not in LAYERS:
            continue  # test_every_unit_has_a_layer names it
        if LAYERS[dst] > LAYERS[src]:
            problems.append(f"{imp.where}: {src} ({LAYER_NAMES[LAYERS[src]]}) imports {imp.target} "
                            f"({LAYER_NAMES[LAYERS[dst]]}): a lower layer must not import a higher one")
        elif (src, dst) in FORBIDDEN:
            problems.append(f"{imp.where}: {src} ({LAYER_NAMES[LAYERS[src]]}) imports {imp.target} "
                            f"({LAYER_NAMES[LAYERS[dst]]}): {FORBIDDEN[(src, dst)]}")
    assert not problems, f"{len(problems)} upward import(s):\n" + "\n".join(problems)


def test_no_import_cycle_between_top_level_units() -> None:
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in cross_unit_imports():
        edges.setdefault((unit_of(imp.source), unit_of(imp.target)), []).append(imp)
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycles = strongly_connected(graph)
    assert not cycles, "\n".join(describe_cycle(c, edges) for c in cycles)


def test_no_import_cycle_between_modules() -> None:
    """Module by module (files; a package is its ``__init__.py``): no module imports, at any depth, a module that
    imports it back. ``from package import name`` counts as importing ``package.name`` when that is a module, else
    ``package``."""
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    edges: dict[tuple[str, str], list[Import]] = {}
    for imp in all_imports():
        target = imp.target
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target != imp.source and target in modules:
            edges.setdefault((imp.source, target), []).append(imp)
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycles = strongly_connected(graph)
    assert not cycles, "\n".join(describe_cycle(c, edges) for c in cycles)


def nested_import_lines(path: Path) -> set[int]:
    """Lines of the imports inside a function or class body of ``path``."""
    lines: set[int] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and nested:
                lines.add(child.lineno)
            visit(child, nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return lines


def test_the_package_imports_its_own_modules_at_module_top() -> None:
    """No import of a module of the package inside a function or class body: that is how cycles and upward
    imports were hidden. (Optional third-party packages, e.g. ``faiss``, may still be imported where used.)"""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        nested = nested_import_lines(path)
        found += [f"{imp.where}: {imp.target}" for imp in imports_of(path) if imp.line in nested]
    assert not found, "imports of the package's own modules inside functions or classes:\n" + "\n".join(found)


def test_the_library_never_imports_the_command_line() -> None:
    found = [f"{imp.where}: {imp.source} imports {imp.target}" for imp in all_imports()
             if unit_of(imp.target) in COMMAND_LINE and unit_of(imp.source) not in COMMAND_LINE]
    assert not found, "the library imports the command line:\n" + "\n".join(found)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The parser itself, on a made-up package: imports inside functions and classes, relative at any level and
    absolute, each mapped to the unit it reaches and named by file:line."""
    package = tmp_path / PACKAGE.name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "__init__.py").write_text("from .rows import read\nfrom . import rows\n")
    (package / "data" / "rows.py").write_text(
        "import json\n"
        "from ..errors import DataError\n"
        "\n"
        "def read(path):\n"
        "    from ..retrieval.search import top_k\n"
        "    import mmcontrast.config\n"
        "    return json, top_k, mmcontrast.config\n"
        "\n"
        "class Rows:\n"
        "    def build(self):\n"
        "        from .. import training\n"
    )
    found = {(imp.line, imp.target, unit_of(imp.target)) for imp in imports_of(package / "data" / "rows.py", package)}
    assert found == {(2, "mmcontrast.errors", "errors"), (5, "mmcontrast.retrieval.search", "retrieval"),
                     (6, "mmcontrast.config", "config"), (11, "mmcontrast.training", "training")}
    init = imports_of(package / "data" / "__init__.py", package)
    assert [(i.where, i.source, i.target) for i in init] == [
        ("mmcontrast/data/__init__.py:1", "mmcontrast.data", "mmcontrast.data.rows"),
        ("mmcontrast/data/__init__.py:2", "mmcontrast.data", "mmcontrast.data.rows")]
    assert nested_import_lines(package / "data" / "rows.py") == {5, 6, 11}
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
