"""Run the simulator as `avatar-merge simulate` does, with the knobs and records polling needs.

`python -m benchmarks.sim_launcher --port 0 --slots N --render-seconds S --render-jitter J
--pending-seconds P --seed N` serves the same app (`merge.simulator.app.build_app` around a
`merge.simulator.account.Account`) on 127.0.0.1 and prints the same first line
("HeyGen simulator listening on URL"), so benchmarks/loopback.py starts it like the command.
`simulate` has no flags for render jitter and the pending time, which `SimulatorSettings`
has; and a polling benchmark needs two facts no HTTP view gives, so this adds two views:

  GET /_bench/videos  every video's id, seq and timeline (created, queued, started,
                      finished: epoch seconds on the simulator's clock), oldest first
  GET /_bench/asks    every status request as [video_id, epoch seconds when it arrived]

Nothing in merge/ is changed: the extra views sit in a thin ASGI wrapper in front of the app.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.responses import JSONResponse

from merge.simulator.account import Account
from merge.simulator.app import build_app
from merge.simulator.settings import HOST, KEEP_ALIVE_SECONDS, SimulatorSettings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

STATUS_PATH = "/v1/video_status.get"
VIDEOS_PATH = "/_bench/videos"
ASKS_PATH = "/_bench/asks"
ALL_VIDEOS = 10**9


class Recorder:
    """Note every status request's video and arrival time; serve the two extra views."""

    def __init__(self, app: App, account: Account) -> None:
        self.app = app
        self.account = account
        self.asks: list[tuple[str, float]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record, answer a view of ours, or pass the request on to the simulator."""
        path = scope.get("path") if scope["type"] == "http" else None
        if path == STATUS_PATH:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            self.asks.append((query.get("video_id", [""])[0], time.time()))
        elif path == VIDEOS_PATH:
            await JSONResponse(self.videos())(scope, receive, send)
            return
        elif path == ASKS_PATH:
            await JSONResponse(self.asks)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def videos(self) -> list[dict[str, Any]]:
        """Every video with its timeline, oldest first."""
        newest_first, _ = self.account.page(None, ALL_VIDEOS)
        return [
            {
                "id": video.id,
                "seq": video.seq,
                "created": video.timeline.created,
                "queued": video.timeline.queued,
                "started": video.timeline.started,
                "finished": video.timeline.finished,
                "failed": video.failure is not None,
            }
            for video in reversed(newest_first)
        ]


def parse(argv: list[str]) -> argparse.Namespace:
    """Read the knobs; the defaults are SimulatorSettings' own."""
    defaults = SimulatorSettings()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_launcher")
    add = parser.add_argument
    add("--port", type=int, default=0)
    add("--slots", type=int, default=defaults.slots)
    add("--render-seconds", type=float, default=defaults.render_seconds)
    add("--render-jitter", type=float, default=defaults.render_jitter)
    add("--pending-seconds", type=float, default=defaults.pending_seconds)
    add("--latency", type=float, default=defaults.latency)
    add("--seed", type=int, default=None)
    return parser.parse_args(argv)


def bind(port: int) -> socket.socket:
    """Listen on loopback, naming TCP so asyncio turns Nagle off (as the simulator does)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def serve(server: uvicorn.Server, sock: socket.socket, url: str, app: Any) -> None:
    """Serve until Ctrl-C, saying where once connections are accepted."""
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not (server.started or serving.done()):
        await asyncio.sleep(0.005)
    if server.started:
        print(f"HeyGen simulator listening on {url} (Ctrl-C stops it)", flush=True)
    try:
        await serving
    finally:
        await app.state.webhooks.close()


def main(argv: list[str] | None = None) -> int:
    """Build the account and the app, wrap them, and serve on 127.0.0.1."""
    args = parse(sys.argv[1:] if argv is None else argv)
    settings = SimulatorSettings(
        slots=args.slots,
        render_seconds=args.render_seconds,
        render_jitter=args.render_jitter,
        pending_seconds=args.pending_seconds,
        latency=args.latency,
        seed=args.seed,
    )
    account = Account(settings)
    app = build_app(account)
    sock = bind(args.port)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        Recorder(app, account),
        log_level="warning",
        access_log=False,
        lifespan="off",
        log_config=None,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    # The server re-raises the Ctrl-C it handled once it has shut down; stopping is the point.
    with contextlib.suppress(KeyboardInterrupt), sock:
        asyncio.run(serve(uvicorn.Server(config), sock, f"http://{host}:{port}", app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
