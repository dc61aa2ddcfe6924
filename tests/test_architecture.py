"""The shape of the house (docs/architecture.md), checked: no module of the package imports one that imports it
back, every door reaches the model through the translation core, and functions stay short enough to hold in
one's head (data literals aside)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "bayling_cat"
MAX_LINES = 80


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports (anywhere in it: a function-level import is an edge too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_one_that_imports_it_back():
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _outermost_literals(node: ast.AST) -> int:
    """Lines of a function taken by data literals (dicts, lists, tuples, sets) of five lines or more."""
    total, seen = 0, []
    for child in ast.walk(node):
        if isinstance(child, (ast.Dict, ast.List, ast.Tuple, ast.Set)) and child is not node:
            span = (child.lineno, child.end_lineno or child.lineno)
            if span[1] - span[0] + 1 >= 5 and not any(a <= span[0] and span[1] <= b for a, b in seen):
                seen.append(span)
                total += span[1] - span[0] + 1
    return total


def test_no_function_is_longer_than_80_lines_outside_its_data_literals():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno - _outermost_literals(node)
                if lines > MAX_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_no_door_reaches_past_the_core():
    """The doors (command line, protocols, workbench, evaluation) never call an engine's translate or generate
    themselves: the translation core does (translator.py)."""
    doors = [*PACKAGE.glob("cli/*.py"), *PACKAGE.glob("server/*.py"), PACKAGE / "review.py",
             *PACKAGE.glob("evaluate/*.py"), *PACKAGE.glob("pipeline/*.py")]
    allowed = {"service.py"}  # model access: the batched engine itself
    found = []
    for path in doors:
        if not path.is_file() or path.name in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in ("generate", "requests") and "engine" in ast.unparse(node.func.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node.func)}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "translate" \
                    and "engine" in ast.unparse(node.func.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node.func)}")
    assert found == []
