"""The layers of ARCHITECTURE.md hold: every import between callqa's packages (module-level and lazy ones
inside functions alike) goes from a higher layer to a lower one, so the package graph has no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# layer of each top-level package (flows.py is a module; pipeline/cli.py, the command line, counts as its
# own node on top of everything); a package may import lower layers only
LAYERS = {"core": 0, "infra": 1, "transcribe": 2, "scoring": 3, "compliance": 4, "reports": 5, "pipeline": 6,
          "flows": 7, "web": 8, "demo": 9, "cli": 10}
CLI = "pipeline.cli"


def _node(module: str) -> str | None:
    top = module.split(".")[0]
    return "cli" if module == CLI else top if top in LAYERS else None


def package_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {p: set() for p in LAYERS}
    for pkg in LAYERS:
        files = {"flows": [ROOT / "flows.py"], "cli": [ROOT / "pipeline" / "cli.py"]}.get(pkg) or \
            [f for f in sorted((ROOT / pkg).rglob("*.py")) if f != ROOT / "pipeline" / "cli.py"]
        for f in files:
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
                for name in names:
                    node = _node(name)
                    if node is not None and node != pkg:
                        edges[pkg].add(node)
    return edges


def test_every_package_imports_only_lower_layers():
    wrong = sorted((src, dst) for src, dsts in package_imports().items() for dst in dsts if LAYERS[dst] >= LAYERS[src])
    assert wrong == [], f"imports against the layering (package -> package): {wrong}"


def test_package_graph_has_no_cycle():
    edges = package_imports()
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(p: str, path: list[str]) -> None:
        seen[p] = 1
        for q in sorted(edges[p]):
            assert seen.get(q) != 1, f"import cycle: {' -> '.join(path + [q])}"
            if q not in seen:
                visit(q, path + [q])
        seen[p] = 2

    for p in LAYERS:
        if p not in seen:
            visit(p, [p])


def test_the_check_sees_lazy_imports():
    # the graph must include imports inside functions, which is where cycles used to hide
    assert "compliance" in package_imports()["pipeline"]


def test_only_the_command_line_and_the_demo_import_the_web_app():
    importers = sorted(p for p, dsts in package_imports().items() if "web" in dsts)
    assert importers == ["cli", "demo"], \
        f"web/ (the workspace) is started by the command line and the demo only, not {importers}"
