"""Static checks of deploy/: the image recipe and the Kubernetes manifests.

There is no cluster or Docker engine here, so these tests read the files and
cross-check them against the code (console scripts, settings fields), so that a
typo fails here rather than in a rollout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from laf_api.settings import ApiSettings, OidcSettings
from laf_coordinator.settings import CoordinatorSettings
from laf_core.policy import TaskPolicy
from laf_core.settings import CommonSettings
from laf_listener.settings import ListenerSettings
from laf_runner.settings import RunnerSettings
from laf_simlab.settings import SimlabSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"

SECRET_NAME = "laf-secrets"
# Settings that carry credentials: only ever from a Secret.
SECRET_SETTINGS = {"LAF_WEBHOOK_SECRET", "LAF_DATABASE_URL", "LAF_AMQP_URL", "LAF_RUNNER_TOKEN"}
# Never in an environment at all: only as a file (their *_FILE setting names the path).
FILE_ONLY_SETTINGS = {"LAF_WEBHOOK_SECRET", "LAF_RUNNER_TOKEN"}
# The only workloads that sign or verify webhooks, hence hold the signing secret.
RUNNER_POOLS = {"laf-runner", "laf-runner-kubernetes"}  # a runner Deployment per pool
SIGNERS = {"laf-api"} | RUNNER_POOLS
# The Jobs' namespace: the only one the base names (the overlays set LAF's own).
JOBS_NAMESPACE = "laf-jobs"
KUBERNETES_VERSION = "1.32"  # the Kubernetes the manifests target (kubernetes-validate)
CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
# Console scripts run by hand (kubectl exec), not as a workload of their own.
TOOLS = {"laf-admin", "laf"}
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
TRANSFORMER_FILES = {
    (directory / entry).resolve()
    for directory in KUSTOMIZATION_DIRS
    for entry in load_docs(directory / "kustomization.yaml")[0].get("transformers", [])
}
ALL_DOCS_FLAT: list[Doc] = []  # filled below: every document of every file
ALL_DOCS = [
    pytest.param(doc, id=f"{path.relative_to(K8S)}#{index}")
    for path in YAML_FILES
    if path.name != "kustomization.yaml" and path.resolve() not in TRANSFORMER_FILES
    for index, doc in enumerate(load_docs(path))
]
ALL_DOCS_FLAT += [param.values[0] for param in ALL_DOCS]
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
# Every settings section: core's and each service's own.
SETTINGS_CLASSES: list[type[BaseSettings]] = [
    CommonSettings,
    ApiSettings,
    ListenerSettings,
    CoordinatorSettings,
    RunnerSettings,
    SimlabSettings,
    TaskPolicy,
    OidcSettings,
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


def secret_keys(workload: Doc) -> dict[str, str]:
    """Where the pod sees each key of `laf-secrets`: env var name or file path -> key
    ("*" for a whole-Secret source: envFrom, or a volume without `items`)."""
    pod = workload["spec"]["template"]["spec"]
    seen: dict[str, str] = {}
    volumes: dict[str, list[tuple[str, str]]] = {}
    for volume in pod.get("volumes", []):
        sources = [volume, *volume.get("projected", {}).get("sources", [])]
        for source in sources:
            secret = source.get("secret", {})
            if secret and secret.get("secretName", secret.get("name")) == SECRET_NAME:
                items = secret.get("items") or [{"key": "*", "path": "*"}]
                volumes.setdefault(volume["name"], []).extend(
                    (item["path"], item["key"]) for item in items
                )
    for container in pod.get("initContainers", []) + pod["containers"]:
        for source in container.get("envFrom", []):
            if source.get("secretRef", {}).get("name") == SECRET_NAME:
                seen[f"envFrom:{container['name']}"] = "*"
        for item in container.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef", {})
            if ref.get("name") == SECRET_NAME:
                seen[item["name"]] = ref["key"]
        for mount in container.get("volumeMounts", []):
            for path, key in volumes.get(mount["name"], []):
                seen[f"{mount['mountPath']}/{path}"] = key
    return seen


def secret_volumes(workload: Doc) -> list[Doc]:
    return [v for v in workload["spec"]["template"]["spec"].get("volumes", []) if "secret" in v]


def env_items_in(node: Any) -> list[tuple[str, Any]]:
    """Every `env: [{name: …, value: …}]` pair anywhere in a (possibly partial) document."""
    if isinstance(node, list):
        return [pair for item in node for pair in env_items_in(item)]
    if not isinstance(node, dict):
        return []
    pairs = [(i["name"], i.get("value")) for i in node.get("env", []) if isinstance(i, dict)]
    return pairs + [pair for value in node.values() for pair in env_items_in(value)]


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
    assert {"LAF_TASK_PYTHON_MODULES", "LAF_OIDC_ISSUER", "LAF_RUNNER_TOKEN_FILE"} <= SETTINGS_ENV
    assert {"LAF_WEBHOOK_SECRET_FILE", "LAF_AUTH", "LAF_API_ALLOWED_HOSTS"} <= SETTINGS_ENV
    assert DEPLOYMENTS and CONFIGMAPS and CONTAINERS


# ---- every document and kustomization --------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_document_is_a_named_kubernetes_object(doc: Doc) -> None:
    assert doc.get("apiVersion") and doc.get("kind"), doc
    assert doc.get("metadata", {}).get("name"), doc
    # The overlays set LAF's namespace; only the Jobs' namespace is named in the files.
    assert doc["metadata"].get("namespace", JOBS_NAMESPACE) == JOBS_NAMESPACE, doc["metadata"]


@pytest.mark.parametrize("directory", KUSTOMIZATION_DIRS, ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_exist_and_nothing_is_orphaned(directory: Path) -> None:
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    patch_paths = [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for entry in kustomization.get("resources", []):
        path = directory / entry
        assert path.is_file() or (path / "kustomization.yaml").is_file(), f"missing {entry}"
    for entry in patch_paths:
        assert (directory / entry).is_file(), f"missing patch {entry}"
    transformers = kustomization.get("transformers", [])
    for entry in transformers:
        assert (directory / entry).is_file(), f"missing transformer {entry}"
    referenced = {(directory / e).resolve() for e in kustomization.get("resources", [])}
    referenced |= {(directory / e).resolve() for e in [*patch_paths, *transformers]}
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


def overlay_namespace(directory: Path) -> str:
    """LAF's namespace in an overlay: its NamespaceTransformer's (set where none is given)."""
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    for entry in kustomization.get("transformers", []):
        for doc in load_docs(directory / entry):
            if doc["kind"] == "NamespaceTransformer":
                assert doc.get("unsetOnly") is True, "it would move the Jobs' namespace objects"
                return str(doc["metadata"]["namespace"])
    return str(kustomization["namespace"])


_RENDERED: dict[Path, list[Doc]] = {}


def rendered(directory: Path) -> list[Doc]:
    """The overlay as `kubectl kustomize` builds it (offline)."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is missing (scripts/ensure-services.sh installs Debian's kubernetes-client)")
    if directory not in _RENDERED:
        result = subprocess.run(
            ["kubectl", "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        _RENDERED[directory] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return _RENDERED[directory]


def named(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def deleted_by_patches(directory: Path) -> set[tuple[str, str]]:
    kustomization = load_docs(directory / "kustomization.yaml")[0]
    gone = set()
    for patch in kustomization.get("patches", []):
        for doc in yaml.safe_load_all(patch.get("patch", "")) if "patch" in patch else []:
            if doc and doc.get("$patch") == "delete":
                gone.add((doc["kind"], doc["metadata"]["name"]))
    return gone


OVERLAY_IDS = [p.name for p in OVERLAY_DIRS]
PRODUCTION = K8S / "overlays" / "production"


@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=OVERLAY_IDS)
def test_overlay_renders_with_kustomize(directory: Path) -> None:
    """kustomize itself applies the patches: every base object is there (but those the
    overlay deletes), with the overlay's own, each in LAF's namespace or the Jobs'."""
    docs = rendered(directory)
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    base = {(doc["kind"], doc["metadata"]["name"]) for doc in BASE_DOCS}
    own = {
        (doc["kind"], doc["metadata"]["name"])
        for entry in load_docs(directory / "kustomization.yaml")[0]["resources"]
        if (directory / entry).is_file()
        for doc in load_docs(directory / entry)
    }
    assert names == (base | own) - deleted_by_patches(directory)
    namespace = overlay_namespace(directory)
    declared = set(named(docs, "Namespace"))
    assert declared == {namespace, JOBS_NAMESPACE}, "the overlay creates both namespaces"
    in_jobs = {(d["kind"], d["metadata"]["name"]) for d in BASE_DOCS + ALL_DOCS_FLAT if
               d["metadata"].get("namespace") == JOBS_NAMESPACE}  # fmt: skip
    for doc in docs:
        if doc["kind"] == "Namespace":
            assert "namespace" not in doc["metadata"]
            continue
        key = (doc["kind"], doc["metadata"]["name"])
        wanted = JOBS_NAMESPACE if key in in_jobs else namespace
        assert doc["metadata"]["namespace"] == wanted, key
    for binding in named(docs, "RoleBinding").values():
        for subject in binding["subjects"]:
            assert subject.get("namespace") == namespace, "the account lives in LAF's namespace"
    replicas = {name: d["spec"]["replicas"] for name, d in named(docs, "Deployment").items()}
    for hpa in named(docs, "HorizontalPodAutoscaler").values():
        # An autoscaler whose minimum exceeds the overlay's replica count silently undoes it.
        assert hpa["spec"]["minReplicas"] <= replicas[hpa["spec"]["scaleTargetRef"]["name"]]


def crd_schema(doc: Doc) -> dict[str, Any] | None:
    """The vendored schema of a custom resource (tests/unit/crd_schemas), or None for a
    built-in kind."""
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    path = CRD_SCHEMAS / f"{group}_{doc['kind']}.json"
    return json.loads(path.read_text()) if path.is_file() else None


CUSTOM_GROUPS = {"keda.sh", "rabbitmq.com", "postgresql.cnpg.io"}


@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=OVERLAY_IDS)
def test_rendered_objects_match_the_kubernetes_schemas(directory: Path) -> None:
    """Built-in kinds against the Kubernetes schemas of the targeted version (strict:
    an unknown field fails); KEDA's, RabbitMQ's and CloudNativePG's against the minimal
    schemas vendored in tests/unit/crd_schemas (no network here)."""
    import jsonschema
    import kubernetes_validate

    for doc in rendered(directory):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        schema = crd_schema(doc)
        if schema is not None:
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
            assert not errors, f"{where}: {[e.message for e in errors]}"
            continue
        assert doc["apiVersion"].split("/")[0] not in CUSTOM_GROUPS, f"{where}: no schema"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{where}: {exc.message} at {list(exc.path)}") from None


def test_the_vendored_crd_schemas_refuse_a_typo() -> None:
    """The CRD schemas are not vacuous: a misspelt field or a missing one fails."""
    import jsonschema

    scaled = named(rendered(PRODUCTION), "ScaledObject")["laf-runner"]
    schema = crd_schema(scaled)
    assert schema is not None
    typo = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(typo))
    cluster = named(rendered(PRODUCTION), "Cluster")["laf-postgres"]
    schema = crd_schema(cluster)
    assert schema is not None
    missing = {**cluster, "spec": {k: v for k, v in cluster["spec"].items() if k != "instances"}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(missing))


