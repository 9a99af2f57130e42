"""Signed calls from a runner to the API's webhooks (aiohttp: ~1.5 ms cheaper per call than httpx here)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import aiohttp
from pydantic import BaseModel

from laf_core import signing
from laf_core.errors import TransientError

log = logging.getLogger(__name__)


class Refused(Exception):
    """The API answered 409: the report no longer applies (a duplicate or a stale attempt)."""


class Rejected(Exception):
    """The API refused the report for good (a 4xx other than 401, 408, 409 and 429): sending
    it again cannot help. `status` and `detail` say why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class ApiFailed(TransientError):
    """The API answered but could not take the report now (5xx, 401, 408, 429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    def __init__(self, base_url: str, secret: str, token: str = "") -> None:
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, path: str, report: BaseModel) -> Any:
        """POST a report (one of core's contracts), signed. Returns the JSON answer (None
        for 204).

        Raises Refused on 409, Rejected on a refusal for good (another 4xx), and
        TransientError when the API is unreachable (ApiFailed when it answers 5xx,
        408, 429, or 401: a signature it refuses is a configuration the operator
        must fix, and the work waits meanwhile rather than being thrown away).
        """
        assert self._session is not None, "use ApiClient as an async context manager"
        body = report.model_dump_json().encode()
        try:
            async with self._session.post(
                self._base + path,
                data=body,
                headers=signing.sign_headers(self._secret, "POST", path, body) | self._auth,
            ) as response:
                text = await response.text()
                if response.status == 409:
                    raise Refused(_detail(text))
                if response.status in (401, 403):
                    log.error(
                        "the API refused our token or signature (LAF_RUNNER_TOKEN_FILE, "
                        "LAF_WEBHOOK_SECRET_FILE): %s",
                        text[:500],
                    )
                    raise ApiFailed(response.status, f"{response.status} from {path}")
                if response.status >= 500 or response.status in (408, 429):
                    raise ApiFailed(response.status, f"{response.status} from {path}: {text[:200]}")
                if response.status >= 400:
                    raise Rejected(response.status, _detail(text)[:2000])
                try:
                    return json.loads(text) if text else None
                except ValueError as exc:
                    raise ApiFailed(response.status, f"unreadable answer from {path}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"API unreachable: {exc!r}") from exc

    async def store_blob(self, content: bytes, media_type: str) -> str:
        """Store raw data by its SHA-256 (POST /api/blobs, checked on arrival); returns
        the hash. TransientError when it could not be stored now."""
        assert self._session is not None, "use ApiClient as an async context manager"
        digest = hashlib.sha256(content).hexdigest()
        headers = {"Content-Type": media_type, "X-Content-SHA256": digest} | self._auth
        try:
            async with self._session.post(
                self._base + "/api/blobs", data=content, headers=headers
            ) as response:
                if response.status not in (200, 201):
                    text = await response.text()
                    raise ApiFailed(
                        response.status, f"{response.status} storing data: {text[:200]}"
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"API unreachable: {exc!r}") from exc
        return digest


def _detail(text: str) -> str:
    try:
        return str(json.loads(text).get("detail", text))
    except (ValueError, AttributeError):
        return text
