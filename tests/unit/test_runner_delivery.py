"""A runner's results against an API that refuses, fails or is away (a stub API on a real
port; the real API and broker are in tests/e2e/test_runner_hostile.py).

Nothing is lost: a result the API cannot take now waits on disk and is delivered later,
by this runner or the next; one refused for good becomes a failed report with the reason;
a barrage of unstorable results frees every slot."""

import asyncio
import json
import os
import uuid
from collections.abc import Callable

import pytest
from aiohttp import web

from devstack import free_port
from laf_core.contracts.events import Envelope
from laf_core.errors import PermanentError
from laf_core.metrics import Metrics
from laf_core.settings import CommonSettings
from laf_core.testing.infra import policy_for_tests
from laf_runner.api_client import ApiClient
from laf_runner.attempts import UnsafeFolder
from laf_runner.runner import Runner
from laf_runner.settings import RunnerSettings

SECRET = "s" * 40

Answer = Callable[[dict], web.Response]


class StubApi:
    """Records every report; `answer(report)` decides the response."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.reports: list[dict] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        report = json.loads(await request.read())
        self.reports.append(report)
        return self.answer(report)

    def results(self) -> list[dict]:
        return [r for r in self.reports if r["type"] in ("succeeded", "failed")]


async def announced(_: web.Request) -> web.Response:
    return web.Response(status=204)


@pytest.fixture
async def stub():
    api = StubApi(lambda report: web.json_response({"outcome": "ok"}))
    app = web.Application()
    app.router.add_post("/api/webhooks/tasks", api.handle)
    app.router.add_post("/api/webhooks/runners", announced)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api.url = f"http://127.0.0.1:{port}"
    yield api
    await runner.cleanup()


def claimed(task_id: str, executor: str = "noop", params: dict | None = None) -> dict:
    return {
        "task_id": task_id,
        "workflow_id": str(uuid.uuid4()),
        "name": "t",
        "executor": executor,
        "attempt": 1,
        "params": params if params is not None else {"outputs": {"x": 1}},
        "timeout_s": None,
        "inputs": {},
    }


def queued(task_id: uuid.UUID | None = None) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="task.queued",
        occurred_at="2026-12-02T00:00:00Z",
        task_id=task_id or uuid.uuid4(),
        attempt=1,
    )


def make_runner(stub: StubApi, workdir, **settings) -> Runner:
    settings = {"executors": "noop,python", "heartbeat_s": 30, **settings}
    return Runner(
        CommonSettings(webhook_secret=SECRET),
        RunnerSettings(api_url=stub.url, workdir=str(workdir), token="laf_stub-token", **settings),
        Metrics("runner"),
        policy_for_tests(),
    )


def results_refused_until(api_back: asyncio.Event) -> Answer:
    """Every claim answered; results refused with 503 (the database away) until `api_back`."""

    def answer(report: dict) -> web.Response:
        if report["type"] == "started":
            return web.json_response(claimed(report["task_id"]))
        if not api_back.is_set():
            return web.json_response({"detail": "database unavailable"}, status=503)
        return web.json_response({"outcome": "succeeded"})

    return answer


async def until(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


class Attached:
    """A runner with its API client open, stopped (like a shutdown) at the end."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    async def __aenter__(self) -> Runner:
        self.client = ApiClient(self.runner.settings.api_url, SECRET)
        self.runner._api = await self.client.__aenter__()
        return self.runner

    async def __aexit__(self, *exc) -> None:
        await self.runner._finish_running(grace_s=0)
        for executor in self.runner.executors.values():
            await executor.close()
        await self.client.__aexit__(*exc)


async def test_a_result_refused_for_good_becomes_a_failed_report_with_the_reason(stub, tmp_path):
    def answer(report: dict) -> web.Response:
        if report["type"] == "started":
            return web.json_response(claimed(report["task_id"]))
        if report["type"] == "succeeded":
            return web.json_response({"detail": [{"msg": "outputs too large"}]}, status=422)
        return web.json_response({"outcome": "failed"})

    stub.answer = answer
    async with Attached(make_runner(stub, tmp_path)) as runner:
        await runner.handle(queued(), None)
        await until(lambda: len(stub.results()) == 2 and not runner._work)
    succeeded, failed = stub.results()
    assert succeeded["type"] == "succeeded" and failed["type"] == "failed"
    assert failed["task_id"] == succeeded["task_id"] and failed["outputs"] is None
    assert failed["error"].startswith("the API refused this attempt's succeeded report (HTTP 422)")
    assert "outputs too large" in failed["error"]
    assert list(tmp_path.glob("laf-attempts/*")) == []


