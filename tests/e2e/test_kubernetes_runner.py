"""A `kubernetes` task through the whole stack, with the runner restarted while its Job runs.

kmock's emulator is the cluster (tests/kmock_cluster.py), served from this test's
event loop, so every blocking call on the stack runs in a thread. The runner
reaches it through a kubeconfig, as it would reach a real cluster.
"""

import asyncio

import kmock
import pytest

from laf_runner.executors.kubernetes import spec as k8s_spec
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


async def test_a_killed_runners_job_is_adopted_by_another_runner_of_its_pool(
    api, stack, cluster, tmp_path
):
    """Two runners of the pool `kubernetes`: the one that created the Job is killed (a
    pod lost with its node) and not restarted; the other adopts the Job (its lease
    ended with the first one's broker connection) and reports its result."""
    config = write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))
    pool = {
        "LAF_RUNNER_EXECUTORS": "kubernetes",
        "LAF_RUNNER_K8S_KUBECONFIG": str(config),
        "LAF_RUNNER_K8S_NAMESPACE": NS,
        "LAF_RUNNER_HEARTBEAT_S": "1",
        "LAF_RUNNER_POOL": "kubernetes",
        "LAF_RUNNER_ADOPT_S": "0.5",
    }
    stack.start("runner", "pool-a", LAF_RUNNER_WORKDIR=str(tmp_path / "a"), **pool)
    await asyncio.to_thread(stack.wait_ready, 30, ["pool-a"])
    document = {
        "name": "adopted on the cluster",
        "tasks": [
            {
                "name": "integrate",
                "executor": "kubernetes",
                "timeout_s": 600,
                "params": {"image": "registry.example/laf/integrate:2.0"},
            }
        ],
    }
    try:
        workflow_id = await submit(api, document)
        job = await only_job(cluster)
        name = job["metadata"]["name"]
        assert job["metadata"]["labels"][k8s_spec.POOL] == "kubernetes"
        assert job["metadata"]["labels"][k8s_spec.RUNNER] == "pool-a"
        log = stack.log_dir / "pool-b.log"  # appended to across runs: read only this one's
        seen = log.stat().st_size if log.exists() else 0
        stack.start("runner", "pool-b", LAF_RUNNER_WORKDIR=str(tmp_path / "b"), **pool)
        await asyncio.to_thread(stack.wait_ready, 30, ["pool-b"])
        await asyncio.to_thread(stack.kill, "pool-a")

        # pool-b adopts the Job (its log says so), then reports its end: pool-a is gone.
        async with asyncio.timeout(20):
            while b"re-attaching to 1 Job(s)" not in log.read_bytes()[seen:]:
                await asyncio.sleep(0.1)
        cluster[f"get {PODS}/{name}-x7k2p/log"] << b"adopted\n"
        await add_pod(cluster, name, {"terminated": {"exitCode": 0}}, phase="Succeeded")
        await set_job_status(
            cluster, name, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        )
        workflow = await wait_for_end(api, workflow_id, 30)
        [integrate] = workflow["tasks"]
        assert workflow["status"] == "succeeded", integrate["error"]
        assert integrate["attempt"] == 1, "the same attempt, not a retry"
        assert integrate["outputs"]["stdout_tail"] == "adopted\n"
        assert len(requests(cluster, "POST", JOBS)) == 1  # adopted, never created twice
    finally:
        for runner in ("pool-a", "pool-b"):
            if runner in stack.processes:
                await asyncio.to_thread(stack.stop, runner)
