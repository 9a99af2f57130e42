"""Plain functions that build workflow documents for tests."""

from __future__ import annotations

from typing import Any


def task(name: str, *depends_on: str, executor: str = "noop", **fields: Any) -> dict[str, Any]:
    return {"name": name, "executor": executor, "depends_on": list(depends_on), **fields}


def workflow(*tasks: dict[str, Any], name: str = "test workflow", **fields: Any) -> dict[str, Any]:
    return {"name": name, "tasks": list(tasks), **fields}


def diamond(executor: str = "noop", **fields: Any) -> dict[str, Any]:
    """a -> b, a -> c, b + c -> d."""
    return workflow(
        task("a", executor=executor, **fields),
        task("b", "a", executor=executor, **fields),
        task("c", "a", executor=executor, **fields),
        task("d", "b", "c", executor=executor, **fields),
        name="diamond",
    )


def fan_out(width: int) -> dict[str, Any]:
    """root -> width parallel leaves -> join."""
    leaves = [task(f"leaf-{i:03d}", "root") for i in range(width)]
    return workflow(
        task("root"), *leaves, task("join", *[t["name"] for t in leaves]), name=f"fan-out {width}"
    )


TEN_TASK_SHAPE: dict[str, list[str]] = {
    "a": [], "b": ["a"], "c": ["a"], "d": ["a"], "e": ["b", "c", "d"],
    "f": ["e"], "g": ["e"], "h": ["e"], "i": ["f", "g", "h"], "j": ["i"],
}  # fmt: skip


def ten_task_dag(
    name: str, executor: str = "noop", params: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """a -> b,c,d -> e -> f,g,h -> i -> j: the benchmark's and the fault suite's shape."""
    tasks = [
        task(n, *deps, executor=executor, **({"params": params} if params else {}))
        for n, deps in TEN_TASK_SHAPE.items()
    ]
    return workflow(*tasks, name=name, **fields)


def chain(length: int) -> dict[str, Any]:
    """s0000 -> s0001 -> ... : one hand-off per link."""
    names = [f"s{i:04d}" for i in range(length)]
    return workflow(
        *[task(n, *names[i - 1 : i]) for i, n in enumerate(names)], name=f"chain {length}"
    )