async def test_a_result_waits_on_disk_while_the_api_cannot_take_it(stub, tmp_path):
    api_back = asyncio.Event()
    stub.answer = results_refused_until(api_back)
    async with Attached(make_runner(stub, tmp_path)) as runner:
        event = queued()
        await runner.handle(event, None)
        kept = tmp_path / "laf-attempts" / f"{event.task_id}-1" / "report.json"
        await until(kept.exists)
        assert json.loads(kept.read_text())["outputs"] == {"x": 1}
        assert os.stat(kept.parent).st_mode & 0o777 == 0o700
        api_back.set()
        await until(lambda: not runner._work)
    assert stub.results()[-1]["type"] == "succeeded"
    assert not kept.parent.exists()  # removed once the API accepted it


async def test_an_attempt_claimed_again_by_its_runner_is_not_run_twice(stub, tmp_path):
    """The API answers the runner holding an attempt when it claims it again (its first
    answer can be lost after the commit); the runner starts nothing the second time."""
    api_back = asyncio.Event()
    stub.answer = results_refused_until(api_back)  # every claim answered, as for its holder
    async with Attached(make_runner(stub, tmp_path)) as runner:
        event = queued()
        await runner.handle(event, None)
        kept = tmp_path / "laf-attempts" / f"{event.task_id}-1" / "report.json"
        await until(kept.exists)  # it ran; its result waits for the API
        for _ in range(2):  # the same message again: claimed again, answered, not run
            await runner.handle(event, None)
        assert len(runner._work) == 1 and not runner._running
        api_back.set()
        await until(lambda: not runner._work)
    assert [r["type"] for r in stub.reports].count("started") == 3
    assert {r["type"] for r in stub.results()} == {"succeeded"}


async def test_a_result_kept_by_a_stopped_runner_is_delivered_by_the_next(stub, tmp_path):
    api_back = asyncio.Event()

    def answer(report: dict) -> web.Response:
        if report["type"] == "started":
            return web.json_response(claimed(report["task_id"], params={"outputs": {"v": 7}}))
        if not api_back.is_set():
            return web.Response(status=502, text="<html>bad gateway</html>")
        return web.json_response({"outcome": "succeeded"})

    stub.answer = answer
    event = queued()
    async with Attached(make_runner(stub, tmp_path)) as first:
        await first.handle(event, None)
        await until(lambda: first.metrics.value("results_kept") == 1)
    # The first runner stopped (its delivery cancelled); its result is on disk.
    folder = tmp_path / "laf-attempts" / f"{event.task_id}-1"
    assert (folder / "report.json").exists()
    api_back.set()
    async with Attached(make_runner(stub, tmp_path)) as second:
        await second._reattach()
        await until(lambda: not second._work)
    delivered = stub.results()[-1]
    assert (delivered["type"], delivered["task_id"], delivered["outputs"]) == (
        "succeeded",
        str(event.task_id),
        {"v": 7},
    )
    assert not folder.exists()


async def test_sixteen_unstorable_results_free_every_slot(stub, tmp_path):
    """NaN, NUL and deep nesting in outputs, and an API that answers 500 to all of them
    (as it did): the runner keeps its slots free and still takes new work at once."""
    deep = "[" * 300 + "]" * 300
    bodies = [
        '{"outputs": {"area": NaN}}',
        '{"outputs": {"ratio": Infinity}}',
        '{"outputs": {"text": "a\\u0000b", "k\\u0000": 1}}',
        '{"outputs": {"deep": ' + deep + "}}",
    ]
    kinds: dict[str, str] = {}

    def answer(report: dict) -> web.Response:
        if report["type"] == "started":
            body = json.dumps(claimed(report["task_id"], params={"outputs": {}}))
            params = bodies[len(kinds) % len(bodies)]
            kinds[report["task_id"]] = params
            return web.Response(
                text=body.replace('{"outputs": {}}', params), content_type="application/json"
            )
        return web.json_response({"detail": "Internal Server Error"}, status=500)

    stub.answer = answer
    async with Attached(make_runner(stub, tmp_path, concurrency=16)) as runner:
        async with asyncio.timeout(10):
            for _ in range(16):
                await runner.handle(queued(), None)
            # every one of the sixteen posted (the 500s make the runner post some again)
            await until(lambda: len({r["task_id"] for r in stub.results()}) >= 16)
        assert runner._slots._value == 16, "slots held by results the API cannot take"
        assert runner._running == {}
        # A 17th task is taken at once, although 16 results are still undelivered.
        stub.answer = lambda report: (
            web.json_response(claimed(report["task_id"]))
            if report["type"] == "started"
            else web.json_response({"outcome": "ok"})
        )
        async with asyncio.timeout(5):
            await runner.handle(queued(), None)
            await until(lambda: any(r["type"] == "succeeded" for r in stub.results()))
    first = {}
    for report in stub.results():
        first.setdefault(report["task_id"], report)
    errors = sorted(r.get("error") or "" for r in first.values() if r["type"] == "failed")
    assert sum("outputs.area is NaN, which JSON cannot hold" in e for e in errors) == 4
    assert sum("outputs.ratio is Infinity" in e for e in errors) == 4
    assert sum("outputs.deep" in e and "nested deeper than 64" in e for e in errors) == 4
    escaped = [
        r["outputs"] for r in first.values() if r["type"] == "succeeded" and "text" in r["outputs"]
    ]
    assert escaped == [{"text": "a\\u0000b", "k\\u0000": 1}] * 4
    assert all(
        r["error"].startswith("the task's outputs cannot be stored")
        for r in first.values()
        if r["type"] == "failed"
    )


