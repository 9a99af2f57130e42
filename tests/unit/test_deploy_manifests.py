"""Static checks of deploy/: the image recipe and the Kubernetes manifests.

There is no cluster or Docker engine here, so these tests read the files and
cross-check them against the code (console scripts, settings fields), so that a
typo fails here rather than in a rollout.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from laf_core import settings as laf_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"

SECRET_NAME = "laf-secrets"
# Settings that carry credentials: only ever from a Secret.
SECRET_SETTINGS = {"LAF_WEBHOOK_SECRET", "LAF_DATABASE_URL", "LAF_AMQP_URL"}
PART_OF = "laf"
# Holds no secret by design (the simulated lab), so reads no common settings.
WITHOUT_SECRETS = {"laf-simlab"}

Doc = dict[str, Any]


# ---- loading -------------------------------------------------------------------------------


def load_docs(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize_inputs(directory: Path) -> list[Doc]:
    """The documents a kustomization's `resources` bring in (recursively), unpatched."""
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += kustomize_inputs(path)
        elif path.is_file():  # a missing file fails test_kustomization_references_exist…
            docs += load_docs(path)
    return docs


YAML_FILES = sorted(p for p in K8S.rglob("*") if p.suffix in {".yaml", ".yml"})
KUSTOMIZATION_DIRS = sorted(p.parent for p in YAML_FILES if p.name == "kustomization.yaml")
ALL_DOCS = [
    pytest.param(doc, id=f"{path.relative_to(K8S)}#{index}")
    for path in YAML_FILES
    if path.name != "kustomization.yaml"
    for index, doc in enumerate(load_docs(path))
]
OVERLAY_DIRS = [p for p in KUSTOMIZATION_DIRS if p.parent.name == "overlays"]
CONFIGMAP_DOCS = [param for param in ALL_DOCS if param.values[0]["kind"] == "ConfigMap"]
BASE_DOCS = kustomize_inputs(K8S / "base")


def of_kind(*kinds: str) -> list[Doc]:
    return [doc for doc in BASE_DOCS if doc["kind"] in kinds]


def by_id(docs: list[Doc]) -> list[Any]:
    return [pytest.param(doc, id=f"{doc['kind']}/{doc['metadata']['name']}") for doc in docs]


DEPLOYMENTS = {doc["metadata"]["name"]: doc for doc in of_kind("Deployment")}
CONFIGMAPS = {doc["metadata"]["name"]: doc.get("data", {}) for doc in of_kind("ConfigMap")}
WORKLOADS = of_kind("Deployment", "Job")
CONTAINERS = [
    pytest.param(workload, container, id=f"{workload['kind']}/{container['name']}")
    for workload in WORKLOADS
    for container in workload["spec"]["template"]["spec"]["containers"]
]
DEPLOYMENT_CONTAINERS = [p for p in CONTAINERS if p.values[0]["kind"] == "Deployment"]


def console_scripts() -> set[str]:
    scripts: set[str] = set()
    for pyproject in (ROOT / "services").glob("*/pyproject.toml"):
        scripts |= tomllib.loads(pyproject.read_text())["project"].get("scripts", {}).keys()
    return scripts


SCRIPTS = console_scripts()
SETTINGS_CLASSES = [
    cls
    for cls in vars(laf_settings).values()
    if inspect.isclass(cls) and issubclass(cls, BaseSettings) and cls is not BaseSettings
]
# The LAF_* names the settings sections read: env_prefix + field name, upper-cased.
SETTINGS_ENV = {
    f"{cls.model_config.get('env_prefix', '')}{field}".upper()
    for cls in SETTINGS_CLASSES
    for field in cls.model_fields
}


