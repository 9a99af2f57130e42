"""Workflow documents from JSON or YAML files, checked against the served JSON Schema
before anything is sent, with each error at its line and column: `FILE:LINE:COL: …`.

Both parsers keep where each value (and each mapping key) starts, by its path in the
document (`("tasks", 1, "executor")`), so a schema error, or a 422 the API gives for
something only it can check (a cycle, an unknown instrument), points into the file.
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from laf_cli.errors import USAGE, CliError

Path_ = tuple[str | int, ...]
MAX_NODES = 1_000_000  # YAML aliases can make a small file huge ("billion laughs")


@dataclass
class Document:
    name: str  # as the user gave it, for messages
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # 1-based line, column
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """The line and column of `path` (its key when asked and known), else of the
        nearest enclosing value."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)

    def at(self, path: Path_, message: str, key: bool = False) -> str:
        line, column = self.where(path, key)
        return f"{self.name}:{line}:{column}: {message}"


class DocumentError(CliError):
    """The file cannot be submitted: every line of `problems` says where and why."""

    def __init__(self, problems: list[str], exit_code: int = USAGE) -> None:
        super().__init__("\n".join(problems), exit_code, bare=True)
        self.problems = problems


def read(name: str) -> Document:
    """Parse `name` (`-`: stdin). `.yaml`/`.yml` is YAML, `.json` JSON; otherwise JSON
    when it starts with `{`, else YAML."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror}", USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"{name} is not UTF-8 text", USAGE) from None
    text = text.removeprefix("\ufeff")
    suffix = Path(name).suffix.lower()
    as_json = suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] == "{")
    display = "<stdin>" if name == "-" else name
    return parse_json(display, text) if as_json else parse_yaml(display, text)


# ---- JSON ----------------------------------------------------------------------------------

_SPACE = re.compile(r"[ \t\n\r]*")


def parse_json(name: str, text: str) -> Document:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError([f"{name}:{exc.lineno}:{exc.colno}: {exc.msg}"]) from None
    except RecursionError:
        raise DocumentError([f"{name}: nested too deeply"]) from None
    document = Document(name, data)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def place(offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    # The decoder's own scanner: one value (a key too) from an offset, with where it ends.
    scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # undocumented in typeshed, public since 2.6

    def skip(i: int) -> int:
        match = _SPACE.match(text, i)
        return match.end() if match else i

    def value(i: int, path: Path_) -> int:
        i = skip(i)
        document.values[path] = place(i)
        if text[i] == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, after = scan(text, i)
                document.keys[(*path, key)] = place(i)
                i = skip(value(skip(after) + 1, (*path, key)))
                if text[i] == "}":
                    return i + 1
                i = skip(i + 1)  # the comma
        if text[i] == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            index = 0
            while True:
                i = skip(value(i, (*path, index)))
                if text[i] == "]":
                    return i + 1
                i, index = i + 1, index + 1
        _, end = scan(text, i)
        return int(end)

    try:
        value(0, ())
    except (RecursionError, IndexError, ValueError, StopIteration):
        document.values, document.keys = {(): (1, 1)}, {}  # positions are a help, not a need
    return document


# ---- YAML ----------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML where dates stay strings: a workflow document has no date type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse_yaml(name: str, text: str) -> Document:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}:" if mark else ""
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.problem and exc.context and exc.context.startswith("expected"):
            problem = f"{exc.context}, {exc.problem}"  # "expected a single document …, but …"
        raise DocumentError([f"{name}:{where} {problem}"]) from None
    except yaml.YAMLError as exc:
        raise DocumentError([f"{name}: {exc}"]) from None
    finally:
        loader.dispose()
    if root is None:
        raise DocumentError([f"{name}:1:1: the document is empty"])
    document = Document(name, None)
    problems: list[str] = []
    visited = 0

    def build(node: yaml.Node, path: Path_, inside: tuple[int, ...]) -> Any:
        nonlocal visited
        visited += 1
        if visited > MAX_NODES:
            raise DocumentError([f"{name}: too large once its aliases are expanded"])
        if id(node) in inside:
            raise DocumentError([f"{name}:{_mark(node)[0]}:{_mark(node)[1]}: a recursive alias"])
        document.values.setdefault(path, _mark(node))
        inside = (*inside, id(node))
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)  # `<<: *defaults` merges
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    line, column = _mark(key_node)
                    problems.append(f"{name}:{line}:{column}: keys must be strings, not {key!r}")
                    continue
                document.keys.setdefault((*path, key), _mark(key_node))
                mapping[key] = build(value_node, (*path, key), inside)
            return mapping
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i), inside) for i, item in enumerate(node.value)]
        try:
            return loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            line, column = _mark(node)
            problems.append(f"{name}:{line}:{column}: {exc.problem}")
            return None

    document.data = build(root, (), ())
    if problems:
        raise DocumentError(problems)
    return document


# ---- checking ------------------------------------------------------------------------------


def dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _task_of(document: Document, path: Path_) -> str | None:
    if len(path) >= 2 and path[0] == "tasks" and isinstance(path[1], int):
        tasks = document.data.get("tasks") if isinstance(document.data, dict) else None
        if isinstance(tasks, list) and path[1] < len(tasks) and isinstance(tasks[path[1]], dict):
            name = tasks[path[1]].get("name")
            return name if isinstance(name, str) else None
    return None


def locate(document: Document, path: Path_, message: str, key: bool = False) -> str:
    """`FILE:LINE:COL: where: message`, naming the task when the path is inside one."""
    task = _task_of(document, path)
    where = dotted(path)
    if task and f"task '{task}'" not in message:
        where += f" (task '{task}')"
    return document.at(path, f"{where}: {message}" if where else message, key)


def _extra_keys(error: ValidationError) -> list[str]:
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in instance if key not in known]


def _chosen(error: ValidationError) -> tuple[ValidationError, str]:
    """The error to report and its message. `anyOf` says only "not valid under any of the
    given schemas": report the rule that broke inside it (a nullable number below its
    minimum, a field of an optional object), or every type it could have been."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return error, error.message
    rules = [e for e in error.context if e.validator != "type"]
    if rules:
        return rules[0], rules[0].message
    types = [repr(e.validator_value) for e in error.context]
    return error, f"{error.instance!r} is not of type {' or '.join(types)}"


