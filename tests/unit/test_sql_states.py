"""The database spells the states as laf_core.contracts.states does: the CHECK lists
are the states, and every word the SQL code quotes is a state, an executor, or one
of the few other words it is known to use."""

import re
from importlib import resources

from laf_core.contracts import states

DB = resources.files("laf_core.db")
SCHEMA = "\n".join(f.read_text() for f in (DB / "migrations").iterdir() if f.name.endswith(".sql"))
CODE = {f.name: f.read_text() for f in (DB / "functions").iterdir() if f.name.endswith(".sql")}

# Words the code quotes that are not states: answers of the transitions and operator
# actions, JSON keys, the notify channel, actors and default reasons.
NOT_STATES = {
    "ok", "unknown", "stale", "retrying",  # what laf_finish_task and the actions answer
    "status", "name", "id", "kind", "endpoint", "capacity", "executor", "retry_at",
    "laf_outbox", "laf_credentials", "system", "operator", "resumed", "registered", "submitted",
    "parameters_schema",
    "instrument", "calibration_due",
    "hex",  # the audit chain's hash encoding
    "null",  # JSON written by laf_json_time
}  # fmt: skip


def check_list(table: str) -> tuple[str, ...]:
    body = re.search(rf"CREATE TABLE {table} \((.*?)\n\);", SCHEMA, re.S)
    assert body, table
    listed = re.search(r"status\s+text.*?CHECK \(status IN \(([^)]*)\)\)", body.group(1), re.S)
    assert listed, f"{table} has no CHECK on status"
    return tuple(re.findall(r"'(\w+)'", listed.group(1)))


def test_the_check_lists_are_the_states():
    assert check_list("workflows") == states.WORKFLOW_STATUSES
    assert check_list("tasks") == states.TASK_STATUSES
    assert check_list("instruments") == states.INSTRUMENT_STATUSES


def test_every_word_the_code_quotes_is_known():
    known = {*states.WORKFLOW_STATUSES, *states.TASK_STATUSES, *states.INSTRUMENT_STATUSES}
    known |= {*states.EXECUTORS, *NOT_STATES, ""}
    for name, sql in CODE.items():
        quoted = set(re.findall(r"'([a-z_]*)'", sql))
        assert quoted <= known, f"{name} quotes unknown words: {sorted(quoted - known)}"


def test_an_attempt_ends_in_outcomes_the_reports_and_the_task_states_know():
    accepted = re.search(r"IF p_outcome NOT IN \(([^)]*)\)", CODE["transitions.sql"])
    assert accepted, "laf_finish_task no longer checks its outcome"
    outcomes = set(re.findall(r"'(\w+)'", accepted.group(1)))
    assert outcomes == {"succeeded", "failed"}
    assert outcomes <= set(states.values(states.ReportOutcome)) & set(states.FINAL_TASK_STATUSES)
