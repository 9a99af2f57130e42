"""laf validate, submit, watch, list, show, history: documents in, states and JSON out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from laf_cli.client import AsyncApi
from laf_cli.config import Target
from laf_cli.watch import follow
from tests.cli.conftest import write

DIAMOND_YAML = """\
# a → b, c → d: outputs flow down the diamond
name: cli diamond
labels:
  suite: cli
tasks:
  - name: a
    executor: python
    params: {function: "laf_runner.library:echo", value: 5}
  - name: b
    executor: noop
    depends_on: [a]
    params: {outputs: {value: 7}}
  - name: c
    executor: noop
    depends_on: [a]
    params: {outputs: {value: 3}}
  - name: d
    executor: python
    depends_on: [b, c]
    params: {function: "laf_runner.library:add"}
"""

FAILING = {
    "name": "cli failing",
    "tasks": [
        {
            "name": "boom",
            "executor": "python",
            "params": {"function": "laf_runner.library:fail", "message": "column pressure"},
            "retry": {"max_attempts": 1},
        },
        {"name": "after", "executor": "noop", "depends_on": ["boom"]},
    ],
}


async def test_submit_then_watch_follows_the_workflow_to_success(laf, api, tmp_path):
    document = write(tmp_path / "diamond.yaml", DIAMOND_YAML)
    submitted = await laf("submit", document, "--quiet")
    assert submitted.code == 0, submitted.err
    workflow_id = submitted.out.strip()
    assert uuid.UUID(workflow_id)

    watched = await laf("watch", workflow_id)
    assert watched.code == 0, watched.err
    assert f"workflow cli diamond {workflow_id} succeeded" in watched.out
    for task in "abcd":  # one line per change of state (not a terminal: a change log)
        assert f"task {task} succeeded" in watched.out
    final = (await api.get(f"/api/workflows/{workflow_id}")).json()
    assert final["status"] == "succeeded"
    assert {t["name"]: t["outputs"] for t in final["tasks"]}["d"] == {"value": 10}


async def test_submit_wait_on_a_terminal_draws_the_board_and_exits_0(laf, tmp_path):
    document = write(tmp_path / "diamond.yaml", DIAMOND_YAML)
    result = await laf("submit", "--wait", document, TTY_COMPATIBLE="1")
    assert result.code == 0, result.err
    assert "submitted" in result.err
    board = result.out
    assert "cli diamond" in board and "4/4 tasks" in board and "4 succeeded" in board
    assert '{"value":10}' in board  # d's outputs on the final board


async def test_a_failing_workflow_makes_watch_exit_1_naming_the_error(laf, tmp_path):
    document = write(tmp_path / "failing.json", json.dumps(FAILING, indent=2))
    result = await laf("submit", "--wait", document)
    assert result.code == 1, (result.out, result.err)
    assert "failed" in result.out
    assert "boom: RuntimeError: column pressure" in result.out
    again = await laf("submit", document, "-q")
    watched = await laf("watch", again.out.strip(), "--output", "json")
    assert watched.code == 1
    ended = watched.json()  # one JSON document, nothing else
    assert ended["status"] == "failed"
    assert {t["name"]: t["status"] for t in ended["tasks"]} == {
        "boom": "failed",
        "after": "skipped",
    }


async def test_json_output_of_list_show_and_history_parses_back(laf, api, tmp_path):
    document = write(tmp_path / "diamond.yaml", DIAMOND_YAML)
    submitted = await laf("submit", document, "--wait", "-o", "json")
    assert submitted.code == 0, submitted.err
    workflow = submitted.json()
    workflow_id = workflow["id"]
    assert workflow["status"] == "succeeded"

    shown = await laf("show", workflow_id, "-o", "json")
    assert shown.code == 0 and shown.json()["id"] == workflow_id
    assert [t["name"] for t in shown.json()["tasks"]] == ["a", "b", "c", "d"]

    listed = await laf("list", "--label", "suite=cli", "--status", "succeeded", "-o", "json")
    assert listed.code == 0, listed.err
    page = listed.json()
    assert workflow_id in [item["id"] for item in page["items"]]
    assert all(item["status"] == "succeeded" for item in page["items"])
    assert set(page) == {"items", "next_cursor"}

    history = await laf("history", workflow_id, "-o", "json")
    entries = history.json()
    assert entries[0]["to_status"] == "pending" and entries[-1]["to_status"] == "succeeded"
    assert entries == (await api.get(f"/api/workflows/{workflow_id}/history")).json()


async def test_tables_for_people(laf, tmp_path):
    document = write(tmp_path / "diamond.yaml", DIAMOND_YAML)
    workflow_id = (await laf("submit", document, "-q")).out.strip()
    assert (await laf("watch", workflow_id)).code == 0

    listed = await laf("list", "--search", "diamond", "--limit", "3")
    assert listed.code == 0 and workflow_id in listed.out and "suite=cli" in listed.out
    shown = await laf("show", workflow_id)
    assert "succeeded" in shown.out and "4/4" in shown.out and '{"value":10}' in shown.out
    history = await laf("history", workflow_id)
    assert "user:tester" in history.out and "dependencies met" in history.out
    none = await laf("list", "--search", "no such name anywhere")
    assert none.code == 0 and "no workflows match" in none.out


async def test_submit_repeats_with_the_same_idempotency_key_return_the_first(laf, tmp_path):
    document = write(tmp_path / "diamond.yaml", DIAMOND_YAML)
    key = f"cli-{uuid.uuid4()}"
    first = await laf("submit", document, "--idempotency-key", key, "-o", "json")
    second = await laf("submit", document, "--idempotency-key", key)
    assert first.code == 0 and second.code == 0, second.err
    assert first.json()["id"] in second.out and "already submitted" in second.out


BROKEN_YAML = """\
name: cli broken
tasks:
  - name: a
    executor: python
    params: {function: "laf_runner.library:echo"}
  - name: b
    executor: nope
    depends_on: [a]
  - nam: c
    executor: noop
