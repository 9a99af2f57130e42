"""The workflow document (DESIGN §2), v1.

These models are the single source of the JSON Schema served at
`/api/schemas/workflow`, so the browser and the API validate alike.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from laf_core.contracts.job_params import kubernetes_params_problem
from laf_core.contracts.numbers import WHOLE_NUMBER
from laf_core.contracts.states import OPERATOR_EXECUTORS, ExecutorName
from laf_core.dag import check_graph

TaskName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Unique within the workflow: letters, digits, '_', '.', '-'.",
    ),
]

_FUNCTION_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class RetryPolicy(BaseModel):
    """Automatic retries: attempt n waits backoff_s * 2**(n-1), capped, with jitter."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # defaults are shared (below)

    max_attempts: Annotated[int, Field(ge=1, le=50), WHOLE_NUMBER] = Field(
        3, description="Attempts in all, the first included."
    )
    backoff_s: float = Field(1.0, ge=0, le=3600, strict=True)
    max_backoff_s: float = Field(60.0, ge=0, le=86400, strict=True)


class TaskSpec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        # What _params_fit_executor checks of http tasks, said in the schema too.
        json_schema_extra={
            "if": {"properties": {"executor": {"const": "http"}}, "required": ["executor"]},
            "then": {
                "required": ["instrument"],
                "properties": {"instrument": {"type": "string", "minLength": 1}},
            },
        },
    )

    name: TaskName
    executor: ExecutorName
    instrument: str | None = Field(None, min_length=1, max_length=100)
    depends_on: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(None, gt=0, le=7 * 86400, strict=True)
    retry: RetryPolicy | None = None

    @model_validator(mode="after")
    def _params_fit_executor(self) -> TaskSpec:
        problem = executor_params_problem(self.executor, self.params)
        if problem:
            raise ValueError(f"task '{self.name}': {problem}")
        if self.executor == "http" and not self.instrument:
            raise ValueError(
                f"task '{self.name}': the http executor calls an instrument's service; "
                "name the instrument in 'instrument'"
            )
        return self

    def effective_retry(self) -> RetryPolicy:
        """No automatic retry for physical steps (on an instrument, or done by a person):
        a sample may be consumed, so an operator decides. 3 attempts for compute tasks."""
        if self.retry is not None:
            return self.retry
        physical = self.instrument is not None or self.executor in OPERATOR_EXECUTORS
        return _NO_RETRY if physical else _THREE_ATTEMPTS


# Made once: a 10,000-task submit built one per task (0.2 s of its 1.2 s).
_NO_RETRY = RetryPolicy(max_attempts=1)
_THREE_ATTEMPTS = RetryPolicy(max_attempts=3)


def executor_params_problem(executor: str, params: dict[str, Any]) -> str | None:
    """What is wrong with `params` for `executor`, or None. Pure, shared by API and runner."""
    if executor == "python":
        function = params.get("function")
        if not isinstance(function, str) or not _FUNCTION_REF.match(function):
            return "params.function must be 'module:function', e.g. 'laf_runner.library:echo'"
    elif executor == "local":
        command = params.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            return "params.command must be a non-empty list of strings (argv)"
        env = params.get("env", {})
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            return "params.env must map names to strings"
        if "cwd" in params and not isinstance(params["cwd"], str):
            return "params.cwd must be a string"
    elif executor == "manual" and not isinstance(params.get("instructions", ""), str):
        return "params.instructions must be text for the operator"
    elif executor == "manual" and not isinstance(params.get("outputs_schema", {}), dict):
        return "params.outputs_schema must be a JSON Schema (an object) of the outputs to enter"
    elif executor == "noop" and not isinstance(params.get("outputs", {}), dict):
        return "params.outputs must be a JSON object"
    elif executor == "kubernetes":
        return kubernetes_params_problem(params)
    return None


class WorkflowSpec(BaseModel):
    """A workflow as a client submits it."""

    model_config = ConfigDict(
        extra="forbid",
        title="LAF workflow",
        json_schema_extra={"$id": "https://laf.example/schemas/workflow-v1.json"},
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    labels: dict[str, str] = Field(default_factory=dict)
    tasks: list[TaskSpec] = Field(min_length=1, max_length=10_000)
    requires_approval: bool = Field(
        False,
        description="Its results count only once a reviewer reviewed them and another "
        "approved them (release: 'released').",
    )

    @field_validator("tasks", mode="before")
    @classmethod
    def _not_empty(cls, tasks: Any) -> Any:
        if isinstance(tasks, list) and not tasks:
            raise ValueError("a workflow needs at least one task")
        return tasks

    @model_validator(mode="after")
    def _valid_graph(self) -> WorkflowSpec:
        seen: set[str] = set()
        for task in self.tasks:
            if task.name in seen:
                raise ValueError(f"duplicate task name '{task.name}'")
            seen.add(task.name)
        check_graph({task.name: task.depends_on for task in self.tasks})
        return self
