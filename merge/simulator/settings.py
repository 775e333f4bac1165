"""The simulator's knobs in one frozen object, and the fixed facts of the account it imitates."""

from __future__ import annotations

from dataclasses import dataclass, fields

PLAN_CAPS: dict[str, tuple[int, int]] = {
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "4k": (3840, 2160),
}
"""Largest (long side, short side) each plan renders; bigger videos fail at render time."""

DEFAULT_DIMENSION = (1280, 720)
"""The size assumed when a request gives no `dimension` (the docs' form pre-fills it)."""

URL_LIFETIME_SECONDS = 7 * 24 * 3600
"""How long a file link from a status answer or a webhook stays valid (HeyGen: 7 days)."""

FILE_BYTES = 64 * 1024
"""Size of a finished video's file; large enough that a download takes more than one read."""

CHARS_PER_SECOND = 15.0
"""Speaking rate used to estimate a video's duration from its script."""

AUDIO_SCENE_SECONDS = 10.0
"""Duration assumed for a scene voiced by an audio file the simulator never fetches."""

QUOTA_SECONDS = 3600
QUOTA_SECONDS_PER_VIDEO = 60
UNLIMITED_QUOTA_SECONDS = 360_000
SECONDS_PER_DAY = 86_400
DEFAULT_PORT = 8000
KEEP_ALIVE_SECONDS = 75
"""How long an idle connection stays open (nginx's default). At the server's 5 s default, a
client pacing one request per 5 s races the close and sees resets nobody asked for."""
HOST = "127.0.0.1"
MAX_PAGE = 100
"""Most videos one listing page, or one v3 bulk status request, covers."""
MAX_SCENES = 50
"""Most scenes one video may have (V2's `video_inputs`, v3's studio `scenes`)."""
IDEMPOTENCY_SECONDS = 24 * 3600
"""How long v3 replays the answer a request with an `Idempotency-Key` got (HeyGen: 24 hours)."""

WEB_SCHEMES = ("http://", "https://")
WEBHOOK_TRIES = 3
WEBHOOK_RETRY_SECONDS = 1.0
WEBHOOK_TIMEOUT_SECONDS = 5.0
ENDPOINT_CHECK_SECONDS = 1.0
"""How long a URL given to `endpoint.add` has to answer its OPTIONS check (HeyGen: 1 second)."""

_FRACTIONS = (
    "fail_5xx",
    "fail_429",
    "reset_after_accept",
    "late_answer",
    "render_failure",
)
_DURATIONS = ("latency", "pending_seconds", "render_seconds", "late_by", "retry_after")


@dataclass(frozen=True)
class SimulatorSettings:
    """Describe the account and the faults the simulator plays, fixed for one run."""

    api_key: str | None = None
    rate_limit: float | None = None
    slots: int = 3
    daily_quota: int | None = None
    latency: float = 0.0
    pending_seconds: float = 0.5
    render_seconds: float = 3.0
    fail_5xx: float = 0.0
    fail_429: float = 0.0
    reset_after_accept: float = 0.0
    late_answer: float = 0.0
    late_by: float = 30.0
    render_failure: float = 0.0
    plan: str = "1080p"
    retry_after: float = 1.0
    seed: int | None = None
    url_ttl: float = URL_LIFETIME_SECONDS
    file_bytes: int = FILE_BYTES
    file_rate: float | None = None
    render_jitter: float = 0.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    v2_retired: bool = False
    """Play today's HeyGen: every V1/V2 endpoint answers 410 (retired on 2026-11-01)."""
    job_limit: int | None = None
    """Unfinished videos the account may have at once (HeyGen: 10 on Pay-As-You-Go); a create
    beyond it is answered 429 with a Retry-After until the first one finishes."""

    def __post_init__(self) -> None:
        """Refuse settings no account could have, so a typo fails at start and not mid-run."""
        problems = settings_problems(self)
        if problems:
            raise ValueError("invalid simulator settings: " + "; ".join(problems))


FRACTIONS = frozenset(_FRACTIONS)
"""Settings that are a share of requests or videos, 0 to 1."""

OPTION_HELP: dict[str, tuple[str | None, str]] = {
    "api_key": ("KEY", "accept only this key (default: any)"),
    "rate_limit": ("N", "create requests per second, then 429"),
    "slots": ("N", "videos rendering at once"),
    "daily_quota": ("N", "videos accepted per day, then refused for credit"),
    "latency": ("S", "seconds before every answer"),
    "pending_seconds": ("S", "time a video is pending"),
    "render_seconds": ("S", "rendering time"),
    "fail_5xx": ("F", "share answered 500/502/503"),
    "fail_429": ("F", "share answered 429"),
    "reset_after_accept": ("F", "share accepted, then cut off without an answer"),
    "late_answer": ("F", "share accepted, then answered only after --late-by seconds"),
    "late_by": ("S", "seconds a late answer waits"),
    "render_failure": ("F", "share that fail"),
    "plan": (None, "resolution cap"),
    "retry_after": ("S", "Retry-After of an injected 429"),
    "seed": ("N", "repeat the same faults"),
    "url_ttl": ("S", "link lifetime in seconds"),
    "file_bytes": ("N", "size of each video file"),
    "file_rate": ("B", "serve files at B bytes per second"),
    "render_jitter": ("F", "render time ± share"),
    "webhook_url": ("URL", "post video events here (loopback only)"),
    "webhook_secret": ("S", "sign the events posted to --webhook-url"),
    "job_limit": ("N", "unfinished videos at once, then 429 with Retry-After (HeyGen: 10)"),
    "v2_retired": (None, "answer 410 on every V1/V2 endpoint, as HeyGen does since 2026-11-01"),
}
"""The `simulate` command's option for each setting: metavar and help; the default, type and
name come from the field itself, so they are written once."""


def settings_problems(settings: SimulatorSettings) -> list[str]:
    """List what is out of range in `settings`, in field order."""
    values = {field.name: getattr(settings, field.name) for field in fields(settings)}
    problems = [
        f"{name} must be between 0 and 1, not {values[name]}"
        for name in _FRACTIONS
        if not 0 <= values[name] <= 1
    ]
    problems += [f"{name} must not be negative" for name in _DURATIONS if values[name] < 0]
    if settings.rate_limit is not None and settings.rate_limit <= 0:
        problems.append("rate_limit must be above 0")
    if settings.slots < 1:
        problems.append("slots must be at least 1")
    if settings.job_limit is not None and settings.job_limit < 1:
        problems.append("job_limit must be at least 1")
    if settings.daily_quota is not None and settings.daily_quota < 0:
        problems.append("daily_quota must not be negative")
    if settings.url_ttl <= 0:
        problems.append("url_ttl must be above 0")
    if settings.file_bytes < 1:
        problems.append("file_bytes must be at least 1")
    if settings.file_rate is not None and settings.file_rate <= 0:
        problems.append("file_rate must be above 0")
    if not 0 <= settings.render_jitter < 1:
        problems.append(
            f"render_jitter must be at least 0 and below 1, not {settings.render_jitter}"
        )
    if settings.webhook_url is not None and not settings.webhook_url.startswith(WEB_SCHEMES):
        problems.append(
            f"webhook_url must start with http:// or https://, not {settings.webhook_url!r}"
        )
    if settings.plan not in PLAN_CAPS:
        problems.append(f"plan must be one of {', '.join(PLAN_CAPS)}, not {settings.plan!r}")
    return problems