@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=OVERLAY_IDS)
def test_namespaces_enforce_pod_security_restricted(directory: Path) -> None:
    for name, namespace in named(rendered(directory), "Namespace").items():
        labels = namespace["metadata"]["labels"]
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", name


# ---- settings and secrets --------------------------------------------------------------------


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_laf_env_names_are_settings_fields(doc: Doc) -> None:
    names = env_names_in(doc)
    if doc["kind"] == "ConfigMap":
        names |= set(doc.get("data", {}))
    unknown = {name for name in names if name.startswith("LAF_")} - SETTINGS_ENV
    assert not unknown, f"not a field of any LAF settings section: {sorted(unknown)}"


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
        assert not secret_keys(workload)
        return
    for name in SECRET_SETTINGS & set(env):
        assert "value" not in env[name], f"{name} must not be inline"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME, name


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_signing_secret_and_runner_token_are_never_environment_variables(doc: Doc) -> None:
    names = env_names_in(doc)
    if doc["kind"] == "ConfigMap":
        names |= set(doc.get("data", {}))
    assert not FILE_ONLY_SETTINGS & names, "give these as files: LAF_WEBHOOK_SECRET_FILE, …"


@pytest.mark.parametrize("workload", by_id(WORKLOADS))
def test_only_the_api_and_runners_receive_the_signing_secret(workload: Doc) -> None:
    keys = secret_keys(workload)
    assert "*" not in keys.values(), f"mount or import only the keys needed, not all of {keys}"
    env = {n for c in workload["spec"]["template"]["spec"]["containers"] for n in container_env(c)}
    if workload["metadata"]["name"] not in SIGNERS:
        assert "webhook-secret" not in keys.values(), "it neither signs nor verifies webhooks"
        assert "LAF_WEBHOOK_SECRET_FILE" not in env
        return
    for container in workload["spec"]["template"]["spec"]["containers"]:
        # Refused at start without it: the path of a file holding the key `webhook-secret`.
        path = container_env(container).get("LAF_WEBHOOK_SECRET_FILE", "")
        assert keys.get(path) == "webhook-secret", f"LAF_WEBHOOK_SECRET_FILE={path!r}"


