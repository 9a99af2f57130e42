"""The audit chain's two halves in Python: signed checkpoints of the chain heads, and
verification of chains and checkpoints (GET /api/audit/verify, `laf-admin verify-audit`).

A database superuser can rewrite a chain and its head together; not a checkpoint,
whose HMAC key (derived from the service secret) the database never sees. So every
row older than the last checkpoint is proven; a newer one is proven only by its
links and by agreeing with its task's, workflow's or instrument's current status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from laf_core.aio import sleep
from laf_core.canonical import canonical_json
from laf_core.db.pool import Connection
from laf_core.signing import derive

log = logging.getLogger(__name__)
_CHECKPOINT_LOCK = 0x1AF0_0A0D
_CHECKPOINT_LIMIT = 50_000  # chains per checkpoint; the rest go in the next one


def checkpoint_key(secret: str) -> bytes:
    return derive(secret, "audit-checkpoint")


def checkpoint_signature(key: bytes, previous: str | None, heads: dict[str, Any]) -> str:
    """Each checkpoint signs its heads together with the previous checkpoint's signature."""
    message = (previous or "").encode() + b"\n" + canonical_json(heads)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def write_checkpoint(conn: Connection, key: bytes) -> int:
    """Record the chains that moved since their last checkpoint; returns how many.
    Heads a writer holds now are skipped (SKIP LOCKED: never wait, never deadlock),
    they go in the next checkpoint."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _CHECKPOINT_LOCK):
            return 0  # another API replica is writing one
        moved = await conn.fetch(
            """SELECT chain, seq, hash FROM history_heads
               WHERE checkpointed_seq IS DISTINCT FROM seq
               ORDER BY chain LIMIT $1 FOR UPDATE SKIP LOCKED""",
            _CHECKPOINT_LIMIT,
        )
        if not moved:
            return 0
        heads = {r["chain"]: [r["seq"], r["hash"]] for r in moved}
        previous = await conn.fetchval(
            "SELECT signature FROM audit_checkpoints ORDER BY id DESC LIMIT 1"
        )
        await conn.execute(
            "INSERT INTO audit_checkpoints (heads, signature) VALUES ($1, $2)",
            heads,
            checkpoint_signature(key, previous, heads),
        )
        await conn.execute(
            """UPDATE history_heads h SET checkpointed_seq = m.seq
               FROM unnest($1::text[], $2::bigint[]) AS m(chain, seq) WHERE h.chain = m.chain""",
            [r["chain"] for r in moved],
            [r["seq"] for r in moved],
        )
    return len(moved)


async def checkpoint_forever(
    pool: asyncpg.Pool, key: bytes, every_s: float, stop: asyncio.Event
) -> None:
    """The API's background checkpointer (one at a time across replicas)."""
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                count = await write_checkpoint(conn, key)
            if count:
                log.info("audit checkpoint: %d chain head(s) signed", count)
        except Exception as exc:  # the database may be away; the next round tries again
            log.warning("audit checkpoint failed (will try again): %s", exc)
        await sleep(every_s, stop)


@dataclass
class _Chain:
    """What the walk knows about the chain it is in."""

    name: str
    head_seq: int | None
    head_hash: str | None
    subject_status: str | None
    checkpointed: tuple[int, str, int] | None  # (seq, hash, checkpoint id)
    seq: int | None = None
    hash: str | None = None
    status: str | None = None
    last_id: int | None = None
    workflow_id: uuid.UUID | None = None
    checkpoint_seen: bool = False


class Broken(Exception):
    def __init__(self, history_id: int | None, workflow_id: uuid.UUID | None, reason: str):
        super().__init__(reason)
        self.where = {"history_id": history_id, "workflow_id": workflow_id, "reason": reason}


@dataclass
class _Walk:
    rows: int = 0
    legacy: int = 0
    chains: set[str] = field(default_factory=set)