async def test_a_task_without_timeout_gets_its_executors_default(stub, tmp_path):
    def answer(report: dict) -> web.Response:
        if report["type"] == "started":
            return web.json_response(
                claimed(report["task_id"], "python", {"function": "tests.hostile_tasks:spin"})
            )
        return web.json_response({"outcome": "failed"})

    stub.answer = answer
    async with Attached(make_runner(stub, tmp_path, python_timeout_s=0.5)) as runner:
        await runner.handle(queued(), None)
        await until(lambda: stub.results() and not runner._work)
    (failed,) = stub.results()
    assert failed["error"] == (
        "timed out after 0.5s (the runner's default for python tasks: the task gave no timeout_s)"
    )


async def test_claims_the_api_can_never_take_are_dead_lettered_and_unreadable_ones_failed(
    stub, tmp_path
):
    stub.answer = lambda report: web.json_response({"detail": "bad"}, status=422)
    async with Attached(make_runner(stub, tmp_path)) as runner:
        with pytest.raises(PermanentError, match=r"the API refused the claim .* HTTP 422: bad"):
            await runner.handle(queued(), None)
        stub.answer = lambda report: web.json_response({"detail": "boom"}, status=500)
        with pytest.raises(PermanentError, match="the API failed 5 times on the claim"):
            await runner.handle(queued(), None)
        stub.answer = lambda report: (
            web.json_response({"not": "a task"})
            if report["type"] == "started"
            else web.json_response({"outcome": "failed"})
        )
        event = queued()
        await runner.handle(event, None)
        await until(lambda: stub.results() and not runner._work)
        assert runner._slots._value == runner.settings.concurrency
    (failed,) = stub.results()
    assert failed["task_id"] == str(event.task_id)
    assert failed["error"].startswith("the runner cannot read its claimed task")


@pytest.mark.parametrize("planted", ["mode", "owner", "symlink"])
async def test_a_runner_refuses_to_start_on_a_planted_attempts_folder(stub, tmp_path, planted):
    root = tmp_path / "laf-attempts"
    if planted == "symlink":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        root.symlink_to(tmp_path / "elsewhere")
    else:
        root.mkdir(mode=0o700)
        if planted == "mode":
            root.chmod(0o755)
        else:
            os.chown(root, 65534, 65534)  # nobody (the tests run as root here)
    runner = make_runner(stub, tmp_path)
    with pytest.raises(UnsafeFolder, match=f"refusing the attempts folder {root}"):
        await runner.run(asyncio.Event())
    assert stub.reports == []


async def test_planted_attempt_folders_are_never_read_nor_removed(stub, tmp_path):
    root = tmp_path / "laf-attempts"
    root.mkdir(mode=0o700)
    report = {"type": "succeeded", "task_id": str(uuid.uuid4()), "attempt": 1, "outputs": {}}
    for name, mode, owner in (("foreign", 0o700, 65534), ("open", 0o755, os.geteuid())):
        folder = root / f"{report['task_id']}-{name}"
        folder.mkdir(mode=0o700)
        (folder / "report.json").write_text(json.dumps(report))
        folder.chmod(mode)
        os.chown(folder, owner, owner)
    async with Attached(make_runner(stub, tmp_path)) as runner:
        await runner._reattach()
        assert runner._work == set()
    assert stub.reports == []
    assert len(list(root.iterdir())) == 2