def problems(document: Document, schema: dict[str, Any]) -> list[str]:
    """Every way the document breaks the schema, in file order."""
    found: list[tuple[tuple[int, int], str]] = []
    for reported in Draft202012Validator(schema).iter_errors(document.data):
        error, message = _chosen(reported)
        path: Path_ = tuple(error.absolute_path)
        extra = _extra_keys(error) if error.validator == "additionalProperties" else []
        for key in extra:
            spot = (*path, key)
            where = document.where(spot, key=True)
            found.append((where, locate(document, spot, f"unknown field {key!r}", key=True)))
        if not extra:
            found.append((document.where(path), locate(document, path, message)))
    return [message for _, message in sorted(found)]


def check(document: Document, schema: dict[str, Any]) -> None:
    found = problems(document, schema)
    if found:
        raise DocumentError(found)


def api_problems(document: Document, detail: Any) -> list[str] | None:
    """A submit's 422 `detail` placed in the file (None when it is not about the body)."""
    if isinstance(detail, str):
        return [f"{document.name}: {detail}"]
    if not isinstance(detail, list):
        return None
    placed = []
    for item in detail:
        if not isinstance(item, dict):
            placed.append(f"{document.name}: {item}")
            continue
        loc = list(item.get("loc", []))
        message = str(item.get("msg", item))
        if loc[:1] != ["body"]:
            return None
        path = tuple(part for part in loc[1:] if isinstance(part, str | int))
        placed.append(locate(document, path, message) if path else f"{document.name}: {message}")
    return placed
