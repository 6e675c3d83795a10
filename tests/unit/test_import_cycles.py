"""No import cycles between Hearth's modules, type-only and function-local imports included.

A cycle hidden behind ``if TYPE_CHECKING:`` or an import inside a function is still two
modules that cannot be understood (or moved) one without the other. The graph is read from
the source (every ``import`` statement anywhere in a module), so nothing is imported here.
``KNOWN`` lists the cycles that remain to be taken apart; it may only shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

KNOWN: list[set[str]] = []


def package_roots() -> list[Path]:
    found = [*ROOT.glob("libs/*/src/*"), *ROOT.glob("services/*/src/*"), ROOT / "src/hearth"]
    return [p for p in found if p.is_dir() and (p / "__init__.py").exists()]


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in package_roots():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(path: Path, name: str) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        for imported in imported_names(path, name):
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            # A module always imports its parent packages: not an edge of its own.
            if target and target != name and not name.startswith(target + "."):
                edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_the_graph_sees_every_package_and_a_cycle_when_there_is_one() -> None:
    graph = import_graph()
    for package in ("hearth", "hearth_events", "hearth_deployer", "hearth_query_api"):
        assert package in graph
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_new_import_cycle() -> None:
    new = [c for c in cycles(import_graph()) if not any(c <= known for known in KNOWN)]
    assert not new, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in new)


def test_the_known_cycles_are_still_there() -> None:
    """When a known cycle is taken apart, take it off ``KNOWN`` too, so it cannot return."""
    found = cycles(import_graph())
    gone = [known for known in KNOWN if not any(c & known for c in found)]
    assert not gone, "no longer cycles, remove from KNOWN: " + str(gone)