@pytest.mark.parametrize("workload", by_id(WORKLOADS))
def test_secret_volumes_are_read_only_and_private(workload: Doc) -> None:
    pod = workload["spec"]["template"]["spec"]
    names = {volume["name"] for volume in secret_volumes(workload)}
    for container in pod["containers"]:
        for mount in container.get("volumeMounts", []):
            if mount["name"] in names:
                assert mount.get("readOnly") is True, mount
    for volume in secret_volumes(workload):
        mode = volume["secret"].get("defaultMode", 0o644)
        assert mode & 0o7 == 0, f"{volume['name']}: mode {mode:o} lets other users read it"
        if mode & 0o70:  # readable through the group: the pod's fsGroup
            assert pod["securityContext"].get("fsGroup") is not None


@pytest.mark.parametrize("pool", sorted(RUNNER_POOLS))
def test_runner_authenticates_with_a_token_file_and_has_no_secret_in_its_environment(
    pool: str,
) -> None:
    runner = DEPLOYMENTS[pool]
    keys = secret_keys(runner)
    for container in runner["spec"]["template"]["spec"]["containers"]:
        path = container_env(container).get("LAF_RUNNER_TOKEN_FILE", "")
        assert keys.get(path) == "runner-token", f"LAF_RUNNER_TOKEN_FILE={path!r}"
    # Its in-process tasks share its environment: every credential is a file.
    in_env = {name: key for name, key in keys.items() if not name.startswith("/")}
    assert not in_env, f"in the runner's environment: {in_env}"
    others = [d for d in WORKLOADS if d["metadata"]["name"] not in RUNNER_POOLS]
    assert all("runner-token" not in secret_keys(d).values() for d in others)


