"""Where laf finds the API and its credential.

The URL and the token each come from, in this order: `--url` / `--token`, then
`LAF_URL` / `LAF_TOKEN`, then the config file `laf login` writes
(`$XDG_CONFIG_HOME/laf/config.json`, else `~/.config/laf/config.json`, mode
0600). The URL defaults to http://127.0.0.1:8000. The file's token belongs to the
URL it was made at: it is never sent to another one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from laf_cli.errors import USAGE, CliError

DEFAULT_URL = "http://127.0.0.1:8000"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "laf" / "config.json"


def normal_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"the API URL must start with http:// or https:// (got {url!r})", USAGE)
    return url


def read_config() -> dict[str, Any]:
    """The saved login, or {} when there is none."""
    path = config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", USAGE) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise CliError(f"{path} is not JSON; delete it and run `laf login`", USAGE) from None
    return data if isinstance(data, dict) else {}


def write_config(data: dict[str, Any]) -> Path:
    """Save `data` readable by this user only (0600, in a 0700 folder), never wider even
    for a moment."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        out.write(json.dumps(data, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class Target:
    """The API to call and the credential to send, with where each came from."""

    url: str
    url_from: str
    token: str | None
    token_from: str | None


def resolve(url_flag: str | None, token_flag: str | None) -> Target:
    saved = read_config()
    saved_url = normal_url(saved["url"]) if isinstance(saved.get("url"), str) else None
    if url_flag:
        url, url_from = normal_url(url_flag), "--url"
    elif os.environ.get("LAF_URL"):
        url, url_from = normal_url(os.environ["LAF_URL"]), "LAF_URL"
    elif saved_url:
        url, url_from = saved_url, str(config_path())
    else:
        url, url_from = DEFAULT_URL, "default"
    token: str | None
    if token_flag:
        token, token_from = token_flag, "--token"
    elif os.environ.get("LAF_TOKEN"):
        token, token_from = os.environ["LAF_TOKEN"], "LAF_TOKEN"
    elif saved.get("token") and saved_url == url:
        token, token_from = str(saved["token"]), str(config_path())
    else:
        token, token_from = None, None
    return Target(url, url_from, token, token_from)
