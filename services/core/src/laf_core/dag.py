"""Pure checks of a workflow's dependency graph: no I/O, unit-tested."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence


class GraphError(ValueError):
    """The task graph is not a valid DAG; the message names the culprit."""


def check_graph(depends_on: Mapping[str, Sequence[str]]) -> None:
    """Raise GraphError for unknown dependencies, self-dependencies or cycles.

    `depends_on` maps each task name to the names it depends on, in document
    order (so the first error found is the first a reader would meet).
    """
    for name, deps in depends_on.items():
        for dep in deps:
            if dep == name:
                raise GraphError(f"task '{name}' depends on itself")
            if dep not in depends_on:
                raise GraphError(f"task '{name}' depends on unknown task '{dep}'")
        if len(set(deps)) != len(deps):
            raise GraphError(f"task '{name}' lists a dependency twice")
    cycle = find_cycle(depends_on)
    if cycle:
        raise GraphError(
            "dependency cycle: " + " -> ".join(cycle) + " (each task depends on the next)"
        )


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as a closed path along "depends on" edges, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(depends_on, WHITE)
    for root in depends_on:
        if colour[root] != WHITE:
            continue
        # Iterative DFS: a deep chain must not hit Python's recursion limit.
        path: list[str] = [root]
        stack: list[Iterator[str]] = [iter(depends_on[root])]
        colour[root] = GREY
        while stack:
            child = next(stack[-1], None)
            if child is None:
                colour[path.pop()] = BLACK
                stack.pop()
                continue
            if colour.get(child) == GREY:
                return [*path[path.index(child) :], child]
            if colour.get(child) == WHITE:
                colour[child] = GREY
                path.append(child)
                stack.append(iter(depends_on[child]))
    return None


def dependents_of(depends_on: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Invert the graph: for each task, the tasks that wait for it."""
    result: dict[str, list[str]] = {name: [] for name in depends_on}
    for name, deps in depends_on.items():
        for dep in deps:
            result[dep].append(name)
    return result
