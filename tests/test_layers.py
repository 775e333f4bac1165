"""The package's imports point down the stages of a row's trip, never up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import merge

PACKAGE = Path(merge.__file__).parent
# A row travels sheets → payload → api → review → batch → follow, and the CLI sits over them all.
# A module may import its own stage, any earlier stage, and the shared top-level modules.
STAGES = ["sheets", "payload", "api", "review", "batch", "follow", "cli"]
SHARED = {"addresses", "errors", "settings", "problems", "loop", "version"}
# The simulator is a second opinion on the API: it may use only the shared modules and itself.
SIMULATOR_MAY_USE = SHARED | {"simulator"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("merge."):
            found.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name.split(".")[1])
                for a in node.names
                if a.name.startswith("merge.")
            ]
    return found


def _modules() -> list[Path]:
    return sorted(
        p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE
    )


def _allowed(importer: str, imported: str) -> bool:
    if imported in SHARED or imported == importer:
        return True
    if importer == "simulator":
        return imported in SIMULATOR_MAY_USE
    if importer in SHARED:
        return False
    if imported == "simulator":
        return importer == "cli"
    return STAGES.index(imported) <= STAGES.index(importer)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_stages(path: Path) -> None:
    parts = path.relative_to(PACKAGE).parts
    importer = parts[0] if len(parts) > 1 else path.stem
    if importer in {"__main__"}:
        return
    upward = [
        f"line {line}: merge.{imported}"
        for line, imported in _imports(path)
        if not _allowed(importer, imported)
    ]
    assert not upward, f"{path.name} ({importer}) imports a later stage: {upward}"
