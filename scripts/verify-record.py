#!/usr/bin/env python3
"""Verify an exported LAF record (GET /api/workflows/{id}/record) without LAF.

Python's standard library only, so an auditor can read and run it anywhere:

    python3 verify-record.py laf-record-<id>.json

It checks the record's own hash; the workflow document's hash; each attempt's outputs
against their SHA-256; every history row's hash (rebuilt from its fields exactly as
PostgreSQL's laf_history_canonical() writes it), its place in its chain and its link
to the row before; that each chain's rows follow on from one another; and each
signature's results hash against the results in the record (a signature whose hash
differs must be marked stale). Exit status 0 when all holds, 1 with the first problem.

The canonical JSON here (keys sorted, no spaces) is laf_core.canonical's, restated so
that this file needs nothing else.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _pg_json(value: Any) -> str:
    """A value as PostgreSQL's json/jsonb text output writes it: ", " and ": " between
    items, jsonb's key order (shorter keys first, then bytewise)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{_pg_json(k)}: {_pg_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_pg_json(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def history_hash(row: dict[str, Any]) -> str:
    fields = [
        row["seq"],
        row["prev_hash"],
        row["workflow_id"],
        row["task_id"],
        row["task_name"],
        row["attempt"],
        row["from_status"],
        row["to_status"],
        row["actor"],
        row["reason"],
        row["at_us"],
        row["instrument_id"],
        row["change"],
        row["data"],
    ]
    return hashlib.sha256(_pg_json(fields).encode()).hexdigest()


class Problem(Exception):
    pass


def verify(record: dict[str, Any]) -> str:
    claimed = record.get("record_sha256")
    rest = {k: v for k, v in record.items() if k != "record_sha256"}
    if sha256_of(rest) != claimed:
        raise Problem("the record's hash does not match its content: it was changed")
    if sha256_of(record["document"]) != record["document_sha256"]:
        raise Problem("the workflow document does not match its hash")
    for task in record["tasks"]:
        for attempt in task["attempts"]:
            if attempt["outputs_sha256"] is not None and (
                sha256_of(attempt["outputs"]) != attempt["outputs_sha256"]
            ):
                raise Problem(
                    f"task {task['name']} attempt {attempt['attempt']}: outputs do not match "
                    "their hash"
                )
    chains: dict[str, dict[str, Any]] = {}
    for row in record["history"]:
        name = f"task:{row['task_id']}" if row["task_id"] else f"workflow:{row['workflow_id']}"
        chain = chains.setdefault(name, {"seq": None, "hash": None, "status": None})
        where = f"history row #{row['id']} ({row['task_name'] or 'workflow'})"
        if row["hash"] is None:
            if chain["seq"] is not None:
                raise Problem(f"{where}: no hash inside a chain")
        else:
            if row["seq"] != (chain["seq"] or 0) + 1:
                raise Problem(f"{where}: out of place in its chain (seq {row['seq']})")
            if row["prev_hash"] != chain["hash"]:
                raise Problem(f"{where}: does not follow the row before it")
            if history_hash(row) != row["hash"]:
                raise Problem(f"{where}: its content does not match its hash")
            chain["seq"], chain["hash"] = row["seq"], row["hash"]
        if row["to_status"] != "signed":
            if chain["status"] is not None and row["from_status"] != chain["status"]:
                raise Problem(f"{where}: starts from {row['from_status']}, not {chain['status']}")
            chain["status"] = row["to_status"]
    results = sha256_of(
        {
            t["name"]: {
                "status": t["status"],
                "outputs": t["outputs"],
                "attempts": [
                    {
                        "attempt": a["attempt"],
                        "status": a["status"],
                        "outputs_sha256": a["outputs_sha256"],
                    }
                    for a in t["attempts"]
                ],
            }
            for t in record["tasks"]
        }
    )
    if record["results_sha256"] is not None and results != record["results_sha256"]:
        raise Problem("the tasks' results do not match results_sha256")
    for s in record["signatures"]:
        if (s["results_sha256"] != results) != s["stale"]:
            raise Problem(f"signature by {s['signer']} ({s['meaning']}): stale mark is wrong")
    rows = len(record["history"])
    return (
        f"record verified: workflow {record['workflow']['id']} ({record['workflow']['name']}), "
        f"{rows} history rows in {len(chains)} chains, {len(record['signatures'])} signature(s), "
        f"record sha256 {claimed}"
    )


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[0], "\nusage: verify-record.py RECORD.json")  # noqa: T201
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        record = json.load(f)
    try:
        print(verify(record))  # noqa: T201 - a command-line tool
    except (Problem, KeyError, TypeError) as exc:
        print(f"record NOT verified: {exc}")  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
