"""Every state and executor name, defined once (DESIGN §5).

Named type aliases, so `/openapi.json` and the workflow JSON Schema carry each
as a component (`TaskStatus`, `FinalTaskStatus`, `ExecutorName`, …) and the
frontend's generated types and value lists name them too. A state is either
active or final; the full lists are the two halves, in lifecycle order. The SQL
CHECK constraints of `db/migrations/` are held equal to these by a unit test.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from typing_extensions import TypeAliasType

ActiveWorkflowStatus = TypeAliasType(
    "ActiveWorkflowStatus", Literal["pending", "running", "paused"]
)
FinalWorkflowStatus = TypeAliasType(
    "FinalWorkflowStatus", Literal["succeeded", "failed", "cancelled"]
)
WorkflowStatus = TypeAliasType("WorkflowStatus", ActiveWorkflowStatus | FinalWorkflowStatus)

# pending: dependencies not done (or a retry's backoff); waiting: ready, its instrument has
# no free slot; queued: an attempt announced to runners; running: claimed, or a manual step
# awaiting an operator.
ActiveTaskStatus = TypeAliasType(
    "ActiveTaskStatus", Literal["pending", "waiting", "queued", "running"]
)
FinalTaskStatus = TypeAliasType(
    "FinalTaskStatus", Literal["succeeded", "failed", "cancelled", "skipped"]
)
TaskStatus = TypeAliasType("TaskStatus", ActiveTaskStatus | FinalTaskStatus)

InstrumentStatus = TypeAliasType("InstrumentStatus", Literal["online", "offline", "maintenance"])

# What a finished attempt's report did to its task (`laf_finish_task`), or `running` for an
# accepted heartbeat.
ReportOutcome = TypeAliasType(
    "ReportOutcome", Literal["succeeded", "failed", "retrying", "running"]
)

# Executors run by a runner, and those LAF handles itself (a manual step waits for an
# operator). A new executor joins a list when it exists, so a document naming one LAF
# cannot run is refused at submit. Plain Literals: the workflow schema lists them inline.
RunnerExecutor = Literal["noop", "python", "local", "http", "kubernetes"]
OperatorExecutor = Literal["manual"]
ExecutorName = Literal[RunnerExecutor, OperatorExecutor]


def values(alias: Any) -> tuple[str, ...]:
    """The names a Literal or a named alias admits, in order (a union: each member's in turn)."""
    found: list[str] = []
    for member in get_args(alias.__value__ if isinstance(alias, TypeAliasType) else alias):
        found += values(member) if isinstance(member, TypeAliasType) else [member]
    return tuple(found)


WORKFLOW_STATUSES = values(WorkflowStatus)
FINAL_WORKFLOW_STATUSES = values(FinalWorkflowStatus)
TASK_STATUSES = values(TaskStatus)
FINAL_TASK_STATUSES = values(FinalTaskStatus)
INSTRUMENT_STATUSES = values(InstrumentStatus)
RUNNER_EXECUTORS = values(RunnerExecutor)
OPERATOR_EXECUTORS = values(OperatorExecutor)
EXECUTORS = values(ExecutorName)
