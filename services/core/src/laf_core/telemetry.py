"""OpenTelemetry tracing, set up the same way in every service.

One trace per workflow: the API's `laf.submit` span is the root, its trace id
the workflow id and its span id the id's first 16 hex digits (what
`laf_core.tracing.traceparent` derives), so every service agrees without
storing anything. Causality crosses the process boundaries in the carriers
each one already has:

- HTTP: the runner's aiohttp client and the API's FastAPI server
  (the official instrumentations) carry `traceparent`;
- PostgreSQL: a connection lent by a pool carries the span that borrowed it
  (`laf.traceparent`, set on acquire), and the outbox triggers copy it into
  each event's row, so an event's relay span is a child of what caused it;
- RabbitMQ: the relay sets each message's `traceparent` header to its publish
  span, and `broker.consume` hands it to the handler.

The standard `OTEL_*` variables choose the exporter: OTLP over HTTP when
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, `console`
with `OTEL_TRACES_EXPORTER=console`, nothing otherwise (the default) or with
`OTEL_SDK_DISABLED=true`; then no span is made and nothing is stamped.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import uuid
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from laf_core.tracing import traceparent

log = logging.getLogger(__name__)
TRACER = "laf"
_PROPAGATOR = TraceContextTextMapPropagator()
# The ids the next span gets (a workflow's root span); unset: random ids.
_FORCED_IDS: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "laf_forced_ids", default=None
)
_enabled = False


def enabled() -> bool:
    """True once setup_tracing installed an exporter in this process."""
    return _enabled


class _WorkflowIds(RandomIdGenerator):
    """Random ids, except for the span started inside `workflow_root`."""

    def generate_trace_id(self) -> int:
        forced = _FORCED_IDS.get()
        return forced[0] if forced else super().generate_trace_id()

    def generate_span_id(self) -> int:
        forced = _FORCED_IDS.get()
        return forced[1] if forced else super().generate_span_id()


class _OwnRoots(Sampler):
    """New traces only for LAF's own spans and HTTP requests served; a database query
    or HTTP call made outside any span (a poll, a heartbeat) is not a trace of its own."""

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if name.startswith("laf.") or kind == SpanKind.SERVER:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "LafOwnRoots"


def _exporter() -> SpanExporter | None:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "none" or (not chosen and not endpoint):
        return None
    if chosen not in ("", "otlp"):
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none)", chosen)
        return None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol != "http/protobuf":
        log.warning("OTEL_EXPORTER_OTLP_PROTOCOL=%s: LAF exports OTLP over HTTP only", protocol)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def setup_tracing(service: str) -> bool:
    """Install the tracer provider of `service` (its command name, `laf-api`, …) when the
    environment asks for an exporter, and instrument asyncpg. True when tracing is on."""
    global _enabled
    exporter = _exporter()
    if exporter is None or _enabled:
        return _enabled
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=ParentBased(root=_OwnRoots()),
        id_generator=_WorkflowIds(),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    if instrumentation_wanted("asyncpg"):
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    _enabled = True
    log.info("tracing on: %s exports spans (%s)", service, type(exporter).__name__)
    return True


def instrumentation_wanted(name: str) -> bool:
    """False when OTEL_PYTHON_DISABLED_INSTRUMENTATIONS lists `name` (`asyncpg`,
    `fastapi`, `aiohttp-client`; `*`: all), as with opentelemetry-instrument."""
    disabled = {
        n.strip() for n in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    return name not in disabled and "*" not in disabled


def shutdown_tracing() -> None:
    """Flush the spans still buffered (the provider also does it at exit)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


@functools.cache
def tracer() -> trace.Tracer:
    """LAF's tracer, made once: a proxy that uses the provider set at start-up (no-op until
    then), where `trace.get_tracer` reads the environment and builds one on every call."""
    return trace.get_tracer(TRACER)


