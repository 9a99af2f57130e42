-- Named queries, loaded once by laf_core.db.queries. Each starts with "-- name: NAME".
-- State transitions are SQL functions in functions/; these call them.

-- name: submit_workflow
SELECT * FROM laf_submit_workflow($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: set_context
SELECT laf_set_context($1, $2);

-- name: get_workflow
SELECT id, name, description, labels, status, document_sha256, created_by, created_at,
       started_at, finished_at, tasks_total, tasks_unfinished, tasks_failed, requires_approval
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
       a.finished_at, a.outputs_sha256
FROM task_attempts a JOIN tasks t ON t.id = a.task_id
WHERE t.workflow_id = $1 ORDER BY a.finished_at, a.attempt;

-- name: list_workflows
-- Keyset pagination, newest first; $2/$3 is the cursor (created_at, id) or NULLs.
SELECT id, name, description, labels, status, created_by, created_at, started_at, finished_at,
       tasks_total, tasks_unfinished, tasks_failed, requires_approval
FROM workflows
WHERE ($1::text IS NULL OR status = $1)
  AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
  AND ($4::jsonb IS NULL OR labels @> $4)
  AND ($5::text IS NULL OR name ILIKE '%' || $5 || '%' ESCAPE '\')
ORDER BY created_at DESC, id DESC
LIMIT $6;

-- name: get_history
SELECT h.id, h.task_id, h.task_name, h.attempt, h.from_status, h.to_status, h.actor,
       h.reason, h.at, h.seq, h.prev_hash, h.hash, h.data
FROM history h WHERE h.workflow_id = $1 AND ($2::bigint IS NULL OR h.id > $2)
ORDER BY h.id LIMIT $3;

-- name: start_workflow
SELECT laf_start_workflow($1, $2);

-- name: claim_task
SELECT task_id, workflow_id, name, executor, attempt, params, timeout_s, inputs, instrument
FROM laf_claim_task($1, $2, $3);

-- name: finish_task
SELECT laf_finish_task($1, $2, $3, $4, $5, $6, NULL, $7);

-- name: finish_and_claim
SELECT outcome, next FROM laf_finish_and_claim($1, $2, $3, $4, $5, $6, $7, $8, $9);

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
SELECT laf_complete_task($1, $2, $3, $4, $5, $6);

-- name: insert_instrument
INSERT INTO instruments (id, name, kind, capacity, status, endpoint, parameters_schema,
                         calibration_due)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: update_instrument
UPDATE instruments
SET name = coalesce($2, name), capacity = coalesce($3, capacity), status = coalesce($4, status),
    endpoint = CASE WHEN $5::boolean THEN $6 ELSE endpoint END,
    parameters_schema = coalesce($7, parameters_schema),
    calibration_due = CASE WHEN $8::boolean THEN $9 ELSE calibration_due END,
    updated_at = clock_timestamp()
WHERE id = $1
RETURNING id;

-- name: list_instruments
SELECT id, name, kind, capacity, status, endpoint, parameters_schema, calibration_due,
       created_at, updated_at
FROM instruments WHERE ($1::text IS NULL OR id = $1) ORDER BY id;

-- name: instrument_tasks
-- Tasks holding a slot (queued, running) and the queue in front of each instrument, in order.
SELECT t.instrument, t.workflow_id, w.name AS workflow_name, t.id AS task_id, t.name AS task_name,
       t.executor, t.status, t.attempt, t.ready_at, t.queued_at, t.started_at, w.status AS workflow_status
FROM tasks t JOIN workflows w ON w.id = t.workflow_id
WHERE t.instrument IS NOT NULL AND ($1::text IS NULL OR t.instrument = $1)
  AND t.status IN ('waiting', 'queued', 'running')
ORDER BY t.instrument, t.ready_at, t.id;

-- name: instrument_runs
-- The attempts on instrument $1 that ran in the last $2 seconds (finished ones from
-- task_attempts, then those running now), newest first.
SELECT * FROM (
    SELECT t.workflow_id, w.name AS workflow_name, t.name AS task_name, a.attempt, a.status,
           a.runner_id, a.started_at, a.finished_at
    FROM tasks t
    JOIN task_attempts a ON a.task_id = t.id
    JOIN workflows w ON w.id = t.workflow_id
    WHERE t.instrument = $1
      AND a.finished_at > clock_timestamp() - make_interval(secs => $2)
    UNION ALL
    SELECT t.workflow_id, w.name, t.name, t.attempt, t.status, t.runner_id, t.started_at, NULL
    FROM tasks t JOIN workflows w ON w.id = t.workflow_id
    WHERE t.instrument = $1 AND t.status = 'running'
) runs
ORDER BY coalesce(finished_at, 'infinity') DESC, started_at DESC NULLS LAST
LIMIT $3;

-- name: inbox
-- Steps awaiting an operator: `manual` tasks running, in every workflow, longest waiting first.
SELECT t.workflow_id, w.name AS workflow_name, w.status AS workflow_status, w.labels,
       w.created_by, t.id AS task_id, t.name AS task_name, t.params, t.attempt,
       t.started_at AS since
FROM tasks t JOIN workflows w ON w.id = t.workflow_id
WHERE t.executor = 'manual' AND t.status = 'running'
ORDER BY t.started_at, t.id
LIMIT $1;

-- name: instrument_schemas
SELECT id, status, endpoint, parameters_schema FROM instruments WHERE id = ANY ($1::text[]);

-- name: next_retry_at
SELECT min(retry_at) FROM tasks WHERE status = 'pending' AND retry_at IS NOT NULL;

-- name: outbox_take
-- The relay's batch, taken out in the relay's transaction (one round trip, not a select and
-- a delete): locked so parallel relays take disjoint rows, and back if the publish fails
-- (the transaction rolls back). RETURNING has no order: the relay sorts by id.
SELECT id, event_id, routing_key, event_type, workflow_id, task_id, attempt, data, occurred_at,
       traceparent
FROM laf_take_outbox($1);

-- name: outbox_backlog
-- Events not yet published, and the age in seconds of the oldest. Cheap: the relay deletes
-- what it published, so the table holds only the backlog itself.
SELECT count(*) AS events,
       coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at)), 0)::float8 AS oldest_s
