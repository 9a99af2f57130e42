"""JSON Schemas written by users (an instrument's `parameters_schema`), made safe to run.

A schema is data from outside, so registering one refuses what could make the API
fetch from the network or spend unbounded time:

- `$ref` / `$dynamicRef` must point inside the schema (`#...`): no remote documents;
- every `pattern` and `patternProperties` key must compile with RE2, a linear-time
  engine (no back-references or look-around), and is evaluated with RE2: a pattern
  like `^(a+)+$` answers in microseconds whatever the input;
- `unevaluatedProperties` together with `patternProperties` is refused (jsonschema
  evaluates that pair with Python's backtracking `re`).

`validator(schema)` builds the validator every submit uses: RE2 for the regex
keywords and an empty registry, so a reference that does not resolve inside the
schema is an error instead of a download.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2 ships no type hints
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from referencing import Registry

_REFERENCES = ("$ref", "$dynamicRef")


class SchemaRefused(ValueError):
    """The schema cannot be accepted; the message says which part and why."""


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error:
        raise SchemaRefused(
            f"pattern {pattern[:100]!r} is not one LAF can evaluate in linear time "
            "(RE2 syntax: no back-references or look-around)"
        ) from None


def _search(pattern: str, text: str) -> bool:
    return bool(_compiled(pattern).search(text) is not None)


def _pattern(validator: Any, pattern: str, instance: Any, _: dict[str, Any]) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance[:200]!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _: dict[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        key
        for key in instance
        if key not in properties and not any(_search(p, key) for p in patterns)
    ]


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    extras = _additional(instance, schema)
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        listed = ", ".join(repr(e) for e in sorted(extras)[:20])
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


_Re2Validator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in the schema, depth first, without recursion (depth is bounded by the
    request guard, but a stack of our own costs nothing)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def check(schema: dict[str, Any]) -> None:
    """Raise SchemaRefused unless `schema` is a valid JSON Schema (2020-12) that LAF can
    evaluate safely (see the module's docstring)."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise SchemaRefused(f"not a valid JSON Schema: {exc.message}") from None
    unevaluated = pattern_properties = False
    for node in _walk(schema):
        for keyword in _REFERENCES:
            target = node.get(keyword)
            if isinstance(target, str) and not target.startswith("#"):
                raise SchemaRefused(
                    f"{keyword} {target[:200]!r} points outside the schema; only local "
                    "references ('#/$defs/...') are allowed"
                )
        if isinstance(node.get("pattern"), str):
            _compiled(node["pattern"])
        if isinstance(node.get("patternProperties"), dict):
            pattern_properties = True
            for pattern in node["patternProperties"]:
                _compiled(pattern)
        unevaluated = unevaluated or "unevaluatedProperties" in node
    if unevaluated and pattern_properties:
        raise SchemaRefused(
            "unevaluatedProperties together with patternProperties is not supported; "
            "use additionalProperties"
        )


def validator(schema: dict[str, Any]) -> Validator:
    """The validator submits use for `schema`: RE2 for the regex keywords, no remote
    references. Raises SchemaRefused for a stored schema LAF cannot evaluate (one
    registered before these checks)."""
    check(schema)
    made: Validator = _Re2Validator(schema, registry=Registry())
    return made


def errors(checked: Validator, instance: Any) -> Iterator[ValidationError]:
    """The ways `instance` breaks the validator's schema; SchemaRefused for a reference
    that does not resolve inside it."""
    try:
        yield from checked.iter_errors(instance)
    except SchemaRefused:
        raise
    except Exception as exc:  # referencing.exceptions.Unresolvable and kin
        raise SchemaRefused(f"the schema cannot be evaluated: {type(exc).__name__}") from None
