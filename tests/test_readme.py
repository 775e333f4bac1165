"""The README's layout section names every module of the package, so the map stays the tree."""

from __future__ import annotations

from pathlib import Path

import merge
from tests.conftest import ROOT

PACKAGE = Path(merge.__file__).parent


def _layout() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]


def test_the_layout_names_every_module_under_its_folder() -> None:
    layout = _layout()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        folder = path.parent.relative_to(PACKAGE)
        named = path.name in layout and (folder == Path(".") or f"{folder.name}/" in layout)
        if not named:
            missing.append(str(path.relative_to(PACKAGE)))
    assert not missing, f"README's layout section does not name: {missing}"