@pytest.mark.parametrize("doc", ALL_DOCS)
def test_auth_stays_on_and_dev_mode_is_gone(doc: Doc) -> None:
    settings = env_items_in(doc)
    if doc["kind"] == "ConfigMap":
        settings += list(doc.get("data", {}).items())
    assert "LAF_DEV_MODE" not in dict(settings), "LAF_DEV_MODE no longer exists"
    assert ("LAF_AUTH", "off") not in settings, "LAF_AUTH=off is for development only"


def test_secret_keys_are_documented() -> None:
    readme = (DEPLOY / "README.md").read_text()
    keys = {key for workload in WORKLOADS for key in secret_keys(workload).values()}
    assert {"webhook-secret", "database-url", "runner-token"} <= keys
    assert all(f"`{key}`" in readme for key in keys), f"document every key of {SECRET_NAME}"


@pytest.mark.parametrize(("workload", "container"), CONTAINERS)
def test_container_environment_parses_as_settings(
    workload: Doc, container: Doc, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = container_env(container)
    assert all(isinstance(value, str) for value in env.values()), "env values must be strings"
    for name in [name for name in os.environ if name.startswith("LAF_")]:
        monkeypatch.delenv(name)
    files = secret_keys(workload)
    for name, value in env.items():
        if name.endswith("_FILE") and value in files:  # a file from the Secret: a stand-in
            stand_in = tmp_path / files[value]
            stand_in.write_text(f"{files[value]}-{'x' * 48}\n")
            value = str(stand_in)
        monkeypatch.setenv(name, value)
    if container["command"][0] in WITHOUT_SECRETS:
        SimlabSettings()
        return
    for cls in SETTINGS_CLASSES:
        cls()  # raises on a malformed value (or an unreadable *_FILE)
    if workload["metadata"]["name"] in SIGNERS:
        CommonSettings().signing_secret()  # raises when missing or short


# ---- workloads -------------------------------------------------------------------------------


def test_each_console_script_runs_in_the_right_kind_of_workload() -> None:
    commands: dict[str, set[str]] = {"Deployment": set(), "Job": set()}
    for workload in WORKLOADS:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            commands[workload["kind"]].add(container["command"][0])
    assert commands["Job"] == {"laf-migrate"}  # applies migrations and exits
    # Every service is deployed; laf-admin and laf are run by hand (`kubectl exec`, deploy/README.md).
    assert commands["Deployment"] == SCRIPTS - {"laf-migrate"} - TOOLS


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
        listens = int(env.get("LAF_API_PORT", ApiSettings.model_fields["port"].default))
    elif container["command"][0] == "laf-simlab":  # serves its probes on its own port
        listens = int(env.get("LAF_SIMLAB_PORT", SimlabSettings.model_fields["port"].default))
    else:
        listens = int(env.get("LAF_HEALTH_PORT", "0"))
        assert listens == 8080, "LAF_HEALTH_PORT must be 8080 for the probe server to run"
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports.get(get["port"], get["port"]) == listens, f"{probe} port {get['port']}"
        if container["command"][0] == "laf-api":
            # The kubelet sends the pod IP as Host unless told otherwise; the API refuses it.
            headers = {h["name"].lower(): h["value"] for h in get.get("httpHeaders", [])}
            assert host_allowed(headers.get("host", "<pod IP>"), env), f"{probe} Host"


def host_allowed(host: str, env: dict[str, str]) -> bool:
    """Whether the API, with this environment, answers a request with this Host header
    (as Starlette's TrustedHostMiddleware matches: port dropped, `*.domain` wildcards)."""
    if "LAF_API_ALLOWED_HOSTS" in env:
        allowed = json.loads(env["LAF_API_ALLOWED_HOSTS"])
    else:
        allowed = ApiSettings.model_fields["allowed_hosts"].default
    name = host.split(":")[0]
    return any(
        pattern in ("*", name) or (pattern.startswith("*.") and name.endswith(pattern[1:]))
        for pattern in allowed
    )


def test_runners_call_the_api_by_a_host_it_answers() -> None:
    api_env = container_env(DEPLOYMENTS["laf-api"]["spec"]["template"]["spec"]["containers"][0])
    for container in DEPLOYMENTS["laf-runner"]["spec"]["template"]["spec"]["containers"]:
        url = container_env(container).get("LAF_RUNNER_API_URL", "")
        assert host_allowed(urlsplit(url).netloc, api_env), f"LAF_RUNNER_API_URL={url}"


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


def pool_env(pool: str) -> dict[str, str]:
    return container_env(DEPLOYMENTS[pool]["spec"]["template"]["spec"]["containers"][0])


def test_each_runner_deployment_is_one_pool() -> None:
    """A runner Deployment per pool, each naming its pool; `kubernetes` has its own."""
    runners = {
        name
        for name, d in DEPLOYMENTS.items()
        if d["spec"]["template"]["spec"]["containers"][0]["command"] == ["laf-runner"]
    }
    assert runners == RUNNER_POOLS
    executors = {pool: pool_env(pool)["LAF_RUNNER_EXECUTORS"].split(",") for pool in runners}
    assert executors["laf-runner-kubernetes"] == ["kubernetes"]
    assert "kubernetes" not in executors["laf-runner"]
    pools = [pool_env(pool).get("LAF_RUNNER_POOL") for pool in runners]
    assert all(pools) and len(set(pools)) == len(pools), pools
    assert pool_env("laf-runner-kubernetes")["LAF_RUNNER_K8S_NAMESPACE"] == JOBS_NAMESPACE


def test_only_the_kubernetes_pool_holds_a_service_account_token() -> None:
    for workload in WORKLOADS:
        pod = workload["spec"]["template"]["spec"]
        name = workload["metadata"]["name"]
        if name == "laf-runner-kubernetes":
            assert pod["serviceAccountName"] == "laf-runner-kubernetes"
            assert pod.get("automountServiceAccountToken", True) is True
        else:
            assert pod.get("automountServiceAccountToken") is False, name
            assert "serviceAccountName" not in pod, name


# What the Kubernetes pool may do in the Jobs' namespace, exactly.
KUBERNETES_POOL_GRANTS = {
    ("batch", "jobs", v) for v in ("create", "get", "list", "watch", "delete")
}
KUBERNETES_POOL_GRANTS |= {
    ("", r, v) for r in ("pods", "pods/log") for v in ("get", "list", "watch")
}


def grants(role: Doc) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=OVERLAY_IDS)
def test_no_role_grants_more_than_the_kubernetes_pool_needs(directory: Path) -> None:
    docs = rendered(directory)
    assert not named(docs, "ClusterRole") and not named(docs, "ClusterRoleBinding")
    roles = named(docs, "Role")
    assert set(roles) == {"laf-runner-kubernetes"}
    role = roles["laf-runner-kubernetes"]
    assert role["metadata"]["namespace"] == JOBS_NAMESPACE
    assert grants(role) == KUBERNETES_POOL_GRANTS, sorted(grants(role) ^ KUBERNETES_POOL_GRANTS)
    assert not any("resourceNames" in rule or "*" in str(rule) for rule in role["rules"])
    [binding] = named(docs, "RoleBinding").values()
    assert binding["metadata"]["namespace"] == JOBS_NAMESPACE
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "laf-runner-kubernetes",
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "laf-runner-kubernetes",
            "namespace": overlay_namespace(directory),
        }
    ]


