"""What a Job and its pods say about an attempt: running, succeeded or failed, and why. Pure.

Works on the API's JSON (camelCase dicts, as watch events carry them). With
`backoffLimit: 0` and `restartPolicy: Never` one pod runs, so its first
container's state explains a failure: a non-zero exit code, an image that
cannot be pulled (the Job itself would wait for that until its deadline, so
the executor fails it at once and deletes the Job), or a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# A pod stuck in one of these will not start by itself: fail now, not at the deadline.
IMAGE_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
START_ERRORS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


@dataclass(frozen=True)
class Verdict:
    state: Literal["running", "succeeded", "failed"]
    error: str = ""
    exit_code: int | None = None
    pod: str | None = None  # the pod whose log tells more
    delete_job: bool = False  # the Job would linger (a pod that can never start)


def _conditions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = job.get("status") or {}
    return {
        c.get("type", ""): c
        for c in status.get("conditions") or []
        if str(c.get("status", "")).lower() == "true"
    }


def _first_container(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0] if statuses else {}


def _pod_name(pod: dict[str, Any]) -> str | None:
    return (pod.get("metadata") or {}).get("name")


def _exit(pod: dict[str, Any]) -> tuple[int, str] | None:
    """(exit code, reason) of the pod's terminated container, if it has ended."""
    container = _first_container(pod)
    terminated = (container.get("state") or {}).get("terminated") or (
        container.get("lastState") or {}
    ).get("terminated")
    if not terminated or terminated.get("exitCode") is None:
        return None
    return int(terminated["exitCode"]), str(terminated.get("reason") or "")


def _failed_exit(pods: list[dict[str, Any]]) -> Verdict | None:
    for pod in pods:
        ended = _exit(pod)
        if ended and ended[0] != 0:
            code, reason = ended
            detail = f" ({reason})" if reason and reason != "Error" else ""
            return Verdict(
                "failed", f"exit code {code}{detail}", exit_code=code, pod=_pod_name(pod)
            )
    return None


def _cannot_start(pods: list[dict[str, Any]]) -> Verdict | None:
    for pod in pods:
        waiting = (_first_container(pod).get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        if reason in IMAGE_ERRORS or reason in START_ERRORS:
            kind = "image pull error" if reason in IMAGE_ERRORS else "container cannot start"
            message = waiting.get("message") or ""
            return Verdict(
                "failed",
                f"{kind}: {reason}" + (f": {message}" if message else ""),
                pod=_pod_name(pod),
                delete_job=True,
            )
    return None


def judge(job: dict[str, Any], pods: list[dict[str, Any]]) -> Verdict:
    """The attempt's state from the Job and the pods labelled with its name."""
    conditions = _conditions(job)
    status = job.get("status") or {}
    last_pod = _pod_name(pods[-1]) if pods else None
    if "Complete" in conditions or (status.get("succeeded") or 0) > 0:
        ended = next((e for e in map(_exit, pods) if e), None)
        return Verdict("succeeded", exit_code=ended[0] if ended else 0, pod=last_pod)
    failed = conditions.get("Failed") or conditions.get("FailureTarget")
    if failed is not None or (status.get("failed") or 0) > 0:
        reason = (failed or {}).get("reason") or ""
        if reason == "DeadlineExceeded":
            deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
            limit = f" of {deadline}s" if deadline else ""
            return Verdict("failed", f"deadline exceeded: ran past its limit{limit}", pod=last_pod)
        explained = _failed_exit(pods) or _cannot_start(pods)
        if explained:
            return explained
        message = (failed or {}).get("message") or ""
        text = ": ".join(part for part in ("Job failed", reason, message) if part)
        return Verdict("failed", text, pod=last_pod)
    return _failed_exit(pods) or _cannot_start(pods) or Verdict("running", pod=last_pod)
