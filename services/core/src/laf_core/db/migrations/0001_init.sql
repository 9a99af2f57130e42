-- LAF schema v1: workflows, tasks, the outbox, the audit history, runners, instruments.
-- Every state transition lives here as SQL functions, one round trip each, shared
-- by every writer (API webhooks, operator actions, the coordinator).

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
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'waiting', 'queued', 'running',
                                    'succeeded', 'failed', 'cancelled', 'skipped')),
    attempt       int NOT NULL DEFAULT 0,        -- incremented each time the task is queued
    max_attempts  int NOT NULL DEFAULT 1,
    backoff_s     double precision NOT NULL DEFAULT 1,
    max_backoff_s double precision NOT NULL DEFAULT 60,
    timeout_s     double precision,
    retry_at      timestamptz,                   -- a failed attempt waits until then
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
    traceparent text,
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

-- Who and why, for the history rows the triggers write. A transaction sets them
-- with set_config(..., true) so they vanish at commit.
CREATE FUNCTION laf_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('laf.actor', true), ''), 'system')
$$;
CREATE FUNCTION laf_reason() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('laf.reason', true), '')
$$;
CREATE FUNCTION laf_set_context(p_actor text, p_reason text) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('laf.actor', coalesce(p_actor, ''), true),
           set_config('laf.reason', coalesce(p_reason, ''), true)
$$;

