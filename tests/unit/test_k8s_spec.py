"""The Job builder and the Job/pod judge: pure functions, no cluster."""

import json
import uuid

import pytest

from laf_core.contracts.job_params import kubernetes_params_problem
from laf_core.contracts.reports import ClaimedTask
from laf_runner.executors.kubernetes import spec as k8s_spec
from laf_runner.executors.kubernetes.status import judge

DEFAULTS = k8s_spec.JobDefaults(
    namespace="laf-jobs",
    service_account="",
    callback_url="http://laf-api/",
    ttl_after_finished_s=600,
    image_pull_secret="registry-creds",
)


def claimed(**params) -> ClaimedTask:
    return ClaimedTask(
        task_id=uuid.UUID("0b7a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b"),
        workflow_id=uuid.UUID("11111111-2222-3333-4444-555555555555"),
        name="HPLC run #1",
        executor="kubernetes",
        attempt=2,
        params={"image": "registry.example/laf/hplc:1.4", **params},
        timeout_s=90.5,
        inputs={"weigh": {"mass_mg": 50.1}},
    )


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def test_the_job_carries_identity_deadline_retries_ttl_and_a_safe_context():
    job = k8s_spec.build_job(claimed(args=["--method", "USP"]), DEFAULTS, "runner/7", "tok")
    meta, spec = job["metadata"], job["spec"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert meta["name"] == "laf-hplc-run-1-0b7a1c2e3f4d-2" and len(meta["name"]) <= 63
    assert meta["namespace"] == "laf-jobs"
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "laf",
        "laf.io/workflow": "11111111-2222-3333-4444-555555555555",
        "laf.io/task": "0b7a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b",
        "laf.io/attempt": "2",
        "laf.io/runner": "runner-7",
        "laf.io/pool": "runner-7",  # no pool: only this runner adopts it
    }
    assert spec["template"]["metadata"]["labels"] == meta["labels"]
    assert meta["annotations"]["laf.io/runner-id"] == "runner/7"
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 91  # rounded up
    assert spec["ttlSecondsAfterFinished"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["imagePullSecrets"] == [{"name": "registry-creds"}]
    c = container(job)
    assert c["image"] == "registry.example/laf/hplc:1.4" and c["args"] == ["--method", "USP"]
    assert "command" not in c
    assert c["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_the_pod_environment_has_callback_token_identity_inputs_and_trace():
    env = container(k8s_spec.build_job(claimed(env={"MODE": "fast"}), DEFAULTS, "r", "tok"))["env"]
    values = {e["name"]: e["value"] for e in env}
    assert values["MODE"] == "fast"
    assert values["LAF_CALLBACK_URL"] == "http://laf-api/api/webhooks/tasks"
    assert values["LAF_TASK_TOKEN"] == "tok"
    assert values["LAF_TASK_ID"] == "0b7a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert values["LAF_ATTEMPT"] == "2" and values["LAF_TASK_NAME"] == "HPLC run #1"
    assert json.loads(values["LAF_INPUTS_JSON"]) == {"weigh": {"mass_mg": 50.1}}
    assert values["TRACEPARENT"] == "00-11111111222233334444555555555555-0b7a1c2e3f4d4e5f-01"


def test_resources_from_params_override_the_defaults_key_by_key():
    job = k8s_spec.build_job(
        claimed(resources={"limits": {"memory": "4Gi", "nvidia.com/gpu": 1}}), DEFAULTS, "r", "t"
    )
    assert container(job)["resources"]["limits"] == {
        "cpu": "1",
        "memory": "4Gi",
        "nvidia.com/gpu": "1",
    }


def test_a_configured_service_account_is_used_and_mounted():
    defaults = k8s_spec.JobDefaults(namespace="n", service_account="hplc-driver")
    pod = k8s_spec.build_job(claimed(), defaults, "r", "t")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "hplc-driver" and pod["automountServiceAccountToken"]


def test_no_timeout_means_no_deadline_and_huge_inputs_are_refused():
    task = claimed().model_copy(update={"timeout_s": None})
    assert "activeDeadlineSeconds" not in k8s_spec.build_job(task, DEFAULTS, "r", "t")["spec"]
    big = claimed().model_copy(update={"inputs": {"x": {"blob": "a" * 300_000}}})
    with pytest.raises(k8s_spec.SpecError, match=r"inputs are \d+ bytes"):
        k8s_spec.build_job(big, DEFAULTS, "r", "t")


def test_a_job_is_read_back_as_its_attempt_for_re_attaching():
    job = k8s_spec.build_job(claimed(), DEFAULTS, "runner/7", "t")
    assert k8s_spec.belongs_to(job, claimed().task_id, 2)
    assert not k8s_spec.belongs_to(job, claimed().task_id, 3)
    assert k8s_spec.owned_by(job, "runner/7") and not k8s_spec.owned_by(job, "runner-8")
    task = k8s_spec.claimed_from_job(job)
    assert (task.task_id, task.workflow_id, task.attempt) == (
        claimed().task_id,
        claimed().workflow_id,
        2,
    )
    assert task.name == "HPLC run #1" and task.executor == "kubernetes"
    with pytest.raises(KeyError):
        k8s_spec.claimed_from_job({"metadata": {"name": "not-laf"}})


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "params.image must name a container image"),
        ({"image": "x", "imagee": 1}, "unknown params imagee"),
        ({"image": "x", "args": "--fast"}, "params.args must be a list of strings"),
        ({"image": "x", "env": {"LAF_TASK_TOKEN": "forged"}}, "cannot set LAF_TASK_TOKEN"),
        ({"image": "x", "env": {"bad name": "v"}}, "params.env must map variable names"),
        ({"image": "x", "resources": {"limits": {"cpu": True}}}, "params.resources.limits"),
        ({"image": "x", "resources": {"gpus": {}}}, "only 'requests' and 'limits'"),
        ({"image": "x", "image_pull_policy": "Sometimes"}, "image_pull_policy must be one of"),
    ],
)
def test_bad_kubernetes_params_are_named(params, problem):
    assert problem in (kubernetes_params_problem(params) or "")


