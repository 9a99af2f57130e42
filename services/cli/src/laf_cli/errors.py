"""What `laf` says when something goes wrong: one line on stderr and an exit code.

| code | meaning |
|---|---|
| 0 | done (`watch`, `submit --wait`: the workflow succeeded) |
| 1 | the workflow failed or was cancelled (`watch`, `submit --wait`) |
| 2 | usage: bad arguments, an unreadable or invalid file; or the API is unreachable |
| 3 | the API refused: not logged in (401), role (403), unknown (404), state (409), invalid (422) |
"""

from __future__ import annotations

from typing import Any

import httpx

OK = 0
WORKFLOW_FAILED = 1
USAGE = 2
REFUSED = 3
INTERRUPTED = 130


class CliError(Exception):
    """An error the user can act on: the message is printed alone, without a traceback."""

    def __init__(
        self,
        message: str,
        exit_code: int = REFUSED,
        response: httpx.Response | None = None,
        bare: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.response = response  # the API's answer, when it refused
        self.bare = bare  # lines that speak for themselves (FILE:LINE:COL: …): no "laf:"


class Unreachable(CliError):
    """No answer from the API at all (refused connection, timeout, broken stream)."""


def unreachable(url: str, exc: Exception) -> Unreachable:
    reason = str(exc) or type(exc).__name__
    return Unreachable(
        f"cannot reach the LAF API at {url} ({reason}); is it running? "
        "Point laf at it with --url or LAF_URL",
        USAGE,
    )


def detail_of(response: httpx.Response) -> str:
    """The API's `detail` as one readable string (422 lists: `where: message; …`)."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(_one_error(item) for item in detail)
    return str(detail)


def _one_error(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc", []) if part != "body"]
    message = str(item.get("msg", item))
    return f"{'.'.join(loc)}: {message}" if loc else message


def refusal(response: httpx.Response, sent_token: bool) -> CliError:
    """The one-line message for an API answer of 400 or more."""
    error = _refusal(response, sent_token)
    error.response = response
    return error


def _refusal(response: httpx.Response, sent_token: bool) -> CliError:
    status = response.status_code
    detail = detail_of(response)
    if status == 401:
        if not sent_token:
            return CliError("not logged in: run `laf login`, or pass --token or set LAF_TOKEN")
        reason = detail.removesuffix("; log in again")
        return CliError(
            f"the token was refused ({reason}): run `laf login`, or pass a valid --token"
        )
    if status == 403:
        return CliError(f"not allowed: {detail}")
    if status == 404:
        return CliError(f"not found: {detail}")
    if status == 409:
        return CliError(f"refused: {detail}")
    if status == 422:
        return CliError(f"invalid: {detail}")
    if status == 429:
        wait = response.headers.get("Retry-After")
        return CliError(f"{detail}" + (f" (try again in {wait} s)" if wait else ""))
    if status >= 500:
        return CliError(f"the API failed ({status}): {detail}")
    return CliError(f"the API answered {status}: {detail}")
