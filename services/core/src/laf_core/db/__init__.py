"""Database access: pool, migrations and the named queries in queries.sql."""
