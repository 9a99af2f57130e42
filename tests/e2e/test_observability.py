"""See inside: one OpenTelemetry trace per workflow across the four services, exported
over OTLP/HTTP to a receiver this test runs; and every service's /metrics moving."""

import asyncio
import json
import re
import subprocess
import uuid
from collections import Counter

import httpx
import pytest

from devstack import running_stack
from laf_core import tracing
from laf_core.testing.factories import diamond
from laf_core.testing.otlp import OtlpReceiver, ReceivedSpan

from .conftest import ARTIFACTS, submit, wait_for_end

# The services a workflow's run passes through (the coordinator only for timers and repairs).
SERVICES = {"laf-api", "laf-listener", "laf-runner"}
SERVER, CLIENT = 2, 3  # OTLP span kinds


@pytest.fixture(scope="module")
def receiver():
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
async def traced_stack(pg_template, receiver):
    async with running_stack(
        pg_template,
        ARTIFACTS / "test_observability",
        LAF_COORDINATOR_SWEEP_S="0.5",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    ) as stack:
        yield stack


@pytest.fixture
async def api(traced_stack):
    async with httpx.AsyncClient(
        base_url=traced_stack.api_url, timeout=10, headers=traced_stack.auth_headers
    ) as client:
        yield client


def _complete(spans: list[ReceivedSpan]) -> bool:
    names = Counter(s.name for s in spans)
    return (
        {s.service for s in spans} >= SERVICES
        and names["laf.run"] == 4
        and names["laf.result"] == 4
        and names["laf.claim"] == 4
        and names["laf.relay workflow.succeeded"] == 1  # the last event of the run
    )


async def _whole_trace(receiver: OtlpReceiver, workflow_id: str) -> list[ReceivedSpan]:
    async with asyncio.timeout(30):
        while not _complete(spans := receiver.trace(workflow_id)):
            await asyncio.sleep(0.1)
    return spans


