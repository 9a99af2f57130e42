-- What the API reads formatted by PostgreSQL (queries.sql workflow_view).

-- A timestamp as pydantic writes it in the API's JSON: a JSON string in UTC,
-- "YYYY-MM-DDTHH:MM:SS.ffffffZ" without ".000000" when whole; null for NULL. STABLE (as
-- to_char is), so a query inlines it.
CREATE OR REPLACE FUNCTION laf_json_time(p_at timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(replace(to_char(p_at AT TIME ZONE INTERVAL '0',
                                    '"\""YYYY-MM-DD"T"HH24:MI:SS.US"Z\""'), '.000000Z', 'Z'),
                    'null')
$$;