CREATE FUNCTION laf_workflow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_outbox bigint;
BEGIN
    INSERT INTO history (workflow_id, from_status, to_status, actor, reason)
    VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, laf_actor(), laf_reason());
    INSERT INTO outbox (routing_key, event_type, workflow_id, data, traceparent)
    VALUES ('workflow.' || NEW.status, 'workflow.' || NEW.status, NEW.id,
            jsonb_build_object('name', NEW.name, 'status', NEW.status),
            nullif(current_setting('laf.traceparent', true), ''))
    RETURNING id INTO v_outbox;
    PERFORM pg_notify('laf_outbox', v_outbox::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER workflows_inserted AFTER INSERT ON workflows
    FOR EACH ROW EXECUTE FUNCTION laf_workflow_changed();
CREATE TRIGGER workflows_status_changed AFTER UPDATE OF status ON workflows
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION laf_workflow_changed();

-- Statement level: a fan-out that queues 50 tasks writes its 50 events in one INSERT.
CREATE FUNCTION laf_tasks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
BEGIN
    WITH changed AS (
        SELECT n.*, o.status AS old_status
        FROM new_rows n JOIN old_rows o USING (id)
        WHERE n.status IS DISTINCT FROM o.status
    ), audit AS (
        INSERT INTO history (workflow_id, task_id, task_name, attempt, from_status, to_status, actor, reason)
        SELECT workflow_id, id, name, attempt, old_status, status, laf_actor(),
               CASE WHEN status = 'failed' OR (status = 'pending' AND error IS NOT NULL)
                    THEN coalesce(laf_reason(), error) ELSE laf_reason() END
        FROM changed
    ), events AS (
        INSERT INTO outbox (routing_key, event_type, workflow_id, task_id, attempt, data, traceparent)
        SELECT 'task.' || status || '.' || executor, 'task.' || status, workflow_id, id, attempt,
               jsonb_build_object('name', name, 'executor', executor, 'status', status,
                                  'retry_at', retry_at),
               nullif(current_setting('laf.traceparent', true), '')
        FROM changed
        RETURNING id
    )
    SELECT max(id) INTO v_last FROM events;
    IF v_last IS NOT NULL THEN
        PERFORM pg_notify('laf_outbox', v_last::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER tasks_status_changed AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION laf_tasks_changed();

CREATE FUNCTION laf_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION laf_history_is_append_only();

-- Queue every task of a running workflow whose dependencies are done and whose
-- retry time (if any) has come. Used when a workflow starts and by retry timers.
CREATE FUNCTION laf_queue_ready(p_workflow uuid) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_count int;
BEGIN
    UPDATE tasks t
    SET status = 'queued', attempt = t.attempt + 1, queued_at = clock_timestamp(), retry_at = NULL
    FROM (SELECT id FROM tasks
          WHERE workflow_id = p_workflow AND status = 'pending' AND deps_pending = 0
            AND (retry_at IS NULL OR retry_at <= clock_timestamp())
          ORDER BY id FOR UPDATE) ready
    WHERE t.id = ready.id
      AND EXISTS (SELECT 1 FROM workflows w WHERE w.id = p_workflow AND w.status = 'running');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- pending -> running, queueing its root tasks. Returns false when it was not pending.
CREATE FUNCTION laf_start_workflow(p_workflow uuid, p_actor text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM laf_set_context(p_actor, 'workflow started');
    UPDATE workflows SET status = 'running', started_at = clock_timestamp()
    WHERE id = p_workflow AND status = 'pending';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM laf_set_context(p_actor, 'dependencies met');
    PERFORM laf_queue_ready(p_workflow);
    RETURN true;
END
$$;

-- A runner claims a queued attempt: accepted once per attempt. Returns the task
-- with the outputs of its dependencies, or no row when the claim is refused.
CREATE FUNCTION laf_claim_task(p_task uuid, p_attempt int, p_runner text)
RETURNS TABLE (task_id uuid, workflow_id uuid, name text, executor text, attempt int,
               params jsonb, timeout_s double precision, inputs jsonb, instrument jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM laf_set_context('runner:' || p_runner, 'claimed by runner');
    RETURN QUERY
    WITH claimed AS (
        UPDATE tasks t
        SET status = 'running', started_at = clock_timestamp(), heartbeat_at = clock_timestamp(),
            runner_id = p_runner
        WHERE t.id = p_task AND t.attempt = p_attempt AND t.status = 'queued'
          AND EXISTS (SELECT 1 FROM workflows w WHERE w.id = t.workflow_id AND w.status = 'running')
        RETURNING t.id, t.workflow_id, t.name, t.executor, t.attempt, t.params, t.timeout_s,
                  t.depends_on, t.instrument
    )
    SELECT c.id, c.workflow_id, c.name, c.executor, c.attempt, c.params, c.timeout_s,
           (SELECT coalesce(jsonb_object_agg(d.name, coalesce(d.outputs, '{}'::jsonb)), '{}'::jsonb)
            FROM tasks d WHERE d.workflow_id = c.workflow_id AND d.name = ANY (c.depends_on)),
           (SELECT jsonb_build_object('id', i.id, 'kind', i.kind, 'endpoint', i.endpoint,
                                      'status', i.status)
            FROM instruments i WHERE i.id = c.instrument)
    FROM claimed c;
END
$$;

-- The transition every writer uses when an attempt ends (DESIGN §1, the hot path).
-- In one round trip: record the result; on success queue each dependent whose
-- last dependency this was (a counter, no rescan); on a failure with attempts
-- left schedule the retry; on a final failure skip everything downstream; and
-- end the workflow when its last task ended. Lock order is always
-- workflow -> task -> dependents, so concurrent writers cannot deadlock.
-- Returns 'succeeded' | 'retrying' | 'failed', or 'stale' when the report does
-- not match the running attempt (a duplicate or a late one): nothing changes.
CREATE FUNCTION laf_finish_task(p_task uuid, p_attempt int, p_outcome text,
                                p_outputs jsonb, p_error text, p_actor text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_workflow uuid;
    t tasks%ROWTYPE;
    v_delay double precision;
    v_skipped int := 0;
BEGIN
    IF p_outcome NOT IN ('succeeded', 'failed') THEN
        RAISE EXCEPTION 'outcome must be succeeded or failed, not %', p_outcome;
    END IF;
    SELECT tasks.workflow_id INTO v_workflow FROM tasks WHERE id = p_task;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;
    PERFORM 1 FROM workflows WHERE id = v_workflow FOR UPDATE;

    SELECT * INTO t FROM tasks
    WHERE id = p_task AND attempt = p_attempt AND status = 'running' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;

    INSERT INTO task_attempts (task_id, attempt, status, runner_id, error, queued_at, started_at)
    VALUES (p_task, p_attempt, p_outcome, t.runner_id, p_error, t.queued_at, t.started_at);

    IF p_outcome = 'failed' AND t.attempt < t.max_attempts THEN
        -- Exponential backoff with jitter in [50 %, 100 %] of the capped delay.
        v_delay := least(t.max_backoff_s, t.backoff_s * power(2, t.attempt - 1)) * (0.5 + random() / 2);
        PERFORM laf_set_context(p_actor, format('attempt %s failed; retry in %ss: %s',
                                                t.attempt, round(v_delay::numeric, 2), p_error));
        UPDATE tasks SET status = 'pending', error = p_error, outputs = p_outputs,
                         retry_at = clock_timestamp() + make_interval(secs => v_delay),
                         finished_at = clock_timestamp()
        WHERE id = p_task;
        RETURN 'retrying';
    END IF;

    PERFORM laf_set_context(p_actor, CASE WHEN p_outcome = 'failed' THEN p_error END);
    UPDATE tasks SET status = p_outcome, outputs = p_outputs, error = p_error,
                     finished_at = clock_timestamp()
    WHERE id = p_task;

    IF p_outcome = 'succeeded' THEN
        PERFORM laf_release_dependents(t.id, t.dependents, p_actor);
    ELSE
        v_skipped := laf_skip_downstream(t.id, t.name, t.dependents, p_actor);
    END IF;

    PERFORM laf_count_finished(v_workflow, 1 + v_skipped,
                               CASE WHEN p_outcome = 'failed' THEN 1 ELSE 0 END, p_actor);
    RETURN p_outcome;
END
$$;

-- A task is done (succeeded or skipped by an operator): one dependency fewer for
-- each dependent; those at zero are queued if the workflow is running (a paused
-- one queues them on resume).
CREATE FUNCTION laf_release_dependents(p_task uuid, p_dependents uuid[], p_actor text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_dependents) = 0 THEN
        RETURN;
    END IF;
    PERFORM laf_set_context(p_actor, 'dependencies met');
    UPDATE tasks t
    SET deps_pending = t.deps_pending - 1,
        status = CASE WHEN t.deps_pending = 1 AND w.status = 'running' THEN 'queued' ELSE t.status END,
        attempt = CASE WHEN t.deps_pending = 1 AND w.status = 'running' THEN t.attempt + 1 ELSE t.attempt END,
        queued_at = CASE WHEN t.deps_pending = 1 AND w.status = 'running' THEN clock_timestamp() ELSE t.queued_at END
    FROM (SELECT id FROM tasks WHERE id = ANY (p_dependents) ORDER BY id FOR UPDATE) d,
         workflows w
    WHERE t.id = d.id AND w.id = t.workflow_id AND t.status = 'pending';
END
$$;

-- A task failed for good: everything downstream of it is skipped. Returns how many.
CREATE FUNCTION laf_skip_downstream(p_task uuid, p_name text, p_dependents uuid[], p_actor text)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_count int;
BEGIN
    IF cardinality(p_dependents) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM laf_set_context(p_actor, format('upstream task ''%s'' failed', p_name));
    WITH RECURSIVE downstream(id) AS (
        SELECT unnest(p_dependents)
        UNION
        SELECT unnest(t.dependents) FROM tasks t JOIN downstream ON t.id = downstream.id
    )
    UPDATE tasks t
    SET status = 'skipped', finished_at = clock_timestamp(),
        error = format('skipped: upstream task ''%s'' failed', p_name)
    FROM (SELECT id FROM tasks WHERE id IN (SELECT id FROM downstream) ORDER BY id FOR UPDATE) d
    WHERE t.id = d.id AND t.status IN ('pending', 'waiting');
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- Count tasks that reached a final state; the last one ends the workflow.
CREATE FUNCTION laf_count_finished(p_workflow uuid, p_finished int, p_failed int, p_actor text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM laf_set_context(p_actor, 'all tasks finished');
    UPDATE workflows
    SET tasks_unfinished = tasks_unfinished - p_finished,
        tasks_failed = tasks_failed + p_failed,
        status = CASE WHEN tasks_unfinished - p_finished > 0 OR status NOT IN ('running', 'paused') THEN status
                      WHEN tasks_failed + p_failed > 0 THEN 'failed'
                      ELSE 'succeeded' END,
        finished_at = CASE WHEN tasks_unfinished - p_finished > 0 OR status NOT IN ('running', 'paused')
                           THEN finished_at ELSE clock_timestamp() END
    WHERE id = p_workflow;
END
$$;

-- Retry timers: queue every task whose backoff has passed. Returns how many.
CREATE FUNCTION laf_queue_due_retries(p_actor text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_count int;
BEGIN
    PERFORM laf_set_context(p_actor, 'retry backoff elapsed');
    UPDATE tasks t
    SET status = 'queued', attempt = t.attempt + 1, queued_at = clock_timestamp(), retry_at = NULL
    FROM (SELECT tasks.id FROM tasks JOIN workflows w ON w.id = tasks.workflow_id
          WHERE tasks.status = 'pending' AND tasks.retry_at <= clock_timestamp()
            AND tasks.deps_pending = 0 AND w.status = 'running'
          ORDER BY tasks.id FOR UPDATE OF tasks SKIP LOCKED) due
    WHERE t.id = due.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;
