"""The administrator's allow-lists: each executor's rule, and the instrument endpoints."""

import pytest

from laf_core.policy import TaskPolicy, forbidden_address, quantity

POLICY = TaskPolicy(
    task_python_modules="laf_runner.library, mylab.tasks",
    task_local_programs="sh,/opt/lab/bin/*",
    task_image_prefixes="registry.lab.example/",
    task_max_cpu="2",
    task_max_memory="4Gi",
    instrument_endpoints="http://127.0.0.1:8100, https://*.lab.example",
)


@pytest.mark.parametrize(
    ("executor", "params", "problem"),
    [
        ("python", {"function": "laf_runner.library:echo"}, None),
        ("python", {"function": "mylab.tasks.hplc:integrate"}, None),
        ("python", {"function": "os:system"}, "python module 'os' is not allowed"),
        ("python", {"function": "mylab.tasksevil:x"}, "python module 'mylab.tasksevil'"),
        ("python", {"function": "venv.__main__:x"}, "python module 'venv.__main__'"),
        ("local", {"command": ["sh", "-c", "true"]}, None),
        ("local", {"command": ["/opt/lab/bin/pump", "on"]}, None),
        ("local", {"command": ["/bin/sh"]}, "program '/bin/sh' is not allowed"),
        ("local", {"command": ["curl", "http://x"]}, "program 'curl' is not allowed"),
        ("kubernetes", {"image": "registry.lab.example/hplc:1"}, None),
        (
            "kubernetes",
            {"image": "docker.io/evil/miner"},
            "image 'docker.io/evil/miner' is not under",
        ),
        (
            "kubernetes",
            {"image": "registry.lab.example/a", "resources": {"requests": {"cpu": "2500m"}}},
            "resources.requests.cpu: 2500m is more than the cap of 2",
        ),
        (
            "kubernetes",
            {"image": "registry.lab.example/a", "resources": {"limits": {"memory": "5Gi"}}},
            "more than the cap of 4Gi",
        ),
        (
            "kubernetes",
            {"image": "registry.lab.example/a", "resources": {"limits": {"nvidia.com/gpu": "1"}}},
            "is not a cpu or memory amount",
        ),
        ("noop", {}, None),
        ("http", {}, None),  # judged by its instrument's endpoint
    ],
)
def test_each_executor_runs_only_what_is_listed(executor, params, problem):
    found = POLICY.task_problem(executor, params)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_with_no_programs_listed_the_local_executor_refuses_everything():
    assert "LAF_TASK_LOCAL_PROGRAMS is empty" in TaskPolicy().task_problem(
        "local", {"command": ["sh"]}
    )
    assert "none" in TaskPolicy().task_problem("kubernetes", {"image": "anything"})


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("http://127.0.0.1:8100", None),
        ("http://127.0.0.1:8100/", None),
        ("https://hplc.lab.example/api", None),
        ("http://127.0.0.1:5432/", "not allowed"),
        ("http://127.0.0.1:8000/", "not allowed"),
        ("https://127.0.0.1:8100", "not allowed"),  # another scheme
        ("file:///etc/passwd", "must be an http"),
        ("http://169.254.169.254/latest/meta-data", "link-local or metadata"),
        ("http://[fe80::1]:8100/", "link-local"),
        ("http://metadata.google.internal/", "metadata service"),
        ("http://127.0.0.1:8100/x?", "query or fragment"),
        ("http://127.0.0.1:8100/x#y", "query or fragment"),
    ],
)
def test_instrument_endpoints_match_the_list_and_never_metadata(endpoint, problem):
    found = POLICY.endpoint_problem(endpoint)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_metadata_is_refused_even_when_listed():
    open_all = TaskPolicy(instrument_endpoints="http://*:*")
    assert open_all.endpoint_problem("http://10.0.0.5:9000") is None
    assert "metadata" in open_all.endpoint_problem("http://169.254.169.254/")


def test_quantities_and_addresses():
    assert quantity("500m") == 0.5 and quantity("2") == 2 and quantity("1Gi") == 2**30
    assert quantity("lots") is None
    assert forbidden_address("169.254.1.1") and forbidden_address("metadata.")
    assert forbidden_address("10.1.2.3") is None and forbidden_address("lab.example") is None
