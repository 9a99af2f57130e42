"""create_app(settings): the simulated lab's HTTP service (LAF's instrument protocol)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from laf_simlab.catalog import KINDS
from laf_simlab.lab import InvalidParams, Lab, Offline, UnknownInstrument, UnknownOperation
from laf_simlab.settings import SimlabSettings

T = TypeVar("T")


class OperationRequest(BaseModel):
    """What LAF's `http` executor sends to start an operation."""

    model_config = ConfigDict(extra="allow")

    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, Any] = Field(default_factory=dict)
    task_id: str | None = None
    attempt: int | None = None


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["ok", "fail", "offline"]
    message: str = ""
    count: int | None = Field(None, ge=1, description="Fail this many operations, then recover")


def create_app(settings: SimlabSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.lab.close()

    app = FastAPI(
        title="LAF simulated lab",
        version="1.0.0",
        summary="A balance, an HPLC, a pH meter and a dissolution bath, deterministic under a seed.",
        lifespan=lifespan,
    )
    app.state.lab = Lab(settings.seed, settings.time_scale)
    public = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"

    def lab(request: Request) -> Lab:
        found: Lab = request.app.state.lab  # Starlette's state is untyped
        return found

    def registry_entry(the_lab: Lab, instrument_id: str) -> dict[str, Any]:
        """Exactly the fields of LAF's POST /api/instruments."""
        spec = the_lab.instrument(instrument_id).spec
        return {
            "id": spec.id,
            "name": spec.name,
            "kind": spec.kind,
            "capacity": spec.capacity,
            "status": "online",
            "endpoint": f"{public}/instruments/{spec.id}",
            "parameters_schema": KINDS[spec.kind].parameters_schema,
        }

    def describe(the_lab: Lab, instrument_id: str) -> dict[str, Any]:
        instrument = the_lab.instrument(instrument_id)
        spec = instrument.spec
        return {
            "id": spec.id,
            "name": spec.name,
            "kind": spec.kind,
            "capacity": spec.capacity,
            "status": "offline" if instrument.status == "offline" else "online",
            "state": instrument.status,
            "endpoint": f"{public}/instruments/{spec.id}",
            "parameters_schema": KINDS[spec.kind].parameters_schema,
            "active_operations": sorted(instrument.active),
        }

    def found(call: Callable[..., T], *args: Any) -> T:
        try:
            return call(*args)
        except UnknownInstrument as exc:
            raise HTTPException(404, f"no instrument '{exc.args[0]}' in this lab") from None
        except UnknownOperation as exc:
            raise HTTPException(404, f"no operation '{exc.args[0]}'") from None

    @app.get("/healthz")
    @app.get("/readyz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/instruments")
    async def list_instruments(request: Request) -> list[dict[str, Any]]:
        """Every instrument as an entry for LAF's registry: POST each to /api/instruments."""
        the_lab = lab(request)
        return [registry_entry(the_lab, i) for i in the_lab.instruments]

    @app.get("/instruments/{instrument_id}")
    async def get_instrument(instrument_id: str, request: Request) -> dict[str, Any]:
        """The instrument now: `state` idle, busy or offline, and its active operations."""
        return found(describe, lab(request), instrument_id)

    @app.post("/instruments/{instrument_id}/operations", status_code=202)
    async def start_operation(
        instrument_id: str,
        body: OperationRequest,
        request: Request,
        response: Response,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Start an operation: 200 with the result at once, or 202 and poll it."""
        the_lab = lab(request)
        try:
            op = found(the_lab.start, instrument_id, body.params, body.inputs, idempotency_key)
        except Offline as exc:
            raise HTTPException(503, str(exc)) from None
        except InvalidParams as exc:
            raise HTTPException(422, f"{instrument_id}: {exc}") from None
        if op.status in {"succeeded", "failed", "aborted"}:
            response.status_code = status.HTTP_200_OK
        return op.view(the_lab.poll_after_s(op))

    @app.get("/instruments/{instrument_id}/operations/{operation_id}")
    async def get_operation(
        instrument_id: str, operation_id: str, request: Request
    ) -> dict[str, Any]:
        the_lab = lab(request)
        op = found(the_lab.operation, instrument_id, operation_id)
        return op.view(the_lab.poll_after_s(op))

    @app.post("/instruments/{instrument_id}/operations/{operation_id}/abort")
    async def abort_operation(
        instrument_id: str, operation_id: str, request: Request
    ) -> dict[str, Any]:
        the_lab = lab(request)
        op = found(the_lab.abort, instrument_id, operation_id)
        return op.view(the_lab.poll_after_s(op))

    @app.post("/admin/instruments/{instrument_id}/fault", tags=["admin"])
    async def set_fault(instrument_id: str, body: FaultRequest, request: Request) -> dict[str, Any]:
        """For tests and demos: fail the next operations (`fail`), go `offline`, or recover (`ok`)."""
        the_lab = lab(request)
        found(the_lab.set_fault, instrument_id, body.mode, body.message, body.count)
        return describe(the_lab, instrument_id)

    return app
