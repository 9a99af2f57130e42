import re
import uuid

from laf_core.tracing import traceparent


def test_a_workflow_is_one_trace_and_each_task_a_span_in_it():
    workflow, task = uuid.uuid4(), uuid.uuid4()
    for value in (traceparent(workflow), traceparent(workflow, task)):
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", value)
        assert value.split("-")[1] == workflow.hex
    assert traceparent(workflow, task).split("-")[2] == task.hex[:16]
    assert traceparent(workflow, task) != traceparent(workflow)
