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
    INSERT INTO outbox (routing_key, event_type, workflow_id, data)
    VALUES ('workflow.' || NEW.status, 'workflow.' || NEW.status, NEW.id,
            jsonb_build_object('name', NEW.name, 'status', NEW.status))
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
        INSERT INTO outbox (routing_key, event_type, workflow_id, task_id, attempt, data)
        SELECT 'task.' || status || '.' || executor, 'task.' || status, workflow_id, id, attempt,
               jsonb_build_object('name', name, 'executor', executor, 'status', status,
                                  'retry_at', retry_at)
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

-- An instrument's status or capacity changed: live views (the lab picture) redraw.
CREATE FUNCTION laf_instrument_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_outbox bigint;
BEGIN
    INSERT INTO outbox (routing_key, event_type, data)
    VALUES ('instrument.' || NEW.status, 'instrument.' || NEW.status,
            jsonb_build_object('id', NEW.id, 'name', NEW.name, 'status', NEW.status,
                               'capacity', NEW.capacity))
    RETURNING id INTO v_outbox;
    PERFORM pg_notify('laf_outbox', v_outbox::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER instruments_changed AFTER INSERT OR UPDATE OF status, capacity ON instruments
    FOR EACH ROW EXECUTE FUNCTION laf_instrument_changed();

CREATE FUNCTION laf_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
    FOR EACH ROW EXECUTE FUNCTION laf_history_is_append_only();


-- ======================================================================
-- Transitions. Each is one guarded change, callable in one round trip.
-- Lock order, always: workflow -> its tasks (by id) -> instruments (by id)
-- -> waiting tasks of other workflows (SKIP LOCKED), so writers never deadlock.
-- ======================================================================

-- Instruments: give free slots to waiting tasks, first come first served
-- across workflows. Slots in use are counted from the tasks (queued or
-- running on it), never stored, so nothing can leak a slot.
CREATE FUNCTION laf_grant_slots(p_instruments text[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_id text;
    v_free int;
    v_count int;
    v_total int := 0;
BEGIN
    FOR v_id IN SELECT DISTINCT x FROM unnest(p_instruments) x WHERE x IS NOT NULL ORDER BY x LOOP
        PERFORM 1 FROM instruments WHERE id = v_id AND status = 'online' FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        -- A new statement, so a fresh snapshot: it sees grants committed while we waited.
        SELECT i.capacity - (SELECT count(*) FROM tasks t
                             WHERE t.instrument = i.id AND t.status IN ('queued', 'running'))
        INTO v_free FROM instruments i WHERE i.id = v_id;
        CONTINUE WHEN v_free <= 0;
        PERFORM laf_set_context(laf_actor(), format('a slot on %s is free', v_id));
        UPDATE tasks t
        SET status = CASE WHEN t.executor = 'manual' THEN 'running' ELSE 'queued' END,
            attempt = t.attempt + 1,
            queued_at = clock_timestamp(),
            started_at = CASE WHEN t.executor = 'manual' THEN clock_timestamp() ELSE t.started_at END,
            runner_id = CASE WHEN t.executor = 'manual' THEN 'operator' ELSE t.runner_id END
        FROM (SELECT tasks.id FROM tasks JOIN workflows w ON w.id = tasks.workflow_id
              WHERE tasks.instrument = v_id AND tasks.status = 'waiting' AND w.status = 'running'
              ORDER BY tasks.ready_at, tasks.id
              LIMIT v_free
              FOR UPDATE OF tasks SKIP LOCKED) g
        WHERE t.id = g.id;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_total := v_total + v_count;
    END LOOP;
    RETURN v_total;
END
$$;

-- Pending tasks whose dependencies are done start their next attempt: queued for
-- a runner, straight to running for a manual step (it waits for an operator), or
-- waiting for a slot on their instrument. Returns the instruments to grant.
-- `p_ready_at` is the task's place in an instrument's line (default: now).
-- The caller holds the workflow's lock and has checked that it is running.
CREATE FUNCTION laf_make_ready(p_ids uuid[], p_ready_at timestamptz DEFAULT NULL)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v_instruments text[];
BEGIN
    WITH ready AS (
        UPDATE tasks t
        SET status = CASE WHEN t.instrument IS NOT NULL THEN 'waiting'
                          WHEN t.executor = 'manual' THEN 'running'
                          ELSE 'queued' END,
            attempt = CASE WHEN t.instrument IS NOT NULL THEN t.attempt ELSE t.attempt + 1 END,
            queued_at = CASE WHEN t.instrument IS NOT NULL THEN t.queued_at ELSE clock_timestamp() END,
            started_at = CASE WHEN t.instrument IS NULL AND t.executor = 'manual'
                              THEN clock_timestamp() ELSE t.started_at END,
            runner_id = CASE WHEN t.instrument IS NULL AND t.executor = 'manual'
                             THEN 'operator' ELSE t.runner_id END,
            ready_at = coalesce(p_ready_at, clock_timestamp()),
            retry_at = NULL
        FROM (SELECT id FROM tasks WHERE id = ANY (p_ids) AND status = 'pending' ORDER BY id FOR UPDATE) r
        WHERE t.id = r.id
        RETURNING t.instrument
    )
    SELECT array_agg(DISTINCT instrument) FILTER (WHERE instrument IS NOT NULL) INTO v_instruments
    FROM ready;
    RETURN coalesce(v_instruments, '{}');
END
$$;

-- Start every task of a running workflow that can start now (dependencies done,
-- retry time come), and offer its instruments' free slots. Used on start, on
-- resume and when retries fall due. Caller holds the workflow lock.
CREATE FUNCTION laf_queue_ready(p_workflow uuid, p_actor text, p_reason text,
                                p_ready_at timestamptz DEFAULT NULL)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_ids uuid[];
    v_waiting text[];
BEGIN
    PERFORM laf_set_context(p_actor, p_reason);
    SELECT array_agg(id) INTO v_ids FROM tasks
    WHERE workflow_id = p_workflow AND status = 'pending' AND deps_pending = 0
      AND (retry_at IS NULL OR retry_at <= clock_timestamp());
    SELECT array_agg(DISTINCT instrument) INTO v_waiting FROM tasks
    WHERE workflow_id = p_workflow AND status = 'waiting';
    PERFORM laf_grant_slots(laf_make_ready(coalesce(v_ids, '{}'), p_ready_at) || coalesce(v_waiting, '{}'));
    RETURN coalesce(cardinality(v_ids), 0);
END
$$;

-- pending -> running, starting its root tasks. False when it was not pending.
-- Root tasks take their place in instrument lines as of the submission, so
-- workflows are served in the order they were submitted, however their starts
-- interleave.
CREATE FUNCTION laf_start_workflow(p_workflow uuid, p_actor text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_submitted timestamptz;
BEGIN
    PERFORM laf_set_context(p_actor, 'workflow started');
    UPDATE workflows SET status = 'running', started_at = clock_timestamp()
    WHERE id = p_workflow AND status = 'pending'
    RETURNING created_at INTO v_submitted;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM laf_queue_ready(p_workflow, p_actor, 'dependencies met', v_submitted);
    RETURN true;
END
$$;

-- A runner claims a queued attempt: accepted once per attempt, only while the
-- workflow runs. Returns the task with its dependencies' outputs and its
-- instrument, or no row when the claim is refused.
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

-- A task is done for its dependents (it succeeded, or an operator skipped it):
-- one dependency fewer for each; those at zero start if the workflow runs (a
-- paused one starts them on resume). Returns the instruments to grant.
CREATE FUNCTION laf_release_dependents(p_dependents uuid[], p_actor text)
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v_ready uuid[];
BEGIN
    IF cardinality(p_dependents) = 0 THEN
        RETURN '{}';
    END IF;
    PERFORM laf_set_context(p_actor, 'dependencies met');
    WITH released AS (
        UPDATE tasks t SET deps_pending = t.deps_pending - 1
        FROM (SELECT id FROM tasks WHERE id = ANY (p_dependents) ORDER BY id FOR UPDATE) d
        WHERE t.id = d.id AND t.status = 'pending'
        RETURNING t.id, t.deps_pending, t.workflow_id
    )
    SELECT array_agg(r.id) INTO v_ready
    FROM released r JOIN workflows w ON w.id = r.workflow_id
    WHERE r.deps_pending = 0 AND w.status = 'running';
    RETURN laf_make_ready(coalesce(v_ready, '{}'));
END
$$;

-- A task failed for good: everything downstream of it is skipped. Returns how many.
CREATE FUNCTION laf_skip_downstream(p_name text, p_dependents uuid[], p_actor text)
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
    SET status = 'skipped', satisfied = false, finished_at = clock_timestamp(),
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

-- The transition every writer uses when an attempt ends (DESIGN §1, the hot path).
-- In one round trip: record the result; on success start each dependent whose
-- last dependency this was (a counter, no rescan); on a failure with attempts
-- left schedule the retry; on a final failure skip everything downstream; free
-- the instrument slot; end the workflow when its last task ended.
-- Returns 'succeeded' | 'retrying' | 'failed', or 'stale' when the report does
-- not match the running attempt (a duplicate or a late one): nothing changes.
CREATE FUNCTION laf_finish_task(p_task uuid, p_attempt int, p_outcome text, p_outputs jsonb,
                                p_error text, p_actor text, p_reason text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_workflow uuid;
    t tasks%ROWTYPE;
    v_delay double precision;
    v_skipped int := 0;
    v_instruments text[] := '{}';
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
        PERFORM laf_grant_slots(ARRAY[t.instrument]);
        RETURN 'retrying';
    END IF;

    PERFORM laf_set_context(p_actor, coalesce(p_reason, CASE WHEN p_outcome = 'failed' THEN p_error END));
    UPDATE tasks SET status = p_outcome, satisfied = (p_outcome = 'succeeded'), outputs = p_outputs,
                     error = p_error, finished_at = clock_timestamp()
    WHERE id = p_task;
    IF p_outcome = 'succeeded' THEN
        v_instruments := laf_release_dependents(t.dependents, p_actor);
    ELSE
        v_skipped := laf_skip_downstream(t.name, t.dependents, p_actor);
    END IF;
    PERFORM laf_grant_slots(array_append(v_instruments, t.instrument));
    PERFORM laf_count_finished(v_workflow, 1 + v_skipped,
                               CASE WHEN p_outcome = 'failed' THEN 1 ELSE 0 END, p_actor);
    RETURN p_outcome;
END
$$;

-- Retry timers: start every task whose backoff has passed. Returns how many.
CREATE FUNCTION laf_queue_due_retries(p_actor text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_workflow uuid;
    v_count int := 0;
BEGIN
    FOR v_workflow IN
        SELECT DISTINCT t.workflow_id FROM tasks t JOIN workflows w ON w.id = t.workflow_id
        WHERE t.status = 'pending' AND t.retry_at <= clock_timestamp() AND w.status = 'running'
    LOOP
        PERFORM 1 FROM workflows WHERE id = v_workflow AND status = 'running' FOR UPDATE;
        IF FOUND THEN
            v_count := v_count + laf_queue_ready(v_workflow, p_actor, 'retry backoff elapsed');
        END IF;
    END LOOP;
    RETURN v_count;
END
$$;

-- ---------------------------------------------------------------------------
-- Operator actions. Each returns 'ok', 'unknown' (no such workflow or task) or
-- 'refused: <why>' (the state does not allow it; the API answers 409).
-- ---------------------------------------------------------------------------

-- Every action starts here: the workflow's status, under its lock (NULL: no such workflow).
CREATE FUNCTION laf_lock_workflow(p_workflow uuid) RETURNS text LANGUAGE sql AS $$
    SELECT status FROM workflows WHERE id = p_workflow FOR UPDATE
$$;

-- After counters changed: end the workflow if nothing is left, or reopen a
-- failed one that has work again.
CREATE FUNCTION laf_settle_workflow(p_workflow uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE workflows
    SET status = CASE WHEN tasks_unfinished = 0 AND tasks_failed > 0 THEN 'failed'
                      WHEN tasks_unfinished = 0 THEN 'succeeded'
                      WHEN status IN ('failed', 'succeeded') THEN 'running'
                      ELSE status END,
        finished_at = CASE WHEN tasks_unfinished = 0 THEN coalesce(finished_at, clock_timestamp()) END
    WHERE id = p_workflow
$$;

-- A failed task is running again or counts as done: the tasks downstream that
-- were skipped because of it come back to pending, unless another failed task
-- still blocks them. Returns their ids.
CREATE FUNCTION laf_reopen_downstream(p_workflow uuid, p_task uuid) RETURNS uuid[] LANGUAGE plpgsql AS $$
DECLARE
    v_ids uuid[];
BEGIN
    WITH RECURSIVE below(id) AS (
        SELECT unnest(dependents) FROM tasks WHERE id = p_task
        UNION
        SELECT unnest(t.dependents) FROM tasks t JOIN below ON t.id = below.id
    ), blocked(id) AS (
        SELECT unnest(dependents) FROM tasks
        WHERE workflow_id = p_workflow AND status = 'failed' AND id <> p_task
        UNION
        SELECT unnest(t.dependents) FROM tasks t JOIN blocked ON t.id = blocked.id
    )
    SELECT array_agg(id ORDER BY id) INTO v_ids FROM tasks
    WHERE id IN (SELECT id FROM below) AND id NOT IN (SELECT id FROM blocked)
      AND status = 'skipped' AND NOT satisfied;
    UPDATE tasks t
    SET status = 'pending', error = NULL, outputs = NULL, finished_at = NULL, retry_at = NULL,
        deps_pending = (SELECT count(*) FROM tasks d
                        WHERE d.workflow_id = p_workflow AND d.name = ANY (t.depends_on) AND NOT d.satisfied)
    WHERE t.id = ANY (coalesce(v_ids, '{}'));
    RETURN coalesce(v_ids, '{}');
END
$$;

CREATE FUNCTION laf_cancel_workflow(p_workflow uuid, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_instruments text[];
BEGIN
    v_status := laf_lock_workflow(p_workflow);
    IF v_status IS NULL THEN
        RETURN 'unknown';
    END IF;
    IF v_status IN ('succeeded', 'failed', 'cancelled') THEN
        RETURN format('refused: the workflow already ended (%s)', v_status);
    END IF;
    PERFORM laf_set_context(p_actor, p_reason);
    INSERT INTO task_attempts (task_id, attempt, status, runner_id, error, queued_at, started_at)
    SELECT id, attempt, 'cancelled', runner_id, 'cancelled: ' || p_reason, queued_at, started_at
    FROM tasks WHERE workflow_id = p_workflow AND status = 'running';
    WITH stopped AS (
        UPDATE tasks
        SET status = 'cancelled', finished_at = clock_timestamp(),
            error = format('cancelled by %s: %s', p_actor, p_reason)
        WHERE workflow_id = p_workflow AND status IN ('pending', 'waiting', 'queued', 'running')
        RETURNING instrument
    )
    SELECT array_agg(DISTINCT instrument) INTO v_instruments FROM stopped;
    UPDATE workflows SET status = 'cancelled', finished_at = clock_timestamp(), tasks_unfinished = 0
    WHERE id = p_workflow;
    PERFORM laf_grant_slots(coalesce(v_instruments, '{}'));
    RETURN 'ok';
END
$$;

-- Nothing new starts; running tasks finish. Attempts queued but not yet started
-- are taken back (an instrument task keeps its place in the instrument's queue).
CREATE FUNCTION laf_pause_workflow(p_workflow uuid, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_instruments text[];
BEGIN
    v_status := laf_lock_workflow(p_workflow);
    IF v_status IS NULL THEN
        RETURN 'unknown';
    END IF;
    IF v_status <> 'running' THEN
        RETURN format('refused: only a running workflow can be paused (it is %s)', v_status);
    END IF;
    PERFORM laf_set_context(p_actor, coalesce(p_reason, 'paused'));
    UPDATE workflows SET status = 'paused' WHERE id = p_workflow;
    WITH taken_back AS (
        UPDATE tasks
        SET status = CASE WHEN instrument IS NULL THEN 'pending' ELSE 'waiting' END,
            attempt = attempt - 1, queued_at = NULL
        WHERE workflow_id = p_workflow AND status = 'queued'
        RETURNING instrument
    )
    SELECT array_agg(DISTINCT instrument) INTO v_instruments FROM taken_back;
    PERFORM laf_grant_slots(coalesce(v_instruments, '{}'));  -- freed slots go to other workflows
    RETURN 'ok';
END
$$;

CREATE FUNCTION laf_resume_workflow(p_workflow uuid, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
BEGIN
    v_status := laf_lock_workflow(p_workflow);
    IF v_status IS NULL THEN
        RETURN 'unknown';
    END IF;
    IF v_status <> 'paused' THEN
        RETURN format('refused: only a paused workflow can be resumed (it is %s)', v_status);
    END IF;
    PERFORM laf_set_context(p_actor, coalesce(p_reason, 'resumed'));
    UPDATE workflows SET status = 'running' WHERE id = p_workflow;
    PERFORM laf_queue_ready(p_workflow, p_actor, 'workflow resumed');
    RETURN 'ok';
END
$$;

CREATE FUNCTION laf_retry_task(p_workflow uuid, p_name text, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    t tasks%ROWTYPE;
    v_reopened uuid[];
BEGIN
    v_status := laf_lock_workflow(p_workflow);
    IF v_status IS NULL THEN
        RETURN 'unknown';
    END IF;
    SELECT * INTO t FROM tasks WHERE workflow_id = p_workflow AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF t.status <> 'failed' THEN
        RETURN format('refused: only a failed task can be retried (''%s'' is %s)', p_name, t.status);
    END IF;
    IF v_status = 'cancelled' THEN
        RETURN 'refused: the workflow was cancelled';
    END IF;
    PERFORM laf_set_context(p_actor, p_reason);
    v_reopened := laf_reopen_downstream(p_workflow, t.id);
    UPDATE tasks SET status = 'pending', error = NULL, outputs = NULL, finished_at = NULL,
                     retry_at = NULL, satisfied = false, max_attempts = greatest(max_attempts, attempt + 1)
    WHERE id = t.id;
    UPDATE workflows
    SET tasks_unfinished = tasks_unfinished + 1 + cardinality(v_reopened), tasks_failed = tasks_failed - 1
    WHERE id = p_workflow;
    PERFORM laf_settle_workflow(p_workflow);
    IF (SELECT status FROM workflows WHERE id = p_workflow) = 'running' THEN
        PERFORM laf_grant_slots(laf_make_ready(ARRAY[t.id]));
    END IF;
    RETURN 'ok';
END
$$;

-- A pending, waiting, queued or failed task counts as done, without outputs.
CREATE FUNCTION laf_skip_task(p_workflow uuid, p_name text, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    t tasks%ROWTYPE;
    v_reopened uuid[];
    v_instruments text[];
BEGIN
    v_status := laf_lock_workflow(p_workflow);
    IF v_status IS NULL THEN
        RETURN 'unknown';
    END IF;
    SELECT * INTO t FROM tasks WHERE workflow_id = p_workflow AND name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF v_status = 'cancelled' THEN
        RETURN 'refused: the workflow was cancelled';
    END IF;
    IF t.status NOT IN ('pending', 'waiting', 'queued', 'failed') THEN
        RETURN format('refused: only a pending, waiting, queued or failed task can be skipped (''%s'' is %s)',
                      p_name, t.status);
    END IF;
    PERFORM laf_set_context(p_actor, p_reason);
    UPDATE tasks SET status = 'skipped', satisfied = true, outputs = NULL, retry_at = NULL,
                     finished_at = clock_timestamp(), error = NULL
    WHERE id = t.id;
    IF t.status = 'failed' THEN
        v_reopened := laf_reopen_downstream(p_workflow, t.id);
        UPDATE workflows
        SET tasks_unfinished = tasks_unfinished + cardinality(v_reopened), tasks_failed = tasks_failed - 1
        WHERE id = p_workflow;
        PERFORM laf_settle_workflow(p_workflow);
        IF (SELECT status FROM workflows WHERE id = p_workflow) = 'running' THEN
            PERFORM laf_grant_slots(laf_make_ready(ARRAY(
                SELECT id FROM tasks WHERE id = ANY (v_reopened) AND deps_pending = 0)));
        END IF;
    ELSE
        v_instruments := laf_release_dependents(t.dependents, p_actor);
        PERFORM laf_grant_slots(array_append(v_instruments, t.instrument));
        PERFORM laf_count_finished(p_workflow, 1, 0, p_actor);
    END IF;
    RETURN 'ok';
END
$$;

-- An operator finishes a manual step (running, awaiting an operator) with its outputs.
CREATE FUNCTION laf_complete_task(p_workflow uuid, p_name text, p_outputs jsonb, p_actor text, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t tasks%ROWTYPE;
BEGIN
    SELECT * INTO t FROM tasks WHERE workflow_id = p_workflow AND name = p_name;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF t.executor <> 'manual' THEN
        RETURN format('refused: only a manual task can be completed (''%s'' runs on %s)', p_name, t.executor);
    END IF;
    IF t.status <> 'running' THEN
        RETURN format('refused: ''%s'' is %s, not awaiting an operator', p_name, t.status);
    END IF;
    IF laf_finish_task(t.id, t.attempt, 'succeeded', p_outputs, NULL, p_actor, p_reason) = 'stale' THEN
        RETURN format('refused: ''%s'' changed meanwhile; reload it', p_name);
    END IF;
    RETURN 'ok';
END
$$;

-- ---------------------------------------------------------------------------
-- The reconciler (DESIGN rule 5): something always notices a stuck task.
-- ---------------------------------------------------------------------------

-- Running attempts that will never report: past their timeout_s (+ a grace for
-- runner tasks, which the runner itself stops at timeout_s; none for manual
-- steps), or whose runner stopped heartbeating (it is gone). Each fails, and its
-- retry policy decides what happens next. Returns how many.
CREATE FUNCTION laf_fail_stuck(p_heartbeat_timeout_s double precision, p_timeout_grace_s double precision,
                               p_actor text)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_count int := 0;
BEGIN
    FOR r IN
        SELECT id, attempt,
               CASE WHEN overdue THEN format('timed out after %ss', timeout_s)
                    ELSE format('lost: runner %s stopped reporting for %ss', runner_id, p_heartbeat_timeout_s)
               END AS error
        FROM (SELECT id, attempt, timeout_s, runner_id,
                     timeout_s IS NOT NULL AND started_at + make_interval(
                         secs => timeout_s + CASE WHEN executor = 'manual' THEN 0 ELSE p_timeout_grace_s END)
                         < clock_timestamp() AS overdue,
                     executor <> 'manual'
                         AND heartbeat_at < clock_timestamp() - make_interval(secs => p_heartbeat_timeout_s) AS lost
              FROM tasks WHERE status = 'running') running
        WHERE overdue OR lost
    LOOP
        IF laf_finish_task(r.id, r.attempt, 'failed', NULL, r.error, p_actor) <> 'stale' THEN
            v_count := v_count + 1;
        END IF;
    END LOOP;
    RETURN v_count;
END
$$;

-- A task queued for long whose message no runner holds any more (the caller saw
-- its executor's queue empty) is announced again, for the same attempt: a
-- duplicate is harmless, since a claim is accepted once. Returns how many.
CREATE FUNCTION laf_redispatch(p_executor text, p_after_s double precision) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
    v_count int;
BEGIN
    WITH stale AS (
        UPDATE tasks SET dispatched_at = clock_timestamp()
        WHERE status = 'queued' AND executor = p_executor
          AND greatest(queued_at, dispatched_at) < clock_timestamp() - make_interval(secs => p_after_s)
        RETURNING id, workflow_id, attempt, name, executor, status
    ), events AS (
        INSERT INTO outbox (routing_key, event_type, workflow_id, task_id, attempt, data)
        SELECT 'task.queued.' || executor, 'task.queued', workflow_id, id, attempt,
               jsonb_build_object('name', name, 'executor', executor, 'status', status, 'redispatched', true)
        FROM stale
        RETURNING id
    )
    SELECT max(id), count(*) INTO v_last, v_count FROM events;
    IF v_last IS NOT NULL THEN
        PERFORM pg_notify('laf_outbox', v_last::text);
    END IF;
    RETURN v_count;
END
$$;
