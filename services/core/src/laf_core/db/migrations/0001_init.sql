-- LAF schema v1: workflows, tasks, the outbox, the audit history, runners, instruments.
-- Tables, indexes and constraints only. The code that works on them (trigger
-- functions, transitions, operator actions, the reconciler) is in ../functions/,
-- which laf-migrate re-applies whenever it changes.

CREATE TABLE workflows (
    id               uuid PRIMARY KEY,
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    labels           jsonb NOT NULL DEFAULT '{}',
    document         jsonb NOT NULL,
    document_sha256  text NOT NULL,
    idempotency_key  text UNIQUE,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    tasks_total      int NOT NULL,
    tasks_unfinished int NOT NULL,  -- counts down; the workflow ends at 0
    tasks_failed     int NOT NULL DEFAULT 0,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX workflows_newest ON workflows (created_at DESC, id DESC);
CREATE INDEX workflows_status_newest ON workflows (status, created_at DESC, id DESC);
CREATE INDEX workflows_labels ON workflows USING gin (labels jsonb_path_ops);

CREATE TABLE tasks (
    id            uuid PRIMARY KEY,
    workflow_id   uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    position      int NOT NULL,          -- order in the submitted document
    name          text NOT NULL,
    executor      text NOT NULL,
    instrument    text,
    params        jsonb NOT NULL DEFAULT '{}',
    depends_on    text[] NOT NULL DEFAULT '{}',
    dependents    uuid[] NOT NULL DEFAULT '{}',  -- tasks waiting for this one
    deps_pending  int NOT NULL,                  -- dependencies not yet done; ready at 0
    satisfied     boolean NOT NULL DEFAULT false, -- done for its dependents: succeeded, or skipped by an operator
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'waiting', 'queued', 'running',
                                    'succeeded', 'failed', 'cancelled', 'skipped')),
    attempt       int NOT NULL DEFAULT 0,        -- incremented each time the task is queued
    max_attempts  int NOT NULL DEFAULT 1,
    backoff_s     double precision NOT NULL DEFAULT 1,
    max_backoff_s double precision NOT NULL DEFAULT 60,
    timeout_s     double precision,
    retry_at      timestamptz,                   -- a failed attempt waits until then
    ready_at      timestamptz,                   -- when it last became ready: instrument queues are first come, first served
    dispatched_at timestamptz,                   -- when the reconciler last announced it again
    outputs       jsonb,
    error         text,
    runner_id     text,
    queued_at     timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    heartbeat_at  timestamptz,
    UNIQUE (workflow_id, name)
);
CREATE INDEX tasks_due_retries ON tasks (retry_at) WHERE status = 'pending' AND retry_at IS NOT NULL;
CREATE INDEX tasks_active ON tasks (status, queued_at) WHERE status IN ('queued', 'running');
CREATE INDEX tasks_by_instrument ON tasks (instrument, status, ready_at) WHERE instrument IS NOT NULL;
CREATE INDEX tasks_waiting ON tasks (instrument, ready_at, id) WHERE status = 'waiting';

-- One row per finished attempt, with its error: the timeline of a task.
CREATE TABLE task_attempts (
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     int NOT NULL,
    status      text NOT NULL,
    runner_id   text,
    error       text,
    queued_at   timestamptz,
    started_at  timestamptz,
    finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (task_id, attempt)
);

-- Events waiting to be published; the relay deletes them after the broker confirmed.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    routing_key text NOT NULL,
    event_type  text NOT NULL,
    workflow_id uuid,
    task_id     uuid,
    attempt     int,
    data        jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The audit trail: append-only, one row per state change with who and why.
CREATE TABLE history (
    id          bigserial PRIMARY KEY,
    workflow_id uuid NOT NULL,
    task_id     uuid,
    task_name   text,
    attempt     int,
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX history_by_workflow ON history (workflow_id, id);

-- Messages no consumer could handle, kept with the reason (from laf.dead-letters).
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    message_id  text,
    routing_key text,
    queue       text,
    reason      text,
    headers     jsonb NOT NULL DEFAULT '{}',
    body        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE runners (
    id           text PRIMARY KEY,
    hostname     text NOT NULL DEFAULT '',
    executors    text[] NOT NULL,
    concurrency  int NOT NULL DEFAULT 0,
    running      int NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    heartbeat_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE instruments (
    id                text PRIMARY KEY,
    name              text NOT NULL,
    kind              text NOT NULL,
    capacity          int NOT NULL DEFAULT 1 CHECK (capacity >= 1),
    status            text NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'offline', 'maintenance')),
    endpoint          text,
    parameters_schema jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
