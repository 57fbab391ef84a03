"""The layout holds: the top-level packages import one another one way only.

Every import is read from the source (function-local ones included), so a cycle
cannot hide in a function body. The allowed direction:

    yyc3_realtime (wiring) -> notifications -> chat -> realtime (runtime)
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("realtime", "chat", "notifications", "yyc3_realtime")
# What each package may import from the others.
ALLOWED = {
    "realtime": set(),
    "chat": {"realtime"},
    "notifications": {"chat", "realtime"},
    "yyc3_realtime": {"realtime", "chat", "notifications"},
}


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """Return (imported module, line, inside a function) for every import."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef)
            )
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((child.module, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """Return package -> imported package -> where ("file:line")."""
    graph: dict[str, dict[str, list[str]]] = {p: {} for p in PACKAGES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for module, line, _ in imports_of(path):
                target = module.split(".")[0]
                if target in PACKAGES and target != package:
                    where = f"{path.relative_to(ROOT)}:{line}"
                    graph[package].setdefault(target, []).append(where)
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """Return a cycle of packages (first == last), or None."""
    state: dict[str, str] = {}

    def walk(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in graph.get(node, {}):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := walk(target, [*path, target])):
                return cycle
        state[node] = "done"
        return None

    for start in graph:
        if start not in state and (cycle := walk(start, [start])):
            return cycle
    return None


def test_no_import_cycle_between_top_level_packages():
    graph = package_graph()
    cycle = find_cycle(graph)
    assert cycle is None, (
        "import cycle: "
        + " -> ".join(cycle or [])
        + "".join(
            f"\n  {a} -> {b}: {', '.join(graph[a][b][:3])}"
            for a, b in zip(cycle or [], (cycle or [])[1:], strict=False)
        )
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_it_may(package):
    graph = package_graph()
    wrong = {
        t: where for t, where in graph[package].items() if t not in ALLOWED[package]
    }
    assert not wrong, f"{package} may not import {sorted(wrong)}: {wrong}"


def test_the_checks_see_a_cycle_and_a_function_local_import(tmp_path):
    """The checks themselves: a cycle through a function-local import is found."""
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from chat import models\n")
    assert imports_of(source) == [("chat", 2, True)]
    graph = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": ["x"]}, "b": {}}) is None


def test_function_local_imports_are_only_in_app_ready():
    """Apps load their models' users in AppConfig.ready(); nowhere else does code
    import our packages inside a function (that is how a cycle hides)."""
    local = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path.name == "apps.py":
                continue
            for module, line, in_function in imports_of(path):
                if in_function and module.split(".")[0] in PACKAGES:
                    local.append(f"{path.relative_to(ROOT)}:{line} {module}")
    assert not local, "function-local imports: " + ", ".join(local)
