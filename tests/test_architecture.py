"""The layout's rules (docs/architecture.md), read from the source: imports only run down the
layers, no module imports another in a cycle, modules stay small, the core names no plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Source folders and the package each maps to (pyproject's package-dir).
PACKAGES = {"flagbench": "flagbench", "vendors": "flagbench.vendors",
            "cases": "flagbench.cases", "reports": "flagbench.reports"}
#: Layer -> the layers its modules may import (besides their own).
ALLOWED: dict[str, set[str]] = {
    "api": set(),
    "stats": {"api"},
    "measure": {"api", "stats"},
    "run": {"api", "stats", "measure"},
    "store": {"api"},
    "report": {"api", "stats", "store", "reports"},
    "cli": {"api", "stats", "measure", "run", "store", "report"},
    "plugins": {"api", "stats", "measure", "run"},
    "root": {"api"},
    "main": {"cli"},
}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def layer(module: str) -> str:
    """The layer a module belongs to, from its dotted name."""
    parts = module.split(".")
    if module == "flagbench":
        return "root"
    if module == "flagbench.__main__":
        return "main"
    if parts[1] in ("vendors", "cases"):
        return "plugins"
    return parts[1]


def imports(module: str) -> set[str]:
    """Every flagbench module this one imports, at module level, in functions and under
    TYPE_CHECKING alike; ``from package import submodule`` counts as the submodule."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            names = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import flagbench.x.y` names a module
                name = name.rpartition(".")[0]
            if name.startswith("flagbench") and name != module:
                found.add(name)
    return found


GRAPH = {m: imports(m) for m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down_the_layers(module: str) -> None:
    own = layer(module)
    if own == "reports":
        assert not GRAPH[module]
        return
    climbs = sorted(m for m in GRAPH[module]
                    if layer(m) != own and layer(m) not in ALLOWED[own])
    assert not climbs, f"{module} ({own}) may import {sorted(ALLOWED[own])}, not {climbs}"


def test_no_import_cycle() -> None:
    # Tarjan's strongly connected components over the whole graph; any of two or more
    # modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_core_names_no_plugin() -> None:
    core = [m for m in MODULES if layer(m) not in ("plugins", "reports")]
    named = sorted((m, i) for m in core for i in GRAPH[m] if layer(i) == "plugins")
    assert not named


def test_modules_stay_small() -> None:
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_top_of_the_core_is_only_packages() -> None:
    top = sorted(p.name for p in (ROOT / "flagbench").iterdir()
                 if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    assert top == ["__init__.py", "__main__.py", "api", "cli", "measure", "report", "run",
                   "stats", "store"]


def test_the_rule_sees_function_level_imports() -> None:
    # The CLI imports the store inside its commands; the rule must see that edge.
    assert "flagbench.store" in GRAPH["flagbench.cli.run_command"]
