"""`http`: run the step on an instrument's own service (the task's `instrument.endpoint`).

The instrument protocol, small enough for any instrument driver to serve:

- `POST {endpoint}/operations` with `{"task_id", "attempt", "task_name", "params", "inputs"}`
  and an `Idempotency-Key: <task id>/<attempt>` header (a repeated POST returns the same
  operation, so a lost answer never starts the work twice). The answer is either the result
  at once (200, `{"status": "succeeded", "outputs": {…}}`) or a running operation (202,
  `{"id", "status": "queued" | "running", "poll_after_s"?}`).
- `GET {endpoint}/operations/{id}`: `{"id", "status", "progress"?, "outputs"?, "error"?}` with
  status `queued | running | succeeded | failed | aborted`.
- `POST {endpoint}/operations/{id}/abort`: stop it (the task was cancelled or timed out).

Errors: an instrument's 4xx/5xx or a `failed` operation becomes the task's error with the
instrument's own message; an instrument unreachable for longer than
`LAF_RUNNER_HTTP_UNREACHABLE_S` fails the task (the step may or may not have happened: an
operator decides, as for any instrument step).

Edges: the endpoint must be an `http` or `https` URL without a query or fragment (a
trailing `?` or `#` would otherwise turn the path into a query); redirects are never
followed; an operation id must be a plain path segment; an answer is read up to
`MAX_ANSWER_BYTES`; and what the task's error quotes of an answer is an excerpt
(printable characters only, at most `EXCERPT_CHARS`) with the HTTP status, so the
error never carries a foreign service's banner or page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any

import aiohttp
from yarl import URL

from laf_core.backoff import delays
from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors import BaseExecutor, Context, Outputs, TaskFailed
from laf_runner.settings import RunnerSettings

log = logging.getLogger(__name__)
FINAL = {"succeeded", "failed", "aborted"}
ABORT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 16 * 1024 * 1024
EXCERPT_CHARS = 300
_OPERATION_ID = re.compile(r"^[A-Za-z0-9_~:@.-]{1,200}$")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]+")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """What an error may quote of a foreign answer: printable, one line, bounded."""
    text = " ".join(_UNPRINTABLE.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def endpoint_problem(endpoint: str) -> str | None:
    """Why `endpoint` cannot be an instrument's base URL, or None."""
    try:
        url = URL(endpoint)
    except (ValueError, TypeError):
        return "is not a URL"
    if url.scheme not in ("http", "https") or not url.host:
        return "must be an http:// or https:// URL with a host"
    if url.query_string or url.fragment or "?" in endpoint or "#" in endpoint:
        return "must not have a query or a fragment ('?' or '#')"
    return None


class _Unreachable(Exception):
    pass


class HttpExecutor(BaseExecutor):
    """Runs the attempt as an operation on the instrument's own service."""

    def __init__(self, settings: RunnerSettings) -> None:
        self.poll_s = settings.http_poll_s
        self.unreachable_s = settings.http_unreachable_s

    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        instrument = task.instrument
        if instrument is None or not instrument.endpoint:
            raise TaskFailed("an http task needs an instrument with an endpoint in the registry")
        if instrument.status != "online":
            raise TaskFailed(f"instrument {instrument.id} is {instrument.status}")
        problem = endpoint_problem(instrument.endpoint)
        if problem:
            raise TaskFailed(f"instrument {instrument.id}: its endpoint {problem}")
        base = instrument.endpoint.rstrip("/")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            call = _Calls(session, base, instrument.id, self.unreachable_s)
            started = await call.json(
                "POST",
                "/operations",
                {
                    "task_id": str(task.task_id),
                    "attempt": task.attempt,
                    "task_name": task.name,
                    "workflow_id": str(task.workflow_id),
                    "params": task.params,
                    "inputs": task.inputs,
                },
                headers={"Idempotency-Key": f"{task.task_id}/{task.attempt}"},
            )
            operation = started
            try:
                while operation.get("status") not in FINAL:
                    await asyncio.sleep(_poll_after(operation, self.poll_s))
                    operation = await call.json(
                        "GET", f"/operations/{_operation_id(instrument.id, operation)}"
                    )
            except asyncio.CancelledError:
                if isinstance(started.get("id"), str | int) and _OPERATION_ID.match(
                    str(started["id"])
                ):
                    await asyncio.shield(call.abort(str(started["id"])))
                raise
        return _result(instrument.id, operation)