@pytest.mark.parametrize("directory", OVERLAY_DIRS, ids=OVERLAY_IDS)
def test_the_jobs_namespace_has_a_quota_and_limits(directory: Path) -> None:
    docs = rendered(directory)
    quota = named(docs, "ResourceQuota")[JOBS_NAMESPACE]
    assert quota["metadata"]["namespace"] == JOBS_NAMESPACE
    assert {"pods", "count/jobs.batch", "limits.cpu", "limits.memory"} <= set(quota["spec"]["hard"])
    [limits] = named(docs, "LimitRange")[JOBS_NAMESPACE]["spec"]["limits"]
    assert limits["type"] == "Container" and limits["default"] and limits["defaultRequest"]


def test_every_replicated_deployment_has_a_disruption_budget() -> None:
    budgets = of_kind("PodDisruptionBudget")
    for name, deployment in DEPLOYMENTS.items():
        if deployment["spec"]["replicas"] > 1:
            assert any(
                selects(b["spec"]["selector"]["matchLabels"], pod_labels(deployment))
                for b in budgets
            ), name


def test_production_scales_each_runner_pool_on_its_queues_and_the_api_on_cpu() -> None:
    from laf_core import topology

    docs = rendered(PRODUCTION)
    hpas = named(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"laf-api"}, "KEDA owns the pools' autoscalers"
    [metric] = hpas["laf-api"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    scaled = named(docs, "ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == RUNNER_POOLS
    auths = named(docs, "TriggerAuthentication")
    for item in scaled.values():
        pool = item["spec"]["scaleTargetRef"]["name"]
        queues = {t["metadata"]["queueName"] for t in item["spec"]["triggers"]}
        served = pool_env(pool)["LAF_RUNNER_EXECUTORS"].split(",")
        assert queues == {topology.runner_queue(e) for e in served}, pool
        for trigger in item["spec"]["triggers"]:
            assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength"
            assert trigger["authenticationRef"]["name"] in auths
        assert item["spec"]["minReplicaCount"] >= 1  # a pool never scales to no runner
    for auth in auths.values():
        for ref in auth["spec"]["secretTargetRef"]:
            assert (ref["name"], ref["key"]) == (SECRET_NAME, "amqp-url")


def policies_for(docs: list[Doc], labels: dict[str, str], namespace: str) -> list[Doc]:
    return [
        p
        for p in named(docs, "NetworkPolicy").values()
        if p["metadata"]["namespace"] == namespace
        and p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]


def peers(rules: list[Doc], side: str) -> set[str]:
    """The pods (by name label) a policy's rules let in or out; "*" for any."""
    found = set()
    for rule in rules:
        for peer in rule.get(side, [{}]):
            if "namespaceSelector" in peer and "podSelector" not in peer:
                found.add(
                    "ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                )
                continue
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            found.add(labels.get("app.kubernetes.io/name") or labels.get("cnpg.io/cluster") or
                      labels.get("k8s-app") or "*")  # fmt: skip
    return found


def test_production_has_a_network_policy_per_workload() -> None:
    docs = rendered(PRODUCTION)
    namespace = overlay_namespace(PRODUCTION)
    deny = named(docs, "NetworkPolicy")["laf-default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    workloads = [d for d in docs if d["kind"] in {"Deployment", "Job"}]
    for workload in workloads:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        own = [p for p in policies_for(docs, labels, namespace) if p["spec"]["podSelector"]]
        assert len(own) == 1, (
            f"{workload['metadata']['name']}: {[p['metadata']['name'] for p in own]}"
        )


def test_only_the_api_listener_coordinator_and_migrations_reach_postgresql() -> None:
    docs = rendered(PRODUCTION)
    namespace = overlay_namespace(PRODUCTION)
    database = named(docs, "NetworkPolicy")["laf-postgres"]
    assert database["spec"]["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "laf-postgres"}}
    allowed = peers([r for r in database["spec"]["ingress"] if {"port": 5432, "protocol": "TCP"}
                     in r["ports"]], "from")  # fmt: skip
    # Its own instances (replication) and the operator's namespace, and only these four.
    assert allowed == {"laf-api", "laf-listener", "laf-coordinator", "laf-migrate",
                       "laf-postgres", "ns:cnpg-system"}  # fmt: skip
    for workload in (d for d in docs if d["kind"] in {"Deployment", "Job"}):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        [own] = [p for p in policies_for(docs, labels, namespace) if p["spec"]["podSelector"]]
        reaches = "laf-postgres" in peers(own["spec"].get("egress", []), "to")
        name = workload["metadata"]["name"]
        assert reaches == (name in {"laf-api", "laf-listener", "laf-coordinator", "laf-migrate"}), (
            name
        )


def test_jobs_reach_only_the_apis_webhook() -> None:
    docs = rendered(PRODUCTION)
    [policy] = [p for p in named(docs, "NetworkPolicy").values()
                if p["metadata"]["namespace"] == JOBS_NAMESPACE]  # fmt: skip
    assert policy["spec"]["podSelector"] == {} and "ingress" not in policy["spec"]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    dns, api = policy["spec"]["egress"]
    assert peers([dns], "to") == {"kube-dns"} and {p["port"] for p in dns["ports"]} == {53}
    [to_api] = api["to"]
    assert to_api["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": overlay_namespace(PRODUCTION)
    }
    assert to_api["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "laf-api"}
    api_port = DEPLOYMENTS["laf-api"]["spec"]["template"]["spec"]["containers"][0]["ports"][0]
    assert api["ports"] == [{"protocol": "TCP", "port": api_port["containerPort"]}]


# ---- one machine with Docker: compose.yaml ---------------------------------------------------

COMPOSE = ROOT / "compose.yaml"
COMPOSE_SERVICES = {
    "postgres", "rabbitmq", "migrate", "api", "listener", "coordinator", "runner", "simlab"
}  # fmt: skip


def compose() -> Doc:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def compose_laf_services() -> dict[str, Doc]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("command", [""])[0] in SCRIPTS
    }


def test_compose_parses_and_names_every_service() -> None:
    services = compose()["services"]
    assert set(services) == COMPOSE_SERVICES
    commands = {service["command"][0] for service in compose_laf_services().values()}
    assert commands == SCRIPTS - TOOLS, "every console script but laf-admin runs"
    for name, service in services.items():
        assert service.get("image"), name
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown {needed}"
    images = {s["image"] for s in compose_laf_services().values()}
    assert len(images) == 1 and all("build" in s for s in compose_laf_services().values())
    build = next(iter(compose_laf_services().values()))["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE.resolve()


def test_compose_settings_are_fields_and_credentials_stay_out_of_the_file() -> None:
    declared = compose().get("secrets", {})
    for name, service in compose_laf_services().items():
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        unknown = {k for k in env if k.startswith("LAF_")} - SETTINGS_ENV
        assert not unknown, f"{name}: {sorted(unknown)}"
        assert not FILE_ONLY_SETTINGS & set(env), f"{name}: as files only"
        for key, value in env.items():
            if "://" in value and "@" in value:  # a URL with a user: its password from .env
                assert re.search(r":\$\{[A-Z_]+:\?[^}]*\}@", value), f"{name}: {key}"
        for secret in service.get("secrets", []):
            assert secret in declared, f"{name}: secret {secret} is not declared"
            assert f"/run/secrets/{secret}" in env.values(), f"{name}: {secret} is unused"
        assert service["user"].split(":")[0] == str(dockerfile_uid())
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    for secret in declared.values():
        assert secret["file"].startswith("./secrets/")
    runner = compose_laf_services()["runner"]["environment"]
    assert not {"LAF_DATABASE_URL", "LAF_AMQP_URL"} & set(runner), "credentials as files"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/secrets/" in ignored and "/.env" in ignored, "keep the secrets out of git"


def test_compose_health_checks_hit_the_port_each_process_listens_on() -> None:
    for name, service in compose_laf_services().items():
        if name == "migrate":  # runs and exits
            continue
        check = " ".join(service["healthcheck"]["test"])
        env = service["environment"]
        port = env.get("LAF_API_PORT") or env.get("LAF_SIMLAB_PORT") or env["LAF_HEALTH_PORT"]
        assert f"127.0.0.1:{port}/readyz" in check, name


def test_compose_is_documented() -> None:
    readme = (DEPLOY / "README.md").read_text()
    assert "docker compose up" in readme
    assert all(f"`{name}`" in readme for name in COMPOSE_SERVICES)


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
