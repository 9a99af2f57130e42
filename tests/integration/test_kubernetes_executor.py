"""The `kubernetes` executor through the real kubernetes-asyncio client against kmock's emulator.

kmock has no Job controller and no kubelet (tests/kmock_cluster.py): each test
plays the cluster, creating the Job's pod and patching the Job's and the pod's
status, which sends the watch events the executor follows.
"""

import asyncio
import inspect
import uuid

import aio_pika
import kmock
import pytest

from laf_core.contracts.reports import ClaimedTask
from laf_core.task_tokens import task_token
from laf_runner.executors import Context, TaskFailed
from laf_runner.executors.kubernetes import KubernetesExecutor, configuration_problem
from laf_runner.executors.kubernetes import spec as k8s_spec
from laf_runner.leases import Leases
from laf_runner.settings import RunnerSettings
from tests.kmock_cluster import (
    JOBS,
    NS,
    PODS,
    Emulator,
    add_pod,
    requests,
    serving_jobs_and_pods,
    set_job_status,
    set_pod_status,
    write_kubeconfig,
)

SECRET = "k8s-test-secret"
CTX = Context(runner_id="runner-a", workdir="")


@pytest.fixture
async def cluster():
    async with Emulator() as emulator, kmock.Server(emulator):
        serving_jobs_and_pods(emulator)
        yield emulator


@pytest.fixture
def kubeconfig(cluster, tmp_path):
    return write_kubeconfig(tmp_path / "kubeconfig", str(cluster.url))


@pytest.fixture
def settings(kubeconfig):
    return RunnerSettings(
        k8s_kubeconfig=str(kubeconfig),
        k8s_namespace=NS,
        api_url="http://laf-api.example",
        k8s_watch_timeout_s=30,
    )


@pytest.fixture
async def executor(settings):
    executor = KubernetesExecutor(settings, SECRET)
    yield executor
    await executor.close()


def claimed(name="hplc", attempt=1, timeout_s=600.0, **params) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        name=name,
        executor="kubernetes",
        attempt=attempt,
        params={"image": "registry.example/laf/hplc:1.4", "args": ["--method", "USP"], **params},
        timeout_s=timeout_s,
        inputs={"weigh": {"mass_mg": 50.1}},
    )


def name_of(task: ClaimedTask) -> str:
    return k8s_spec.job_name(task.name, task.task_id, task.attempt)


async def until(condition, timeout=5.0):
    """Poll `condition` (sync or async) until it is truthy; fail at the deadline."""
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(0.02)


async def job_exists(cluster, name):
    async def check():
        response = await cluster.get(f"{JOBS}/{name}")
        return await response.json() if response.status == 200 else None

    return await until(check)


