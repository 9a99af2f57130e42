"""laf_core.telemetry: the workflow's root span has the ids every service derives; a
stored or received traceparent is a parent only inside its workflow's trace; a Job's
pod gets the runner's `laf.run` span."""

import uuid

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from laf_core import telemetry
from laf_core.tracing import traceparent
from laf_runner.executors.kubernetes import spec as k8s_spec

from .test_k8s_spec import DEFAULTS, claimed, container


def _provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=telemetry._WorkflowIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_the_root_span_is_the_workflow_and_its_derived_traceparent(monkeypatch):
    provider, exporter = _provider()
    monkeypatch.setattr(telemetry, "tracer", lambda: provider.get_tracer("test"))
    workflow = uuid.uuid4()
    request_span = provider.get_tracer("test").start_as_current_span("POST /api/workflows")
    with request_span as request, telemetry.workflow_root("laf.submit", workflow) as root:
        ids = telemetry.current_traceparent().split("-")[:3]
        assert ids == traceparent(workflow).split("-")[:3]  # the flags may say more
        with provider.get_tracer("test").start_as_current_span("child") as child:
            assert child.get_span_context().trace_id == workflow.int
            assert child.get_span_context().span_id != root.get_span_context().span_id
    (submit,) = [s for s in exporter.get_finished_spans() if s.name == "laf.submit"]
    assert submit.parent is None
    assert submit.attributes["laf.workflow_id"] == str(workflow)
    assert [link.context for link in submit.links] == [request.get_span_context()]


def test_a_stored_traceparent_is_a_parent_only_in_its_workflow():
    workflow, other = uuid.uuid4(), uuid.uuid4()
    step = f"00-{workflow.hex}-{'ab' * 8}-01"
    parent = trace.get_current_span(telemetry.parent_from(step, workflow)).get_span_context()
    assert (parent.trace_id, parent.span_id) == (workflow.int, int("ab" * 8, 16))
    for foreign in (f"00-{other.hex}-{'cd' * 8}-01", "", None, "garbage"):
        ctx = telemetry.parent_from(foreign, workflow)
        parent = trace.get_current_span(ctx).get_span_context()
        assert (parent.trace_id, parent.span_id) == (workflow.int, int(workflow.hex[:16], 16))
    assert telemetry.parent_from(None, None) is None


def test_a_pod_gets_the_run_span_while_tracing_is_on(monkeypatch):
    task = claimed()
    off = container(k8s_spec.build_job(task, DEFAULTS, "r", "tok"))["env"]
    assert {e["name"]: e["value"] for e in off}["TRACEPARENT"] == traceparent(
        task.workflow_id, task.task_id
    )
    provider, _ = _provider()
    monkeypatch.setattr(telemetry, "_enabled", True)
    with provider.get_tracer("test").start_as_current_span("laf.run") as run:
        on = container(k8s_spec.build_job(task, DEFAULTS, "r", "tok"))["env"]
    context = run.get_span_context()
    pod = {e["name"]: e["value"] for e in on}["TRACEPARENT"]
    assert pod.split("-")[:3] == ["00", f"{context.trace_id:032x}", f"{context.span_id:016x}"]
