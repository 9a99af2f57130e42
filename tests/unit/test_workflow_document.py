import pytest
from pydantic import ValidationError

from laf_core.contracts.states import EXECUTORS
from laf_core.contracts.workflow import WorkflowSpec


def spec(*tasks, **extra):
    return {"name": "wf", "tasks": list(tasks), **extra}


def noop(name, *deps, **extra):
    return {"name": name, "executor": "noop", "depends_on": list(deps), **extra}


def error_text(document) -> str:
    with pytest.raises(ValidationError) as info:
        WorkflowSpec.model_validate(document)
    return str(info.value)


def test_a_valid_document_round_trips():
    doc = spec(noop("a"), noop("b", "a"), labels={"batch": "B-1042"}, description="d")
    parsed = WorkflowSpec.model_validate(doc)
    assert [t.name for t in parsed.tasks] == ["a", "b"]
    assert parsed.labels == {"batch": "B-1042"}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (spec(), "a workflow needs at least one task"),
        (spec(noop("a"), noop("a")), "duplicate task name 'a'"),
        (spec(noop("a", "ghost")), "task 'a' depends on unknown task 'ghost'"),
        (spec(noop("a", "b"), noop("b", "a")), "dependency cycle: a -> b -> a"),
        (spec({"name": "a", "executor": "teleport"}), "teleport"),
        (spec({"name": "a", "executor": "python", "params": {}}), "task 'a': params.function"),
        (
            spec({"name": "a", "executor": "local", "params": {"command": "ls"}}),
            "task 'a': params.command",
        ),
        (spec({"name": "bad name!", "executor": "noop"}), "string_pattern_mismatch"),
        (spec(noop("a", retry={"max_attempts": 0})), "max_attempts"),
        (spec(noop("a"), surprise=1), "surprise"),
    ],
)
def test_invalid_documents_say_what_is_wrong(document, expected):
    assert expected in error_text(document)


def test_retry_defaults_depend_on_the_instrument():
    parsed = WorkflowSpec.model_validate(
        spec(noop("compute"), noop("weigh", instrument="balance-01"))
    )
    compute, weigh = parsed.tasks
    assert compute.effective_retry().max_attempts == 3
    assert weigh.effective_retry().max_attempts == 1


def test_schema_lists_the_executors_and_forbids_unknown_fields():
    schema = WorkflowSpec.model_json_schema()
    task = schema["$defs"]["TaskSpec"]
    assert task["properties"]["executor"]["enum"] == list(EXECUTORS)
    assert task["additionalProperties"] is False
    assert schema["properties"]["tasks"]["minItems"] == 1