FROM outbox;

-- name: redispatch
SELECT laf_redispatch($1, $2);

-- name: insert_dead_letter
INSERT INTO dead_letters (message_id, routing_key, queue, reason, headers, body)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: list_dead_letters
SELECT id, message_id, routing_key, queue, reason, headers, body, received_at
FROM dead_letters WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1;

-- name: dead_letters_summary
-- How many dead letters, and when the newest came (the highest id: one primary-key probe).
-- The count visits every row; the table holds only messages no consumer could handle, so
-- it stays small (thousands, not millions).
SELECT count(*) AS count, (SELECT received_at FROM dead_letters ORDER BY id DESC LIMIT 1) AS latest_at
FROM dead_letters;

-- name: served_executors
-- What runners heard from in the last $1 seconds serve, and how many such runners there are.
SELECT count(*) AS runners,
       coalesce((SELECT array_agg(DISTINCT e ORDER BY e) FROM runners r2, unnest(r2.executors) e
                 WHERE r2.heartbeat_at > clock_timestamp() - make_interval(secs => $1)),
                '{}') AS executors
FROM runners WHERE heartbeat_at > clock_timestamp() - make_interval(secs => $1);

-- ---- who may do what (laf_api.store.auth) ----

-- name: token_principal
-- The owner of a live token, the token's roles and the owner's (the store narrows the
-- first to what the second still grants: a demoted user's tokens are demoted too).
SELECT t.id, u.name, t.roles, u.roles AS owner_roles, t.expires_at
FROM tokens t JOIN users u ON u.name = t.owner
WHERE t.digest = $1 AND t.revoked_at IS NULL AND NOT u.disabled
  AND (t.expires_at IS NULL OR t.expires_at > clock_timestamp());

-- name: touch_token
-- last_used_at, at most once a minute per token (no write per request).
UPDATE tokens SET last_used_at = clock_timestamp()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < clock_timestamp() - interval '1 minute');

-- name: user_for_login
SELECT name, password_hash, roles, disabled, failed_logins, locked_until,
       locked_until > clock_timestamp() AS locked
FROM users WHERE name = $1;

-- name: login_failed
-- One more failure; the max-th locks the account for $3 seconds (and starts the count over).
UPDATE users
SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
    locked_until = CASE WHEN failed_logins + 1 >= $2
                        THEN clock_timestamp() + make_interval(secs => $3) ELSE locked_until END
WHERE name = $1
RETURNING locked_until > clock_timestamp() AS locked, locked_until;

-- name: login_succeeded
UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = $1;

-- name: insert_token
INSERT INTO tokens (id, digest, kind, name, owner, roles, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::float8 IS NULL THEN NULL
                                    ELSE clock_timestamp() + make_interval(secs => $7) END)
RETURNING id, name, owner, kind, roles, expires_at, revoked_at, last_used_at, created_at;

-- name: list_tokens
-- API tokens ($1: one owner's; NULL: everyone's), newest first. Sessions are not listed.
SELECT id, name, owner, kind, roles, expires_at, revoked_at, last_used_at, created_at
FROM tokens WHERE kind = 'api' AND ($1::text IS NULL OR owner = $1)
ORDER BY created_at DESC, id;

