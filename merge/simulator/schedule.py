"""Pure rendering rules: when a video changes status, whether it fits the plan, how long it runs."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from merge.simulator.settings import (
    AUDIO_SCENE_SECONDS,
    CHARS_PER_SECOND,
    DEFAULT_DIMENSION,
    PLAN_CAPS,
)

Clock = Callable[[], float]
"""Where the simulator reads the time: `time.time`, or a test's hand-moved clock."""


@dataclass(frozen=True, slots=True)
class Timeline:
    """A video's life fixed at creation, so its status can be read off any clock reading."""

    created: float
    queued: float
    started: float
    finished: float

    def status(self, now: float, failed: bool = False) -> str:
        """Name the status at `now`: pending, waiting, processing, then completed or failed."""
        if now < self.queued:
            return "pending"
        if now < self.started:
            return "waiting"
        if now < self.finished:
            return "processing"
        return "failed" if failed else "completed"


class RenderSlots:
    """Hand out a fixed number of rendering slots first come, first served."""

    def __init__(self, slots: int) -> None:
        self._free_at = [0.0] * slots

    def book(self, created: float, pending: float, render: float) -> Timeline:
        """Schedule a video created at `created` on the slot that frees up first."""
        queued = created + pending
        started = max(queued, heapq.heappop(self._free_at))
        finished = started + render
        heapq.heappush(self._free_at, finished)
        return Timeline(created, queued, started, finished)


def over_plan(dimension: Mapping[str, Any] | None, plan: str) -> bool:
    """Say whether a video of `dimension` is larger than `plan` renders, in either orientation."""
    width, height = (dimension["width"], dimension["height"]) if dimension else DEFAULT_DIMENSION
    long_cap, short_cap = PLAN_CAPS[plan]
    return max(width, height) > long_cap or min(width, height) > short_cap


def plan_failure(plan: str) -> dict[str, Any]:
    """Build the error HeyGen gives a video that is above the plan's resolution."""
    return {
        "code": 40010,
        "message": "Video format not supported",
        "detail": f"Please subscribe to a higher plan to render above {plan}",
    }


RENDER_FAILURE: dict[str, Any] = {
    "code": 40009,
    "message": "Video rendering failed",
    "detail": "The video could not be rendered; please try again",
}


def estimate_duration(payload: Mapping[str, Any]) -> float:
    """Guess the finished video's length in seconds from its scripts, silences and audio."""
    total = sum(_scene_seconds(scene.get("voice", {})) for scene in payload["video_inputs"])
    return round(max(1.0, total), 2)


def _scene_seconds(voice: Mapping[str, Any]) -> float:
    """Guess one scene's length from its voice."""
    kind = voice.get("type")
    if kind == "text":
        return len(voice["input_text"]) / CHARS_PER_SECOND / float(voice.get("speed", 1.0))
    if kind == "silence":
        return float(voice.get("duration", 1.0))
    return AUDIO_SCENE_SECONDS