async def verify(
    conn: Connection, key: bytes, workflow_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Walk every chain (or one workflow's) and every checkpoint; the first break found,
    or how much was proven. Runs in one repeatable-read snapshot, so rows, heads and
    current statuses agree while work goes on."""
    walk = _Walk()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        try:
            checkpoints = await _verified_checkpoints(conn, key)
            latest = _latest_per_chain(checkpoints)
            await _walk_chains(conn, workflow_id, latest, walk)
            await _nothing_missing(conn, workflow_id, latest, walk)
        except Broken as broken:
            return {"ok": False, "rows": walk.rows, "broken_at": broken.where}
    last = checkpoints[-1] if checkpoints else None
    return {
        "ok": True,
        "rows": walk.rows,
        "legacy_rows": walk.legacy,
        "checkpoint": None
        if last is None
        else {"id": last["id"], "at": last["at"], "chains": len(last["heads"])},
    }


async def _verified_checkpoints(conn: Connection, key: bytes) -> list[Any]:
    checkpoints = await conn.fetch(
        "SELECT id, at, heads, signature FROM audit_checkpoints ORDER BY id"
    )
    previous = None
    for cp in checkpoints:
        if not hmac.compare_digest(
            checkpoint_signature(key, previous, cp["heads"]), cp["signature"]
        ):
            raise Broken(
                None,
                None,
                f"checkpoint #{cp['id']} is not signed by LAF's key: it, or one before it, "
                "was changed, inserted or deleted",
            )
        previous = cp["signature"]
    return list(checkpoints)


def _latest_per_chain(checkpoints: list[Any]) -> dict[str, tuple[int, str, int]]:
    latest: dict[str, tuple[int, str, int]] = {}
    for cp in checkpoints:
        for chain, (seq, hash_) in cp["heads"].items():
            latest[chain] = (seq, hash_, cp["id"])
    return latest


async def _walk_chains(
    conn: Connection,
    workflow_id: uuid.UUID | None,
    latest: dict[str, tuple[int, str, int]],
    walk: _Walk,
) -> None:
    chain: _Chain | None = None
    async for row in conn.cursor("SELECT * FROM laf_audit_rows($1)", workflow_id, prefetch=2000):
        if chain is None or row["chain"] != chain.name:
            if chain is not None:
                _end(chain)
            chain = _Chain(
                row["chain"],
                row["head_seq"],
                row["head_hash"],
                row["subject_status"],
                latest.get(row["chain"]),
            )
            walk.chains.add(chain.name)
        walk.rows += 1
        _step(chain, row, walk)
    if chain is not None:
        _end(chain)


def _step(chain: _Chain, row: Any, walk: _Walk) -> None:
    def broken(reason: str) -> Broken:
        return Broken(row["id"], row["workflow_id"], reason)

    chain.workflow_id = row["workflow_id"]
    signature = row["to_status"] == "signed"
    if row["hash"] is None:
        if chain.seq is not None:
            raise broken("a row without a hash inside the chain: it was inserted")
        walk.legacy += 1  # written before the chain existed (migration 0003)
    else:
        expected = (chain.seq or 0) + 1
        if row["seq"] != expected:
            raise broken(
                f"out of order: row {row['seq']} of its chain where {expected} belongs "
                f"({'rows are missing before it' if row['seq'] > expected else 'reordered or inserted'})"
            )
        if row["prev_hash"] != chain.hash:
            raise broken(
                "it does not follow the row before it: a row was inserted, deleted or changed"
            )
        if row["recomputed"] != row["hash"]:
            raise broken("its content was changed after it was written")
        if chain.checkpointed and chain.checkpointed[0] == row["seq"]:
            if chain.checkpointed[1] != row["hash"]:
                raise broken(f"it differs from checkpoint #{chain.checkpointed[2]}")
            chain.checkpoint_seen = True
        chain.seq, chain.hash = row["seq"], row["hash"]
    if not signature:
        if chain.status is not None and row["from_status"] != chain.status:
            raise broken(
                f"it starts from {row['from_status']} but the row before it ended at {chain.status}"
            )
        chain.status = row["to_status"]
    chain.last_id = row["id"]


def _end(chain: _Chain) -> None:
    def broken(reason: str) -> Broken:
        return Broken(chain.last_id, chain.workflow_id, reason)

    if chain.checkpointed and not chain.checkpoint_seen:
        seq, _, checkpoint = chain.checkpointed
        raise broken(f"row {seq} of this chain, signed in checkpoint #{checkpoint}, is missing")
    if (chain.head_seq, chain.head_hash) != (chain.seq, chain.hash):
        raise broken(
            f"the chain ends at row {chain.seq} but its head is at row {chain.head_seq}: "
            "its last row was deleted, or the head changed"
        )
    if chain.subject_status is not None and chain.status not in (None, chain.subject_status):
        raise broken(
            f"the chain's last row says {chain.status} but it is {chain.subject_status} now: "
            "a row is missing or was added"
        )


async def _nothing_missing(
    conn: Connection,
    workflow_id: uuid.UUID | None,
    latest: dict[str, tuple[int, str, int]],
    walk: _Walk,
) -> None:
    """A chain with a head or a checkpoint but no row left: it was deleted whole."""
    if workflow_id is None:
        heads = {r["chain"] for r in await conn.fetch("SELECT chain FROM history_heads")}
        in_scope = heads | latest.keys()
    else:
        subjects = {
            f"task:{r['id']}"
            for r in await conn.fetch("SELECT id FROM tasks WHERE workflow_id = $1", workflow_id)
        } | {f"workflow:{workflow_id}"}
        heads = {
            r["chain"]
            for r in await conn.fetch(
                "SELECT chain FROM history_heads WHERE chain = ANY($1::text[])", list(subjects)
            )
        }
        in_scope = heads | (latest.keys() & subjects)
    for chain in sorted(in_scope - walk.chains):
        raise Broken(None, workflow_id, f"every row of {chain} is missing")
