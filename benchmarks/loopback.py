"""Run the simulator and `avatar-merge submit` or `status` as child processes over 127.0.0.1.

Each is a process of its own, as it is for a user: the simulator is started with `--port 0`
and tells its address on its first line; the command's own summary ("Sent N rows in X s")
gives the sending time, apart from start-up and rendering. Proxy variables are removed from
the children's environment, so no request can leave the machine.
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from benchmarks.run import PROJECT, log

API_KEY = "bench-key"
LOOPBACK = "http://127.0.0.1:"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
START_SECONDS = 20.0
STOP_SECONDS = 10.0
SENT = re.compile(r"^Sent ([\d,]+) rows? in ([\d.]+) s \(([\d.]+)/s\)", re.M)
OUTPUT_ROWS = re.compile(r"^  output rows: (.*)$", re.M)
URL = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def child_env() -> dict[str, str]:
    """The children's environment: the benchmark's key, and no proxy between us and loopback."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env.pop("HEYGEN_BASE_URL", None)
    env["HEYGEN_API_KEY"] = API_KEY
    return env


class SimulatorProcess:
    """Run `python -m merge simulate --port 0 OPTIONS` and learn its URL from its first line.

    `program` names another module that prints the same line (benchmarks.sim_launcher).
    """

    def __init__(
        self, options: Sequence[str], program: Sequence[str] = ("merge", "simulate")
    ) -> None:
        self.options = list(options)
        self.program = list(program)
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> SimulatorProcess:
        command = [sys.executable, "-m", *self.program, "--port", "0", *self.options]
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=PROJECT,
            env=child_env(),
            text=True,
        )
        try:
            self.url = self._read_url(self._process)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read_url(self, process: subprocess.Popen[str]) -> str:
        """Wait for the line that says where the simulator listens."""
        assert process.stdout is not None
        deadline = time.monotonic() + START_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([process.stdout], [], [], left)
            line = process.stdout.readline() if readable else ""
            found = URL.search(line)
            if found:
                return found.group(1)
            if readable and not line:
                break  # end of output: it exited
        raise RuntimeError(f"the simulator did not start: {self._stderr_tail()}")

    def get(self, path: str) -> Any:
        """GET one of the simulator's admin views as JSON, never through a proxy."""
        url = self.url + path
        if not url.startswith(LOOPBACK):
            raise RuntimeError(f"refusing to fetch {url}: not 127.0.0.1")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url, timeout=10) as answer:
            return json.load(answer)

    def cpu_seconds(self) -> float | None:
        """CPU time the simulator has used so far (user + system), from /proc."""
        if self._process is None:
            return None
        try:
            stat = Path(f"/proc/{self._process.pid}/stat").read_text(encoding="ascii")
        except OSError:
            return None
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Ctrl-C the simulator; terminate, then kill it if it does not stop; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-3:]) or "no message"


@dataclass
class SubmitRun:
    """One `avatar-merge submit` process: what it printed, how long it took, how it ended."""

    options: list[str]
    rows: int
    code: int
    wall: float
    stdout: str
    stderr: str
    timed_out: bool = False
    cpu: float = 0.0
    sent: int | None = None
    seconds: float | None = None
    statuses: str = ""

    @property
    def rate(self) -> float | None:
        """Rows sent per second of the sending phase, as the command measured it."""
        if self.sent is None or not self.seconds:
            return None
        return self.sent / self.seconds


@dataclass
class ClientRun:
    """One `python -m merge ...` process: how it ended, how long it took, what it printed."""

    code: int
    wall: float
    stdout: str
    stderr: str
    timed_out: bool
    cpu: float
    started_at: float
    """Epoch seconds just before the process was started, on the simulator's clock."""


def run_merge(args: Sequence[str], timeout: float) -> ClientRun:
    """Run `python -m merge ARGS`, interrupting it if it runs past `timeout`."""
    command = [sys.executable, "-m", "merge", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # The simulator is not reaped until later, so the children's usage grows by this one's.
        before = _children_cpu()
        started_at = time.time()
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, cwd=PROJECT, env=child_env())
        timed_out = _wait_or_interrupt(child, timeout, args[0] if args else "merge")
        wall = time.perf_counter() - started
        return ClientRun(
            child.returncode,
            wall,
            _read(out),
            _read(err),
            timed_out,
            _children_cpu() - before,
            started_at,
        )


def run_submit(
    sheet: Path, template: Path, output: Path, url: str, options: Sequence[str], timeout: float
) -> SubmitRun:
    """Run the submit command against `url`, interrupting it if it runs past `timeout`."""
    args = ["submit", str(sheet), str(template), "-o", str(output), "--base-url", url, "--yes"]
    child = run_merge([*args, *options], timeout)
    run = SubmitRun(
        list(options), 0, child.code, child.wall, child.stdout, child.stderr, child.timed_out
    )
    run.cpu = child.cpu
    _parse_summary(run)
    return run


def _wait_or_interrupt(child: subprocess.Popen[bytes], timeout: float, name: str) -> bool:
    """Wait for the child; past `timeout`, Ctrl-C it twice (as a user would), then kill it."""
    try:
        child.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        pass
    log(f"{name} still running after {timeout:.0f} s: interrupting it")
    for _ in range(2):
        child.send_signal(signal.SIGINT)
        try:
            child.wait(STOP_SECONDS)
            return True
        except subprocess.TimeoutExpired:
            continue
    child.kill()
    child.wait()
    return True


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def _parse_summary(run: SubmitRun) -> None:
    """Read "Sent N rows in X s (Y/s)" and the output rows' statuses from the command's output."""
    sent = SENT.search(run.stdout)
    if sent:
        run.sent = int(sent.group(1).replace(",", ""))
        rate = float(sent.group(3))
        # X is printed to 0.1 s; N / (Y/s) is as precise as the command's own clock.
        run.seconds = run.sent / rate if run.sent and rate else float(sent.group(2))
    statuses = OUTPUT_ROWS.search(run.stdout)
    run.statuses = statuses.group(1) if statuses else ""
