"""Data flows one way (issue 17): no satqkd module imports, directly or
through others, a module that imports it back -- counting imports inside
functions, which Python resolves late but a reader must still follow.
The two cycles this replaced: ``pipeline`` <-> ``report`` (the weather
tables) and ``config`` <-> ``network.topology`` (the YAML helpers, now in
``satqkd.equipment``); the alias module ``satqkd.constellation`` is gone."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "satqkd"


def import_graph() -> dict[str, set[str]]:
    modules = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = f
    graph = {}
    for name, f in modules.items():
        package = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d in modules and d != name and d != "satqkd"}
    return graph


def cycles(graph) -> list[tuple[str, str]]:
    def reach(start):
        seen, stack = set(), [start]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    return sorted((a, b) for a in graph for b in graph[a] if a in reach(b))


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "satqkd.network.topology" in graph["satqkd.config"]  # imported inside load_scenario
    assert "satqkd.equipment" in graph["satqkd.network.topology"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_alias_module_is_gone():
    assert not (PACKAGE / "constellation.py").exists()
