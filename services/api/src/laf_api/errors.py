"""What the API's data-access layer raises when it cannot do what was asked.

app.py maps each to its status code in one place, with the message as `detail`.
"""

from __future__ import annotations


class NotFound(LookupError):
    """No such workflow, task or instrument (404)."""


class Refused(Exception):
    """The current state does not allow it (409); the message says why. Nothing changed."""


class Unacceptable(ValueError):
    """Well-formed but cannot be accepted as it stands (422): an unknown instrument, params
    its schema refuses, an executor no runner serves. The message names the task."""


class Forbidden(PermissionError):
    """A rule forbids this caller to do it (403), whatever their roles; the message names
    the rule (a signature's rules, for example)."""
