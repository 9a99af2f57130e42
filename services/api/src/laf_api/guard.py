"""The request guard: what every request must be before a route sees it (README "Limits").

A pure ASGI middleware, so streaming answers (SSE) pass through untouched. It answers

- 422 for a header longer than its cap, a NUL character in the path or query string,
  and a JSON body that is not plain JSON: undecodable, NaN/Infinity, nested deeper
  than `max_json_depth`, or a NUL character in any string or key (PostgreSQL cannot
  store one);
- 413 for a body over the limit: `max_body_bytes_anonymous` until the caller's
  credential is checked, `max_body_bytes` after (`blob_max_bytes` for POST
  /api/blobs, raw data not checked as JSON). A declared Content-Length over the
  limit is refused before a byte of the body is read.

The body it read is handed on to the application unchanged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import HTTPException
from starlette.requests import Request

from laf_api.settings import ApiSettings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Authenticate = Callable[[Request], Awaitable[object]]

_CREDENTIAL_HEADERS = frozenset({b"authorization", b"cookie"})
_CHECK_IN_THREAD_BYTES = 256 * 1024


class Invalid(Exception):
    """The request is not one LAF reads: answered 422 with `loc` and `msg`."""

    def __init__(self, loc: list[str | int], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc, self.msg, self.kind = loc, msg, kind


class TooLarge(Exception):
    """413 with the message."""


def _no_constants(name: str) -> Any:
    raise Invalid(["body"], f"{name} is not JSON; send numbers only", "json_invalid")


def check_json(body: bytes, max_depth: int) -> None:
    """Raise Invalid unless `body` is JSON LAF can store: no NaN/Infinity, nested at most
    `max_depth` deep, no NUL character in a string or key. Pure."""
    try:
        document = json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise Invalid(["body"], f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise Invalid(["body"], "the body is not UTF-8", "json_invalid") from None
    except ValueError as exc:
        raise Invalid(["body"], f"the body is not JSON: {exc}", "json_invalid") from None
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise Invalid(["body"], "a string holds a NUL character (\\u0000)")
        elif isinstance(node, dict | list):
            if depth >= max_depth:
                raise Invalid(["body"], f"JSON nested deeper than {max_depth} levels")
            if isinstance(node, dict):
                for key, value in node.items():
                    if "\x00" in key:
                        raise Invalid(["body"], "a key holds a NUL character (\\u0000)")
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in node)


def check_target(scope: Scope) -> None:
    """Raise Invalid for a NUL character in the path or the query string."""
    if "\x00" in scope.get("path", ""):
        raise Invalid(["path"], "the path holds a NUL character")
    query: bytes = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query or b"\x00" in unquote_to_bytes(query):
        raise Invalid(["query"], "the query string holds a NUL character")


def check_headers(scope: Scope, settings: ApiSettings) -> None:
    for name, value in scope.get("headers", ()):
        cap = (
            settings.max_credential_header_bytes
            if name in _CREDENTIAL_HEADERS
            else settings.max_header_bytes
        )
        if len(value) > cap:
            shown = name.decode("latin-1")[:100]
            raise Invalid(["header", shown], f"header {shown} is longer than {cap} bytes")


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: ApiSettings, authenticate: Authenticate) -> None:
        self.app = app
        self.settings = settings
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_headers(scope, self.settings)
            check_target(scope)
            body = await self._body(scope, receive)
            if body and _is_json(scope) and not _raw_data(scope):
                if len(body) > _CHECK_IN_THREAD_BYTES:  # keep the event loop free meanwhile
                    await asyncio.to_thread(check_json, body, self.settings.max_json_depth)
                else:
                    check_json(body, self.settings.max_json_depth)
        except Invalid as exc:
            detail = [{"loc": exc.loc, "msg": exc.msg, "type": exc.kind}]
            await _answer(send, 422, {"detail": detail})
            return
        except TooLarge as exc:
            await _answer(send, 413, {"detail": str(exc)})
            return
        except HTTPException as exc:  # the credential check refused the caller
            await _answer(send, exc.status_code, {"detail": exc.detail}, exc.headers)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, within the limits; checks the credential before reading past
        the anonymous limit."""
        anonymous = self.settings.max_body_bytes_anonymous
        limit = self.settings.blob_max_bytes if _raw_data(scope) else self.settings.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            raise TooLarge(f"the body is larger than {limit} bytes ({_setting(scope)})")
        checked = False
        if declared is not None and declared > anonymous:
            await self.authenticate(Request(scope))
            checked = True
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > anonymous and not checked:
                await self.authenticate(Request(scope))
                checked = True
            if size > limit:
                raise TooLarge(f"the body is larger than {limit} bytes ({_setting(scope)})")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _raw_data(scope: Scope) -> bool:
    """POST /api/blobs: raw data of any kind, up to LAF_API_BLOB_MAX_BYTES."""
    return scope.get("path") == "/api/blobs"


def _setting(scope: Scope) -> str:
    return "LAF_API_BLOB_MAX_BYTES" if _raw_data(scope) else "LAF_API_MAX_BODY_BYTES"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise Invalid(
                    ["header", "content-length"], "Content-Length is not a number"
                ) from None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";")[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return True  # FastAPI reads a body without a Content-Type as JSON


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # the disconnect, for streaming answers

    return replay


async def _answer(
    send: Send, status: int, content: dict[str, Any], headers: Mapping[str, str] | None = None
) -> None:
    payload = json.dumps(content).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