def container_env(container: Doc) -> dict[str, str]:
    """The container's environment as the process sees it; secrets become placeholders."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(CONFIGMAPS[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        ref = item.get("valueFrom", {})
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in ref:
            env[item["name"]] = f"secret:{ref['secretKeyRef']['key']}"
        elif "fieldRef" in ref:
            env[item["name"]] = f"field:{ref['fieldRef']['fieldPath']}"
        else:
            raise AssertionError(f"unsupported env source for {item['name']}: {item}")
    return env


def env_names_in(node: Any) -> set[str]:
    """Every `env: [{name: …}]` name anywhere in a (possibly partial) document."""
    if isinstance(node, list):
        return set().union(*(env_names_in(item) for item in node))
    if not isinstance(node, dict):
        return set()
    names = {item["name"] for item in node.get("env", []) if isinstance(item, dict)}
    return names.union(*(env_names_in(value) for value in node.values()))


def quantity(value: str | int) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi)?", str(value))
    assert match, f"not a Kubernetes quantity: {value!r}"
    scale = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return float(match[1]) * scale.get(match[2] or "", 1)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with comments dropped and continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def dockerfile_uid() -> int:
    users = [args for instruction, args in dockerfile_instructions() if instruction == "USER"]
    assert users, "the image must not run as root"
    return int(users[-1].split(":")[0])


def test_the_derived_sets_are_not_empty() -> None:
    # Guards the other tests against passing vacuously.
    assert {"laf-api", "laf-migrate"} <= SCRIPTS
    assert {"LAF_DATABASE_URL", "LAF_API_PORT", "LAF_RUNNER_EXECUTORS"} <= SETTINGS_ENV
    assert DEPLOYMENTS and CONFIGMAPS and CONTAINERS


# ---- every document and kustomization --------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_document_is_a_named_kubernetes_object(doc: Doc) -> None:
    assert doc.get("apiVersion") and doc.get("kind"), doc
    assert doc.get("metadata", {}).get("name"), doc
    assert "namespace" not in doc["metadata"], "overlays set the namespace"


@pytest.mark.parametrize("directory", KUSTOMIZATION_DIRS, ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_exist_and_nothing_is_orphaned(directory: Path) -> None:
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    patch_paths = [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for entry in kustomization.get("resources", []):
        path = directory / entry
        assert path.is_file() or (path / "kustomization.yaml").is_file(), f"missing {entry}"
    for entry in patch_paths:
        assert (directory / entry).is_file(), f"missing patch {entry}"
    referenced = {(directory / e).resolve() for e in kustomization.get("resources", [])}
    referenced |= {(directory / e).resolve() for e in patch_paths}
    for path in directory.glob("*.y*ml"):
        if path.name != "kustomization.yaml":
            assert path.resolve() in referenced, f"{path.name} is not used by the kustomization"


@pytest.mark.parametrize("directory", KUSTOMIZATION_DIRS, ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_patches_and_transformers_hit_real_objects(directory: Path) -> None:
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    inputs = kustomize_inputs(directory)
    objects = {(doc["kind"], doc["metadata"]["name"]) for doc in inputs}
    for patch in kustomization.get("patches", []):
        if "target" in patch:
            target = patch["target"]
            assert any(
                kind == target.get("kind", kind) and name == target.get("name", name)
                for kind, name in objects
            ), f"patch target {target} matches nothing"
        else:
            for doc in load_docs(directory / patch["path"]):
                key = (doc["kind"], doc["metadata"]["name"])
                assert key in objects, f"{patch['path']} patches {key}, which does not exist"
    for replica in kustomization.get("replicas", []):
        assert ("Deployment", replica["name"]) in objects, replica
    images = {
        c["image"]
        for doc in inputs
        if doc["kind"] in {"Deployment", "Job"}
        for c in doc["spec"]["template"]["spec"]["containers"]
    }
    for image in kustomization.get("images", []):
        assert image["name"] in images, f"images: {image['name']} is used by no container"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=lambda p: p.name)
def test_overlay_renders_with_kustomize(directory: Path) -> None:
    """Only where kubectl exists: kustomize itself applies the patches (offline)."""
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered}
    assert names == {(doc["kind"], doc["metadata"]["name"]) for doc in BASE_DOCS}
    namespace = load_docs(directory / "kustomization.yaml")[0]["namespace"]
    assert all(doc["metadata"]["namespace"] == namespace for doc in rendered)
    replicas = {
        d["metadata"]["name"]: d["spec"]["replicas"] for d in rendered if d["kind"] == "Deployment"
    }
    for hpa in (doc for doc in rendered if doc["kind"] == "HorizontalPodAutoscaler"):
        # An autoscaler whose minimum exceeds the overlay's replica count silently undoes it.
        assert hpa["spec"]["minReplicas"] <= replicas[hpa["spec"]["scaleTargetRef"]["name"]]


# ---- settings and secrets --------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_laf_env_names_are_settings_fields(doc: Doc) -> None:
    names = env_names_in(doc)
    if doc["kind"] == "ConfigMap":
        names |= set(doc.get("data", {}))
    unknown = {name for name in names if name.startswith("LAF_")} - SETTINGS_ENV
    assert not unknown, f"not a laf_core.settings field: {sorted(unknown)}"


@pytest.mark.parametrize("doc", CONFIGMAP_DOCS)
def test_configmaps_hold_strings_and_no_secrets(doc: Doc) -> None:
    data = doc.get("data", {})
    assert not SECRET_SETTINGS & set(data), "credentials belong in the Secret"
    not_strings = {key: value for key, value in data.items() if not isinstance(value, str)}
    assert not not_strings, f"ConfigMap values must be quoted strings: {not_strings}"


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_secrets_come_from_the_secret(workload: Doc, container: Doc) -> None:
    env = {item["name"]: item for item in container.get("env", [])}
    if container["command"][0] in WITHOUT_SECRETS:
        assert not SECRET_SETTINGS & set(env) and not container.get("envFrom")
        return
    # CommonSettings refuses to start on the built-in secret outside dev mode.
    assert "LAF_WEBHOOK_SECRET" in env
    for name in SECRET_SETTINGS & set(env):
        assert "value" not in env[name], f"{name} must not be inline"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, name


def test_secret_keys_are_documented() -> None:
    readme = (DEPLOY / "README.md").read_text()
    keys = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for workload in WORKLOADS
        for container in workload["spec"]["template"]["spec"]["containers"]
        for item in container.get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert {"webhook-secret", "database-url"} <= keys
    assert all(f"`{key}`" in readme for key in keys), f"document every key of {SECRET_NAME}"


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_container_environment_parses_as_settings(
    workload: Doc, container: Doc, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(container)
    assert all(isinstance(value, str) for value in env.values()), "env values must be strings"
    for name in [name for name in os.environ if name.startswith("LAF_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if container["command"][0] in WITHOUT_SECRETS:
        laf_settings.SimlabSettings()
        return
    for cls in SETTINGS_CLASSES:
        cls()  # raises on a malformed value, or on the built-in secret outside dev mode


# ---- workloads -------------------------------------------------------------------------------


def test_each_console_script_runs_in_the_right_kind_of_workload() -> None:
    commands: dict[str, set[str]] = {"Deployment": set(), "Job": set()}
    for workload in WORKLOADS:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            commands[workload["kind"]].add(container["command"][0])
    assert commands["Job"] == {"laf-migrate"}  # applies migrations and exits
    assert commands["Deployment"] == SCRIPTS - {"laf-migrate"}  # every service is deployed


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_container_command_is_a_console_script(workload: Doc, container: Doc) -> None:
    assert container["command"][0] in SCRIPTS


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_container_resources(workload: Doc, container: Doc) -> None:
    resources = container["resources"]
    for name in ("cpu", "memory"):
        request, limit = resources["requests"][name], resources["limits"][name]
        assert quantity(request) <= quantity(limit), f"{name}: request {request} > limit {limit}"


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_container_security(workload: Doc, container: Doc) -> None:
    pod = workload["spec"]["template"]["spec"]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": dockerfile_uid(),
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod.get("terminationGracePeriodSeconds"), int)
    # A read-only root needs a writable /tmp.
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    assert "/tmp" in mounts and "emptyDir" in volumes[mounts["/tmp"]]


@pytest.mark.parametrize(("workload", "container"), DEPLOYMENT_CONTAINERS)
def test_probes_hit_the_port_the_process_listens_on(workload: Doc, container: Doc) -> None:
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = container_env(container)
    if container["command"][0] == "laf-api":
        listens = int(
            env.get("LAF_API_PORT", laf_settings.ApiSettings.model_fields["port"].default)
        )
    elif container["command"][0] == "laf-simlab":  # serves its probes on its own port
        listens = int(
            env.get("LAF_SIMLAB_PORT", laf_settings.SimlabSettings.model_fields["port"].default)
        )
    else:
        listens = int(env.get("LAF_HEALTH_PORT", "0"))
        assert listens == 8080, "LAF_HEALTH_PORT must be 8080 for the probe server to run"
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == listens, f"{probe} port {get['port']}"


@pytest.mark.parametrize("doc", by_id(BASE_DOCS))
def test_labels(doc: Doc) -> None:
    label_sets = [doc["metadata"].get("labels", {})]
    if doc["kind"] in {"Deployment", "Job"}:
        label_sets.append(doc["spec"]["template"]["metadata"]["labels"])
    for labels in label_sets:
        assert labels.get("app.kubernetes.io/part-of") == PART_OF
        assert labels.get("app.kubernetes.io/name") and labels.get("app.kubernetes.io/component")


# ---- wiring between objects ------------------------------------------------------------------


def pod_labels(deployment: Doc) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


@pytest.mark.parametrize("deployment", by_id(list(DEPLOYMENTS.values())))
def test_deployment_selects_its_own_pods(deployment: Doc) -> None:
    assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels(deployment))


@pytest.mark.parametrize("service", by_id(of_kind("Service")))
def test_service_selects_a_deployment_and_its_port(service: Doc) -> None:
    selector = service["spec"]["selector"]
    targets = [d for d in DEPLOYMENTS.values() if selects(selector, pod_labels(d))]
    assert targets, f"selector {selector} matches no Deployment"
    for target in targets:
        containers = target["spec"]["template"]["spec"]["containers"]
        ports = [p for c in containers for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            wanted = port.get("targetPort", port["port"])
            assert any(wanted in (p.get("name"), p["containerPort"]) for p in ports), wanted


@pytest.mark.parametrize("pdb", by_id(of_kind("PodDisruptionBudget")))
def test_pdb_selects_a_deployment(pdb: Doc) -> None:
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert any(selects(selector, pod_labels(d)) for d in DEPLOYMENTS.values()), selector


@pytest.mark.parametrize("hpa", by_id(of_kind("HorizontalPodAutoscaler")))
def test_hpa_scales_an_existing_deployment(hpa: Doc) -> None:
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
    assert ref["name"] in DEPLOYMENTS, f"no Deployment {ref['name']}"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_api_and_runner_have_an_autoscaler_and_a_disruption_budget() -> None:
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget"):
        names = {doc["metadata"]["name"] for doc in of_kind(kind)}
        assert {"laf-api", "laf-runner"} <= names, kind


def test_runner_may_manage_jobs_and_read_pod_logs() -> None:
    runner = DEPLOYMENTS["laf-runner"]["spec"]["template"]["spec"]
    account = runner["serviceAccountName"]
    assert account in {doc["metadata"]["name"] for doc in of_kind("ServiceAccount")}
    bindings = [
        binding
        for binding in of_kind("RoleBinding")
        if any(
            (subject["kind"], subject["name"]) == ("ServiceAccount", account)
            for subject in binding["subjects"]
        )
    ]
    assert bindings, f"no RoleBinding for {account}"
    roles = {doc["metadata"]["name"]: doc for doc in of_kind("Role")}
    granted = {
        (group, resource, verb)
        for binding in bindings
        for rule in roles[binding["roleRef"]["name"]]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = {("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")}
    needed |= {("", r, v) for r in ("pods", "pods/log") for v in ("get", "list", "watch")}
    assert needed <= granted, sorted(needed - granted)


# ---- the image -------------------------------------------------------------------------------


def test_dockerfile_copies_only_what_exists() -> None:
    copies = [
        args.split() for instruction, args in dockerfile_instructions() if instruction == "COPY"
    ]
    assert copies
    for words in copies:
        if any(word.startswith("--from") for word in words):
            continue
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            assert list(ROOT.glob(source.rstrip("/"))), f"COPY source {source} does not exist"


def test_dockerfile_installs_the_frozen_lock_on_python_311() -> None:
    instructions = dockerfile_instructions()
    syncs = [
        args for instruction, args in instructions if instruction == "RUN" and "uv sync" in args
    ]
    assert syncs and all("--frozen" in args and "--no-dev" in args for args in syncs)
    args = dict(
        arg.split("=", 1)
        for instruction, arg in instructions
        if instruction == "ARG" and "=" in arg
    )
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], line.split()[0])
        for instruction, line in instructions
        if instruction == "FROM"
    ]
    # Every Python stage on 3.11; the one Node stage only builds the static web app.
    assert bases and bases[-1] == "python:3.11-slim", bases
    assert all(base in ("python:3.11-slim", "node:22-slim") for base in bases), bases
    assert sum(base.startswith("node:") for base in bases) <= 1, bases
    assert dockerfile_uid() != 0
