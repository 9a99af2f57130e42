import pytest

from laf_core import topology


@pytest.mark.parametrize(
    ("key", "durable"),
    [
        ("workflow.pending", True),
        ("task.queued.noop", True),
        ("task.queued.local", True),
        ("task.pending.python", True),
        ("task.running.noop", False),
        ("task.succeeded.noop", False),
        ("workflow.succeeded", False),
        ("task.queued", False),
    ],
)
def test_events_with_a_durable_consumer_are_published_mandatory(key, durable):
    assert topology.must_route(key) is durable


def test_every_executor_has_a_runner_queue():
    names = {q.name for q in topology.durable_queues()}
    assert {"laf.runner.noop", "laf.runner.python", "laf.runner.local", "laf.coordinator"} <= names
    for queue in topology.durable_queues():
        assert queue.arguments["x-queue-type"] == "quorum"
        assert queue.arguments["x-dead-letter-exchange"] == topology.DEAD_EXCHANGE
