"""Who is calling, and may they: credentials, principals and the role check.

Every route under /api declares the role it needs with `Needs("operator")` (or one
of the aliases below); the dependency finds the caller's credential, resolves it
to a `Principal` and answers 401 (no or bad credential, with WWW-Authenticate) or
403 (naming the role needed). A credential is one of:

- a LAF token (`laf_…`): a login's session token or an API token, as
  `Authorization: Bearer`, or the web app's session cookie (HttpOnly). A cookie
  only authenticates a state change that also carries `X-Requested-With`, which a
  cross-site form cannot send (CSRF);
- with LAF_OIDC_ISSUER set, a JWT from the organisation's identity provider;
- nothing at all with LAF_AUTH=off (development only): everyone is `user:anonymous`
  with every person's role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from laf_api.credential_cache import CredentialCache
from laf_api.deps import pool_for
from laf_api.oidc import OidcVerifier
from laf_api.principal import Principal, unauthorized
from laf_api.store import auth as store
from laf_core.credentials import TOKEN_PREFIX, bearer, digest

SESSION_COOKIE = "laf_session"
CSRF_HEADER = "X-Requested-With"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# LAF_AUTH=off: everyone may do everything, a runner's calls included.
OPEN = Principal("anonymous", frozenset({"admin", "runner"}), via="open")


async def principal(request: Request) -> Principal:
    """The caller, or 401. Resolved once per request (FastAPI caches dependencies)."""
    if request.app.state.common.auth == "off":
        return OPEN
    token = bearer(request.headers.get("Authorization"))
    via = "token"
    if token is None and (token := request.cookies.get(SESSION_COOKIE)):
        via = "cookie"
        if request.method not in _SAFE_METHODS and not request.headers.get(CSRF_HEADER):
            raise HTTPException(403, f"a change made with the session cookie needs {CSRF_HEADER}")
    if token is None:
        raise unauthorized("log in first: send Authorization: Bearer <token>")
    if token.startswith(TOKEN_PREFIX):
        found = await _token_owner(request, digest(token))
        if found is None:
            raise unauthorized("the token is unknown, expired or revoked; log in again")
        return Principal(found.name, found.roles, found.token_id, via)
    verifier: OidcVerifier | None = request.app.state.oidc
    if verifier is not None and token.count(".") == 2:
        return await verifier.principal(token)
    raise unauthorized("not a LAF token" + ("" if verifier is None else " nor a valid JWT"))


async def _token_owner(request: Request, token_digest: str) -> store.TokenOwner | None:
    cache: CredentialCache = request.app.state.credentials
    found = cache.get(token_digest)
    if found is None:
        generation = cache.generation
        async with pool_for(request).acquire() as conn:
            found = await store.principal_of(conn, token_digest)
        if found is not None:
            cache.put(token_digest, found, found.expires_at, generation)
    return found


def forget_credentials(request: Request) -> None:
    """After a change to tokens or users: this process forgets before it answers (the
    others when they hear laf_credentials)."""
    cache: CredentialCache = request.app.state.credentials
    cache.forget()


class Needs:
    """The dependency a route declares: the caller must hold `role` (or one including it)."""

    def __init__(self, role: str) -> None:
        self.role = role

    async def __call__(self, caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if not caller.holds(self.role):
            held = ", ".join(sorted(caller.roles)) or "none"
            raise HTTPException(403, f"this needs the {self.role} role (yours: {held})")
        return caller


Viewer = Annotated[Principal, Depends(Needs("viewer"))]
Operator = Annotated[Principal, Depends(Needs("operator"))]
Admin = Annotated[Principal, Depends(Needs("admin"))]
Reviewer = Annotated[Principal, Depends(Needs("reviewer"))]
RunnerService = Annotated[Principal, Depends(Needs("runner"))]
Anyone = Annotated[Principal, Depends(principal)]
