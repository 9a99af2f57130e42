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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp

from laf_core.contracts.reports import ClaimedTask
from laf_core.settings import RunnerSettings
from laf_runner.executors import Context, TaskFailed

log = logging.getLogger(__name__)
FINAL = {"succeeded", "failed", "aborted"}
ABORT_TIMEOUT_S = 5.0


class _Unreachable(Exception):
    pass


class HttpExecutor:
    """Callable as an executor: `await executor(task, ctx)`."""

    def __init__(self, settings: RunnerSettings) -> None:
        self.poll_s = settings.http_poll_s
        self.unreachable_s = settings.http_unreachable_s

    async def __call__(self, task: ClaimedTask, ctx: Context) -> dict[str, Any]:
        instrument = task.instrument
        if instrument is None or not instrument.endpoint:
            raise TaskFailed("an http task needs an instrument with an endpoint in the registry")
        if instrument.status != "online":
            raise TaskFailed(f"instrument {instrument.id} is {instrument.status}")
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
                    if "id" not in operation:
                        raise TaskFailed(f"instrument {instrument.id} answered without an id")
                    await asyncio.sleep(float(operation.get("poll_after_s") or self.poll_s))
                    operation = await call.json("GET", f"/operations/{operation['id']}")
            except asyncio.CancelledError:
                if "id" in started:
                    await asyncio.shield(call.abort(started["id"]))
                raise
        return _result(instrument.id, operation)


def _result(instrument_id: str, operation: dict[str, Any]) -> dict[str, Any]:
    outputs = operation.get("outputs")
    outputs = dict(outputs) if isinstance(outputs, dict) else {}
    if operation["status"] == "succeeded":
        return outputs
    error = operation.get("error") or operation["status"]
    raise TaskFailed(f"{instrument_id}: {error}", outputs or None)


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
        delay = 0.2
        while True:
            try:
                return await self._once(method, path, body, headers)
            except _Unreachable as exc:
                if time.monotonic() + delay > deadline:
                    raise TaskFailed(
                        f"instrument {self.instrument_id} unreachable for {self.grace_s:g}s: {exc}"
                    ) from None
                log.warning("instrument %s unreachable (%s); retrying", self.instrument_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> dict[str, Any]:
        try:
            async with self.session.request(
                method, self.base + path, json=body, headers=headers
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Unreachable(repr(exc)) from None
        if status in (502, 504):  # a gateway in front of the instrument: try again
            raise _Unreachable(f"{status} from {path}")
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {"detail": text[:500]}
        if status >= 400:
            detail = (
                answer.get("detail") or answer.get("error") if isinstance(answer, dict) else None
            )
            raise TaskFailed(f"{self.instrument_id}: {detail or text[:500]} (HTTP {status})")
        if not isinstance(answer, dict):
            raise TaskFailed(f"{self.instrument_id}: expected a JSON object from {path}")
        return answer

    async def abort(self, operation_id: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(ABORT_TIMEOUT_S):
                await self._once("POST", f"/operations/{operation_id}/abort", {}, None)
                log.info("aborted operation %s on %s", operation_id, self.instrument_id)
