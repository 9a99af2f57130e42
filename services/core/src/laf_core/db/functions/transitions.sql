-- ======================================================================
-- Transitions. Each is one guarded change, callable in one round trip.
-- Lock order, always: workflow -> its tasks (by id) -> instruments (by id)
-- -> waiting tasks of other workflows (SKIP LOCKED), so writers never deadlock.
--
-- Plans that hold whatever the statistics say. A plan cached while the tables were
-- small stays cached until an ANALYZE (never, with autovacuum off), so:
-- - one row is found by its id alone, its guards checked after: next to
--   `status = 'queued'` the planner may take a status index and read every queued
--   task (a 10,000-task fan-out: 12,000 buffers and 20 ms per claim, O(n^2) in all);
-- - functions that look rows up by sets of ids run with enable_seqscan off: a
--   seq scan is only ever right while a table is tiny, and its cached plan then
--   read all of `tasks` for each transition once it had grown.
-- ======================================================================

-- Instruments: give free slots to waiting tasks, first come first served
-- across workflows. Slots in use are counted from the tasks (queued or
-- running on it), never stored, so nothing can leak a slot.
CREATE OR REPLACE FUNCTION laf_grant_slots(p_instruments text[]) RETURNS int LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION laf_make_ready(p_ids uuid[], p_ready_at timestamptz DEFAULT NULL)
RETURNS text[] LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
CREATE OR REPLACE FUNCTION laf_queue_ready(p_workflow uuid, p_actor text, p_reason text,
                                p_ready_at timestamptz DEFAULT NULL)