async def test_the_job_is_created_as_specified_and_followed_to_success(cluster, executor):
    task = claimed()
    run = asyncio.create_task(executor.run(task, CTX))
    job = await job_exists(cluster, name_of(task))
    labels = job["metadata"]["labels"]
    assert labels[k8s_spec.TASK] == str(task.task_id) and labels[k8s_spec.ATTEMPT] == "1"
    assert (
        labels[k8s_spec.WORKFLOW] == str(task.workflow_id) and labels[k8s_spec.RUNNER] == "runner-a"
    )
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 600
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LAF_TASK_TOKEN"] == task_token(SECRET, task.task_id, 1)
    assert env["LAF_CALLBACK_URL"] == "http://laf-api.example/api/webhooks/tasks"

    cluster[f"get {PODS}/{name_of(task)}-x7k2p/log"] << b"injecting\nintegrated 3 peaks\n"
    pod = await add_pod(cluster, name_of(task), {"running": {}})
    await asyncio.sleep(0.05)
    assert not run.done()
    await set_pod_status(cluster, pod, {"terminated": {"exitCode": 0, "reason": "Completed"}})
    await set_job_status(
        cluster,
        name_of(task),
        {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
    )
    outputs = await asyncio.wait_for(run, 5)
    assert outputs == {
        "job": name_of(task),
        "namespace": NS,
        "pod": pod,
        "exit_code": 0,
        "stdout_tail": "injecting\nintegrated 3 peaks\n",
    }
    assert not requests(cluster, "DELETE", name_of(task))  # its TTL cleans it up


async def test_a_non_zero_exit_fails_with_the_code_and_the_last_log_line(cluster, executor):
    task = claimed()
    run = asyncio.create_task(executor.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]
    cluster[f"get {PODS}/{job}-x7k2p/log"] << b"loading method\nERROR: column pressure too high\n"
    await add_pod(cluster, job, {"terminated": {"exitCode": 3, "reason": "Error"}}, phase="Failed")
    await set_job_status(
        cluster,
        job,
        {
            "failed": 1,
            "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
        },
    )
    with pytest.raises(TaskFailed) as failure:
        await asyncio.wait_for(run, 5)
    assert failure.value.error == "exit code 3: ERROR: column pressure too high"
    assert failure.value.outputs["exit_code"] == 3


async def test_an_image_pull_error_fails_at_once_and_deletes_the_job(cluster, executor):
    task = claimed()
    run = asyncio.create_task(executor.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]
    waiting = {
        "reason": "ErrImagePull",
        "message": 'pull access denied for "registry.example/laf/hplc"',
    }
    await add_pod(cluster, job, {"waiting": waiting}, phase="Pending")
    with pytest.raises(TaskFailed, match=r"^image pull error: ErrImagePull: pull access denied"):
        await asyncio.wait_for(run, 5)
    [delete] = requests(cluster, "DELETE", f"{JOBS}/{job}")
    assert delete.params["propagationPolicy"] == "Background"


async def test_the_deadline_fails_the_attempt(cluster, executor):
    task = claimed(timeout_s=30)
    run = asyncio.create_task(executor.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]
    await set_job_status(
        cluster,
        job,
        {
            "failed": 1,
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "DeadlineExceeded",
                    "message": "Job was active longer than specified deadline",
                }
            ],
        },
    )
    with pytest.raises(TaskFailed, match=r"^deadline exceeded: ran past its limit of 30s"):
        await asyncio.wait_for(run, 5)