def test_good_kubernetes_params_pass():
    assert (
        kubernetes_params_problem(
            {
                "image": "x:1",
                "command": ["run"],
                "env": {"A": "b"},
                "resources": {"limits": {"cpu": 2}},
            }
        )
        is None
    )


# ---- judging a Job and its pods -------------------------------------------------------------


def pod(name="p-1", state=None, phase="Running"):
    statuses = [{"name": "task", "state": state}] if state else []
    return {"metadata": {"name": name}, "status": {"phase": phase, "containerStatuses": statuses}}


def job(status=None, deadline=None):
    return {
        "metadata": {"name": "j"},
        "spec": {"activeDeadlineSeconds": deadline},
        "status": status or {},
    }


def failed(reason, message=""):
    return {
        "failed": 1,
        "conditions": [{"type": "Failed", "status": "True", "reason": reason, "message": message}],
    }


def test_a_job_without_an_end_is_running():
    assert judge(job(), []).state == "running"
    assert judge(job({"active": 1}), [pod(state={"running": {}})]).state == "running"


def test_a_complete_job_succeeded_with_its_pod_and_exit_code():
    verdict = judge(
        job({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        [pod(state={"terminated": {"exitCode": 0}}, phase="Succeeded")],
    )
    assert (verdict.state, verdict.exit_code, verdict.pod) == ("succeeded", 0, "p-1")


def test_a_non_zero_exit_is_the_reason_even_before_the_job_says_so():
    dead = pod(state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, phase="Failed")
    for status in ({}, failed("BackoffLimitExceeded")):
        verdict = judge(job(status), [dead])
        assert (verdict.state, verdict.error, verdict.exit_code) == (
            "failed",
            "exit code 137 (OOMKilled)",
            137,
        )


def test_the_deadline_is_named_with_its_limit():
    verdict = judge(job(failed("DeadlineExceeded", "too long"), deadline=60), [pod()])
    assert (
        verdict.state == "failed"
        and verdict.error == "deadline exceeded: ran past its limit of 60s"
    )


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_fails_now_and_the_job_is_deleted(reason):
    waiting = pod(state={"waiting": {"reason": reason, "message": "not found"}}, phase="Pending")
    verdict = judge(job({"active": 1}), [waiting])
    assert verdict.state == "failed" and verdict.delete_job
    assert verdict.error == f"image pull error: {reason}: not found"


def test_a_pod_still_creating_its_container_is_running():
    creating = pod(state={"waiting": {"reason": "ContainerCreating"}}, phase="Pending")
    assert judge(job({"active": 1}), [creating]).state == "running"


def test_an_unexplained_failure_keeps_the_jobs_reason_and_message():
    verdict = judge(job(failed("PodFailurePolicy", "container task failed")), [])
    assert verdict.error == "Job failed: PodFailurePolicy: container task failed"


def test_a_pool_job_names_its_pool_for_any_runner_of_it_to_adopt():
    job = k8s_spec.build_job(claimed(), DEFAULTS, "runner-7f9c", "t", pool="kubernetes")
    labels = job["metadata"]["labels"]
    assert (labels["laf.io/pool"], labels["laf.io/runner"]) == ("kubernetes", "runner-7f9c")
    assert k8s_spec.in_pool(job, "kubernetes") and not k8s_spec.in_pool(job, "gpu")
