"""Answers in HeyGen's V2 and v3 shapes, and the one answer that deliberately never finishes."""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from merge.problems import Problem
from merge.simulator.limits import retry_after


def ok(data: dict[str, Any]) -> JSONResponse:
    """Answer 200 in the V2 shape: `error` null beside `data`."""
    return JSONResponse({"error": None, "data": data})


def ok_v1(data: dict[str, Any]) -> JSONResponse:
    """Answer 200 in the V1 shape: code 100 and "Success" beside `data`."""
    return JSONResponse({"code": 100, "message": "Success", "data": data})


def error(status: int, code: str, message: str, wait: float | None = None) -> JSONResponse:
    """Answer an error in HeyGen's shape, with a Retry-After header when `wait` is given."""
    body = {"data": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=_wait_headers(wait))


def v3_ok(data: dict[str, Any]) -> JSONResponse:
    """Answer 200 in the v3 shape: `data` alone."""
    return JSONResponse({"data": data})


def v3_error(
    status: int, code: str, message: str, param: str | None = None, wait: float | None = None
) -> JSONResponse:
    """Answer an error in v3's shape, naming the parameter at fault when there is one."""
    body = {"error": {"code": code, "message": message, "param": param, "doc_url": None}}
    return JSONResponse(body, status_code=status, headers=_wait_headers(wait))


def _wait_headers(wait: float | None) -> dict[str, str] | None:
    """Build the Retry-After header for a wait, or none without one."""
    return {"Retry-After": retry_after(wait)} if wait is not None else None


def invalid(message: str) -> JSONResponse:
    """Answer 400 invalid_parameter."""
    return error(400, "invalid_parameter", message)


def invalid_body(problems: list[Problem]) -> JSONResponse:
    """Answer 400 naming the first problem's path, as HeyGen names one field at a time."""
    first = problems[0]
    message = f"{first.path or 'body'} is invalid: {first.message}"
    if len(problems) > 1:
        more = len(problems) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return invalid(message)


UNAUTHORIZED = "Unauthorized: the API key is invalid"


def unauthorized() -> JSONResponse:
    """Answer 401 for a missing or wrong API key."""
    return error(401, "unauthorized", UNAUTHORIZED)


def not_found(code: str, message: str) -> JSONResponse:
    """Answer 404."""
    return error(404, code, message)


def link_refusal(expires: str | None, now: float) -> JSONResponse | None:
    """Answer 403 as a signed CDN link does once `expires` has passed (or is missing), else None."""
    if expires is None or not expires.isascii() or not expires.isdigit():
        return file_host_error(403, "access_denied", "Request has no valid expires parameter")
    if now > int(expires):
        return file_host_error(403, "url_expired", "Request has expired")
    return None


def file_host_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Answer an error from the file host, which has no `data` beside its `error`."""
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


class ConnectionCut(Exception):
    """Raised after an answer has started, so the server drops the connection mid-answer."""


class CutOffResponse(JSONResponse):
    """Send the status line and headers of a JSON answer, then drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start the answer, promising a body that never comes."""
        start = {"type": "http.response.start", "status": self.status_code}
        await send(start | {"headers": self.raw_headers})
        raise ConnectionCut


class HideCutTracebacks(logging.Filter):
    """Keep the server's log free of tracebacks for connections cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop records that carry a ConnectionCut."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionCut)


HIDE_CUT_TRACEBACKS = HideCutTracebacks()


def hide_cut_tracebacks() -> None:
    """Install the filter on the server's error log once."""
    logging.getLogger("uvicorn.error").addFilter(HIDE_CUT_TRACEBACKS)
