-- A record an auditor can trust (21 CFR Part 11, EU GMP Annex 11).
--
-- History rows are hash-chained. A chain is the rows about one subject: a task, a
-- workflow (its own status rows and signatures) or an instrument. The transaction
-- that writes a row already holds that subject's row lock (it just changed its
-- status), so chaining adds no lock and cannot deadlock, and two tasks of one
-- workflow never wait for each other's chain. `history_heads` holds each chain's
-- last (seq, hash), so a deleted last row is noticed; signed checkpoints of the
-- heads, with a key the database does not hold, catch a rewrite of rows and heads
-- together. Rows written before this migration have no hash: verification counts
-- them as legacy and accepts them only before a chain's first hashed row.
ALTER TABLE history ADD COLUMN seq bigint;        -- position in its chain, from 1
ALTER TABLE history ADD COLUMN prev_hash text;    -- the previous row's hash; NULL for the first
ALTER TABLE history ADD COLUMN hash text;         -- sha256 of this row's canonical content
ALTER TABLE history ADD COLUMN data jsonb;        -- what a signature signed

CREATE TABLE history_heads (
    chain text PRIMARY KEY,                       -- 'task:<id>' | 'workflow:<id>' | 'instrument:<id>'
    seq   bigint NOT NULL,
    hash  text NOT NULL
);

-- Every few seconds, the chains that moved: their (seq, hash) as of then, signed
-- (HMAC-SHA256, a key derived from the service secret) together with the previous
-- checkpoint's signature, so checkpoints form a chain of their own.
CREATE TABLE audit_checkpoints (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    heads     jsonb NOT NULL,                     -- {chain: [seq, hash]}
    signature text NOT NULL
);

-- Electronic signatures (§11.50, §11.70): who, their full name, what it means,
-- when (database time), and the hash of the results they saw. Each one is also a
-- row in the workflow's history chain.
CREATE TABLE signatures (
    id             uuid PRIMARY KEY,
    workflow_id    uuid NOT NULL REFERENCES workflows (id),
    signer         text NOT NULL REFERENCES users (name),
    full_name      text NOT NULL,
    meaning        text NOT NULL CHECK (meaning IN ('reviewed', 'approved')),
    comment        text,
    results_sha256 text NOT NULL,
    history_id     bigint NOT NULL,
    at             timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX signatures_by_workflow ON signatures (workflow_id, at);

ALTER TABLE users ADD COLUMN full_name text NOT NULL DEFAULT '';
ALTER TABLE workflows ADD COLUMN requires_approval boolean NOT NULL DEFAULT false;

-- Results bound to their data: each attempt's outputs with their SHA-256, who
-- reported them (runner or pod) and when.
ALTER TABLE task_attempts ADD COLUMN outputs jsonb;
ALTER TABLE task_attempts ADD COLUMN outputs_sha256 text;
ALTER TABLE task_attempts ADD COLUMN reported_by text;

-- Large raw data (a chromatogram's points, a log), stored once by content hash and
-- referenced from outputs as {"$blob": "sha256:<hex>"}.
CREATE TABLE blobs (
    sha256     text PRIMARY KEY,
    media_type text NOT NULL,
    size       bigint NOT NULL,
    content    bytea NOT NULL,
    stored_by  text NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The checkpointer's bookmark: the seq each chain had at its last checkpoint, so
-- a checkpoint reads only the chains that moved.
ALTER TABLE history_heads ADD COLUMN checkpointed_seq bigint;
CREATE INDEX history_heads_moved ON history_heads (chain) WHERE checkpointed_seq IS DISTINCT FROM seq;