"""


async def test_a_yaml_error_is_reported_at_its_line_and_column_and_nothing_is_sent(
    laf, api, tmp_path
):
    path = write(tmp_path / "broken.yaml", BROKEN_YAML)
    result = await laf("submit", path)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"{path}:7:15: tasks[1].executor (task 'b'): 'nope' is not one of "
        "['noop', 'python', 'local', 'http', 'kubernetes', 'manual']",
        f"{path}:9:5: tasks[2].nam: unknown field 'nam'",
        f"{path}:9:5: tasks[2]: 'name' is a required property",
    ]
    assert (await api.get("/api/workflows", params={"q": "cli broken"})).json()["items"] == []

    syntax = write(tmp_path / "syntax.yaml", "name: x\ntasks:\n  - name: a\n   executor: noop\n")
    parsed = await laf("validate", syntax)
    assert parsed.code == 2 and parsed.err.startswith(f"{syntax}:4:4: ")


async def test_json_documents_are_placed_too_and_api_only_checks_land_in_the_file(laf, tmp_path):
    text = '{\n  "name": "x",\n  "tasks": [\n    {"name": "a", "executor": "noop", "timeout_s": 0}\n  ]\n}\n'
    path = write(tmp_path / "zero.json", text)
    result = await laf("validate", path)
    assert result.code == 2
    assert result.err.strip() == (
        f"{path}:4:52: tasks[0].timeout_s (task 'a'): 0 is less than or equal to the minimum of 0"
    )
    syntax = write(tmp_path / "syntax.json", '{\n  "name": "x",\n  "tasks": [,]\n}\n')
    assert (await laf("validate", syntax)).err.strip() == f"{syntax}:3:13: Expecting value"

    # Only the API knows the executors' params: its 422 is placed in the file as well.
    python = write(
        tmp_path / "python.yaml",
        "name: x\ntasks:\n  - name: a\n    executor: noop\n  - name: b\n    executor: python\n",
    )
    valid = await laf("validate", python)
    assert valid.code == 0 and "valid" in valid.out
    refused = await laf("submit", python)
    assert refused.code == 3
    assert refused.err.startswith(f"{python}:5:5: tasks[1]: task 'b': params.function must be")


async def test_the_example_yaml_runs_as_the_readme_says(laf):
    example = Path(__file__).resolve().parents[2] / "examples" / "diamond.yaml"
    result = await laf("submit", str(example), "--wait", "-o", "json")
    assert result.code == 0, result.err
    outputs = {t["name"]: t["outputs"] for t in result.json()["tasks"]}
    assert outputs["d"] == {"value": 7}
    assert '"value": 5' in outputs["b"]["stdout_tail"]


class WithoutEvents(httpx.AsyncBaseTransport):
    """The real API, except that its event stream is missing (404) or cannot connect."""

    def __init__(self, how: str) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.how = how
        self.stream_tries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/events":
            self.stream_tries += 1
            if self.how == "missing":
                return httpx.Response(404, json={"detail": "Not Found"})
            raise httpx.ConnectError("refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("how", ["missing", "unreachable"])
async def test_watch_polls_when_there_is_no_event_stream(stack, api, how):
    slow = {
        "name": "cli polled",
        "tasks": [
            {
                "name": "wait",
                "executor": "python",
                "params": {"function": "laf_runner.library:sleep", "seconds": 0.5},
            },
            {"name": "after", "executor": "noop", "depends_on": ["wait"]},
        ],
    }
    submitted = await api.post("/api/workflows", json=slow)
    assert submitted.status_code == 201, submitted.text
    transport = WithoutEvents(how)
    target = Target(stack.api_url, "test", stack.admin_token, "test")
    client = AsyncApi(target, transport)
    seen: list[str] = []
    try:
        ended = await follow(
            client, submitted.json()["id"], lambda w: seen.append(w["status"]), 0.2
        )
    finally:
        await client.aclose()
    assert ended["status"] == "succeeded"
    assert [t["status"] for t in ended["tasks"]] == ["succeeded", "succeeded"]
    assert transport.stream_tries >= 1 and len(seen) >= 2  # polled, more than once
