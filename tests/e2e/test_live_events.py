"""GET /api/events streams every change of a workflow while it runs."""

import asyncio
import json

from laf_core.testing.factories import diamond, task, workflow
from tests.e2e.conftest import submit


async def read_events(lines, until_type: str, limit_s: float = 20.0) -> list[dict]:
    """Read SSE messages from an `aiter_lines()` iterator up to one of `until_type`."""
    events, kind = [], None
    async with asyncio.timeout(limit_s):
        async for line in lines:
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append({"event": kind, **json.loads(line.removeprefix("data: "))})
                if kind == until_type:
                    return events
    return events


async def test_a_client_sees_each_state_change_live(api):
    async with api.stream("GET", "/api/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        assert (await read_events(lines, "ready"))[-1]["event"] == "ready"
        workflow_id = await submit(api, diamond())
        events = await read_events(lines, "workflow.succeeded")
    seen = [e for e in events if e.get("workflow_id") == workflow_id]
    workflow_events = [e["event"] for e in seen if e["event"].startswith("workflow.")]
    # One event per committed state: the submit's transaction started the workflow, so no
    # other transaction ever saw it pending (its history has both).
    assert workflow_events == ["workflow.running", "workflow.succeeded"]
    a_states = [e["data"]["status"] for e in seen if e.get("data", {}).get("name") == "a"]
    assert a_states == ["queued", "running", "succeeded"]
    # d is queued by the last of b and c to finish and, when that runner has a slot free,
    # claimed for it in the same transaction: then nobody ever saw it queued.
    d_states = [e["data"]["status"] for e in seen if e.get("data", {}).get("name") == "d"]
    assert d_states in (["queued", "running", "succeeded"], ["running", "succeeded"])


async def test_the_stream_can_follow_one_workflow(api):
    slow = workflow(
        task(
            "wait", executor="python", params={"function": "laf_runner.library:sleep", "seconds": 1}
        ),
        task("after", "wait"),
    )
    mine = await submit(api, slow)
    async with api.stream("GET", "/api/events", params={"workflow_id": mine}) as own:
        lines = own.aiter_lines()
        await read_events(lines, "ready")
        await submit(api, diamond())  # noise the filter must keep out
        events = await read_events(lines, "workflow.succeeded")
    assert {e["workflow_id"] for e in events} == {mine}
    assert [e["data"]["name"] for e in events if e["event"] == "task.succeeded"] == [
        "wait",
        "after",
    ]
