"""laf's documents: where each value of a JSON or YAML file starts, so that every
schema error points at its line and column (laf_cli.documents, no servers)."""

from __future__ import annotations

import pytest

from laf_cli import documents
from laf_cli.documents import DocumentError
from laf_core.contracts.workflow import WorkflowSpec

SCHEMA = WorkflowSpec.model_json_schema()


def test_json_positions_survive_escapes_unicode_and_nesting():
    text = (
        '{"name": "caf\\u00e9 \\"x\\"", "labels": {},\n'
        ' "tasks": [[], {"a": [1, {"b": "é"}]}, {"name": "t", "executor": "noop"}]}'
    )
    document = documents.parse_json("f.json", text)
    assert document.data["name"] == 'café "x"'
    assert document.where(("labels",)) == (1, 39)  # columns count the file's characters
    assert document.where(("tasks",)) == (2, 11)
    assert document.where(("tasks", 1, "a", 1, "b")) == (2, 32)
    assert document.where(("tasks", 2, "executor")) == (2, 66)
    assert document.where(("tasks", 2, "executor"), key=True) == (2, 54)
    assert document.where(("tasks", 9, "deeper")) == (2, 11)  # the nearest enclosing value


def test_yaml_keeps_dates_as_text_merges_anchors_and_places_each_value():
    text = (
        "name: assay\n"
        "labels: {when: 2024-01-01}\n"
        "defaults: &d {executor: noop}\n"
        "tasks:\n"
        "  - <<: *d\n"
        "    name: a\n"
    )
    document = documents.parse_yaml("f.yaml", text)
    assert document.data["labels"] == {"when": "2024-01-01"}
    assert document.data["tasks"] == [{"executor": "noop", "name": "a"}]
    assert document.where(("tasks", 0, "name")) == (6, 11)
    problems = documents.problems(document, SCHEMA)
    assert problems == ["f.yaml:3:1: defaults: unknown field 'defaults'"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\ntasks:\n  - 1: one\n", "f.yaml:3:5: keys must be strings, not 1"),
        ("a: &a [*a]\n", "f.yaml:1:4: a recursive alias"),  # the anchored value
        ("", "f.yaml:1:1: the document is empty"),
        ("name: [unclosed\n", "f.yaml:2:1: expected ',' or ']', but got '<stream end>'"),
        (
            "a: 1\n---\nb: 2\n",
            "f.yaml:2:1: expected a single document in the stream, but found another document",
        ),
    ],
)
def test_yaml_that_cannot_be_a_document_is_refused_where_it_breaks(text, problem):
    with pytest.raises(DocumentError) as caught:
        documents.parse_yaml("f.yaml", text)
    assert caught.value.problems == [problem]


def test_a_yaml_bomb_is_refused_not_expanded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(DocumentError, match="too large once its aliases are expanded"):
        documents.parse_yaml("bomb.yaml", "\n".join(lines) + "\n")


def test_schema_errors_come_in_file_order_naming_the_task():
    text = (
        '{"name": "x", "tasks": [\n'
        '  {"name": "a", "executor": "noop", "instrument": 5},\n'
        '  {"name": "b", "executor": "sleep", "retry": {"max_attempts": 0}},\n'
        '  {"name": "c", "executor": "noop", "retry": {"tries": 2}}\n'
        "]}\n"
    )
    problems = documents.problems(documents.parse_json("f.json", text), SCHEMA)
    assert problems == [
        "f.json:2:51: tasks[0].instrument (task 'a'): 5 is not of type 'string' or 'null'",
        "f.json:3:29: tasks[1].executor (task 'b'): 'sleep' is not one of "
        "['noop', 'python', 'local', 'http', 'kubernetes', 'manual']",
        "f.json:3:64: tasks[1].retry.max_attempts (task 'b'): 0 is less than the minimum of 1",
        "f.json:4:47: tasks[2].retry.tries (task 'c'): unknown field 'tries'",
    ]