-- name: revoke_token
-- Revoke token $1 if its owner is $2 (NULL: anyone's, for an admin). Returns it, or no row.
UPDATE tokens SET revoked_at = coalesce(revoked_at, clock_timestamp())
WHERE id = $1 AND ($2::text IS NULL OR owner = $2)
RETURNING id, name, owner, kind, roles, expires_at, revoked_at, last_used_at, created_at;

-- name: insert_user
INSERT INTO users (name, password_hash, roles, created_by, full_name) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO NOTHING
RETURNING name, full_name, roles, disabled, locked_until, created_by, created_at;

-- name: list_users
SELECT name, full_name, roles, disabled, locked_until, created_by, created_at FROM users ORDER BY name;

-- name: update_user
UPDATE users
SET roles = coalesce($2, roles), disabled = coalesce($3, disabled),
    password_hash = coalesce($4, password_hash),
    failed_logins = CASE WHEN $4::text IS NULL THEN failed_logins ELSE 0 END,
    locked_until = CASE WHEN $4::text IS NULL THEN locked_until END,
    full_name = coalesce($5, full_name)
WHERE name = $1
RETURNING name, full_name, roles, disabled, locked_until, created_by, created_at;

-- name: instrument_history
SELECT id, from_status, to_status, change, actor, reason, at
FROM history WHERE instrument_id = $1 ORDER BY id;

-- name: user_roles
SELECT roles FROM users WHERE name = $1 AND NOT disabled;

-- name: instrument_slots
-- Each instrument's slots and how many are in use (tasks queued or running on it).
SELECT i.id, i.capacity, count(t.id) AS in_use
FROM instruments i
LEFT JOIN tasks t ON t.instrument = i.id AND t.status IN ('queued', 'running')
GROUP BY i.id, i.capacity;

-- name: results_of
-- What a signature signs: every task's status and final outputs, and each finished
-- attempt with its outputs' hash (store/signatures.py hashes it canonically).
SELECT t.workflow_id, t.name, t.status, t.outputs,
       coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'status', a.status,
                                                     'outputs_sha256', a.outputs_sha256)
                                  ORDER BY a.attempt)
                 FROM task_attempts a WHERE a.task_id = t.id), '[]') AS attempts
FROM tasks t WHERE t.workflow_id = ANY ($1::uuid[]) ORDER BY t.workflow_id, t.position;

-- name: signatures_of
SELECT id, workflow_id, signer, full_name, meaning, comment, results_sha256, at
FROM signatures WHERE workflow_id = ANY ($1::uuid[]) ORDER BY workflow_id, at, id;

-- name: signer_acted_on
-- Did this actor submit the workflow, or act on it as an operator (any history row of
-- it or its tasks that is not a signature)?
SELECT EXISTS (SELECT 1 FROM workflows WHERE id = $1 AND created_by = $2)
    OR EXISTS (SELECT 1 FROM history WHERE workflow_id = $1 AND actor = $2 AND to_status <> 'signed');

-- name: insert_signature_history
INSERT INTO history (workflow_id, from_status, to_status, actor, reason, data)
VALUES ($1, NULL, 'signed', $2, $3, $4)
RETURNING id, at;

