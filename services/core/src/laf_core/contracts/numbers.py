"""Numbers as JSON documents give them: no text for a number, no true/false for a count."""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _whole_number(value: Any) -> Any:
    """An int, or a float with nothing after the point (JSON Schema's `integer` allows 10.0);
    never a bool or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number, not text nor true/false")
    return value


# After the int and its bounds in an Annotated, so the bounds stay in the JSON Schema:
# `Annotated[int, Field(ge=1, le=50), WHOLE_NUMBER]`.
WHOLE_NUMBER = BeforeValidator(_whole_number)
