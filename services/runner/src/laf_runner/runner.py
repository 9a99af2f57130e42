"""A runner: competing consumer of laf.runner.<executor> queues.

For each `task.queued` event it claims the attempt through the API (a
`started` report, accepted once per attempt), acks the message at once
(DESIGN rule 4: long tasks don't hold messages), runs the task, heartbeats
while it runs, and posts the signed result.

Nothing lost: the result is made storable first (laf_runner.storable), its
slot is freed, and it is posted until the API accepts it (2xx), finds it stale
(409) or refuses it for good (another 4xx: then a failed report with the API's
reason takes its place). While the API cannot take it, the result waits on
disk in the attempt's folder (laf_runner.attempts), so a runner restarted
during an API outage still delivers it; the folder goes only once the API has
answered for good.

Nothing stops the runner but its own cancellation: every failure of a task, an
executor or a report is logged and becomes the attempt's error.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import TypeAdapter, ValidationError

from laf_core import blobs, broker, logs, telemetry, topology
from laf_core.aio import sleep
from laf_core.backoff import delays
from laf_core.canonical import canonical_json, sha256_of
from laf_core.contracts.events import Envelope
from laf_core.contracts.reports import (
    ClaimedTask,
    FailedReport,
    HeartbeatReport,
    RunnerHeartbeat,
    StartedReport,
    SucceededReport,
)
from laf_core.errors import PermanentError, TransientError
from laf_core.metrics import Metrics
from laf_core.policy import TaskPolicy
from laf_core.settings import CommonSettings
from laf_runner import executors, storable
from laf_runner.api_client import ApiClient, ApiFailed, Refused, Rejected
from laf_runner.attempts import REPORT
from laf_runner.leases import Leases
from laf_runner.settings import RunnerSettings

log = logging.getLogger(__name__)
TASKS_PATH = "/api/webhooks/tasks"
Result = SucceededReport | FailedReport
_RESULT: TypeAdapter[Result] = TypeAdapter(Result)
CLAIM_FAILURES = 5  # a claim the API answers with 500 this often is dead-lettered


class Runner:
    def __init__(
        self,
        common: CommonSettings,
        settings: RunnerSettings,
        metrics: Metrics,
        policy: TaskPolicy | None = None,
    ) -> None:
        self.common = common
        self.settings = settings
        self.metrics = metrics
        self._announced = False
        self._broker_ok = False
        self._secret = common.signing_secret()  # refuses a missing or short one at start
        self.policy = policy if policy is not None else TaskPolicy()
        self._token = settings.api_token()
        if not self._token and common.auth == "on":
            raise ValueError("a runner needs its API token: set LAF_RUNNER_TOKEN_FILE")
        self.executors = {
            name: executors.load(name, settings, self._secret) for name in settings.executor_names
        }
        self.leases = Leases()
        self.context = executors.Context(
            runner_id=settings.id,
            workdir=str(settings.attempts_parent),
            pool=settings.pool,
            leases=self.leases,
        )
        self.store = self.context.store
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._running: dict[str, asyncio.Task[None]] = {}  # attempts being executed
        self._work: set[asyncio.Task[None]] = set()  # those, and results being delivered
        self._claims: set[asyncio.Task[None]] = set()  # claims carried through a lost channel
        self._api: ApiClient | None = None
        self._stopping = False  # executors were told to detach: their cancellations are ours
        metrics.gauge("running_tasks", lambda: float(len(self._running)))
        metrics.gauge("undelivered_results", lambda: float(len(self._work) - len(self._running)))
        metrics.gauge("ready", lambda: float(self.ready))
        if telemetry.enabled() and telemetry.instrumentation_wanted("aiohttp-client"):
            # the official instrumentation: the API's spans join ours
            from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

            AioHttpClientInstrumentor().instrument()

    @property
    def api(self) -> ApiClient:
        assert self._api is not None
        return self._api

    @property
    def ready(self) -> bool:
        """Ready once the API knows this runner and while the broker session is up."""
        return self._announced and self._broker_ok

    async def run(self, stop: asyncio.Event) -> None:
        self.store.check()  # refuse to start on a planted attempts folder (UnsafeFolder)
        async with ApiClient(self.settings.api_url, self._secret, self._token) as api:
            self._api = api
            try:
                await self._reattach()
                await self._announce_first(stop)  # so that "ready" means the API knows us
                self._announced = True
                log.info("runner %s serving %s", self.settings.id, ", ".join(self.executors))
                async with asyncio.TaskGroup() as group:
                    group.create_task(
                        broker.keep_session(
                            self.common.amqp_url,
                            stop,
                            self._subscribe,
                            self._broker_state,
                            "runner",
                        )
                    )
                    group.create_task(self._announce_until(stop))
                    if any(e.adopts for e in self.executors.values()):
                        group.create_task(self._adopt_until(stop))
            finally:
                self._broker_ok = False  # the session closed: no new work comes in
                await self._finish_running(grace_s=10)
                for executor in self.executors.values():
                    await executor.close()
                self.store.tidy()

    async def _subscribe(self, connection: AbstractConnection) -> None:
        await self.leases.attach(connection)
        channel = await connection.channel()
        await broker.declare_topology(channel)
        for name in self.executors:
            await broker.consume(
                channel,
                topology.runner_queue(name),
                self.handle,
                self.metrics,
                prefetch=self.settings.concurrency,
            )
        await self._listen_for_cancels(channel)

    def _broker_state(self, connected: bool) -> None:
        self._broker_ok = connected

    def _spawn(self, key: str, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start one attempt's work (running it, delivering its result), watched: it is
        awaited on shutdown, and anything it raises is logged."""
        task = asyncio.create_task(work, name=key)
        self._work.add(task)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.metrics.inc("runner_errors")
            log.error("attempt %s: %r", task.get_name(), task.exception())

    async def handle(self, event: Envelope, _message: AbstractIncomingMessage) -> None:
        """Claim the queued attempt; returning acks the message.

        The claim is shielded: closing a channel (a cut connection, a broker restart)
        cancels its consumers' handlers, and a claim the API already committed, abandoned
        there, would leave the attempt running on record with nobody running it until the
        reconciler failed it as lost. Carried through, the claim starts its attempt; the
        message, never acked, comes back and its claim is refused."""
        if event.type != "task.queued" or event.task_id is None or event.attempt is None:
            raise PermanentError(f"a runner cannot handle {event.type!r} without task and attempt")
        executor = str(event.data.get("executor", ""))
        self.metrics.observe("step_handoff_seconds", _since(event.occurred_at), executor=executor)
        with telemetry.tracer().start_as_current_span(
            "laf.claim",
            kind=SpanKind.CONSUMER,
            attributes=telemetry.task_attributes(
                event.workflow_id,
                event.data.get("name"),
                event.attempt,
                executor,
                event.data.get("instrument"),
            ),
        ):  # the claim's task copies this context: its spans and the run hang under it
            claim = asyncio.create_task(
                self._claim_and_start(event), name=f"claim {event.task_id}/{event.attempt}"
            )
            self._claims.add(claim)
            claim.add_done_callback(self._claim_done)
            await asyncio.shield(claim)

    def _holds(self, key: str) -> bool:
        """Whether this runner already runs the attempt `key` ("task/attempt") or delivers
        its result (those asyncio tasks are named by it, or by its folder "task-attempt").
        The API answers a repeated claim from the runner holding the attempt, since the
        first answer can be lost after its commit; an attempt starts here only once."""
        names = {key, key.replace("/", "-")}
        return any(work.get_name() in names for work in self._work)

    def _claim_done(self, claim: asyncio.Task[None]) -> None:
        self._claims.discard(claim)
        if not claim.cancelled() and (exc := claim.exception()) is not None:
            # Its handler sees it too unless the channel closed meanwhile; then the
            # redelivered message is handled afresh.
            log.debug("%s ended with %r", claim.get_name(), exc)

    async def _claim_and_start(self, event: Envelope) -> None:
        assert event.task_id is not None and event.attempt is not None
        await self._slots.acquire()
        try:
            answer = await self._claim(event.task_id, event.attempt)
        except BaseException:
            self._slots.release()
            raise
        key = f"{event.task_id}/{event.attempt}"
        if answer is None or self._holds(key):  # refused, or ours already (a repeated claim)
            self._slots.release()
            telemetry.annotate(outcome="refused")
            return
        try:
            task = ClaimedTask.model_validate(answer)
        except ValidationError as exc:
            # Claimed, so it is ours to end: fail it rather than leave it running unseen.
            self._slots.release()
            report = self._failed_for(
                event.task_id, event.attempt, f"the runner cannot read its claimed task: {exc}"
            )
            self._spawn(key, self._deliver(report, f"{event.task_id}-{event.attempt}"))
            return
        telemetry.annotate(outcome="claimed")
        self.metrics.observe(
            "queue_wait_seconds",
            _since(event.occurred_at),
            executor=task.executor,
            instrument=task.instrument.id if task.instrument else "",
        )
        self._running[key] = self._spawn(key, self._execute(task, key))

    async def _claim(self, task_id: uuid.UUID, attempt: int) -> Any:
        """The claimed task (the API's answer), or None when it is not ours to run.
        Raises PermanentError when the API can never take this claim, TransientError
        while the API is away (the broker tries the message again)."""
        report = StartedReport(
            type="started", task_id=task_id, attempt=attempt, runner_id=self.settings.id
        )
        for failures in range(1, CLAIM_FAILURES + 1):
            try:
                return await self.api.post(TASKS_PATH, report)
            except Refused as exc:
                self.metrics.inc("claims_refused")
                log.debug("claim of %s refused: %s", task_id, exc)
                return None
            except Rejected as exc:
                raise PermanentError(f"the API refused the claim of {task_id}: {exc}") from None
            except ApiFailed as exc:
                if exc.status != 500:
                    raise  # the API is there but busy or misconfigured: wait for it
                if failures == CLAIM_FAILURES:
                    raise PermanentError(
                        f"the API failed {failures} times on the claim of {task_id}: {exc}"
                    ) from None
                await asyncio.sleep(0.1 * 2**failures)
        raise AssertionError("unreachable")

    async def _reattach(self) -> None:
        """Take up what outlived a restart: results the API has not accepted yet (on disk),
        then the executors' work (local processes, Kubernetes Jobs)."""
        for attempt in self.store.orphans():
            body = attempt.read(REPORT)
            if body is None:
                self.store.release(attempt.key)  # an executor's (a local process)
                continue
            try:
                report = _RESULT.validate_json(body)
            except ValueError as exc:
                log.error("leaving unreadable result %s/%s: %s", attempt.folder, REPORT, exc)
                self.store.release(attempt.key)
                continue
            if f"{report.task_id}-{report.attempt}" != attempt.key:
                log.error("leaving result %s: it is not that attempt's", attempt.folder)
                self.store.release(attempt.key)
                continue
            log.info("delivering the result of %s kept from an earlier run", attempt.key)
            self._spawn(attempt.key, self._deliver(report, attempt.key))
        for name, executor in self.executors.items():
            await self._recover(name, executor)

    async def _recover(self, name: str, executor: executors.Executor) -> None:
        """Follow the work `executor` finds left by an earlier run (or a lost peer)."""
        try:
            found = await executor.recover(self.context)
        except Exception:
            log.exception("cannot look for %s work left by an earlier run", name)
            return
        for item in found:
            key = f"{item.task.task_id}/{item.task.attempt}"
            if key in self._running:
                continue
            await self._slots.acquire()
            self._running[key] = self._spawn(key, self._execute(item.task, key, item.resume))

    async def _adopt_until(self, stop: asyncio.Event) -> None:
        """Every LAF_RUNNER_ADOPT_S while the broker session is up (the leases live on it):
        adopt the pool's work whose runner is gone."""
        while not stop.is_set():
            if self.leases.connected:
                for name, executor in self.executors.items():
                    if executor.adopts:
                        await self._recover(name, executor)
            await sleep(self.settings.adopt_s, stop)

    async def _execute(self, task: ClaimedTask, key: str, run: executors.Run | None = None) -> None:
        """Run one claimed attempt, free its slot, deliver its report. Cancelled while it
        runs (an operator cancelled the workflow, or the runner stops): the executor
        cleans up and nothing is reported."""
        logs.about(task.workflow_id, task.name, task.attempt)  # this asyncio task's own
        folder_key = f"{task.task_id}-{task.attempt}"
        instrument = task.instrument.id if task.instrument else ""
        span: trace.Span = trace.INVALID_SPAN
        try:
            # Heartbeats are not steps of the workflow: out of its trace.
            beat = asyncio.create_task(self._heartbeat(task, key), context=contextvars.Context())
            try:
                with telemetry.tracer().start_as_current_span(
                    "laf.run",
                    attributes=telemetry.task_attributes(
                        task.workflow_id, task.name, task.attempt, task.executor, instrument or None
                    ),
                ) as span:
                    started = time.monotonic()
                    report = await self._outcome(task, run)
                    outcome: str = report.type
                    if isinstance(report, FailedReport) and report.error.startswith("timed out"):
                        outcome = "timed_out"
                    span.set_attribute("outcome", outcome)
                    self.metrics.observe(
                        "task_duration_seconds",
                        time.monotonic() - started,
                        executor=task.executor,
                        instrument=instrument,
                    )
                    self.metrics.inc("tasks_finished", executor=task.executor, outcome=outcome)
            finally:
                beat.cancel()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                log.info("attempt %s stopped", key)
                self.metrics.inc("attempts_stopped")
                self.store.remove(folder_key)
            del self._running[key]
            self._slots.release()
            raise
        del self._running[key]
        # The slot stays ours while the result is delivered: a success offers it for the
        # workflow's next task, which the API's answer may hand over already claimed.
        if isinstance(report, SucceededReport):
            report = report.model_copy(update={"claim_next": list(self.executors)})
        with trace.use_span(span):  # the report is the run's next step in the trace
            await self._deliver(report, folder_key, slot=True)

    async def _listen_for_cancels(self, channel: AbstractChannel) -> None:
        """Every runner hears every cancel (its own exclusive queue) and stops the
        attempts it runs. A missed one is caught by the heartbeat's 409."""
        exchange = await channel.get_exchange(topology.EVENTS_EXCHANGE)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "task.cancelled.*")

        async def on_cancel(message: AbstractIncomingMessage) -> None:
            try:
                event = Envelope.model_validate_json(message.body)
            except ValueError:
                return
            self._stop(f"{event.task_id}/{event.attempt}")

        await queue.consume(on_cancel, no_ack=True)

    def _stop(self, key: str) -> None:
        running = self._running.get(key)
        if running is not None:
            log.info("stopping attempt %s: it is no longer running in LAF", key)
            running.cancel()

    def _run_of(self, task: ClaimedTask) -> executors.Run | None:
        executor = self.executors.get(task.executor)
        return executor.run if executor is not None else None

    async def _outcome(self, task: ClaimedTask, run: executors.Run | None = None) -> Result:
        """The attempt's report, whatever happens in the executor; only the runner's own
        cancellation (a cancel, a shutdown) goes through."""
        fresh = run is None  # not an attempt followed again after a restart
        run = run or self._run_of(task)
        timeout_s = task.timeout_s
        note = ""
        if timeout_s is None:  # so that every executor (a Job's deadline too) sees it
            timeout_s = self.settings.default_timeout_s(task.executor)
            task = task.model_copy(update={"timeout_s": timeout_s})
            note = f" (the runner's default for {task.executor} tasks: the task gave no timeout_s)"
        try:
            problem = self._refusal(task) if fresh else None
            if problem:
                raise executors.TaskFailed(f"refused by the runner's task policy: {problem}")
            if run is None:
                raise executors.TaskFailed(
                    f"runner {self.settings.id} has no executor '{task.executor}'"
                )
            async with asyncio.timeout(timeout_s):  # in this task: no task and loop turn more
                outputs = storable.outputs(await run(task, self.context))
            outputs = await self._large_by_reference(outputs)
        except executors.TaskFailed as exc:
            self.metrics.inc("tasks_failed")
            return self._failed(task, exc.error, exc.outputs)
        except storable.NotStorable as exc:
            self.metrics.inc("tasks_failed")
            return self._failed(task, f"the task's outputs cannot be stored: {exc}")
        except TimeoutError:
            self.metrics.inc("tasks_timed_out")
            return self._failed(task, f"timed out after {timeout_s:g}s{note}")
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or current.cancelling() or self._stopping:
                raise  # ours: the attempt is stopped, or detached as the runner stops
            log.error("executor %s cancelled itself on %s", task.executor, task.task_id)
            return self._failed(task, "executor error: it cancelled itself")
        except BaseException as exc:  # a bug in an executor must still end the attempt
            log.exception("executor %s crashed on %s", task.executor, task.task_id)
            return self._failed(task, f"executor error: {type(exc).__name__}: {exc}")
        self.metrics.inc("tasks_succeeded")
        return SucceededReport(
            type="succeeded",
            task_id=task.task_id,
            attempt=task.attempt,
            runner_id=self.settings.id,
            outputs=outputs,
            outputs_sha256=sha256_of(outputs),
        )

    async def _large_by_reference(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Outputs larger than LAF_RUNNER_INLINE_OUTPUT_BYTES go to the API's data store
        once, by content hash, and the report carries a reference: the record stays
        small and the data cannot change under its hash. Kept inline if the store fails."""
        limit = self.settings.inline_output_bytes
        moved: dict[str, Any] = {}
        for key, value in outputs.items() if limit > 0 else ():
            content = canonical_json(value)
            if len(content) <= limit or blobs.referenced(value):
                continue
            try:
                digest = await self.api.store_blob(content, "application/json")
            except TransientError as exc:
                log.warning("output %r kept inline: storing it failed: %s", key, exc)
                continue
            moved[key] = blobs.reference(digest, len(content), "application/json")
        return {**outputs, **moved}

    def _refusal(self, task: ClaimedTask) -> str | None:
        """Which allow-list the task breaks, checked again here: the API checked it at
        submit, but the policy may have been tightened since, or the check skipped."""
        problem = self.policy.task_problem(task.executor, task.params)
        if problem is None and task.executor == "http":
            endpoint = task.instrument.endpoint if task.instrument else None
            problem = self.policy.endpoint_problem(endpoint or "")
        return problem

    def _failed(
        self, task: ClaimedTask, error: str, outputs: dict[str, Any] | None = None
    ) -> FailedReport:
        return self._failed_for(task.task_id, task.attempt, error, outputs)

    def _failed_for(
        self, task_id: uuid.UUID, attempt: int, error: str, outputs: dict[str, Any] | None = None
    ) -> FailedReport:
        """A failed report the API can store: error bounded and escaped, outputs storable
        (or left out, saying why)."""
        if outputs is not None:
            try:
                outputs = storable.outputs(outputs)
            except storable.NotStorable as exc:
                outputs = None
                error = f"{error} (its outputs were left out: {exc})"
        return FailedReport(
            type="failed",
            task_id=task_id,
            attempt=attempt,
            runner_id=self.settings.id,
            error=storable.error(error),
            outputs=outputs,
            outputs_sha256=None if outputs is None else sha256_of(outputs),
        )

    async def _deliver(self, report: Result, key: str, slot: bool = False) -> None:
        """Post the result until the API answers for good; meanwhile keep it on disk.
        With `slot` (a slot held for it), a next task in the answer runs in that slot;
        the slot is let go at once otherwise, and on the first failed try."""
        with telemetry.tracer().start_as_current_span(
            "laf.report",
            kind=SpanKind.PRODUCER,
            attributes={"laf.attempt": report.attempt, "outcome": report.type},
        ):
            await self._post_result(report, key, slot)

    async def _post_result(self, report: Result, key: str, slot: bool) -> None:
        kept = False
        replaced = 0
        try:
            for delay in delays(0.2, 10.0):
                try:
                    answer = await self.api.post(TASKS_PATH, report)
                    if slot:
                        slot = self._hand_on(answer)
                    break
                except Refused as exc:  # a duplicate, or the attempt ended elsewhere
                    self.metrics.inc("results_stale")
                    log.warning("result for %s not taken: %s", key, exc)
                    break
                except Rejected as exc:
                    self.metrics.inc("results_refused")
                    log.error("the API refused the result of %s: %s", key, exc)
                    if replaced == 2:
                        break  # even the refusal's report is refused: logged, counted
                    replaced += 1
                    report = self._failed_for(
                        report.task_id,
                        report.attempt,
                        f"the API refused this attempt's {report.type} report "
                        f"(HTTP {exc.status}): {exc.detail}",
                    )
                    if kept:  # the refusal's report replaces the kept one
                        kept = self._keep(key, report)
                except TransientError as exc:
                    if slot:  # never hold a slot while the API is away
                        slot = self._let_go_of_slot()
                        report = _without_offer(report)
                    kept = kept or self._keep(key, report)
                    log.warning("cannot report %s yet (%s); retrying in %.1fs", key, exc, delay)
                    await asyncio.sleep(delay)
        except asyncio.CancelledError:  # the runner stops: the next one delivers it
            if kept or self._keep(key, _without_offer(report)):
                self.store.release(key)
            raise
        finally:
            if slot:
                self._let_go_of_slot()
        self.store.remove(key)

    def _hand_on(self, answer: Any) -> bool:
        """Run the next task the API claimed for us in the slot we hold; False when the
        slot is no longer ours to let go (it went to that task)."""
        claimed = answer.get("next") if isinstance(answer, dict) else None
        if claimed is None:
            return True
        try:
            task = ClaimedTask.model_validate(claimed)
        except ValidationError as exc:
            log.error("the API handed on a task this runner cannot read: %s", exc)
            return True  # left running: the reconciler fails it as lost
        key = f"{task.task_id}/{task.attempt}"
        self.metrics.inc("tasks_handed_on")
        with telemetry.tracer().start_as_current_span(  # claimed by the API for us
            "laf.claim",
            attributes={
                **telemetry.task_attributes(
                    task.workflow_id,
                    task.name,
                    task.attempt,
                    task.executor,
                    task.instrument.id if task.instrument else None,
                ),
                "laf.handed_on": True,
                "outcome": "claimed",
            },
        ):
            self._running[key] = self._spawn(key, self._execute(task, key))
        return False

    def _let_go_of_slot(self) -> bool:
        self._slots.release()
        return False

    def _keep(self, key: str, report: Result) -> bool:
        """Write the report into the attempt's folder; False if it cannot be kept."""
        try:
            self.store.hold(key).write(REPORT, report.model_dump_json().encode())
        except OSError as exc:
            log.error("cannot keep the result of %s on disk: %s", key, exc)
            return False
        self.metrics.inc("results_kept")
        return True

    async def _heartbeat(self, task: ClaimedTask, key: str) -> None:
        logs.about(task.workflow_id, task.name, task.attempt)
        payload = HeartbeatReport(
            type="heartbeat", task_id=task.task_id, attempt=task.attempt, runner_id=self.settings.id
        )
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                await self.api.post(TASKS_PATH, payload)
            except (Refused, Rejected):
                self._stop(key)  # cancelled or ended elsewhere: stop working on it
                return
            except TransientError:
                pass
            except Exception:
                log.exception("heartbeat of %s failed", key)

    async def _announce(self) -> bool:
        try:
            await self.api.post(
                "/api/webhooks/runners",
                RunnerHeartbeat(
                    runner_id=self.settings.id,
                    executors=list(self.executors),
                    hostname=socket.gethostname(),
                    concurrency=self.settings.concurrency,
                    running=len(self._running),
                ),
            )
            return True
        except (TransientError, Rejected, ValueError) as exc:
            log.warning("cannot announce runner: %s", exc)
            return False

    async def _announce_first(self, stop: asyncio.Event) -> None:
        """Announce before taking work, so the API never refuses what this runner serves."""
        for delay in delays(0.1, 2.0):
            if stop.is_set() or await self._announce():
                return
            await sleep(delay, stop)

    async def _announce_until(self, stop: asyncio.Event) -> None:
        """Tell the API which executors this runner serves, every heartbeat_s."""
        while not await sleep(self.settings.heartbeat_s, stop):
            await self._announce()

    async def _finish_running(self, grace_s: float) -> None:
        """On shutdown: let running tasks end (and results be delivered) for a while, then
        stop them. A result still undelivered stays on disk for the next start."""
        if self._claims:  # a claim under way ends in a running attempt or nothing
            await asyncio.wait(list(self._claims), timeout=grace_s)
        if not self._work:
            return
        self._stopping = True
        for executor in self.executors.values():
            executor.detach()  # work that outlives the runner (Jobs) stops being followed
        log.info("waiting up to %ss for %d attempt(s)", grace_s, len(self._work))
        _, pending = await asyncio.wait(list(self._work), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _without_offer(report: Result) -> Result:
    """The report as kept on disk and sent again later: no slot is offered then."""
    if isinstance(report, SucceededReport) and report.claim_next:
        return report.model_copy(update={"claim_next": []})
    return report


def _since(moment: datetime) -> float:
    """Seconds from `moment` (an event's time, written by PostgreSQL) to now, never < 0."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - moment).total_seconds(), 0.0)
