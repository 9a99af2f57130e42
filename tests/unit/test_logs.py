"""Every JSON line logged while a service works on a task names the task: its workflow_id,
task, attempt and the workflow's trace_id, whatever the line's own words."""

import asyncio
import io
import json
import logging
import uuid

from laf_core import logs


def _lines(run) -> list[dict]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        run(logger)
    finally:
        logger.removeHandler(handler)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_inside_about_task_carry_the_task_and_lines_after_do_not():
    workflow = uuid.uuid4()

    def run(logger):
        with logs.about_task(workflow, "weigh", 2):
            logger.info("python worker died")
            logger.warning("cannot report yet", extra={"executor": "python"})
        logger.info("runner serving noop")

    inside, warned, after = _lines(run)
    assert {k: inside[k] for k in ("workflow_id", "task", "attempt", "trace_id")} == {
        "workflow_id": str(workflow),
        "task": "weigh",
        "attempt": 2,
        "trace_id": workflow.hex,
    }
    assert warned["task"] == "weigh" and warned["executor"] == "python"
    assert not {"workflow_id", "task", "attempt", "trace_id"} & set(after)


def test_each_asyncio_task_has_its_own_and_about_adds_to_it():
    first, second = uuid.uuid4(), uuid.uuid4()

    async def work(logger, workflow, name):
        logs.about(workflow, name)
        await asyncio.sleep(0)
        logs.about(attempt=3)  # later, the attempt: the rest is kept
        await asyncio.sleep(0)
        logger.info("done")

    async def both(logger):
        await asyncio.gather(work(logger, first, "a"), work(logger, second, "b"))

    lines = _lines(lambda logger: asyncio.run(both(logger)))
    assert sorted((line["workflow_id"], line["task"], line["attempt"]) for line in lines) == sorted(
        [(str(first), "a", 3), (str(second), "b", 3)]
    )
