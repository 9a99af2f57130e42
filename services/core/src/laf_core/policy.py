"""What code a task may run: the administrator's allow-lists (prefix ``LAF_``).

Checked at submit by the API (a 422 naming the task and the rule) and again by the
runner before it runs anything (a failed attempt naming the rule), so a document
that slipped past one, or a policy tightened since, still runs nothing unlisted.

- `python`: functions only in modules under LAF_TASK_PYTHON_MODULES (module prefixes);
- `local`: only programs in LAF_TASK_LOCAL_PROGRAMS (argv[0] as written, or a glob
  such as `/opt/lab/bin/*`); empty: the local executor refuses everything;
- `kubernetes`: only images under LAF_TASK_IMAGE_PREFIXES, resources at most
  LAF_TASK_MAX_CPU and LAF_TASK_MAX_MEMORY; empty prefixes: no image;
- `http`: instruments whose endpoint matches LAF_INSTRUMENT_ENDPOINTS
  (`scheme://host[:port]`, host and port may be globs); link-local and cloud
  metadata addresses are refused whatever the list says.

Lists are comma-separated. Pure: no I/O (the runner resolves names itself).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict

# Hosts that answer with cloud credentials; never an instrument.
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.azure.com"})
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTOR = {
    None: 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
}  # fmt: skip


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def quantity(text: object) -> float | None:
    """A Kubernetes quantity ("500m", "2", "512Mi") as a number, or None if it is not one."""
    found = _QUANTITY.match(str(text).strip())
    return float(found.group(1)) * _FACTOR[found.group(2)] if found else None


def forbidden_address(host: str) -> str | None:
    """Why `host` (a name or an address) is never an instrument, or None."""
    bare = host.strip("[]").lower().rstrip(".")
    if bare in METADATA_HOSTS:
        return f"{host} is a cloud metadata service"
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if address.is_link_local or address == ipaddress.ip_address("fd00:ec2::254"):
        return f"{host} is a link-local or metadata address"
    return None


class TaskPolicy(BaseSettings):
    """The allow-lists; every field is a comma-separated list or a cap (prefix ``LAF_``)."""

    model_config = SettingsConfigDict(env_prefix="LAF_", extra="ignore")

    task_python_modules: str = "laf_runner.library"
    task_local_programs: str = ""
    task_image_prefixes: str = ""
    task_max_cpu: str = "4"
    task_max_memory: str = "8Gi"
    instrument_endpoints: str = ""

    def task_problem(self, executor: str, params: dict[str, Any]) -> str | None:
        """Which rule `params` break for `executor`, or None (well-formed params assumed)."""
        if executor == "python":
            return self._python_problem(str(params.get("function", "")))
        if executor == "local":
            return self._local_problem(params.get("command") or [""])
        if executor == "kubernetes":
            return self._image_problem(params)
        return None

    def _python_problem(self, function: str) -> str | None:
        module = function.partition(":")[0]
        allowed = _listed(self.task_python_modules)
        if any(module == p or module.startswith(p + ".") for p in allowed):
            return None
        return (
            f"python module '{module}' is not allowed (LAF_TASK_PYTHON_MODULES: "
            f"{', '.join(allowed) or 'none'})"
        )

    def _local_problem(self, command: list[Any]) -> str | None:
        program = str(command[0])
        allowed = _listed(self.task_local_programs)
        if not allowed:
            return "the local executor runs no program here (LAF_TASK_LOCAL_PROGRAMS is empty)"
        if any(fnmatch.fnmatchcase(program, pattern) for pattern in allowed):
            return None
        return f"program '{program}' is not allowed (LAF_TASK_LOCAL_PROGRAMS: {', '.join(allowed)})"

    def _image_problem(self, params: dict[str, Any]) -> str | None:
        image = str(params.get("image", ""))
        prefixes = _listed(self.task_image_prefixes)
        if not any(image.startswith(prefix) for prefix in prefixes):
            return (
                f"image '{image}' is not under an allowed prefix (LAF_TASK_IMAGE_PREFIXES: "
                f"{', '.join(prefixes) or 'none'})"
            )
        caps = {"cpu": self.task_max_cpu, "memory": self.task_max_memory}
        for kind, amounts in (params.get("resources") or {}).items():
            for resource, amount in (amounts or {}).items():
                cap = caps.get(resource)
                asked, most = quantity(amount), quantity(cap)
                if cap is None or asked is None or most is None:
                    return f"resources.{kind}.{resource}: {amount!r} is not a cpu or memory amount"
                if asked > most:
                    return f"resources.{kind}.{resource}: {amount} is more than the cap of {cap}"
        return None

    def endpoint_problem(self, endpoint: str) -> str | None:
        """Why an instrument may not have `endpoint`, or None."""
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"endpoint '{endpoint}' must be an http:// or https:// URL with a host"
        if parts.query or parts.fragment or "?" in endpoint or "#" in endpoint:
            return f"endpoint '{endpoint}' must not carry a query or fragment"
        forbidden = forbidden_address(parts.hostname)
        if forbidden:
            return f"endpoint '{endpoint}': {forbidden}"
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return f"endpoint '{endpoint}' has an invalid port"
        for pattern in _listed(self.instrument_endpoints):
            allowed = urlsplit(pattern if "://" in pattern else f"http://{pattern}")
            host, _, want_port = (
                allowed.netloc.rpartition(":")
                if ":" in allowed.netloc
                else (allowed.netloc, "", "")
            )
            if (
                allowed.scheme == parts.scheme
                and fnmatch.fnmatchcase(parts.hostname, host.lower())
                and fnmatch.fnmatchcase(
                    str(port), want_port or str(443 if parts.scheme == "https" else 80)
                )
            ):
                return None
        return (
            f"endpoint '{endpoint}' is not allowed (LAF_INSTRUMENT_ENDPOINTS: "
            f"{self.instrument_endpoints or 'none'})"
        )
