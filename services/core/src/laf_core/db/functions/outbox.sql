-- Who and why for the audit trail, and the writers of the outbox: every event
-- leaves PostgreSQL through these, in the transaction that made the change, and
-- rings pg_notify so the relay publishes it at once.

-- Who and why, for the history rows the triggers write. A transaction sets them
-- with set_config(..., true) so they vanish at commit.
CREATE OR REPLACE FUNCTION laf_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('laf.actor', true), ''), 'system')
$$;
CREATE OR REPLACE FUNCTION laf_reason() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('laf.reason', true), '')
$$;
-- The span writing, when tracing is on (laf_core.telemetry.stamp): each event keeps it,
-- so that the relay's span for it is a child of what caused it.
CREATE OR REPLACE FUNCTION laf_traceparent() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('laf.traceparent', true), '')
$$;
-- PL/pgSQL, so its statement is planned once per session: as a SQL function (which
-- cannot be inlined: it returns void) it was planned on each of a step's four calls.
CREATE OR REPLACE FUNCTION laf_set_context(p_actor text, p_reason text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('laf.actor', coalesce(p_actor, ''), true),
            set_config('laf.reason', coalesce(p_reason, ''), true);
END
$$;

CREATE OR REPLACE FUNCTION laf_workflow_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_outbox bigint;
BEGIN
    INSERT INTO history (workflow_id, from_status, to_status, actor, reason)
    VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, laf_actor(), laf_reason());
    INSERT INTO outbox (routing_key, event_type, workflow_id, data, traceparent)
    VALUES ('workflow.' || NEW.status, 'workflow.' || NEW.status, NEW.id,
            jsonb_build_object('name', NEW.name, 'status', NEW.status), laf_traceparent())
    RETURNING id INTO v_outbox;
    PERFORM pg_notify('laf_outbox', v_outbox::text);
    RETURN NULL;
END
$$;

-- The one writer of task events: one event per task, as the task is now, in one
-- INSERT (a fan-out that queues 50 tasks writes its 50 events at once). `p_extra`
-- adds fields to each event's data. Returns how many.
CREATE OR REPLACE FUNCTION laf_emit_task_events(p_ids uuid[], p_extra jsonb DEFAULT '{}')
RETURNS int LANGUAGE plpgsql SET enable_seqscan = off AS $$  -- see transitions.sql's top
DECLARE
    v_last bigint;
    v_count int;
BEGIN
    WITH events AS (
        INSERT INTO outbox (routing_key, event_type, workflow_id, task_id, attempt, data,
                            traceparent)
        SELECT 'task.' || status || '.' || executor, 'task.' || status, workflow_id, id, attempt,
               jsonb_build_object('name', name, 'executor', executor, 'status', status,
                                  'retry_at', retry_at, 'instrument', instrument) || p_extra,
               laf_traceparent()
        FROM tasks WHERE id = ANY (p_ids)
        RETURNING id
    )
    SELECT max(id), count(*) INTO v_last, v_count FROM events;
    IF v_last IS NOT NULL THEN
        PERFORM pg_notify('laf_outbox', v_last::text);
    END IF;
    RETURN v_count;
END
$$;

-- Statement level: every task whose status changed gets its history row and its event.
-- The planner has no row counts for transition tables and joins them by a nested loop,
-- quadratic in the rows changed (a root releasing 4,000 leaves took 7 s): no nested loop.
CREATE OR REPLACE FUNCTION laf_tasks_changed() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
DECLARE
    v_changed uuid[];
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
    )
    SELECT array_agg(id) INTO v_changed FROM changed;
    IF v_changed IS NOT NULL THEN
        PERFORM laf_emit_task_events(v_changed);
    END IF;
    RETURN NULL;
END
$$;

-- An instrument's status or capacity changed: live views (the lab picture) redraw.
CREATE OR REPLACE FUNCTION laf_instrument_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Every instrument change is in the history with who and why: registration, and
-- each change of name, kind, capacity, status, endpoint, parameters schema or calibration date.
CREATE OR REPLACE FUNCTION laf_instrument_audited() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_change jsonb := '{}';
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) ELSE '{}' END;
    v_new jsonb := to_jsonb(NEW);
    v_field text;
BEGIN
    FOREACH v_field IN ARRAY ARRAY['name', 'kind', 'capacity', 'status', 'endpoint', 'parameters_schema',
                                  'calibration_due'] LOOP
        IF v_old -> v_field IS DISTINCT FROM v_new -> v_field THEN
            v_change := v_change || jsonb_build_object(
                v_field, jsonb_build_array(v_old -> v_field, v_new -> v_field));
        END IF;
    END LOOP;
    IF v_change <> '{}' THEN
        INSERT INTO history (instrument_id, from_status, to_status, change, actor, reason)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, v_change,
                laf_actor(), coalesce(laf_reason(), CASE WHEN TG_OP = 'INSERT' THEN 'registered' END));
    END IF;
    RETURN NULL;
END
$$;

-- The relay's batch, deleted as it is taken (queries.sql: outbox_take). By key, whatever
-- the statistics say: as a plain `IN (subquery)` its cached plan was a hash join over a seq
-- scan of the outbox, which reads every page the table ever grew to (with autovacuum off,
-- every row it ever held). PL/pgSQL, so its plan is cached (a SQL function's is made anew
-- on every call).
CREATE OR REPLACE FUNCTION laf_take_outbox(p_limit int) RETURNS SETOF outbox LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    RETURN QUERY
    DELETE FROM outbox
    WHERE id = ANY (ARRAY(SELECT id FROM outbox ORDER BY id LIMIT p_limit FOR UPDATE SKIP LOCKED))
    RETURNING *;
END
$$;

CREATE OR REPLACE FUNCTION laf_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only (% refused)', TG_OP;
END
$$;
