"""Single sign-on: bearer JWTs from the organisation's identity provider (optional).

With LAF_OIDC_ISSUER set, the issuer's discovery document names its JWKS; tokens
are verified with PyJWT against those published keys (signature, issuer, audience,
expiry), and the roles come from a configured claim. Keys are fetched off the event
loop and cached; an unknown key id refetches them once (the provider rotated).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import jwt
from fastapi import HTTPException

from laf_api.principal import Principal, unauthorized
from laf_api.settings import OidcSettings
from laf_core.contracts.roles import ROLES

_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]


class OidcVerifier:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            issuer = self.settings.issuer.rstrip("/")
            uri = self.settings.jwks_url
            if not uri:
                with urllib.request.urlopen(  # the issuer the admin configured
                    f"{issuer}/.well-known/openid-configuration", timeout=10
                ) as answer:
                    uri = json.load(answer)["jwks_uri"]
            self._jwks = jwt.PyJWKClient(uri, cache_keys=True, lifespan=300, timeout=10)
        return self._jwks

    def _claims(self, token: str) -> dict[str, Any]:
        key = self._client().get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=_ALGORITHMS,
            audience=self.settings.audience or None,
            issuer=self.settings.issuer,
            options={"require": ["exp", "iss"], "verify_aud": bool(self.settings.audience)},
            leeway=30,
        )
        return claims

    async def principal(self, token: str) -> Principal:
        try:
            claims = await asyncio.to_thread(self._claims, token)
        except (jwt.PyJWTError, OSError, KeyError, ValueError) as exc:
            raise unauthorized(f"the identity provider's token is not valid: {exc}") from None
        name = claims.get(self.settings.name_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise unauthorized(f"the token names no user ({self.settings.name_claim} or sub)")
        granted = claims.get(self.settings.roles_claim, [])
        if isinstance(granted, str):
            granted = granted.split()
        roles = frozenset(r for r in granted if isinstance(r, str) and r in ROLES)
        if not roles:
            raise HTTPException(
                403, f"the identity provider grants no LAF role (claim {self.settings.roles_claim})"
            )
        return Principal(name, roles - {"runner"}, via="oidc")
