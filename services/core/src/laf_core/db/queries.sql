-- Named queries, loaded once by laf_core.db.queries. Each starts with "-- name: NAME".
-- State transitions are SQL functions in migrations/; these call them.

-- name: insert_workflow
INSERT INTO workflows (id, name, description, labels, document, document_sha256,
                       idempotency_key, tasks_total, tasks_unfinished, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, created_at;

-- name: insert_tasks
-- $2 is a JSON array with one object per task (asyncpg cannot bind ragged arrays).
INSERT INTO tasks (id, workflow_id, position, name, executor, instrument, params, depends_on,
                   dependents, deps_pending, max_attempts, backoff_s, max_backoff_s, timeout_s)
SELECT t.id, $1, t.position, t.name, t.executor, t.instrument, coalesce(t.params, '{}'),
       ARRAY(SELECT jsonb_array_elements_text(t.depends_on)),
       ARRAY(SELECT jsonb_array_elements_text(t.dependents))::uuid[],
       jsonb_array_length(t.depends_on), t.max_attempts, t.backoff_s, t.max_backoff_s, t.timeout_s
FROM jsonb_to_recordset($2::jsonb) AS t(id uuid, position int, name text, executor text,
     instrument text, params jsonb, depends_on jsonb, dependents jsonb, max_attempts int,
     backoff_s float8, max_backoff_s float8, timeout_s float8);

-- name: set_context
SELECT laf_set_context($1, $2);

-- name: workflow_by_idempotency_key
SELECT id FROM workflows WHERE idempotency_key = $1;

-- name: get_workflow
SELECT id, name, description, labels, status, document_sha256, created_by, created_at,
       started_at, finished_at, tasks_total, tasks_unfinished, tasks_failed
FROM workflows WHERE id = $1;

-- name: get_tasks
SELECT id, name, executor, instrument, params, depends_on, status, attempt, max_attempts,
       timeout_s, retry_at, outputs, error, runner_id, queued_at, started_at, finished_at,
       heartbeat_at
FROM tasks WHERE workflow_id = $1 ORDER BY position;

-- name: get_tasks_of_many
SELECT workflow_id, id, name, executor, instrument, params, depends_on, status, attempt,
       max_attempts, timeout_s, retry_at, outputs, error, runner_id, queued_at, started_at,
       finished_at, heartbeat_at
FROM tasks WHERE workflow_id = ANY ($1::uuid[]) ORDER BY workflow_id, position;

-- name: get_attempts
SELECT a.task_id, a.attempt, a.status, a.runner_id, a.error, a.queued_at, a.started_at,
       a.finished_at
FROM task_attempts a JOIN tasks t ON t.id = a.task_id
WHERE t.workflow_id = $1 ORDER BY a.finished_at, a.attempt;

-- name: list_workflows
-- Keyset pagination, newest first; $2/$3 is the cursor (created_at, id) or NULLs.
SELECT id, name, description, labels, status, created_by, created_at, started_at, finished_at,
       tasks_total, tasks_unfinished, tasks_failed
FROM workflows
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
  AND ($4::jsonb IS NULL OR labels @> $4)
  AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%')
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: get_history
SELECT h.id, h.task_id, h.task_name, h.attempt, h.from_status, h.to_status, h.actor,
       h.reason, h.at
FROM history h WHERE h.workflow_id = $1 ORDER BY h.id;

-- name: start_workflow
SELECT laf_start_workflow($1, $2);

-- name: claim_task
SELECT task_id, workflow_id, name, executor, attempt, params, timeout_s, inputs, instrument
FROM laf_claim_task($1, $2, $3);

-- name: finish_task
SELECT laf_finish_task($1, $2, $3, $4, $5, $6);

-- name: heartbeat_task
UPDATE tasks SET heartbeat_at = clock_timestamp()
WHERE id = $1 AND attempt = $2 AND status = 'running'
RETURNING id;

-- name: task_state
SELECT status, attempt FROM tasks WHERE id = $1;

-- name: upsert_runner
INSERT INTO runners (id, hostname, executors, concurrency, running)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE
SET hostname = EXCLUDED.hostname, executors = EXCLUDED.executors,
    concurrency = EXCLUDED.concurrency, running = EXCLUDED.running,
    heartbeat_at = clock_timestamp();

-- name: list_runners
SELECT id, hostname, executors, concurrency, running, started_at, heartbeat_at,
       heartbeat_at > clock_timestamp() - make_interval(secs => $1) AS alive
FROM runners ORDER BY id;

-- name: pending_workflows_missed
-- Safety net: workflows still pending well after their submission (their event was lost).
SELECT id FROM workflows
WHERE status = 'pending' AND created_at < clock_timestamp() - make_interval(secs => $1)
ORDER BY created_at LIMIT 100;

-- name: queue_due_retries
SELECT laf_queue_due_retries($1);

-- name: fail_stuck
-- $1 heartbeat timeout, $2 grace past timeout_s, $3 actor.
SELECT laf_fail_stuck($1, $2, $3);

-- name: grant_waiting
-- Safety net: offer free slots of every instrument that has tasks waiting.
SELECT laf_grant_slots(ARRAY(SELECT DISTINCT instrument FROM tasks WHERE status = 'waiting'));

-- name: grant_instrument
SELECT laf_grant_slots(ARRAY[$1::text]);

-- name: cancel_workflow
SELECT laf_cancel_workflow($1, $2, $3);

-- name: pause_workflow
SELECT laf_pause_workflow($1, $2, $3);

-- name: resume_workflow
SELECT laf_resume_workflow($1, $2, $3);

-- name: retry_task
SELECT laf_retry_task($1, $2, $3, $4);

-- name: skip_task
SELECT laf_skip_task($1, $2, $3, $4);

-- name: complete_task
SELECT laf_complete_task($1, $2, $3, $4, $5);

-- name: insert_instrument
INSERT INTO instruments (id, name, kind, capacity, status, endpoint, parameters_schema)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: update_instrument
UPDATE instruments
SET name = coalesce($2, name), capacity = coalesce($3, capacity), status = coalesce($4, status),
    endpoint = CASE WHEN $5::boolean THEN $6 ELSE endpoint END,
    parameters_schema = coalesce($7, parameters_schema), updated_at = clock_timestamp()
WHERE id = $1
RETURNING id;

-- name: list_instruments
SELECT id, name, kind, capacity, status, endpoint, parameters_schema, created_at, updated_at
FROM instruments WHERE ($1::text IS NULL OR id = $1) ORDER BY id;

-- name: instrument_tasks
-- Tasks holding a slot (queued, running) and the queue in front of each instrument, in order.
SELECT t.instrument, t.workflow_id, w.name AS workflow_name, t.id AS task_id, t.name AS task_name,
       t.executor, t.status, t.attempt, t.ready_at, t.queued_at, t.started_at, w.status AS workflow_status
FROM tasks t JOIN workflows w ON w.id = t.workflow_id
WHERE t.instrument IS NOT NULL AND ($1::text IS NULL OR t.instrument = $1)
  AND t.status IN ('waiting', 'queued', 'running')
ORDER BY t.instrument, t.ready_at, t.id;

-- name: instrument_schemas
SELECT id, status, parameters_schema FROM instruments WHERE id = ANY ($1::text[]);

-- name: next_retry_at
SELECT min(retry_at) FROM tasks WHERE status = 'pending' AND retry_at IS NOT NULL;

-- name: outbox_batch
-- The relay's batch: locked so parallel relays take disjoint rows.
SELECT id, event_id, routing_key, event_type, workflow_id, task_id, attempt, data, occurred_at
FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED;

-- name: outbox_delete
DELETE FROM outbox WHERE id = ANY ($1::bigint[]);

-- name: redispatch
SELECT laf_redispatch($1, $2);

-- name: insert_dead_letter
INSERT INTO dead_letters (message_id, routing_key, queue, reason, headers, body)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: list_dead_letters
SELECT id, message_id, routing_key, queue, reason, headers, body, received_at
FROM dead_letters ORDER BY id DESC LIMIT $1;

-- name: served_executors
-- What runners heard from in the last $1 seconds serve, and how many such runners there are.
SELECT count(*) AS runners,
       coalesce((SELECT array_agg(DISTINCT e ORDER BY e) FROM runners r2, unnest(r2.executors) e
                 WHERE r2.heartbeat_at > clock_timestamp() - make_interval(secs => $1)),
                '{}') AS executors
FROM runners WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $1);
