"""Who may do what: the roles a user or token holds (the auth issue's role table).

A role includes the roles below it: `admin` may do what `operator` and `reviewer`
may, and every person's role includes `viewer`. `runner` is a service's role: it
claims, heartbeats and reports attempts, and nothing else (not even reading).
"""

from __future__ import annotations

from typing import Literal, get_args

from typing_extensions import TypeAliasType

Role = TypeAliasType("Role", Literal["viewer", "operator", "reviewer", "admin", "runner"])
ROLES: tuple[str, ...] = get_args(Role.__value__)

INCLUDES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"viewer"}),
    "operator": frozenset({"operator", "viewer"}),
    "reviewer": frozenset({"reviewer", "viewer"}),
    "admin": frozenset({"admin", "operator", "reviewer", "viewer"}),
    "runner": frozenset({"runner"}),
}


def effective(roles: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> frozenset[str]:
    """Every role that `roles` grant, the included ones too."""
    return frozenset().union(*(INCLUDES.get(r, frozenset()) for r in roles))
