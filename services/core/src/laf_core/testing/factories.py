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
