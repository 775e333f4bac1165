"""Request bodies for tests: HeyGen's official examples and small valid bodies to vary."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden" / "heygen-examples"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "heygen-examples"
VALID_EXAMPLES = ["01", "02", "03", "04", "07", "08", "09", "10"]
INVALID_EXAMPLES = ["05", "06"]


def example(number: str) -> dict[str, Any]:
    """Load the repo's copy of one of HeyGen's official example bodies."""
    (path,) = GOLDEN.glob(f"{number}-*.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def scene(**parts: Any) -> dict[str, Any]:
    """Build a valid scene: avatar, text voice, colour background; `parts` replace any part."""
    base: dict[str, Any] = {
        "character": {"type": "avatar", "avatar_id": "Kristin_public_3_20240108"},
        "voice": {"type": "text", "voice_id": "2f72ee82b83d4b00", "input_text": "Hello!"},
        "background": {"type": "color", "value": "#FAFAFA"},
    }
    return base | parts


def body(*scenes: dict[str, Any], **top: Any) -> dict[str, Any]:
    """Build a valid body from scenes (one default scene when none) and top-level keys."""
    return {"video_inputs": list(scenes) or [scene()], **top}


def with_value(payload: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """Return a copy of `payload` with the value at `path` replaced."""
    result = copy.deepcopy(payload)
    target: Any = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result
