"""httpx over aiohttp: the run's requests at about half the CPU of httpx's own connection pool.

httpx's pool scans every connection on each request and answer (its cost grows with
--concurrency); aiohttp's keeps idle connections in a queue and parses in C. The client's code
stays on httpx (its requests, answers and errors); this transport only carries them. Every
aiohttp failure becomes the httpx error that says the same thing, and the line between "never
sent" and "sent, no answer" is kept exactly: only a connection that never opened is a
ConnectError or ConnectTimeout; anything that fails once it is open is a read error or a read
timeout, whose request may have made a video.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
import yarl

KEEP_ALIVE_SECONDS = 5.0
"""How long an idle connection is kept (httpx's own default), well under any server's."""


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests over one aiohttp session of at most `connections` connections.

    The session is made on the first request (it belongs to the running event loop) and closed
    with the httpx client. Proxies stay httpx's business: a proxied request is routed by the
    client to its proxy transport and never comes here; `trust_env` only lets the environment
    name the certificates, as it does for httpx.
    """

    def __init__(self, connections: int, trust_env: bool) -> None:
        self.connections = connections
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None

    def _open(self, url: httpx.URL) -> aiohttp.ClientSession:
        tls: ssl.SSLContext | bool = True
        if url.scheme == "https":  # the same certificates httpx would trust
            tls = httpx.create_ssl_context(trust_env=self.trust_env)
        connector = aiohttp.TCPConnector(
            limit=self.connections, keepalive_timeout=KEEP_ALIVE_SECONDS, ssl=tls
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies, as before
            auto_decompress=False,  # httpx decodes the body by its Content-Encoding
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request and read its whole answer; fail only with httpx's errors."""
        session = self._session or self._open(request.url)
        timeout = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        try:
            body: bytes | AsyncIterator[bytes] | None = request.content or None
        except httpx.RequestNotRead:
            body = _stream(request)
        try:
            async with session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # as httpx encoded it, not again
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            ) as answer:
                content = await answer.read()
        except aiohttp.ConnectionTimeoutError as error:
            raise httpx.ConnectTimeout(_text(error), request=request) from None
        except aiohttp.ClientConnectorError as error:  # the connection never opened
            raise httpx.ConnectError(_text(error), request=request) from None
        except (aiohttp.ServerTimeoutError, TimeoutError) as error:
            raise httpx.ReadTimeout(_text(error), request=request) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as error:
            raise httpx.RemoteProtocolError(_text(error), request=request) from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as error:
            raise httpx.ReadError(_text(error), request=request) from None
        except aiohttp.InvalidURL as error:
            raise httpx.InvalidURL(_text(error)) from None
        except aiohttp.ClientError as error:
            raise httpx.TransportError(_text(error), request=request) from None
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": _reason(answer)},
        )

    async def aclose(self) -> None:
        """Close the session and its connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


async def _stream(request: httpx.Request) -> AsyncIterator[bytes]:
    """Hand a streamed body (a form with files) to aiohttp as it comes."""
    async for chunk in request.stream:  # type: ignore[union-attr]
        yield chunk


def _reason(answer: aiohttp.ClientResponse) -> bytes:
    return (answer.reason or "").encode("latin-1", "replace")


def _text(error: BaseException) -> str:
    """Say an aiohttp failure plainly: its own text, else its kind."""
    return str(error).strip() or type(error).__name__
