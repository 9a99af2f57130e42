"""W3C trace context for a workflow run, derived from its ids.

A workflow is one trace (its id is the trace id) and each task a span under it,
so the API's answer, every message of the run (the `traceparent` header the relay
sets), a `local` process and a Job's pod (env `TRACEPARENT`) all carry the same
trace, with no state to keep or lose.
"""

from __future__ import annotations

import uuid


def trace_id(workflow_id: uuid.UUID) -> str:
    """The workflow's trace id: its id as 32 hex digits (what trace viewers look up)."""
    return workflow_id.hex


def traceparent(workflow_id: uuid.UUID, task_id: uuid.UUID | None = None) -> str:
    """`00-<trace id>-<parent span id>-01`: the workflow's trace, the task's span."""
    span = (task_id or workflow_id).hex[:16]
    return f"00-{trace_id(workflow_id)}-{span}-01"
