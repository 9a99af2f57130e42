"""Settings of the HTTP API, `laf-api` (prefix ``LAF_API_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ApiSettings(BaseSettings):
    """The HTTP API (prefix ``LAF_API_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = 10
    # Webhooks, runner heartbeats and their token checks use a pool of their own, so public
    # reads cannot starve them; waiting longer than the timeout for a connection answers 503
    # with Retry-After.
    report_pool_size: int = 4
    pool_acquire_timeout_s: float = 5.0
    # How long a token's owner and roles are remembered (0: looked up on every call). A
    # revoke, a disabled user or changed roles are heard at once (laf_credentials).
    credential_cache_s: float = 30.0
    # Limits (README "Limits").
    max_body_bytes_anonymous: int = 64 * 1024  # until the credential is checked (413)
    max_body_bytes: int = 16 * 1024 * 1024  # after (413)
    max_json_depth: int = 64  # nesting of any JSON body (422)
    max_header_bytes: int = 4096  # any one header (422)…
    max_credential_header_bytes: int = 16 * 1024  # …but Authorization and Cookie (JWTs)
    max_workflow_tasks: int = 10_000  # tasks in one workflow (422)
    max_workflow_dependencies: int = 100_000  # depends_on entries in one workflow (422)
    max_workflow_data_bytes: int = 4 * 1024 * 1024  # params and labels of a workflow, JSON (422)
    max_outputs_bytes: int = 1024 * 1024  # outputs of one attempt, JSON (413)
    max_event_streams: int = 1000  # SSE connections per API process (429)
    max_event_streams_per_caller: int = 50  # …and per caller (429)
    frontend_dir: str = ""  # a built frontend to serve at /; empty: the bundled placeholder
    signature_window_s: int = 300
    # A workflow naming an executor that no runner heard from in this window serves is refused
    # (422), unless no runner at all was heard from (an outage: the tasks wait in their queues).
    runner_liveness_s: float = 300.0
    # Who may do what (README "Users and roles").
    session_ttl_s: int = 8 * 3600  # a login's session token
    login_max_failures: int = 5  # failed logins in a row that lock the account…
    login_lockout_s: int = 300  # …for this long
    # Host headers answered (DNS rebinding: a web page cannot re-point a name at a local
    # install). "*" allows any; a deployment lists its public names.
    allowed_hosts: list[str] = ["127.0.0.1", "localhost", "[::1]"]
    cors_origins: list[str] = []  # browsers on other origins get no CORS grant unless listed
    # How often the chain heads that moved are signed (README "Part 11"): a row newer than
    # the last checkpoint is proven only by its links.
    audit_checkpoint_s: float = 10.0
    blob_max_bytes: int = 64 * 1024 * 1024  # one stored piece of raw data (POST /api/blobs)
    # The workers' probe servers GET /api/system asks for /readyz, by name:
    # `listener=http://127.0.0.1:9101,coordinator=http://…` (`make run` sets it).
    service_probes: Annotated[dict[str, str], NoDecode] = {}
    probe_timeout_s: float = 1.0  # past this a worker counts as not ready
    # Where the web app links a workflow's trace: `{trace_id}` is replaced by its trace id
    # (e.g. Jaeger's `http://127.0.0.1:16686/trace/{trace_id}`); empty: no link.
    trace_url_template: str = Field("", validation_alias="LAF_TRACE_URL_TEMPLATE")

    @field_validator("service_probes", mode="before")
    @classmethod
    def _probes_from_list(cls, value: object) -> object:
        """`name=url,name=url` as a dict; a dict (tests, keyword arguments) as it is."""
        if not isinstance(value, str):
            return value
        probes = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            name, sep, url = item.partition("=")
            if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"LAF_API_SERVICE_PROBES: {item!r} is not name=http://host:port")
            probes[name.strip()] = url.strip().rstrip("/")
        return probes


class OidcSettings(BaseSettings):
    """Single sign-on (prefix ``LAF_OIDC_``): on when `issuer` is set."""

    model_config = SettingsConfigDict(env_prefix="LAF_OIDC_", extra="ignore")

    issuer: str = ""
    audience: str = ""
    roles_claim: str = "roles"  # a list of LAF role names, or a space-separated string
    name_claim: str = "preferred_username"  # else `sub`
    jwks_url: str = ""  # default: from the issuer's /.well-known/openid-configuration
