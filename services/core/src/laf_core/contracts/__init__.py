"""Contracts shared between services: the workflow document, runner reports, events."""