def _chain(span: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> list[str]:
    """`span`'s ancestry from the root down, as span names."""
    names = [span.name]
    while span.parent_id:
        span = by_id[span.parent_id]
        names.append(span.name)
    return names[::-1]


def _in_order(chain: list[str], steps: list[str]) -> bool:
    """True when `steps` occur in `chain` in that order (others may come between)."""
    position = 0
    for name in chain:
        if position < len(steps) and name == steps[position]:
            position += 1
    return position == len(steps)


async def test_a_diamond_is_one_trace_in_causal_order(api, receiver):
    workflow_id = await submit(api, diamond())
    assert (await wait_for_end(api, workflow_id))["status"] == "succeeded"
    spans = await _whole_trace(receiver, workflow_id)
    by_id = {s.span_id: s for s in spans}

    assert len(by_id) == len(spans), "a span was exported twice"
    assert {s.service for s in spans} >= SERVICES
    roots = [s for s in spans if not s.parent_id]
    assert [(r.name, r.service, r.span_id) for r in roots] == [
        ("laf.submit", "laf-api", uuid.UUID(workflow_id).hex[:16])
    ]
    missing = [s.name for s in spans if s.parent_id and s.parent_id not in by_id]
    assert missing == [], "spans whose parent is not in the trace"

    def one(name: str, task: str) -> ReceivedSpan:
        found = [s for s in spans if s.name == name and s.attributes.get("laf.task") == task]
        assert len(found) == 1, (name, task, found)
        return found[0]

    first = _chain(one("laf.claim", "a"), by_id)
    assert _in_order(
        first,
        [
            "laf.submit",
            "laf.relay task.queued",
            "laf.claim",
        ],
    ), first
    assert not [s for s in spans if s.service == "laf-coordinator"], "the start is the submit's"
    # A task reaches a runner through the broker (relay → claim) or, handed on, in the
    # answer to the result of the task before it on that runner (report → claim).
    last = _chain(one("laf.claim", "d"), by_id)
    assert _in_order(
        last,
        ["laf.submit", "laf.relay task.queued", "laf.claim", "laf.run", "laf.report"],
    ), last
    assert last[-1] == "laf.claim" and last[-2] in ("laf.relay task.queued", "laf.report"), last
    assert last.count("laf.run") >= 2, last  # after a's run and b's or c's
    for task in "abcd":
        run = one("laf.run", task)
        assert run.service == "laf-runner"
        assert run.attributes["laf.workflow_id"] == workflow_id
        assert run.attributes["laf.attempt"] == 1
        assert run.attributes["laf.executor"] == "noop"
        assert run.attributes["outcome"] == "succeeded"
        assert by_id[run.parent_id].name == "laf.claim"
        claim = one("laf.claim", task)
        cause = by_id[claim.parent_id]
        if claim.attributes.get("laf.handed_on"):
            assert (cause.service, cause.name) == ("laf-runner", "laf.report")
        else:
            assert (cause.service, cause.name) == ("laf-listener", "laf.relay task.queued")
            assert cause.attributes["laf.task"] == task
    results = [s for s in spans if s.name == "laf.result"]
    assert {s.service for s in results} == {"laf-api"}
    assert [s.attributes["outcome"] for s in results] == ["succeeded"] * 4
    # One instrumentation per client: each HTTP call of the runner is served once, and no
    # server span sits under another.
    for call in (s for s in spans if s.kind == CLIENT and s.service == "laf-runner"):
        served = [s for s in spans if s.parent_id == call.span_id and s.kind == SERVER]
        assert len(served) == 1, call
    assert not [s for s in spans if s.kind == SERVER and by_id[s.parent_id].kind == SERVER]


def _sample(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels` (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def _metrics_urls(stack) -> dict[str, str]:
    return {
        name: process.health_url.replace("/readyz", "/metrics")
        for name, process in stack.processes.items()
    }


async def _scrape(urls: dict[str, str], headers: dict[str, str]) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=5, headers=headers) as client:
        return {name: (await client.get(url)).text for name, url in urls.items()}


async def test_every_service_metrics_move_with_a_workflow(api, traced_stack):
    urls = _metrics_urls(traced_stack)
    assert set(urls) >= {"api", "listener", "coordinator", "runner"}
    before = await _scrape(urls, traced_stack.auth_headers)
    workflow_id = await submit(api, diamond())
    assert (await wait_for_end(api, workflow_id))["status"] == "succeeded"

    def moved(service: str, name: str, by: float, **labels: str) -> bool:
        return _sample(after[service], name, **labels) - _sample(
            before[service], name, **labels
        ) == pytest.approx(by)

    async with asyncio.timeout(20):  # the last events are published after the end is seen
        while True:
            after = await _scrape(urls, traced_stack.auth_headers)
            handed_on = _sample(after["runner"], "laf_runner_tasks_handed_on_total") - _sample(
                before["runner"], "laf_runner_tasks_handed_on_total"
            )
            # Per task queued, running, succeeded, but no queued event for one handed on
            # (nobody saw it queued); workflow running and succeeded.
            if moved("listener", "laf_listener_events_published_total", 4 * 3 - handed_on + 2):
                break
            await asyncio.sleep(0.2)

    def delta(service: str, name: str, **labels: str) -> float:
        return _sample(after[service], name, **labels) - _sample(before[service], name, **labels)

    # A task is claimed by a runner from its queue, or handed on in a result's answer.
    handed_on = delta("runner", "laf_runner_tasks_handed_on_total")
    brokered = 4 - handed_on
    assert moved("api", "laf_api_workflows_submitted_total", 1)
    assert moved("api", "laf_api_tasks_claimed_total", brokered)
    assert moved("api", "laf_api_results_succeeded_total", 4)
    assert moved(
        "api",
        "laf_api_http_request_duration_seconds_count",
        1,
        method="POST",
        route="/api/workflows",
        status="201",
    )
    assert moved(
        "runner", "laf_runner_tasks_finished_total", 4, executor="noop", outcome="succeeded"
    )
    assert moved("runner", "laf_runner_task_duration_seconds_count", 4, executor="noop")
    assert moved("runner", "laf_runner_queue_wait_seconds_count", brokered, executor="noop")
    assert moved("runner", "laf_runner_step_handoff_seconds_count", brokered, executor="noop")
    assert moved("runner", "laf_runner_messages_consumed_total", brokered, queue="laf.runner.noop")
    # The submit started it: the coordinator had nothing to do.
    assert moved("coordinator", "laf_coordinator_workflows_started_total", 0)
    assert moved(
        "coordinator", "laf_coordinator_messages_consumed_total", 0, queue="laf.coordinator"
    )
    assert _sample(after["listener"], "laf_listener_relay_lag_seconds_count") >= 11
    for service, text in after.items():
        assert "process_cpu_seconds_total" in text or "python_gc_objects_collected_total" in text
        assert f"laf_{service}_" in text
    assert "# TYPE laf_listener_outbox_backlog_events gauge" in after["listener"]


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def _cut_broker(vhost: str) -> None:
    """Take the stack's broker access away: no permissions (so reconnecting fails), then
    close its connections."""
    _rabbitmqctl("clear_permissions", "-p", vhost, "guest")
    for line in _rabbitmqctl("list_connections", "pid", "vhost").splitlines():
        pid, _, connection_vhost = line.partition("\t")
        if connection_vhost == vhost:
            subprocess.run(
                ["rabbitmqctl", "-q", "close_connection", pid, "readiness test"],
                check=False,
                capture_output=True,
                timeout=60,
            )


async def _readiness(urls: dict[str, str]) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=5) as client:
        return {name: (await client.get(url)).status_code for name, url in urls.items()}


async def test_readyz_fails_without_the_broker_and_recovers(api, traced_stack):
    """Last in this module: it takes the broker away from the stack and gives it back."""
    workers = {
        name: p.health_url
        for name, p in traced_stack.processes.items()
        if name in ("listener", "coordinator", "runner")
    }
    assert set((await _readiness(workers)).values()) == {200}
    await asyncio.to_thread(_cut_broker, traced_stack.vhost)
    try:
        async with asyncio.timeout(30):
            while set((await _readiness(workers)).values()) != {503}:
                await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(
            _rabbitmqctl, "set_permissions", "-p", traced_stack.vhost, "guest", ".*", ".*", ".*"
        )
    async with asyncio.timeout(60):  # reconnecting backs off up to 5 s
        while set((await _readiness(workers)).values()) != {200}:
            await asyncio.sleep(0.2)
    workflow_id = await submit(api, diamond())  # and it works again
    assert (await wait_for_end(api, workflow_id))["status"] == "succeeded"


async def test_each_state_change_is_one_json_log_line_with_its_ids(api, traced_stack):
    """One INFO line per state change (the relay's, as each change is published), with
    the ids that join it to its trace; no other service logs a line per step."""
    workflow_id = await submit(api, diamond())
    assert (await wait_for_end(api, workflow_id))["status"] == "succeeded"

    def lines(service: str) -> list[dict]:
        path = traced_stack.log_dir / f"{service}.log"
        entries = [
            json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")
        ]
        return [e for e in entries if workflow_id in json.dumps(e)]

    async with asyncio.timeout(20):  # the last events are published after the end is seen
        while not any(e["event"] == "workflow.succeeded" for e in lines("listener")):
            await asyncio.sleep(0.2)
    changes = lines("listener")
    assert all(e["level"] == "info" and e["workflow_id"] == workflow_id for e in changes)
    assert {e["trace_id"] for e in changes} == {tracing.trace_id(uuid.UUID(workflow_id))}
    tasks = Counter((e["task"], e["event"]) for e in changes if "task" in e)
    # A task handed on to a runner in its result's answer was never seen queued: no event.
    handed_on = {name for name in "abcd" if (name, "task.queued") not in tasks}
    assert "a" not in handed_on and len(handed_on) <= 2  # one of b, c; and d
    assert tasks == {
        (name, event): 1
        for name in ("a", "b", "c", "d")
        for event in ("task.queued", "task.running", "task.succeeded")
        if not (event == "task.queued" and name in handed_on)
    }
    assert all(e["attempt"] == 1 and e["executor"] == "noop" for e in changes if "task" in e)
    workflow = [e["event"] for e in changes if "task" not in e]
    assert workflow == ["workflow.running", "workflow.succeeded"]
    assert len(changes) == 14 - len(handed_on)
    for service in ("api", "coordinator", "runner"):
        assert lines(service) == [], f"{service} logs per step"
