"""What a `kubernetes` task may say in its params. Pure; used at submit and by the runner."""

from __future__ import annotations

import re
from typing import Any

ALLOWED = {"image", "command", "args", "env", "resources", "image_pull_policy"}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by LAF for the pod (callback, token, identity, inputs, trace); a task cannot override them.
RESERVED_ENV_PREFIX = "LAF_"
RESERVED_ENV = {"TRACEPARENT"}


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(part, str) for part in value)


def _resources_problem(resources: Any) -> str | None:
    if not isinstance(resources, dict) or not set(resources) <= {"requests", "limits"}:
        return "params.resources may hold only 'requests' and 'limits'"
    for kind, amounts in resources.items():
        if not isinstance(amounts, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in amounts.items()
        ):
            return (
                f"params.resources.{kind} must map resource names to quantities, e.g. cpu: '500m'"
            )
    return None


def kubernetes_params_problem(params: dict[str, Any]) -> str | None:
    unknown = sorted(set(params) - ALLOWED)
    if unknown:
        return f"unknown params {', '.join(unknown)} (a kubernetes task takes {', '.join(sorted(ALLOWED))})"
    image = params.get("image")
    if not isinstance(image, str) or not image.strip():
        return "params.image must name a container image, e.g. 'registry.example/laf/hplc:1.4'"
    for key in ("command", "args"):
        if key in params and not _strings(params[key]):
            return f"params.{key} must be a list of strings"
    env = params.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and _ENV_NAME.match(k) and isinstance(v, str) for k, v in env.items()
    ):
        return "params.env must map variable names to strings"
    reserved = sorted(k for k in env if k.startswith(RESERVED_ENV_PREFIX) or k in RESERVED_ENV)
    if reserved:
        return f"params.env cannot set {', '.join(reserved)} (LAF sets LAF_* and TRACEPARENT)"
    if "resources" in params:
        problem = _resources_problem(params["resources"])
        if problem:
            return problem
    if params.get("image_pull_policy", "IfNotPresent") not in PULL_POLICIES:
        return f"params.image_pull_policy must be one of {', '.join(sorted(PULL_POLICIES))}"
    return None
