"""A `kubernetes` task through the whole stack, with the runner restarted while its Job runs.

kmock's emulator is the cluster (tests/kmock_cluster.py), served from this test's
event loop, so every blocking call on the stack runs in a thread. The runner
reaches it through a kubeconfig, as it would reach a real cluster.
"""

import asyncio

import kmock
import pytest

from laf_runner import k8s_spec
from tests.e2e.conftest import submit, wait_for_end
from tests.kmock_cluster import (
    JOBS,
    NS,
    PODS,
    Emulator,
    add_pod,
    requests,
    serving_jobs_and_pods,
    set_job_status,
    write_kubeconfig,
)

RUNNER = "k8s-runner"


@pytest.fixture
async def cluster():
    async with Emulator() as emulator, kmock.Server(emulator):
        serving_jobs_and_pods(emulator)
        yield emulator


@pytest.fixture
async def kube_runner(stack, cluster, tmp_path):
    config = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))

    async def start() -> None:
        stack.start(
            "runner",
            RUNNER,
            LAF_RUNNER_EXECUTORS="kubernetes",
            LAF_RUNNER_K8S_KUBECONFIG=str(config),
            LAF_RUNNER_K8S_NAMESPACE=NS,
            LAF_RUNNER_HEARTBEAT_S="1",
        )
        await asyncio.to_thread(stack.wait_ready, 30, [RUNNER])

    await start()
    yield start
    if RUNNER in stack.processes:
        await asyncio.to_thread(stack.stop, RUNNER)


async def only_job(cluster) -> dict:
    async with asyncio.timeout(15):
        while not (created := requests(cluster, "POST", JOBS)):
            await asyncio.sleep(0.05)
    [create] = created
    return create.data


async def test_a_restarted_runner_keeps_following_its_job_and_reports_it(
    api, stack, cluster, kube_runner
):
    document = {
        "name": "integrate on the cluster",
        "tasks": [
            {"name": "prep", "executor": "noop", "params": {"outputs": {"mass_mg": 50.2}}},
            {
                "name": "integrate",
                "executor": "kubernetes",
                "depends_on": ["prep"],
                "timeout_s": 600,
                "params": {"image": "registry.example/laf/integrate:2.0", "args": ["--peaks", "3"]},
            },
        ],
    }
    workflow_id = await submit(api, document)
    job = await only_job(cluster)
    name = job["metadata"]["name"]
    assert job["metadata"]["labels"][k8s_spec.RUNNER] == RUNNER
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LAF_INPUTS_JSON"] == '{"prep":{"mass_mg":50.2}}'
    assert env["LAF_CALLBACK_URL"] == f"{stack.api_url}/api/webhooks/tasks"

    await asyncio.to_thread(stack.stop, RUNNER)  # a rollout: SIGTERM while the Job runs
    assert not requests(cluster, "DELETE", name), "a stopping runner must leave its Jobs running"
    await kube_runner()  # the same runner id comes back and finds the Job by its labels

    cluster[f"get {PODS}/{name}-x7k2p/log"] << b"3 peaks integrated\n"
    await add_pod(cluster, name, {"terminated": {"exitCode": 0}}, phase="Succeeded")
    await set_job_status(
        cluster, name, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
    )
    workflow = await wait_for_end(api, workflow_id, 30)
    integrate = workflow["tasks"][1]
    assert workflow["status"] == "succeeded", integrate["error"]
    assert integrate["outputs"]["job"] == name
    assert integrate["outputs"]["stdout_tail"] == "3 peaks integrated\n"
    assert len(requests(cluster, "POST", JOBS)) == 1  # followed again, never created twice
