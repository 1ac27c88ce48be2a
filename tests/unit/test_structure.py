"""The library's shape: no import circles in bt_core (counting imports inside functions and under
TYPE_CHECKING, which hide a circle rather than remove it), and no pytest inside it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bt_core"


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{a.name}" for a in node.names}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once, as the path that closes it."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_cycle_finder_finds_a_circle_through_three_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_bt_core_has_no_import_circles():
    graph = import_graph()
    assert "bt_core.experiment" in graph and graph["bt_core.experiment"], "the import graph is empty"
    assert cycles(graph) == []


def test_bt_core_does_not_import_pytest():
    offenders = [name for name, path in _modules().items()
                 if any(isinstance(n, (ast.Import, ast.ImportFrom)) and
                        "pytest" in ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
                        for n in ast.walk(ast.parse(path.read_text())))]
    assert offenders == []
