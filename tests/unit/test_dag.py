import pytest

from laf_core.dag import GraphError, check_graph, dependents_of, find_cycle


def test_a_diamond_is_valid_and_inverted():
    graph = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    check_graph(graph)
    assert dependents_of(graph) == {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}


def test_unknown_dependency_names_the_task_and_the_missing_one():
    with pytest.raises(GraphError, match="task 'b' depends on unknown task 'x'"):
        check_graph({"a": [], "b": ["x"]})


def test_self_dependency_is_refused():
    with pytest.raises(GraphError, match="task 'a' depends on itself"):
        check_graph({"a": ["a"]})


def test_duplicate_dependency_is_refused():
    with pytest.raises(GraphError, match="task 'b' lists a dependency twice"):
        check_graph({"a": [], "b": ["a", "a"]})


def test_cycle_message_names_the_whole_cycle():
    graph = {"a": [], "b": ["a", "d"], "c": ["b"], "d": ["c"]}
    with pytest.raises(GraphError) as info:
        check_graph(graph)
    message = str(info.value)
    assert message.startswith("dependency cycle: ")
    cycle = message.removeprefix("dependency cycle: ").split(" (")[0].split(" -> ")
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"b", "c", "d"}
    assert "a" not in cycle


def test_find_cycle_returns_none_for_a_long_chain_without_recursion_limits():
    chain = {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(5000)}
    assert find_cycle(chain) is None
    chain["t0"] = ["t4999"]
    cycle = find_cycle(chain)
    assert cycle is not None and len(cycle) == 5001
