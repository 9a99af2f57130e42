-- ---------------------------------------------------------------------------
-- The reconciler (DESIGN rule 5): something always notices a stuck task.
-- ---------------------------------------------------------------------------

-- Running attempts that will never report: past their timeout_s (+ a grace for
-- runner tasks, which the runner itself stops at timeout_s; none for manual
-- steps), or whose runner stopped heartbeating (it is gone). Each fails, and its
-- retry policy decides what happens next. Returns how many.
CREATE OR REPLACE FUNCTION laf_fail_stuck(p_heartbeat_timeout_s double precision, p_timeout_grace_s double precision,
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
CREATE OR REPLACE FUNCTION laf_redispatch(p_executor text, p_after_s double precision) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    v_stale uuid[];
BEGIN
    WITH stale AS (
        UPDATE tasks SET dispatched_at = clock_timestamp()
        WHERE status = 'queued' AND executor = p_executor
          AND greatest(queued_at, dispatched_at) < clock_timestamp() - make_interval(secs => p_after_s)
        RETURNING id
    )
    SELECT array_agg(id) INTO v_stale FROM stale;
    IF v_stale IS NULL THEN
        RETURN 0;
    END IF;
    RETURN laf_emit_task_events(v_stale, '{"redispatched": true}');
END
$$;
