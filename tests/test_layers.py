"""The library's layers: imports point down only, no cycles, no private names across modules.

The order, from the top (``research_lib/__init__.py`` says what each layer holds)::

    runner > studies > fielding > render > disclosure > stats > io > (errors, paths)
    demo: io only

Every ``import`` of a ``research_lib`` module — at the top of a module or inside a
function — is read from the source (ast), so a late import cannot hide an upward arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "research_lib"

#: Rank of each layer: a module may import modules of its own layer or of a lower rank.
RANKS = {
    "errors": 0,
    "paths": 0,
    "version": 0,
    "io": 1,
    "stats": 2,
    "disclosure": 3,
    "render": 4,
    "fielding": 5,
    "studies": 6,
    "runner": 7,
    "__main__": 8,
    "__init__": 8,
}
#: Layers whose imports are restricted further than their rank says.
ONLY = {"demo": {"demo", "io", "errors", "paths"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[str, tuple[str, ...], int]]:
    """(imported module, names imported from it, line) of every research_lib import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "research_lib":
                found.append((node.module, tuple(a.name for a in node.names), node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "research_lib":
                    found.append((alias.name, (), node.lineno))
    return found


MODULES = {module_name(p): p for p in sorted(LIB.rglob("*.py"))}


def allowed(importer: str, imported: str) -> bool:
    source, target = layer(importer), layer(imported)
    if imported == "research_lib":  # the package's public API: only from the top
        return source in {"runner", "__main__", "__init__"}
    if source in ONLY:
        return target in ONLY[source]
    if target in ONLY:  # demo data generators: only the runner and the CLI call them
        return source in {"runner", "__main__", "__init__", target}
    return RANKS[target] <= RANKS[source]


def test_every_module_is_in_a_known_layer() -> None:
    unknown = {m for m in MODULES if layer(m) not in RANKS and layer(m) not in ONLY}
    assert not unknown


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    upward = [
        f"line {line}: {module} imports {target}"
        for target, _, line in imports(MODULES[module])
        if not allowed(module, target)
    ]
    assert not upward, "\n".join(upward)


def test_no_private_name_is_imported_across_modules() -> None:
    private = [
        f"{module} line {line}: {name} from {target}"
        for module, path in MODULES.items()
        for target, names, line in imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not private, "\n".join(private)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for target, names, _ in imports(path):
            for candidate in (f"{target}.{n}" for n in names):  # from package import module
                if candidate in MODULES:
                    graph[module].add(candidate)
                    break
            else:
                if target in MODULES and target != "research_lib":
                    graph[module].add(target)
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if nxt == node:
                continue
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_check_sees_an_upward_import() -> None:
    """Planted: stats importing the runner, io importing a study, demo importing stats."""
    assert not allowed("research_lib.stats.its", "research_lib.runner.runs")
    assert not allowed("research_lib.io.counts", "research_lib.studies.qol.pipeline")
    assert not allowed("research_lib.demo.survey", "research_lib.stats.scoring")
    assert allowed("research_lib.studies.qol.pipeline", "research_lib.stats.its")