def workflow_context(workflow_id: uuid.UUID) -> otel_context.Context:
    """A context whose parent is the workflow's root span (the API's `laf.submit`)."""
    parent = SpanContext(
        trace_id=workflow_id.int,
        span_id=int(workflow_id.hex[:16], 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextlib.contextmanager
def workflow_root(
    name: str, workflow_id: uuid.UUID, attributes: Mapping[str, Any] | None = None
) -> Iterator[trace.Span]:
    """The workflow's root span: trace id = the workflow id; linked to the current span
    (the HTTP request that submitted it), which is in a trace of its own."""
    current = trace.get_current_span().get_span_context()
    links = [Link(current)] if current.is_valid else []
    token = _FORCED_IDS.set((workflow_id.int, int(workflow_id.hex[:16], 16)))
    try:
        span = tracer().start_span(
            name,
            context=otel_context.Context(),
            links=links,
            attributes={"laf.workflow_id": str(workflow_id), **(attributes or {})},
        )
    finally:
        _FORCED_IDS.reset(token)
    with trace.use_span(span, end_on_exit=True):
        yield span


@contextlib.contextmanager
def workflow_step(
    name: str, workflow_id: uuid.UUID, attributes: Mapping[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A span in the workflow's trace, under its root, for a step that comes from outside
    it (an operator's action, a sweep's repair); linked to the current span."""
    current = trace.get_current_span().get_span_context()
    with tracer().start_as_current_span(
        name,
        context=workflow_context(workflow_id),
        links=[Link(current)] if current.is_valid else [],
        attributes={"laf.workflow_id": str(workflow_id), **(attributes or {})},
    ) as span:
        yield span


def parent_from(
    traceparent: str | None, workflow_id: uuid.UUID | None
) -> otel_context.Context | None:
    """The context of a stored or received `traceparent` when it belongs to the workflow's
    trace; else the workflow's root; None without either."""
    if traceparent:
        ctx = _PROPAGATOR.extract({"traceparent": traceparent})
        span = trace.get_current_span(ctx).get_span_context()
        if span.is_valid and (workflow_id is None or span.trace_id == workflow_id.int):
            return ctx
    return workflow_context(workflow_id) if workflow_id is not None else None


def from_headers(headers: Mapping[str, Any] | None) -> otel_context.Context:
    """The context a message or request carries (its `traceparent`), or the empty one."""
    carrier = {k: str(v) for k, v in (headers or {}).items() if k in ("traceparent", "tracestate")}
    return _PROPAGATOR.extract(carrier)


def current_traceparent() -> str:
    """The current span as a `traceparent` value; '' when there is none."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


def annotate(**attributes: Any) -> None:
    """Set `laf.<name>` attributes (`outcome` as is) on the current span, skipping Nones."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    for key, value in attributes.items():
        if value is not None:
            span.set_attribute(key if key == "outcome" else f"laf.{key}", _attribute(value))


def _attribute(value: Any) -> str | int | float | bool:
    return value if isinstance(value, str | int | float | bool) else str(value)


def task_attributes(
    workflow_id: uuid.UUID | None,
    task: str | None = None,
    attempt: int | None = None,
    executor: str | None = None,
    instrument: str | None = None,
) -> dict[str, str | int]:
    found = {
        "laf.workflow_id": str(workflow_id) if workflow_id else None,
        "laf.task": task,
        "laf.attempt": attempt,
        "laf.executor": executor,
        "laf.instrument": instrument,
    }
    return {k: v for k, v in found.items() if v is not None}


_STAMP = "SELECT set_config('laf.traceparent', $1, false)"
# What each connection was last told, so that the same value is not sent again.
_stamped: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


async def stamp(conn: Any) -> None:
    """Tell PostgreSQL which span is writing: the outbox triggers copy it into each event
    (`laf.traceparent`). A pool's connections are stamped on every acquire while
    tracing is on, so a value never outlives its borrower; off, nothing is sent. The
    stamp itself is not traced, and not sent when the connection has that value."""
    if not _enabled:
        return
    value = current_traceparent()
    raw = getattr(conn, "_con", None) or conn  # a pool lends its connection in a proxy
    if _stamped.get(raw) == value:
        return
    with suppress_instrumentation():
        await conn.execute(_STAMP, value)
    if conn.is_in_transaction():  # a rollback would undo it: send it again next time
        _stamped.pop(raw, None)
    else:
        _stamped[raw] = value


def task_traceparent(workflow_id: uuid.UUID, task_id: uuid.UUID) -> str:
    """What a task's process or pod gets as `TRACEPARENT`: the runner's `laf.run` span
    while tracing is on, so spans the task makes hang under it; else the derived one."""
    if _enabled and trace.get_current_span().is_recording():
        return current_traceparent()
    return traceparent(workflow_id, task_id)
