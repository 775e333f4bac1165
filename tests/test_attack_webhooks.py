"""Attack: webhook forgeries, replays, huge, slow, broken and deeply nested bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import uvicorn

from merge.batch.journal import Journal, journal_path
from merge.cli.listen import _server_config
from merge.follow.webhooks import Listener

SECRET = b"whsec-attack"
KNOWN = "a" * 32


def _event(video_id: str, kind: str = "success", key: str = "", url: str = "") -> bytes:
    data = {"video_id": video_id, "callback_id": key, "url": url or "https://files.example/v.mp4"}
    return json.dumps({"event_type": f"avatar_video.{kind}", "event_data": data}).encode()


def _sign(body: bytes, secret: bytes = SECRET) -> dict[str, str]:
    return {"signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with closing(Journal.open(journal_path(tmp_path / "sent.csv"), "api")) as opened:
        opened.sending("done", 2, "h", 1.0)
        opened.submitted("done", KNOWN, 2.0)
        opened.sending("doubt", 3, "h", 1.0)
        opened.unknown("doubt", "ReadTimeout", 2.0)
        opened.sending("refused", 4, "h", 1.0)
        opened.failed("refused", "HTTP 400: bad avatar", 400, 2.0)
        yield opened


def _serve(listener: Listener) -> Iterator[str]:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_server_config(listener))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/heygen"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def signed(journal: Journal) -> Iterator[tuple[str, Listener]]:
    listener = Listener(journal, SECRET, body_seconds=0.5)
    for url in _serve(listener):
        yield url, listener


@pytest.fixture
def unsigned(journal: Journal) -> Iterator[tuple[str, Listener]]:
    listener = Listener(journal, None, accept_unsigned=True)
    for url in _serve(listener):
        yield url, listener


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers or {}, trust_env=False, timeout=10)


def _raw(url: str, request: bytes, read: bool = True) -> bytes:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        return conn.recv(4096) if read else b""


def test_unsigned_events_are_refused_unless_the_user_accepts_them(journal) -> None:
    for url in _serve(Listener(journal, None)):
        assert _post(url, _event(KNOWN)).status_code == 401
    assert journal.videos() == {}


def test_a_huge_body_is_refused_before_it_is_read(signed) -> None:
    url, listener = signed
    head = (
        b"POST /heygen HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n"
        b"signature: " + b"0" * 64 + b"\r\n\r\n"
    )
    assert b" 413 " in _raw(url, head)

    def endless() -> Iterator[bytes]:
        for _ in range(64):  # 16 MB offered in chunks without a length; refused past 64 KB
            yield b"x" * 256 * 1024

    with httpx.Client(trust_env=False, timeout=10) as http:
        try:
            answer = http.post(url, content=endless(), headers={"signature": "0" * 64})
            assert answer.status_code == 413
        except httpx.HTTPError:
            pass  # the server may close before the rest is sent: also a refusal
    assert listener.counts["too large"] >= 1


@pytest.mark.parametrize(
    "signature",
    ["é" * 64, "\u00ff" * 64, "g" * 64, "", "0" * 63],
)
def test_a_malformed_signature_is_a_401_not_a_500(signed, signature) -> None:
    url, _ = signed
    body = _event(KNOWN)
    request = (
        b"POST /heygen HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nsignature: "
        + signature.encode("latin-1")
        + b"\r\n\r\n"
        + body
    )
    assert b" 401 " in _raw(url, request)


def test_deep_json_and_cut_bodies_are_refused_and_real_events_still_land(signed, journal):
    url, _ = signed
    deep = b"[" * 50_000 + b"]" * 50_000
    assert _post(url, deep[:60_000], _sign(deep[:60_000])).status_code == 400
    cut = b"POST /heygen HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nsignature: "
    _raw(url, cut + b"0" * 64 + b'\r\n\r\n{"event', read=False)  # hangs up mid-body
    body = _event(KNOWN)
    assert _post(url, body, _sign(body)).status_code == 200
    assert journal.videos()[KNOWN].status == "completed"


def test_slow_connections_do_not_block_real_events(signed, journal) -> None:
    url, listener = signed
    host, port = url.split("//")[1].split("/")[0].split(":")
    slow = []
    for number in range(150):
        conn = socket.create_connection((host, int(port)), timeout=10)
        if number % 2:
            conn.sendall(b"POST /heygen HTTP/1.1\r\nHost: x\r\n")  # headers never end
        else:
            conn.sendall(
                b"POST /heygen HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nsignature: "
                + b"0" * 64
                + b"\r\n\r\n{"  # the body never ends
            )
        slow.append(conn)
    try:
        body = _event(KNOWN)
        started = time.monotonic()
        assert _post(url, body, _sign(body)).status_code == 200
        assert time.monotonic() - started < 2
        time.sleep(0.7)  # past the listener's 0.5 s for a body
        assert listener.counts["too slow"] >= 70
    finally:
        for conn in slow:
            conn.close()


def test_an_unsigned_event_never_gives_a_row_an_id(unsigned, journal) -> None:
    url, _ = unsigned
    for key in ("doubt", "refused"):
        forged = _event("f" * 32, key=key, url="https://attacker.example/x.mp4")
        assert _post(url, forged).json() == {"result": "ignored"}
    entries = journal.entries()
    assert entries["doubt"].video_id is None
    assert entries["refused"].video_id is None
    assert "f" * 32 not in journal.videos()


def test_a_signed_event_never_gives_a_refused_row_an_id(signed, journal) -> None:
    url, _ = signed
    body = _event("e" * 32, key="refused")
    assert _post(url, body, _sign(body)).json() == {"result": "ignored"}
    assert journal.entries()["refused"].video_id is None


def test_a_late_or_replayed_fail_never_undoes_a_completed_video(signed, journal) -> None:
    url, _ = signed
    done = _event(KNOWN)
    failed = _event(KNOWN, "fail")
    for body in (done, failed, done, failed):
        assert _post(url, body, _sign(body)).status_code == 200
    state = journal.videos()[KNOWN]
    assert state.status == "completed"
    assert state.error is None