def _operation_id(instrument_id: str, operation: dict[str, Any]) -> str:
    """The operation's id as a path segment; TaskFailed for one that is not a plain name
    (`../admin` must not reach another path of the instrument's host)."""
    value = operation.get("id")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise TaskFailed(f"instrument {instrument_id} answered without an operation id")
    text = str(value)
    if not _OPERATION_ID.match(text) or set(text) == {"."}:
        raise TaskFailed(f"instrument {instrument_id} answered an unusable operation id")
    return text


def _poll_after(operation: dict[str, Any], default: float) -> float:
    value = operation.get("poll_after_s")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 60:
        return float(value)
    return default


def _result(instrument_id: str, operation: dict[str, Any]) -> Outputs:
    outputs = operation.get("outputs")
    outputs = dict(outputs) if isinstance(outputs, dict) else {}
    if operation["status"] == "succeeded":
        return outputs
    error = operation.get("error") or operation["status"]
    raise TaskFailed(f"{instrument_id}: {excerpt(str(error), 2000)}", outputs or None)


class _Calls:
    """Requests to one instrument, retried while it is unreachable for up to `grace_s`."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, instrument_id: str, grace_s: float
    ) -> None:
        self.session = session
        self.base = base
        self.instrument_id = instrument_id
        self.grace_s = grace_s

    async def json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.grace_s
        for delay in delays(0.2, 5.0):
            try:
                return await self._once(method, path, body, headers)
            except _Unreachable as exc:
                if time.monotonic() + delay > deadline:
                    raise TaskFailed(
                        f"instrument {self.instrument_id} unreachable for {self.grace_s:g}s: {exc}"
                    ) from None
                log.warning("instrument %s unreachable (%s); retrying", self.instrument_id, exc)
                await asyncio.sleep(delay)
        raise AssertionError("delays() never ends")

    async def _once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> dict[str, Any]:
        url = URL(self.base + path)
        try:
            async with self.session.request(
                method, url, json=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Never the message itself: a non-HTTP service's banner would be in it.
            reason = (
                exc.os_error.strerror if isinstance(exc, aiohttp.ClientConnectorError) else None
            )
            raise _Unreachable(
                f"{type(exc).__name__}" + (f" ({reason})" if reason else "")
            ) from None
        if status in (502, 504):  # a gateway in front of the instrument: try again
            raise _Unreachable(f"HTTP {status} from {path}")
        if len(raw) > MAX_ANSWER_BYTES:
            raise TaskFailed(
                f"{self.instrument_id}: an answer larger than {MAX_ANSWER_BYTES // 2**20} MiB "
                f"(HTTP {status})"
            )
        text = raw.decode("utf-8", errors="replace")
        try:
            answer: Any = json.loads(text) if text else {}
        except (ValueError, RecursionError):
            answer = None
        if 300 <= status < 400:
            raise TaskFailed(
                f"{self.instrument_id}: answered a redirect (HTTP {status}), "
                "which the runner does not follow"
            )
        if status >= 400:
            detail = (
                answer.get("detail") or answer.get("error") if isinstance(answer, dict) else None
            )
            said = excerpt(
                detail if isinstance(detail, str) else json.dumps(detail) if detail else text
            )
            raise TaskFailed(f"{self.instrument_id}: {said or 'no message'} (HTTP {status})")
        if not isinstance(answer, dict):
            raise TaskFailed(
                f"{self.instrument_id}: expected a JSON object from {path} (HTTP {status})"
            )
        return answer

    async def abort(self, operation_id: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(ABORT_TIMEOUT_S):
                await self._once("POST", f"/operations/{operation_id}/abort", {}, None)
                log.info("aborted operation %s on %s", operation_id, self.instrument_id)
