"""The batch/v1 Job for one attempt of a `kubernetes` task (DESIGN §6). Pure: no I/O.

One attempt, one Job, with a name derived from the task and the attempt, so
creating it twice is a 409 (the runner then watches the Job that exists
instead of starting the work again). The labels say whose it is:
`laf.io/workflow`, `laf.io/task`, `laf.io/attempt`, `laf.io/runner` (who
created it) and `laf.io/pool` (the runners that may adopt it: LAF_RUNNER_POOL,
or the runner's id when it has no pool).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from typing import Any

from laf_core.contracts.reports import ClaimedTask
from laf_core.telemetry import task_traceparent
from laf_runner.settings import RunnerSettings

WORKFLOW = "laf.io/workflow"
TASK = "laf.io/task"
ATTEMPT = "laf.io/attempt"
RUNNER = "laf.io/runner"
POOL = "laf.io/pool"
MANAGED_BY = "app.kubernetes.io/managed-by"
TASK_NAME_ANNOTATION = "laf.io/task-name"
RUNNER_ANNOTATION = "laf.io/runner-id"
TIMEOUT_ANNOTATION = "laf.io/timeout-s"
CONTAINER = "task"
UID = 10001  # like LAF's own image: never root
MAX_INPUTS_BYTES = 256 * 1024  # a Job object must stay well under etcd's 1.5 MiB


class SpecError(ValueError):
    """The task cannot become a Job (e.g. its inputs are too large for the pod's environment)."""


@dataclass(frozen=True)
class JobDefaults:
    namespace: str
    service_account: str = ""
    callback_url: str = "http://127.0.0.1:8000"
    ttl_after_finished_s: int = 3600
    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"
    image_pull_secret: str = ""

    @classmethod
    def from_settings(cls, settings: RunnerSettings) -> JobDefaults:
        return cls(
            namespace=settings.k8s_namespace,
            service_account=settings.k8s_service_account,
            callback_url=settings.k8s_callback_url or settings.api_url,
            ttl_after_finished_s=settings.k8s_ttl_after_finished_s,
            cpu_request=settings.k8s_cpu_request,
            memory_request=settings.k8s_memory_request,
            cpu_limit=settings.k8s_cpu_limit,
            memory_limit=settings.k8s_memory_limit,
            image_pull_secret=settings.k8s_image_pull_secret,
        )


def label_value(text: str) -> str:
    """`text` as a valid label value: [A-Za-z0-9._-], at most 63, alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return value.strip("._-")


def job_name(task_name: str, task_id: uuid.UUID, attempt: int) -> str:
    """A DNS-1123 name unique to the attempt, readable in `kubectl get jobs`."""
    slug = re.sub(r"[^a-z0-9-]+", "-", task_name.lower()).strip("-")[:30].strip("-") or "task"
    return f"laf-{slug}-{task_id.hex[:12]}-{attempt}"


def labels(task: ClaimedTask, runner_id: str, pool: str = "") -> dict[str, str]:
    return {
        MANAGED_BY: "laf",
        WORKFLOW: str(task.workflow_id),
        TASK: str(task.task_id),
        ATTEMPT: str(task.attempt),
        RUNNER: label_value(runner_id),
        POOL: label_value(pool or runner_id),
    }


def _environment(task: ClaimedTask, defaults: JobDefaults, token: str) -> list[dict[str, str]]:
    inputs = json.dumps(task.inputs, separators=(",", ":"))
    if len(inputs.encode()) > MAX_INPUTS_BYTES:
        raise SpecError(
            f"the inputs are {len(inputs.encode())} bytes; a kubernetes task takes at most "
            f"{MAX_INPUTS_BYTES} (pass a reference to large data instead)"
        )
    laf = {
        "LAF_CALLBACK_URL": defaults.callback_url.rstrip("/") + "/api/webhooks/tasks",
        "LAF_TASK_TOKEN": token,
        "LAF_WORKFLOW_ID": str(task.workflow_id),
        "LAF_TASK_ID": str(task.task_id),
        "LAF_TASK_NAME": task.name,
        "LAF_ATTEMPT": str(task.attempt),
        "LAF_INPUTS_JSON": inputs,
        "TRACEPARENT": task_traceparent(task.workflow_id, task.task_id),
    }
    own = task.params.get("env") or {}
    return [{"name": k, "value": v} for k, v in {**own, **laf}.items()]


def _resources(task: ClaimedTask, defaults: JobDefaults) -> dict[str, dict[str, str]]:
    asked = task.params.get("resources") or {}
    base = {
        "requests": {"cpu": defaults.cpu_request, "memory": defaults.memory_request},
        "limits": {"cpu": defaults.cpu_limit, "memory": defaults.memory_limit},
    }
    return {
        kind: {**amounts, **{k: str(v) for k, v in (asked.get(kind) or {}).items()}}
        for kind, amounts in base.items()
    }


def build_job(
    task: ClaimedTask, defaults: JobDefaults, runner_id: str, token: str, pool: str = ""
) -> dict[str, Any]:
    """The Job manifest (a plain dict, as the API takes it) for this attempt."""
    params = task.params
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": params["image"],
        "imagePullPolicy": params.get("image_pull_policy", "IfNotPresent"),
        "env": _environment(task, defaults, token),
        "resources": _resources(task, defaults),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    for key in ("command", "args"):
        if params.get(key):
            container[key] = list(params[key])
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        # A task needs no Kubernetes API unless an account was configured for it.
        "automountServiceAccountToken": bool(defaults.service_account),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    if defaults.service_account:
        pod_spec["serviceAccountName"] = defaults.service_account
    if defaults.image_pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": defaults.image_pull_secret}]
    job_labels = labels(task, runner_id, pool)
    annotations = {TASK_NAME_ANNOTATION: task.name, RUNNER_ANNOTATION: runner_id}
    spec: dict[str, Any] = {
        "backoffLimit": 0,  # LAF decides retries, not the Job controller
        "ttlSecondsAfterFinished": defaults.ttl_after_finished_s,
        "template": {"metadata": {"labels": job_labels}, "spec": pod_spec},
    }
    if task.timeout_s:
        spec["activeDeadlineSeconds"] = math.ceil(task.timeout_s)
        annotations[TIMEOUT_ANNOTATION] = f"{task.timeout_s:g}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(task.name, task.task_id, task.attempt),
            "namespace": defaults.namespace,
            "labels": job_labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def belongs_to(job: dict[str, Any], task_id: uuid.UUID, attempt: int) -> bool:
    """True if `job` is the Job of that attempt (a name clash with another task is not)."""
    found = (job.get("metadata") or {}).get("labels") or {}
    return found.get(TASK) == str(task_id) and found.get(ATTEMPT) == str(attempt)


def owned_by(job: dict[str, Any], runner_id: str) -> bool:
    found = (job.get("metadata") or {}).get("labels") or {}
    return found.get(MANAGED_BY) == "laf" and found.get(RUNNER) == label_value(runner_id)


def in_pool(job: dict[str, Any], pool: str) -> bool:
    """True if `job` is LAF's and any runner of `pool` may adopt it."""
    found = (job.get("metadata") or {}).get("labels") or {}
    return found.get(MANAGED_BY) == "laf" and found.get(POOL) == label_value(pool)


def claimed_from_job(job: dict[str, Any]) -> ClaimedTask:
    """The attempt a Job runs, rebuilt from its labels (re-attaching after a restart).

    Raises ValueError for a Job without LAF's labels. The timeout is left to the
    Job's own activeDeadlineSeconds, which kept counting while no runner watched.
    """
    meta = job.get("metadata") or {}
    found = meta.get("labels") or {}
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or [{}]
    return ClaimedTask(
        task_id=uuid.UUID(found[TASK]),
        workflow_id=uuid.UUID(found[WORKFLOW]),
        name=(meta.get("annotations") or {}).get(TASK_NAME_ANNOTATION, meta.get("name", "")),
        executor="kubernetes",
        attempt=int(found[ATTEMPT]),
        params={"image": containers[0].get("image", "")},
        timeout_s=None,
        inputs={},
    )
