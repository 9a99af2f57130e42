"""The API's one gateway to the database (as procrastinate's JobManager is to its SQL).

Typed functions around the named queries of `laf_core/db/queries.sql`, grouped by
what they serve: `workflows` (submit, read, list, history), `control` (operator
actions), `instruments`, `reports` (runner reports and presence), `admin`. Routes
call these, never the queries; a refusal of the database's transitions becomes
`laf_api.errors.Refused` or `NotFound`, mapped to 409 and 404 in app.py.
"""
