-- ---------------------------------------------------------------------------
-- Operator actions. Each returns 'ok', 'unknown' (no such workflow or task) or
-- 'refused: <why>' (the state does not allow it; the API answers 409).
-- ---------------------------------------------------------------------------

-- Every action starts here: the workflow's status, under its lock (NULL: no such workflow).
CREATE OR REPLACE FUNCTION laf_lock_workflow(p_workflow uuid) RETURNS text LANGUAGE sql AS $$
    SELECT status FROM workflows WHERE id = p_workflow FOR UPDATE
$$;

-- After counters changed: end the workflow if nothing is left, or reopen a
-- failed one that has work again.
CREATE OR REPLACE FUNCTION laf_settle_workflow(p_workflow uuid) RETURNS void LANGUAGE sql AS $$
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
CREATE OR REPLACE FUNCTION laf_reopen_downstream(p_workflow uuid, p_task uuid) RETURNS uuid[] LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION laf_cancel_workflow(p_workflow uuid, p_actor text, p_reason text)
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
CREATE OR REPLACE FUNCTION laf_pause_workflow(p_workflow uuid, p_actor text, p_reason text)
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

CREATE OR REPLACE FUNCTION laf_resume_workflow(p_workflow uuid, p_actor text, p_reason text)
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

CREATE OR REPLACE FUNCTION laf_retry_task(p_workflow uuid, p_name text, p_actor text, p_reason text)
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
CREATE OR REPLACE FUNCTION laf_skip_task(p_workflow uuid, p_name text, p_actor text, p_reason text)
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
CREATE OR REPLACE FUNCTION laf_complete_task(p_workflow uuid, p_name text, p_outputs jsonb, p_actor text, p_reason text,
                                p_outputs_sha256 text DEFAULT NULL)
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
    IF laf_finish_task(t.id, t.attempt, 'succeeded', p_outputs, NULL, p_actor, p_reason,
                       p_outputs_sha256) = 'stale' THEN
        RETURN format('refused: ''%s'' changed meanwhile; reload it', p_name);
    END IF;
    RETURN 'ok';
END
$$;
