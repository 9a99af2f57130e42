"""What a runner sends is storable: NUL escaped, NaN refused, errors bounded, depth bounded."""

import pytest

from laf_core.contracts.reports import FailedReport
from laf_runner import storable


def test_nul_characters_are_escaped_in_strings_and_keys_and_surrogates_replaced():
    fixed = storable.outputs({"a\x00": ["x\x00y", {"k": "\ud800"}], "n": 1, "f": 0.5})
    assert fixed == {"a\\u0000": ["x\\u0000y", {"k": "\ufffd"}], "n": 1, "f": 0.5}


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"peaks": [{"area": float("nan")}]}, "outputs.peaks[0].area is NaN"),
        ({"ratio": float("inf")}, "outputs.ratio is Infinity"),
        ({"ratio": -float("inf")}, "outputs.ratio is -Infinity"),
        ({1: "x"}, "has a key that is not a string"),
        ({"s": {1, 2}}, "outputs.s is a set, not a JSON value"),
    ],
)
def test_what_json_cannot_hold_is_refused_saying_where(outputs, message):
    with pytest.raises(storable.NotStorable, match=message.replace("[", r"\[").replace("]", r"\]")):
        storable.outputs(outputs)


def test_nesting_is_bounded():
    value: object = 1
    for _ in range(storable.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(storable.NotStorable, match=f"nested deeper than {storable.MAX_DEPTH}"):
        storable.outputs({"deep": value})
    shallow: object = 1
    for _ in range(storable.MAX_DEPTH - 2):
        shallow = [shallow]
    assert storable.outputs({"ok": shallow}) == {"ok": shallow}


def test_errors_are_cut_with_a_marker_under_the_apis_limit():
    error = storable.error("E" * 50_000)
    assert len(error) <= storable.ERROR_LIMIT < 20_000
    assert error.endswith(f"… [cut: {50_000 - (storable.ERROR_LIMIT - 64):,} more characters]")
    FailedReport(
        type="failed", task_id="00000000-0000-0000-0000-000000000001", attempt=1, error=error
    )
    assert storable.error("") == "failed (no message)"
    assert storable.error("disk\x00full") == "disk\\u0000full"
    assert storable.error("short") == "short"