RETURNS int LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
CREATE OR REPLACE FUNCTION laf_start_workflow(p_workflow uuid, p_actor text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_submitted timestamptz;
    v_status text;
BEGIN
    SELECT status, created_at INTO v_status, v_submitted FROM workflows
    WHERE id = p_workflow FOR UPDATE;  -- by id alone (see the top)
    IF v_status IS DISTINCT FROM 'pending' THEN
        RETURN false;
    END IF;
    PERFORM laf_set_context(p_actor, 'workflow started');
    UPDATE workflows SET status = 'running', started_at = clock_timestamp() WHERE id = p_workflow;
    PERFORM laf_queue_ready(p_workflow, p_actor, 'dependencies met', v_submitted);
    RETURN true;
END
$$;

-- A workflow starts in the transaction that submits it, so its first tasks are one relay
-- hop from their runners instead of two (the coordinator's start was the other). Its
-- `workflow.pending` event only asked the coordinator to do that: it is withdrawn (live
-- views get `workflow.running`; the history keeps both states). Returns the workflow's start
-- and each task the start changed, for the submit's answer.
CREATE OR REPLACE FUNCTION laf_start_submitted(p_workflow uuid, p_actor text)
RETURNS TABLE (workflow_started_at timestamptz, task_id uuid, status text, attempt int,
               queued_at timestamptz, started_at timestamptz, runner_id text)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT laf_start_workflow(p_workflow, p_actor) THEN
        RETURN;
    END IF;
    DELETE FROM outbox o  -- by outbox_workflow_pending, not a read of the whole outbox
    WHERE o.workflow_id = p_workflow AND o.event_type = 'workflow.pending';
    RETURN QUERY
    SELECT w.started_at, t.id, t.status, t.attempt, t.queued_at, t.started_at, t.runner_id
    FROM workflows w LEFT JOIN tasks t ON t.workflow_id = w.id AND t.status <> 'pending'
    WHERE w.id = p_workflow;
END
$$;

-- The API's submit in one round trip, one statement's transaction: the workflow, its
-- tasks ($11: a JSON array, an object per task: asyncpg cannot bind ragged arrays) and
-- its start (laf_start_submitted's rows, each with the workflow's created_at). Six round
-- trips before (BEGIN, context, workflow, tasks, start, COMMIT): ~1.5 ms of a submit.
-- A repeat of this caller's Idempotency-Key stores nothing and answers one row with
-- `earlier_id` and `earlier_sha256`, the workflow it made the first time.
CREATE OR REPLACE FUNCTION laf_submit_workflow(p_id uuid, p_name text, p_description text,
                                p_labels jsonb, p_document jsonb, p_document_sha256 text,
                                p_idempotency_key text, p_actor text,
                                p_requires_approval boolean, p_tasks jsonb)
RETURNS TABLE (created_at timestamptz, earlier_id uuid, earlier_sha256 text,
               workflow_started_at timestamptz, task_id uuid, status text, attempt int,
               queued_at timestamptz, started_at timestamptz, runner_id text)
LANGUAGE plpgsql AS $$
DECLARE
    v_created timestamptz;
BEGIN
    PERFORM laf_set_context(p_actor, 'submitted');
    INSERT INTO workflows (id, name, description, labels, document, document_sha256,
                           idempotency_key, tasks_total, tasks_unfinished, created_by,
                           requires_approval)
    VALUES (p_id, p_name, p_description, p_labels, p_document, p_document_sha256,
            p_idempotency_key, jsonb_array_length(p_tasks), jsonb_array_length(p_tasks),
            p_actor, p_requires_approval)
    ON CONFLICT (created_by, idempotency_key) DO NOTHING
    RETURNING workflows.created_at INTO v_created;
    IF v_created IS NULL THEN  -- this caller used the same Idempotency-Key before
        RETURN QUERY SELECT NULL::timestamptz, w.id, w.document_sha256, NULL::timestamptz,
                            NULL::uuid, NULL::text, NULL::int, NULL::timestamptz,
                            NULL::timestamptz, NULL::text
                     FROM workflows w
                     WHERE w.created_by = p_actor AND w.idempotency_key = p_idempotency_key;
        RETURN;
    END IF;
    INSERT INTO tasks (id, workflow_id, position, name, executor, instrument, params,
                       depends_on, dependents, deps_pending, max_attempts, backoff_s,
                       max_backoff_s, timeout_s)
    SELECT t.id, p_id, t.position, t.name, t.executor, t.instrument, coalesce(t.params, '{}'),
           ARRAY(SELECT jsonb_array_elements_text(t.depends_on)),
           ARRAY(SELECT jsonb_array_elements_text(t.dependents))::uuid[],
           jsonb_array_length(t.depends_on), t.max_attempts, t.backoff_s, t.max_backoff_s,
           t.timeout_s
    FROM jsonb_to_recordset(p_tasks) AS t(id uuid, position int, name text, executor text,
         instrument text, params jsonb, depends_on jsonb, dependents jsonb, max_attempts int,
         backoff_s float8, max_backoff_s float8, timeout_s float8);
    RETURN QUERY SELECT v_created, NULL::uuid, NULL::text, s.*  -- at least one row
                 FROM (SELECT) one LEFT JOIN LATERAL laf_start_submitted(p_id, p_actor) s ON true;
END
$$;

-- A runner claims a queued attempt: accepted once per attempt, only while the
-- workflow runs. Returns the task with its dependencies' outputs and its
-- instrument, or no row when the claim is refused.
-- The runner that holds the attempt may claim it again and gets the same answer,
-- nothing changed: its first answer can be lost after the commit (PostgreSQL or the
-- connection dying between the two), and without this the attempt would stay running
-- on record with nobody running it until the reconciler failed it as lost. The runner
-- starts an attempt only once (laf_runner.runner: `_holds`).
CREATE OR REPLACE FUNCTION laf_claim_task(p_task uuid, p_attempt int, p_runner text)
RETURNS TABLE (task_id uuid, workflow_id uuid, name text, executor text, attempt int,
               params jsonb, timeout_s double precision, inputs jsonb, instrument jsonb)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_attempt int;
    v_status text;
    v_runner text;
    v_workflow uuid;
BEGIN
    SELECT t.attempt, t.status, t.runner_id, t.workflow_id
    INTO v_attempt, v_status, v_runner, v_workflow
    FROM tasks t WHERE t.id = p_task FOR UPDATE;  -- by id alone (see the top)
    IF NOT FOUND OR v_attempt <> p_attempt
       OR NOT (v_status = 'queued' OR v_status = 'running' AND v_runner = p_runner)
       OR (SELECT w.status FROM workflows w WHERE w.id = v_workflow) IS DISTINCT FROM 'running'
    THEN
        RETURN;
    END IF;
    IF v_status = 'queued' THEN
        PERFORM laf_set_context('runner:' || p_runner, 'claimed by runner');
        UPDATE tasks c
        SET status = 'running', started_at = clock_timestamp(), heartbeat_at = clock_timestamp(),
            runner_id = p_runner
        WHERE c.id = p_task;
    END IF;
    RETURN QUERY
    SELECT c.id, c.workflow_id, c.name, c.executor, c.attempt, c.params, c.timeout_s,
           (SELECT coalesce(jsonb_object_agg(d.name, coalesce(d.outputs, '{}'::jsonb)), '{}'::jsonb)
            FROM unnest(c.depends_on) AS dep(name)
            -- each by its key (OFFSET 0 keeps it so), not all the workflow's tasks
            CROSS JOIN LATERAL (SELECT x.name, x.outputs FROM tasks x
                                WHERE x.workflow_id = c.workflow_id AND x.name = dep.name
                                OFFSET 0) d),
           (SELECT jsonb_build_object('id', i.id, 'kind', i.kind, 'endpoint', i.endpoint,
                                      'status', i.status)
            FROM instruments i WHERE i.id = c.instrument)
    FROM tasks c WHERE c.id = p_task;
END
$$;

-- A task is done for its dependents (it succeeded, or an operator skipped it):
-- one dependency fewer for each; those at zero start if the workflow runs (a
-- paused one starts them on resume). Returns the instruments to grant.
CREATE OR REPLACE FUNCTION laf_release_dependents(p_dependents uuid[], p_actor text)
RETURNS text[] LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
    FROM released r  -- the workflow by id alone (see the top)
    WHERE r.deps_pending = 0
      AND (SELECT w.status FROM workflows w WHERE w.id = r.workflow_id) = 'running';
    RETURN laf_make_ready(coalesce(v_ready, '{}'));
END
$$;

-- A task failed for good: everything downstream of it is skipped. Returns how many.
CREATE OR REPLACE FUNCTION laf_skip_downstream(p_name text, p_dependents uuid[], p_actor text)
RETURNS int LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
CREATE OR REPLACE FUNCTION laf_count_finished(p_workflow uuid, p_finished int, p_failed int, p_actor text)
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
CREATE OR REPLACE FUNCTION laf_finish_task(p_task uuid, p_attempt int, p_outcome text, p_outputs jsonb,
                                p_error text, p_actor text, p_reason text DEFAULT NULL,
                                p_outputs_sha256 text DEFAULT NULL)
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
    SELECT * INTO t FROM tasks WHERE id = p_task FOR UPDATE;  -- by id alone (see the top)
    IF NOT FOUND OR t.attempt <> p_attempt OR t.status <> 'running' THEN
        RETURN 'stale';
    END IF;

    INSERT INTO task_attempts (task_id, attempt, status, runner_id, error, queued_at, started_at,
                               outputs, outputs_sha256, reported_by)
    VALUES (p_task, p_attempt, p_outcome, t.runner_id, p_error, t.queued_at, t.started_at,
            p_outputs, p_outputs_sha256, p_actor);

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
CREATE OR REPLACE FUNCTION laf_queue_due_retries(p_actor text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_workflow uuid;
    v_count int := 0;
BEGIN
    FOR v_workflow IN
        SELECT DISTINCT t.workflow_id FROM tasks t JOIN workflows w ON w.id = t.workflow_id
        WHERE t.status = 'pending' AND t.retry_at <= clock_timestamp() AND w.status = 'running'
    LOOP
        -- by id alone (see the top)
        IF (SELECT status FROM workflows WHERE id = v_workflow FOR UPDATE) = 'running' THEN
            v_count := v_count + laf_queue_ready(v_workflow, p_actor, 'retry backoff elapsed');
        END IF;
    END LOOP;
    RETURN v_count;
END
$$;

-- A result, and the reporting runner's next task at once (the hot path of a chain).
-- When the attempt succeeded and the runner offers to take more (`p_executors`, the
-- executors it serves, with a slot free), one of the dependents this very transaction
-- queued is claimed for it (looked up among the dependents, not the whole workflow:
-- a wide fan-out would make every result scan all its queued tasks), and its queued event is
-- withdrawn (no runner needs it, and the claim's `task.running` of this transaction tells
-- live views more; the history keeps both states), so the step skips the relay, the
-- broker and a claim's round trip, and the relay has one event fewer to publish.
-- Returns the outcome and the claimed task (or NULL).
CREATE OR REPLACE FUNCTION laf_finish_and_claim(p_task uuid, p_attempt int, p_outcome text,
                                p_outputs jsonb, p_error text, p_actor text,
                                p_outputs_sha256 text, p_executors text[], p_runner text,
                                OUT outcome text, OUT next jsonb)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_next tasks%ROWTYPE;
BEGIN
    outcome := laf_finish_task(p_task, p_attempt, p_outcome, p_outputs, p_error, p_actor, NULL,
                               p_outputs_sha256);
    IF outcome <> 'succeeded' OR coalesce(cardinality(p_executors), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT t.* INTO v_next
    FROM unnest((SELECT dependents FROM tasks WHERE id = p_task)) AS d(id)
    -- each dependent by id alone (OFFSET 0 keeps it so; see the top), queued just now by
    -- this result
    CROSS JOIN LATERAL (SELECT * FROM tasks x
                        WHERE x.id = d.id AND x.xmin = pg_current_xact_id()::xid OFFSET 0) t
    WHERE t.status = 'queued' AND t.executor = ANY (p_executors)
    ORDER BY t.position LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    DELETE FROM outbox  -- by outbox_task_queued, not a read of the whole outbox
    WHERE task_id = v_next.id AND attempt = v_next.attempt AND event_type = 'task.queued';
    SELECT to_jsonb(c) INTO next FROM laf_claim_task(v_next.id, v_next.attempt, p_runner) c;
END
$$;
