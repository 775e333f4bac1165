"""A local stand-in for HeyGen's video API: a real HTTP server on 127.0.0.1 with real faults.

It accepts `POST /v2/video/generate` bodies checked by avatar-merge's own validator, and v3's
`POST /v3/videos` (with `Idempotency-Key` replays) on the same account. It renders nothing but
moves each video through pending, waiting, processing and completed (or failed) on the clock, and
can refuse, rate-limit, cut off or delay answers at chosen rates. Finished videos
have expiring file links served with byte ranges, and send signed webhook events to loopback URLs.
"""

from merge.simulator.app import create_app
from merge.simulator.files import video_bytes
from merge.simulator.server import Simulator, serve
from merge.simulator.settings import SimulatorSettings

__all__ = ["Simulator", "SimulatorSettings", "create_app", "serve", "video_bytes"]
