"""kmock's Kubernetes emulator as the tests' cluster (DESIGN §9 lists what it lacks).

kmock has no Job controller and no kubelet: tests play them, creating a Job's pod
and patching the Job's and the pod's status through the emulator's API (which
sends the watch events). It ignores label and field selectors, fills in no
resourceVersion, and reads `watch=true` only in lower case: `Emulator` accepts
kubernetes-asyncio's `watch=True`.
"""

from pathlib import Path

import kmock

NS = "laf-jobs"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
PODS = f"/api/v1/namespaces/{NS}/pods"


class Emulator(kmock.KubernetesEmulator):
    async def __call__(self, raw_request):
        if raw_request.query.get("watch") == "True":
            raw_request = raw_request.clone(rel_url=raw_request.rel_url.update_query(watch="true"))
        return await super().__call__(raw_request)


def serving_jobs_and_pods(emulator: Emulator) -> None:
    emulator.resources["batch/v1/jobs"] = kmock.ResourceInfo(kind="Job", namespaced=True)
    emulator.resources["v1/pods"] = kmock.ResourceInfo(kind="Pod", namespaced=True)


def write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: kmock, cluster: {{server: "{url.rstrip("/")}"}}}}]
users: [{{name: tester, user: {{token: not-checked}}}}]
contexts: [{{name: kmock, context: {{cluster: kmock, user: tester}}}}]
current-context: kmock
"""
    )
    return path


async def add_pod(emulator: Emulator, job: str, state: dict, phase: str = "Running") -> str:
    """What the Job controller and the kubelet would do: a pod labelled with the Job's name."""
    pod = f"{job}-x7k2p"
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod, "namespace": NS, "labels": {"job-name": job}},
        "spec": {"containers": [{"name": "task", "image": "x"}]},
        "status": {"phase": phase, "containerStatuses": [{"name": "task", "state": state}]},
    }
    response = await emulator.post(PODS, json=body)
    assert response.status in (200, 201), await response.text()
    return pod


async def set_pod_status(
    emulator: Emulator, pod: str, state: dict, phase: str = "Succeeded"
) -> None:
    status = {"phase": phase, "containerStatuses": [{"name": "task", "state": state}]}
    response = await emulator.patch(f"{PODS}/{pod}/status", json={"status": status})
    assert response.status == 200, await response.text()


async def set_job_status(emulator: Emulator, job: str, status: dict) -> None:
    response = await emulator.patch(f"{JOBS}/{job}/status", json={"status": status})
    assert response.status == 200, await response.text()


def requests(emulator: Emulator, method: str, path_part: str) -> list:
    return [r for r in emulator if r.method == method and path_part in str(r.url)]
