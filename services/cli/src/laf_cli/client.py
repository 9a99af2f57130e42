"""The API over HTTP: every failure becomes a `CliError` with a one-line message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from laf_cli.config import Target
from laf_cli.errors import USAGE, CliError, refusal, unreachable

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
USER_AGENT = "laf-cli"


def _headers(target: Target) -> dict[str, str]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    return headers


def checked(target: Target, response: httpx.Response) -> Any:
    """The JSON body of a successful answer (None for 204), or the refusal raised."""
    if response.status_code >= 400:
        raise refusal(response, sent_token=target.token is not None)
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise CliError(
            f"{target.url} answered something other than JSON; is it the LAF API?", USAGE
        ) from None


class Api:
    """Blocking calls, for every command but `watch`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._client = httpx.Client(base_url=target.url, headers=_headers(target), timeout=TIMEOUT)

    def close(self) -> None:
        self._client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[Any, int]:
        """The JSON body of a successful answer and its status code."""
        try:
            response = self._client.request(method, path, json=json, params=params, headers=headers)
        except httpx.InvalidURL as exc:
            raise CliError(f"bad API URL {self.target.url}: {exc}", USAGE) from None
        except httpx.TransportError as exc:
            raise unreachable(self.target.url, exc) from None
        return checked(self.target, response), response.status_code

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.send(method, path, **kwargs)[0]

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", path, json=body, headers=headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, json=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


class AsyncApi:
    """The calls `watch` makes while it also reads the event stream."""

    def __init__(self, target: Target, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.target = target
        self._client = httpx.AsyncClient(
            base_url=target.url, headers=_headers(target), timeout=TIMEOUT, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str) -> Any:
        try:
            response = await self._client.get(path)
        except httpx.TransportError as exc:
            raise unreachable(self.target.url, exc) from None
        return checked(self.target, response)

    @asynccontextmanager
    async def stream(
        self, path: str, params: dict[str, str], read_timeout_s: float
    ) -> AsyncIterator[httpx.Response]:
        """An open streaming response (transport errors are the caller's to handle)."""
        timeout = httpx.Timeout(read_timeout_s, connect=5.0)
        headers = {"Accept": "text/event-stream"}
        async with self._client.stream(
            "GET", path, params=params, headers=headers, timeout=timeout
        ) as response:
            yield response