-- name: insert_signature
INSERT INTO signatures (id, workflow_id, signer, full_name, meaning, comment, results_sha256,
                        history_id, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: full_name_of
SELECT coalesce(nullif(full_name, ''), name) FROM users WHERE name = $1;

-- name: workflow_view
-- GET /api/workflows/{id} in one query and one snapshot (store/workflows.py workflow_json):
-- the workflow's row, its tasks already as the JSON array the API sends, and once it
-- finished ($2: the final statuses) the canonical JSON its results hash is taken of.
-- Built here, a 10,000-task workflow has no row decoded and encoded again in Python.
-- The text is what pydantic writes, byte for byte (tests/integration/test_workflow_json.py):
--  - TaskOut's fields in its order, each task's finished attempts as AttemptOut's, ordered
--    as get_attempts orders them; the results as signatures.results_of and canonical_json
--    (keys sorted, task names in code point order = UTF-8 byte order, COLLATE "C");
--  - strings through to_json, which escapes as pydantic and json.dumps do;
--  - timestamps by laf_json_time (functions/views.sql);
--  - timeout_s with ".0" when whole: PostgreSQL prints floats shortest, as pydantic, and
--    in positional notation between 1e-4 and 1e15.
-- A params or outputs other than {} or NULL is left to Python (its numbers would not print
-- the same): a \x01 byte holds its place, a byte the text never holds otherwise (to_json
-- escapes control characters), and the values follow in order: task_values (per task, an
-- array of its params then outputs), results_values. `plain` is false when a value is
-- outside what this formats exactly; the caller then reads the rows instead.
SELECT w.id, w.name, w.description, w.labels, w.status, w.created_by, w.created_at,
       w.started_at, w.finished_at, w.tasks_total, w.tasks_unfinished, w.tasks_failed,
       w.requires_approval, v.tasks_json, v.task_values, v.results, v.results_values, v.plain
FROM workflows w
CROSS JOIN LATERAL (
    SELECT convert_to('[' || coalesce(string_agg(concat(
               '{"id":"', t.id,
               '","name":', to_json(t.name),
               ',"executor":', to_json(t.executor),
               ',"instrument":', coalesce(to_json(t.instrument)::text, 'null'),
               ',"params":', CASE WHEN t.params = '{}' THEN '{}' ELSE E'\x01' END,
               ',"depends_on":', to_json(t.depends_on),
               ',"status":', to_json(t.status),
               ',"attempt":', t.attempt,
               ',"max_attempts":', t.max_attempts,
               ',"timeout_s":', CASE WHEN t.timeout_s IS NULL THEN 'null'
                                     WHEN t.timeout_s::text LIKE '%.%' THEN t.timeout_s::text
                                     ELSE t.timeout_s::text || '.0' END,
               ',"retry_at":', laf_json_time(t.retry_at),
               ',"outputs":', CASE WHEN t.outputs IS NULL THEN 'null'
                                   WHEN t.outputs = '{}' THEN '{}' ELSE E'\x01' END,
               ',"error":', coalesce(to_json(t.error)::text, 'null'),
               ',"runner_id":', coalesce(to_json(t.runner_id)::text, 'null'),
               ',"queued_at":', laf_json_time(t.queued_at),
               ',"started_at":', laf_json_time(t.started_at),
               ',"finished_at":', laf_json_time(t.finished_at),
               ',"heartbeat_at":', laf_json_time(t.heartbeat_at),
               ',"attempts":[', a.json, ']}'),
               ',' ORDER BY t.position), '') || ']', 'UTF8') AS tasks_json,
           jsonb_agg(CASE WHEN t.params = '{}' THEN '[]' ELSE jsonb_build_array(t.params) END
                     || CASE WHEN t.outputs IS NULL OR t.outputs = '{}' THEN '[]'
                             ELSE jsonb_build_array(t.outputs) END
                     ORDER BY t.position)
               FILTER (WHERE t.params <> '{}' OR t.outputs <> '{}') AS task_values,
           convert_to('{' || coalesce(string_agg(concat(
               to_json(t.name),
               ':{"attempts":[', a.signed,
               '],"outputs":', CASE WHEN t.outputs IS NULL THEN 'null'
                                    WHEN t.outputs = '{}' THEN '{}' ELSE E'\x01' END,
               ',"status":', to_json(t.status), '}'),
               ',' ORDER BY t.name COLLATE "C")
               FILTER (WHERE w.status = ANY ($2::text[])), '') || '}', 'UTF8') AS results,
           jsonb_agg(t.outputs ORDER BY t.name COLLATE "C")
               FILTER (WHERE t.outputs <> '{}' AND w.status = ANY ($2::text[])) AS results_values,
           current_setting('extra_float_digits')::int > 0  -- floats print shortest
           AND coalesce(bool_and(
               (t.timeout_s IS NULL OR t.timeout_s >= 1e-4 AND t.timeout_s < 1e15)
               AND least(t.retry_at, t.queued_at, t.started_at, t.finished_at, t.heartbeat_at,
                         a.earliest) >= '0001-01-01 00:00:00+00'  -- finite, and years
               AND greatest(t.retry_at, t.queued_at, t.started_at, t.finished_at, t.heartbeat_at,
                            a.latest) < '10000-01-01 00:00:00+00'), true) AS plain  -- of 4 digits
    FROM tasks t
    LEFT JOIN (
        SELECT a.task_id,
               string_agg(concat(
                   '{"attempt":', a.attempt,
                   ',"status":', to_json(a.status),
                   ',"runner_id":', coalesce(to_json(a.runner_id)::text, 'null'),
                   ',"error":', coalesce(to_json(a.error)::text, 'null'),
                   ',"queued_at":', laf_json_time(a.queued_at),
                   ',"started_at":', laf_json_time(a.started_at),
                   ',"finished_at":', laf_json_time(a.finished_at), '}'),
                   ',' ORDER BY a.finished_at, a.attempt) AS json,
               string_agg(concat(
                   '{"attempt":', a.attempt,
                   ',"outputs_sha256":', coalesce(to_json(a.outputs_sha256)::text, 'null'),
                   ',"status":', to_json(a.status), '}'),
                   ',' ORDER BY a.attempt) AS signed,
               min(least(a.queued_at, a.started_at, a.finished_at)) AS earliest,
               max(greatest(a.queued_at, a.started_at, a.finished_at)) AS latest
        FROM task_attempts a JOIN tasks t ON t.id = a.task_id
        WHERE t.workflow_id = $1
        GROUP BY a.task_id
    ) a ON a.task_id = t.id
    WHERE t.workflow_id = w.id
) v
WHERE w.id = $1;
