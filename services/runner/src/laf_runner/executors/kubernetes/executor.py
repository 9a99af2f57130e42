"""`kubernetes`: run the attempt as a batch/v1 Job and follow it to its end.

The Job is built by `spec` (pure) and judged by `status` (pure), beside this
module, which does the I/O with
kubernetes-asyncio: create (a 409 means the attempt's Job already exists: it
is followed, never started twice), watch the Job and its pod together
(re-reading and re-opening the watch whenever a stream ends or drops), read
the pod's log tail, and delete the Job, with background propagation, when the
attempt is cancelled or its pod can never start.

A runner that restarts calls `recover()`: the Jobs labelled with its pool (or,
without one, its runner id) are followed again where they are, not re-created.
In a pool (LAF_RUNNER_POOL: the replicas of one runner Deployment), the runner
that follows a Job holds its lease (laf_runner.leases: an exclusive queue on its
broker connection, gone when the runner is); every runner of the pool calls
`recover()` again every LAF_RUNNER_ADOPT_S and adopts the Jobs whose lease is
free, so a replaced or scaled-down runner's Jobs are taken up by another one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from laf_core.backoff import delays
from laf_core.contracts.reports import ClaimedTask
from laf_core.task_tokens import task_token
from laf_runner.executors import BaseExecutor, Context, Outputs, Recovered, Run, TaskFailed
from laf_runner.executors.kubernetes import spec as k8s_spec
from laf_runner.executors.kubernetes import status as k8s_status
from laf_runner.executors.logs import last_line, tail
from laf_runner.settings import RunnerSettings

log = logging.getLogger(__name__)
TAIL_LINES = 200
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_DROPPED = (aiohttp.ClientError, TimeoutError, ApiException, ValueError)


def kubeconfig_path(settings: RunnerSettings) -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(settings.k8s_kubeconfig or first or Path.home() / ".kube" / "config")


def in_cluster(settings: RunnerSettings) -> bool:
    return (
        not settings.k8s_kubeconfig
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and IN_CLUSTER_TOKEN.exists()
    )


def configuration_problem(settings: RunnerSettings) -> str | None:
    """Why this runner cannot reach a cluster, or None."""
    if in_cluster(settings) or kubeconfig_path(settings).is_file():
        return None
    return (
        "the kubernetes executor needs a cluster: run in-cluster (a service account) or set "
        f"LAF_RUNNER_K8S_KUBECONFIG (no kubeconfig at {kubeconfig_path(settings)})"
    )


class KubernetesExecutor(BaseExecutor):
    """Runs the attempt as a Job; `recover` re-attaches to this runner's Jobs after a restart
    and adopts the Jobs of its pool that nobody follows."""

    adopts = True

    def __init__(self, settings: RunnerSettings, webhook_secret: str) -> None:
        self.settings = settings
        self.defaults = k8s_spec.JobDefaults.from_settings(settings)
        self.namespace = settings.k8s_namespace
        self._secret = webhook_secret
        self._api: client.ApiClient | None = None
        self._connecting = asyncio.Lock()
        self._detached = False
        self._following: set[asyncio.Task[k8s_status.Verdict]] = set()
        self._followed: set[str] = set()  # Jobs this runner follows now
        self._done: set[str] = set()  # Jobs it followed to their end: not adopted again

    # ---- the connection -------------------------------------------------------------------

    async def api(self) -> client.ApiClient:
        async with self._connecting:
            if self._api is None:
                configuration = client.Configuration()
                if in_cluster(self.settings):
                    # kubernetes-asyncio leaves this one unannotated
                    config.load_incluster_config(  # type: ignore[no-untyped-call]
                        client_configuration=configuration
                    )
                else:
                    await config.load_kube_config(
                        config_file=str(kubeconfig_path(self.settings)),
                        context=self.settings.k8s_context or None,
                        client_configuration=configuration,
                        persist_config=False,
                    )
                self._api = client.ApiClient(configuration)
            return self._api

    def detach(self) -> None:
        """The runner is stopping: stop following Jobs and leave them running, for the
        restarted runner to re-attach to (a cancel or a timeout, instead, deletes the Job)."""
        self._detached = True
        for following in list(self._following):
            following.cancel()

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None

    # ---- running an attempt ---------------------------------------------------------------

    async def run(self, task: ClaimedTask, ctx: Context) -> Outputs:
        token = task_token(self._secret, task.task_id, task.attempt)
        try:
            manifest = k8s_spec.build_job(task, self.defaults, ctx.runner_id, token, ctx.pool)
        except k8s_spec.SpecError as exc:
            raise TaskFailed(str(exc)) from None
        name = manifest["metadata"]["name"]
        if ctx.leases is not None:
            await ctx.leases.hold(name)  # before the Job exists: no peer adopts it meanwhile
        batch = client.BatchV1Api(await self.api())
        try:
            # The API takes the manifest as plain JSON; the client's V1Job model is not needed.
            await batch.create_namespaced_job(self.namespace, manifest)  # type: ignore[arg-type]
            log.info("created Job %s/%s for %s", self.namespace, name, task.task_id)
        except ApiException as exc:
            if exc.status != 409:
                raise TaskFailed(f"cannot create Job {name}: {_api_error(exc)}") from None
            existing = await self._read_job(name)
            if existing is None or not k8s_spec.belongs_to(existing, task.task_id, task.attempt):
                raise TaskFailed(f"a Job named {name} exists and is not this attempt's") from None
            log.info(
                "Job %s/%s already exists for this attempt: following it", self.namespace, name
            )
        return await self.follow(name, ctx)

    async def follow(self, name: str, ctx: Context | None = None) -> Outputs:
        """Wait for the Job's end; outputs or TaskFailed. Cancelling deletes the Job."""
        following = asyncio.create_task(self._verdict(name), name=f"follow {name}")
        self._following.add(following)
        self._followed.add(name)
        following.add_done_callback(self._following.discard)
        try:
            verdict = await following
        except asyncio.CancelledError:
            if self._detached:
                log.info("leaving Job %s/%s running: the runner stops", self.namespace, name)
            else:
                await asyncio.shield(self.delete(name))
                await asyncio.shield(self._let_go(name, ctx))
            raise
        finally:
            self._followed.discard(name)
        await self._let_go(name, ctx)
        outputs: Outputs = {"job": name, "namespace": self.namespace}
        if verdict.pod:
            outputs["pod"] = verdict.pod
            outputs["stdout_tail"] = await self._log_tail(verdict.pod)
        if verdict.exit_code is not None:
            outputs["exit_code"] = verdict.exit_code
        if verdict.delete_job:
            await self.delete(name)
        if verdict.state == "failed":
            last = last_line(outputs.get("stdout_tail", ""))
            detail = f": {last}" if last and verdict.exit_code else ""
            raise TaskFailed(verdict.error + detail, outputs)
        return outputs

    async def delete(self, name: str) -> None:
        """Delete the Job and, in the background, its pods. A Job already gone is fine."""
        batch = client.BatchV1Api(await self.api())
        try:
            await batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background")
            log.info("deleted Job %s/%s", self.namespace, name)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("cannot delete Job %s: %s", name, _api_error(exc))

    async def _let_go(self, name: str, ctx: Context | None) -> None:
        """The Job reached its end here (or was deleted): not this runner's to adopt again,
        and its lease is free."""
        self._done.add(name)
        if ctx is not None and ctx.leases is not None:
            await ctx.leases.drop(name)

    # ---- re-attaching after a restart, adopting in the pool -------------------------------

    async def recover(self, ctx: Context) -> list[Recovered]:
        """The pool's Jobs (by label) that nobody follows, to be followed again rather than
        started anew: this runner's own after a restart, and, with leases, those of a
        runner of the pool that is gone (its lease ended with its broker connection)."""
        batch = client.BatchV1Api(await self.api())
        pool = k8s_spec.label_value(ctx.pool_name)
        selector = f"{k8s_spec.MANAGED_BY}=laf,{k8s_spec.POOL}={pool}"
        listing = await _raw(batch.list_namespaced_job, self.namespace, label_selector=selector)
        found = []
        for job in listing.get("items") or []:
            name = job["metadata"].get("name", "")
            if name in self._followed or name in self._done:
                continue
            own = k8s_spec.owned_by(job, ctx.runner_id)
            if not own and not k8s_spec.in_pool(job, ctx.pool_name):
                continue  # also where selectors are ignored
            try:
                task = k8s_spec.claimed_from_job(job)
            except (KeyError, ValueError):
                log.warning("Job %s has LAF's labels but not a task's", name)
                continue
            if ctx.leases is not None:
                if own:
                    await ctx.leases.hold(name)
                elif not await ctx.leases.take(name):
                    continue  # a living runner of the pool follows it
            elif not own:
                continue  # without leases, nobody can tell whether its runner is gone
            found.append(Recovered(task, self._resumer(name)))
        if found:
            log.info("re-attaching to %d Job(s): %s", len(found), [r.task.name for r in found])
        return found

    def _resumer(self, name: str) -> Run:
        async def resume(_task: ClaimedTask, ctx: Context) -> Outputs:
            return await self.follow(name, ctx)

        return resume

    # ---- watching -------------------------------------------------------------------------

    async def _verdict(self, name: str) -> k8s_status.Verdict:
        """Judge, then watch for changes; re-read and re-watch after every end or drop."""
        backoff = delays(0.4, 10.0)
        while True:
            try:
                job = await self._read_job(name)
                if job is None:
                    return k8s_status.Verdict("failed", f"the Job {name} was deleted outside LAF")
                pods = await self._pods(name)
                verdict = k8s_status.judge(job, list(pods.values()))
                if verdict.state != "running":
                    return verdict
                watched = await self._watch(name, job, pods)
                if watched is not None:
                    return await self._confirmed(name, watched)
                backoff = delays(0.4, 10.0)  # the stream ended in good order (its timeout)
            except _DROPPED as exc:
                delay = next(backoff)
                log.warning("watch of Job %s dropped (%r); resuming in %.1fs", name, exc, delay)
                await asyncio.sleep(delay)

    async def _confirmed(self, name: str, verdict: k8s_status.Verdict) -> k8s_status.Verdict:
        """Judge the end once more from fresh reads: the Job's and the pod's events come on two
        streams, so the Job's failure may arrive before the pod event that explains it."""
        job = await self._read_job(name)
        if job is None:
            return verdict
        again = k8s_status.judge(job, list((await self._pods(name)).values()))
        return again if again.state != "running" else verdict

    async def _watch(
        self, name: str, job: dict[str, Any], pods: dict[str, dict[str, Any]]
    ) -> k8s_status.Verdict | None:
        """Follow the Job's and its pods' events; None when a stream ended first."""
        api = await self.api()
        events: asyncio.Queue[tuple[str, dict[str, Any] | None]] = asyncio.Queue()
        timeout = self.settings.k8s_watch_timeout_s

        async def pump(kind: str, list_call: Any, resource_version: str | None, **kw: Any) -> None:
            async with watch.Watch(return_type="object") as stream:  # JSON, as _raw
                if resource_version:
                    kw["resource_version"] = resource_version
                async for event in stream.stream(
                    list_call, self.namespace, timeout_seconds=timeout, **kw
                ):
                    await events.put((event["type"], {"kind": kind, **event["raw_object"]}))
            await events.put(("END", None))

        pumps = [
            asyncio.create_task(
                pump(
                    "Job",
                    client.BatchV1Api(api).list_namespaced_job,
                    _resource_version(job),
                    field_selector=f"metadata.name={name}",
                )
            ),
            asyncio.create_task(
                pump(
                    "Pod",
                    client.CoreV1Api(api).list_namespaced_pod,
                    None,
                    label_selector=f"job-name={name}",
                )
            ),
        ]
        getter: asyncio.Future[tuple[str, dict[str, Any] | None]] | None = None
        try:
            while True:
                getter = asyncio.ensure_future(events.get())
                done, _ = await asyncio.wait([getter, *pumps], return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    for pump_task in done:
                        pump_task.result()  # raises what dropped the stream
                    continue
                kind, obj = getter.result()
                if obj is None:
                    return None
                meta = obj.get("metadata") or {}
                if obj["kind"] == "Job" and meta.get("name") == name:
                    if kind == "DELETED":
                        return k8s_status.Verdict(
                            "failed", f"the Job {name} was deleted outside LAF"
                        )
                    job = obj
                elif obj["kind"] == "Pod" and _job_of(obj) == name:
                    if kind == "DELETED":
                        pods.pop(meta.get("name", ""), None)
                    else:
                        pods[meta.get("name", "")] = obj
                else:
                    continue  # where selectors are ignored: someone else's object
                verdict = k8s_status.judge(job, list(pods.values()))
                if verdict.state != "running":
                    return verdict
        finally:
            waiting: list[asyncio.Future[Any]] = [*pumps, *([getter] if getter else [])]
            for waiter in waiting:
                waiter.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)

    # ---- reads ----------------------------------------------------------------------------

    async def _read_job(self, name: str) -> dict[str, Any] | None:
        batch = client.BatchV1Api(await self.api())
        try:
            return await _raw(batch.read_namespaced_job, name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def _pods(self, name: str) -> dict[str, dict[str, Any]]:
        core = client.CoreV1Api(await self.api())
        listing = await _raw(
            core.list_namespaced_pod, self.namespace, label_selector=f"job-name={name}"
        )
        return {
            pod["metadata"]["name"]: pod
            for pod in listing.get("items") or []
            if _job_of(pod) == name
        }

    async def _log_tail(self, pod: str) -> str:
        core = client.CoreV1Api(await self.api())
        try:
            text = await core.read_namespaced_pod_log(
                pod, self.namespace, container=k8s_spec.CONTAINER, tail_lines=TAIL_LINES
            )
        except (ApiException, aiohttp.ClientError, TimeoutError) as exc:
            log.info("no log for pod %s: %r", pod, exc)
            return ""
        return tail(str(text).encode())


async def _raw(call: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The API's JSON as it is (camelCase), not the client's models: the executor reads a few
    fields and must not trip over the client's validation of fields it never uses."""
    response = await call(*args, _preload_content=False, **kwargs)
    try:
        text = await response.text()
    finally:
        response.release()
    if not 200 <= response.status < 300:
        error = ApiException(status=response.status, reason=response.reason)
        error.body = text
        raise error
    return dict(json.loads(text))


def _job_of(pod: dict[str, Any]) -> str | None:
    found = (pod.get("metadata") or {}).get("labels") or {}
    return found.get("batch.kubernetes.io/job-name") or found.get("job-name")


def _resource_version(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion") or None


def _api_error(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return f"{exc.status} {body.get('reason') or exc.reason}: {body.get('message') or ''}".rstrip(
        ": "
    )


def load(settings: RunnerSettings, webhook_secret: str) -> KubernetesExecutor:
    """The executor, or ValueError when no cluster is configured."""
    problem = configuration_problem(settings)
    if problem:
        raise ValueError(problem)
    if not webhook_secret:
        raise ValueError("the kubernetes executor needs the webhook secret (for pod tokens)")
    return KubernetesExecutor(settings, webhook_secret)
