"""`laf`: LAF's command line for people and scripts.

It talks to the API over HTTP only (never to the database or the broker, and it
imports no other LAF package; an import-linter contract holds this), so it runs
wherever the API is reachable: a laptop, a CI job, a notebook's terminal.
"""
