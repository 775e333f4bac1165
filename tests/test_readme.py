"""The README stays true: its layout names every module; its first-hour steps run as written."""

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


def test_your_own_sheet_in_five_minutes_runs_as_written(cli, tmp_path, monkeypatch) -> None:
    """init, render, a rehearsed pilot, then the README's campaign file: every step works."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Your own sheet in five minutes\n", 1)[1].split("\n## ", 1)[0]
    campaign = section.split("```toml\n", 1)[1].split("```", 1)[0]
    campaign = "\n".join(line.strip() for line in campaign.splitlines())
    monkeypatch.chdir(tmp_path)
    assert cli("init", "spring").code == 0
    rendered = cli("render", "spring/leads.xlsx", "spring/template.json", "-o", "spring/review")
    assert rendered.code == 3, rendered.out + rendered.err  # the starter's four mistakes
    pilot = ("submit", "spring/leads.xlsx", "spring/template.json", "-o", "spring/sent.xlsx")
    assert cli(*pilot, "--limit", "2", "--simulate", "--yes", "-q").code == 0
    Path("spring.toml").write_text(campaign + "simulate = true\nyes = true\npoll = 0.2\n")
    rest = cli("submit", "--campaign", "spring.toml")
    assert rest.code == 3, rest.out + rest.err
    assert "  skipped:        2 already has a video_id" in rest.out
    assert sorted(p.suffix for p in Path("spring/videos").iterdir())[:1] == [".jpg"]