async def test_cancelling_the_attempt_deletes_the_job_in_the_background(cluster, executor):
    task = claimed()
    run = asyncio.create_task(executor.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    [delete] = requests(cluster, "DELETE", f"{JOBS}/{job}")
    assert delete.params["propagationPolicy"] == "Background"
    assert (await cluster.get(f"{JOBS}/{job}")).status == 404


async def test_a_job_that_exists_for_the_attempt_is_followed_not_created_again(cluster, executor):
    task = claimed()
    manifest = k8s_spec.build_job(task, executor.defaults, CTX.runner_id, "token")
    assert (await cluster.post(JOBS, json=manifest)).status in (200, 201)
    run = asyncio.create_task(executor.run(task, CTX))
    await until(lambda: requests(cluster, "GET", f"{JOBS}?"))  # watching
    conflicts = [r for r in requests(cluster, "POST", JOBS)]
    assert len(conflicts) == 2  # ours above, then the executor's: a 409
    await set_job_status(cluster, name_of(task), {"succeeded": 1})
    outputs = await asyncio.wait_for(run, 5)
    assert outputs["job"] == name_of(task)


async def test_a_job_of_another_attempt_under_the_same_name_is_not_adopted(cluster, executor):
    task = claimed()
    other = task.model_copy(update={"task_id": uuid.uuid4()})
    manifest = k8s_spec.build_job(other, executor.defaults, CTX.runner_id, "token")
    manifest["metadata"]["name"] = name_of(task)
    assert (await cluster.post(JOBS, json=manifest)).status in (200, 201)
    with pytest.raises(TaskFailed, match="exists and is not this attempt's"):
        await asyncio.wait_for(executor.run(task, CTX), 5)


async def test_a_restarted_runner_re_attaches_to_its_jobs_by_label(cluster, settings):
    first = KubernetesExecutor(settings, SECRET)
    task = claimed()
    run = asyncio.create_task(first.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]
    foreign = claimed(name="other")  # another runner's Job: not ours to follow
    assert (
        await cluster.post(JOBS, json=k8s_spec.build_job(foreign, first.defaults, "runner-b", "t"))
    ).status in (200, 201)
    first.detach()  # the runner stops: its attempts are cancelled, their Jobs stay
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await first.close()
    assert not requests(cluster, "DELETE", job)

    second = KubernetesExecutor(settings, SECRET)
    try:
        [found] = await second.recover(CTX)
        assert (found.task.task_id, found.task.attempt) == (task.task_id, task.attempt)
        assert (found.task.workflow_id, found.task.name) == (task.workflow_id, task.name)
        resumed = asyncio.create_task(found.resume(found.task, CTX))
        await asyncio.sleep(0.05)
        await set_job_status(cluster, job, {"succeeded": 1})
        outputs = await asyncio.wait_for(resumed, 5)
    finally:
        await second.close()
    assert outputs["job"] == job
    assert len(requests(cluster, "POST", JOBS)) == 2  # the task's Job once, and the foreign one


async def test_a_gone_runners_jobs_are_adopted_by_another_runner_of_its_pool(
    cluster, settings, amqp_url
):
    """Two replicas of the pool `kubernetes`, each with its leases on its own broker
    connection: while the first lives, the second leaves its Job alone; once the first
    is gone (its connection with it, as when its pod is replaced), the second adopts it."""
    connections = [await aio_pika.connect(amqp_url) for _ in range(2)]
    leases = [Leases(), Leases()]
    for lease, connection in zip(leases, connections, strict=True):
        await lease.attach(connection)
    first_ctx = Context(runner_id="runner-7f9c", workdir="", pool="kubernetes", leases=leases[0])
    second_ctx = Context(runner_id="runner-b21d", workdir="", pool="kubernetes", leases=leases[1])
    first, second = KubernetesExecutor(settings, SECRET), KubernetesExecutor(settings, SECRET)
    other_pool = claimed(name="elsewhere")
    try:
        task = claimed()
        run = asyncio.create_task(first.run(task, first_ctx))
        job = await job_exists(cluster, name_of(task))
        assert job["metadata"]["labels"][k8s_spec.POOL] == "kubernetes"
        assert job["metadata"]["labels"][k8s_spec.RUNNER] == "runner-7f9c"
        foreign = k8s_spec.build_job(other_pool, first.defaults, "runner-x", "t", pool="gpu")
        assert (await cluster.post(JOBS, json=foreign)).status in (200, 201)
        assert await second.recover(second_ctx) == [], "its runner lives: not to be adopted"

        first.detach()  # the first runner's pod goes: its Job stays, its connection ends
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        await connections[0].close()
        assert not requests(cluster, "DELETE", name_of(task))

        [found] = await until(lambda: second.recover(second_ctx))
        assert (found.task.task_id, found.task.attempt) == (task.task_id, task.attempt)
        resumed = asyncio.create_task(found.resume(found.task, second_ctx))
        await asyncio.sleep(0.05)
        assert await second.recover(second_ctx) == [], "adopted once, not twice"
        await set_job_status(cluster, name_of(task), {"succeeded": 1})
        outputs = await asyncio.wait_for(resumed, 5)
        assert outputs["job"] == name_of(task)
        assert await second.recover(second_ctx) == [], "followed to its end: not adopted again"
        assert len(requests(cluster, "POST", JOBS)) == 2  # created once, never again
    finally:
        await first.close()
        await second.close()
        for connection in connections:
            await connection.close()


@pytest.mark.parametrize(
    "drop",
    [
        pytest.param(iter([b""]), id="stream-ended"),
        pytest.param(iter([b"", RuntimeError("connection to etcd lost")]), id="stream-error"),
    ],
)
async def test_a_dropped_watch_stream_is_resumed(cluster, executor, drop):
    cluster["watch batch/v1/jobs"] << drop  # the first watch of Jobs drops; later ones are served
    task = claimed()
    run = asyncio.create_task(executor.run(task, CTX))
    job = (await job_exists(cluster, name_of(task)))["metadata"]["name"]

    def watches():
        return [r for r in requests(cluster, "GET", JOBS) if r.params.get("watch") == "true"]

    await until(lambda: len(watches()) >= 2)
    await set_job_status(cluster, job, {"succeeded": 1})
    assert (await asyncio.wait_for(run, 10))["job"] == job


def test_without_a_cluster_the_executor_is_not_configured(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    problem = configuration_problem(RunnerSettings())
    assert problem and "LAF_RUNNER_K8S_KUBECONFIG" in problem
