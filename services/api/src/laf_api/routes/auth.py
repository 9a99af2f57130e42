"""Logging in, tokens and users."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status

from laf_api.auth import SESSION_COOKIE, Admin, Anyone, Viewer, forget_credentials
from laf_api.deps import Pool, Settings
from laf_api.schemas import (
    LoginAnswer,
    LoginRequest,
    Me,
    NewToken,
    TokenOut,
    TokenRequest,
    UserIn,
    UserOut,
    UserPatch,
)
from laf_api.store import auth as store
from laf_core.contracts.roles import effective
from laf_core.credentials import new_token

router = APIRouter(tags=["auth"])

_LOGIN_ANSWERS: dict[int | str, dict[str, object]] = {
    401: {"description": "Wrong name or password, or the account is disabled"},
    429: {"description": "Too many failed logins: the account is locked for a while"},
}


@router.post("/api/auth/login", response_model=LoginAnswer, responses=_LOGIN_ANSWERS)
async def login(
    body: LoginRequest, response: Response, pool: Pool, settings: Settings
) -> LoginAnswer:
    """A session token for a name and password. The web app gets it as an HttpOnly
    cookie too; scripts send it as `Authorization: Bearer`."""
    async with pool.acquire() as conn:
        try:
            roles = await store.login(
                conn,
                body.username,
                body.password,
                settings.login_max_failures,
                settings.login_lockout_s,
            )
        except store.LoginLocked as exc:
            wait = max(1, int((exc.until - datetime.now(UTC)).total_seconds()))
            raise HTTPException(429, str(exc), headers={"Retry-After": str(wait)}) from None
        except store.LoginRefused:
            raise HTTPException(
                401,
                "wrong user name or password, or the account is disabled",
                headers={"WWW-Authenticate": 'Bearer realm="laf"'},
            ) from None
        secret, digest = new_token()
        token = await store.create_token(
            conn, digest, "session", "session", body.username, roles, settings.session_ttl_s
        )
    assert token.expires_at is not None
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        path="/",
    )
    user = Me.model_validate(
        {"name": body.username, "roles": roles, "trace_url_template": settings.trace_url_template}
    )
    return LoginAnswer(token=secret, expires_at=token.expires_at, user=user)


@router.post("/api/auth/logout", status_code=204)
async def logout(caller: Anyone, request: Request, response: Response, pool: Pool) -> None:
    """Ends the session (revokes the token this request carried) and clears the cookie."""
    if caller.token_id is not None:
        async with pool.acquire() as conn:
            await store.revoke_token(conn, uuid.UUID(caller.token_id), caller.name)
        forget_credentials(request)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/api/auth/me", response_model=Me)
async def me(caller: Anyone, settings: Settings) -> Me:
    """Who the credential belongs to and the roles it grants (and what the web app shows
    every user of this LAF: whether it is open, where traces are)."""
    return Me.model_validate(
        {
            "name": caller.name,
            "roles": sorted(caller.roles),
            "open_mode": caller.via == "open",
            "trace_url_template": settings.trace_url_template,
        }
    )


@router.post(
    "/api/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=NewToken,
    responses={
        403: {"description": "More roles than the caller holds, or another's token"},
        404: {"description": "No such user, or the user is disabled"},
    },
)
async def create_token(body: TokenRequest, caller: Viewer, pool: Pool) -> NewToken:
    """An API token for scripts and services. The secret is in this answer only."""
    if caller.via in ("oidc", "open"):
        raise HTTPException(409, "API tokens belong to LAF users; sign in as one to make one")
    owner = body.user or caller.name
    if owner != caller.name and not caller.holds("admin"):
        raise HTTPException(403, "this needs the admin role (a token for another user)")
    async with pool.acquire() as conn:
        owner_roles = await store.user_roles(conn, owner) if owner != caller.name else None
        allowed = effective(caller.roles) if owner_roles is None else frozenset(owner_roles)
        roles = body.roles if body.roles is not None else sorted(owner_roles or caller.roles)
        beyond = sorted(set(roles) - allowed)
        if beyond:
            raise HTTPException(403, f"a token cannot hold roles its owner lacks: {beyond}")
        secret, digest = new_token()
        token = await store.create_token(
            conn, digest, "api", body.name, owner, list(roles), body.expires_in_s
        )
    return NewToken(**token.model_dump(), token=secret)


@router.get("/api/tokens", response_model=list[TokenOut])
async def list_tokens(caller: Viewer, pool: Pool) -> list[TokenOut]:
    """Your API tokens; an admin sees everyone's. Secrets are never shown again."""
    async with pool.acquire() as conn:
        return await store.list_tokens(conn, None if caller.holds("admin") else caller.name)


@router.delete(
    "/api/tokens/{token_id}",
    response_model=TokenOut,
    responses={404: {"description": "No such token (of yours)"}},
)
async def revoke_token(
    token_id: uuid.UUID, caller: Viewer, request: Request, pool: Pool
) -> TokenOut:
    """Revokes at once: the next request with it is a 401. An admin may revoke anyone's."""
    async with pool.acquire() as conn:
        owner = None if caller.holds("admin") else caller.name
        revoked = await store.revoke_token(conn, token_id, owner)
    forget_credentials(request)
    return revoked


@router.post(
    "/api/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={409: {"description": "A user with this name exists"}},
)
async def create_user(body: UserIn, caller: Admin, pool: Pool) -> UserOut:
    async with pool.acquire() as conn:
        return await store.create_user(conn, body, caller.actor)


@router.get("/api/users", response_model=list[UserOut])
async def list_users(_: Admin, pool: Pool) -> list[UserOut]:
    async with pool.acquire() as conn:
        return await store.list_users(conn)


@router.patch(
    "/api/users/{name}", response_model=UserOut, responses={404: {"description": "Unknown"}}
)
async def update_user(
    name: str, body: UserPatch, caller: Admin, request: Request, pool: Pool
) -> UserOut:
    """Change roles, disable (every token of the user stops working at once) or reset
    the password (which also lifts a lock-out)."""
    if name == caller.name and (body.disabled or (body.roles and "admin" not in body.roles)):
        raise HTTPException(409, "you cannot disable yourself or drop your own admin role")
    async with pool.acquire() as conn:
        updated = await store.update_user(conn, name, body)
    forget_credentials(request)
    return updated
