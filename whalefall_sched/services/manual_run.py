"""``run``: a job's function called by hand, in a thread named ``<id>_manual`` of a
process of its own (docs/architecture.md, "A manual run"): the service's methods. A run's
state and thread are in ``run_state.py``, its child process's two ends in
``run_protocol.py``."""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import (
    JobNotFoundError,
    StoreConflictError,
)
from whalefall_sched.services.action_dto import ManualRunResult
from whalefall_sched.services.actions_base import ActionsBase
from whalefall_sched.services.child_process import can_fork, run_in_child
from whalefall_sched.services.imports import ImportRefError, import_ref
from whalefall_sched.services.job_ids import find_job
from whalefall_sched.services.run_protocol import child_body, child_result
from whalefall_sched.services.run_state import ManualRun, error_text, execute

if TYPE_CHECKING:
    from whalefall_sched.services.run_record import ManualRunRecord

logger = logging.getLogger("whalefall_sched.actions")


class ManualRuns(ActionsBase):
    """The actions service's manual runs, each in a process of its own."""

    #: Whether ``run`` records its runs in the tool's own history table (in the job
    #: store's database, created if need be); off where the host records its own runs.
    record_runs: bool = False

    def run_job(
        self,
        job_id: str,
        created_by: int | None = None,
        *,
        timeout: float | None = None,
        allow_any_function: bool = False,
        on_start: Callable[[str, int], None] | None = None,
    ) -> ManualRunResult:
        """Run the job's function in a child process, in a thread named ``<job_id>_manual``.

        What ``run`` does (why a child process: docs/architecture.md). The row is read,
        checked and its kwargs worked out here; the function is imported and called in
        the child, whose standard output is this process's standard error. Whatever the
        task does (raise, ``os._exit``, leave threads running, hang past ``timeout``,
        after which the child is killed), a result comes back. ``on_start`` is told the
        thread's name and the child's pid once the function is imported. A function
        that does not import is a :class:`StoreConflictError`, as in
        :meth:`run_job_in_background`.
        """
        if not can_fork():
            raise StoreConflictError(
                "run needs a POSIX system: the task runs in a child process (os.fork)"
            )
        run = self._prepare_run(job_id, created_by, allow_any_function=allow_any_function)
        # nothing below needs the store: the child must not share its connections
        self._repo.close()
        record = self._record(run, created_by)

        body = child_body(run, self._start)

        def started(message: dict[str, Any]) -> None:
            if message.get("event") == "started" and on_start is not None:
                on_start(run.thread_name, int(message.get("pid") or 0))

        try:
            end = run_in_child(body, timeout=timeout, on_message=started)
        except BaseException as exc:  # Ctrl-C, or the child could not be run or waited for
            self._interrupted(run, record, exc)
            raise
        try:
            result = child_result(run, end, timeout)
        except StoreConflictError as exc:
            if record is not None:
                record.finish(succeeded=False, error=str(exc))
            raise
        if record is not None:
            record.finish(succeeded=result.succeeded, error=result.error)
            if record.problem is not None:
                result = dataclasses.replace(result, notes=[*result.notes, record.problem])
        return self._audited_run(result)

    def _interrupted(
        self, run: ManualRun, record: ManualRunRecord | None, exc: BaseException
    ) -> None:
        """Finish a run whose wait was interrupted (``exc`` is re-raised after): its
        history record failed with ``interrupted`` (or the exception's text) instead of
        ``running`` forever, and its audit event ``failed``. Nothing here may hide ``exc``."""
        error = "interrupted" if isinstance(exc, KeyboardInterrupt) else error_text(exc)
        try:
            if record is not None:
                record.finish(succeeded=False, error=error)
            change: dict[str, Any] = {"interrupted": True, "error": error}
            self._repo.record(self._audit.entry("run"), [run.job_id], "failed", change)
        except Exception:  # the interruption is what the operator must see
            logger.debug("recording an interrupted run failed", exc_info=True)
        finally:
            self._repo.close()

    def _audited_run(self, result: ManualRunResult) -> ManualRunResult:
        """``result`` once its event is recorded, in a transaction of its own: a run
        changes no job, so there is nothing to be transactional with. A store that
        cannot take the event leaves the run's result as it is, with a note."""
        from whalefall_sched.errors import WhaleFallSchedError

        change: dict[str, Any] = {"exit_code": int(result.exit_code)}
        change["timed_out"] = result.timed_out
        change["duration_seconds"] = result.duration_seconds
        outcome = "done" if result.succeeded else "failed"
        try:
            self._repo.record(self._audit.entry("run"), [result.id], outcome, change)
        except WhaleFallSchedError as exc:
            return dataclasses.replace(
                result, notes=[*result.notes, f"the run was not recorded in the audit trail: {exc}"]
            )
        finally:
            self._repo.close()
        return result

    def _record(self, run: ManualRun, created_by: int | None) -> ManualRunRecord | None:
        """The run's record in the tool's own history, started; None when not recorded."""
        if not self.record_runs:
            return None
        from whalefall_sched.services.run_record import ManualRunRecord

        record = ManualRunRecord(
            url=self._repo.url,
            schema=self._repo.schema,
            timeout=self._repo.connection.timeout,
            job_id=run.job_id,
            task_name=run.name,
            created_by=created_by,
        )
        record.start()
        return record

    def run_job_in_background(
        self, job_id: str, created_by: int | None = None, *, allow_any_function: bool = False
    ) -> str:
        """Start the job's function in a thread named ``<job_id>_manual``; return that name.

        The host API's run, in this process. The thread catches and logs whatever the
        job raises (it never propagates); the outcome is available from
        :meth:`wait_for_run`. Built-in jobs listed in the tasks file's
        ``manual_kwargs_ids`` get ``manual_run=True`` and ``created_by``. A function the
        tasks file does not list is refused unless ``allow_any_function``.
        """
        run = self._prepare_run(job_id, created_by, allow_any_function=allow_any_function)
        self._start(run)
        return run.thread_name

    def _prepare_run(
        self, job_id: str, created_by: int | None, *, allow_any_function: bool
    ) -> ManualRun:
        """Read and check the job to run; nothing of the host app is imported yet."""
        # first: a broken tasks file stops the run before the store is read
        manual_kwargs = self.manual_kwargs(job_id, created_by)
        job = find_job(self._repo, job_id)
        if job.id != job_id:  # given by its name
            job_id = job.id
            manual_kwargs = self.manual_kwargs(job_id, created_by)
        if job.decoded is None:
            raise StoreConflictError(
                f"job {job_id!r} cannot be decoded ({job.unreadable_reason}); not run"
            )
        func_ref = str(job.decoded["func"])
        notes: list[str] = []
        if func_ref not in self._tasks.func_refs():
            where = f"the tasks file {self._tasks.path}"
            if not allow_any_function:
                raise StoreConflictError(
                    f"job {job_id!r} would run {func_ref!r}, a function {where} does not "
                    "list; not run: map it under `functions:` (in the tasks file or a "
                    "--config file), or pass --allow-any-function to run it anyway"
                )
            notes.append(f"ran {func_ref!r}, which {where} does not list (--allow-any-function)")
        kwargs = dict(job.decoded.get("kwargs") or {})
        kwargs.update(manual_kwargs)
        args = list(job.decoded.get("args") or ())
        name = job.decoded.get("name")
        return ManualRun(
            job_id,
            f"{job_id}_manual",
            func_ref,
            args,
            kwargs,
            notes,
            name=name if isinstance(name, str) else None,
        )

    def _start(self, run: ManualRun, ready: Callable[[], None] | None = None) -> threading.Thread:
        """Import the job's function (and the app factory), start its thread, return it.

        ``ready`` is called once both imported, just before the thread starts.
        """
        target = self._import(run.func_ref, f"task function of job {run.job_id!r}")
        app_context = self._app_context_factory()
        if ready is not None:
            ready()
        run.thread = threading.Thread(
            target=execute, name=run.thread_name, args=(run, target, app_context)
        )
        self._runs[run.thread_name] = run
        run.thread.start()
        return run.thread

    def manual_kwargs(self, job_id: str, created_by: int | None) -> dict[str, Any]:
        """Extra kwargs of a manual run of ``job_id`` (decision table: docs/architecture.md).

        Only a built-in id that is also in ``manual_kwargs_ids`` gets ``manual_run=True``
        and ``created_by``; they override the stored kwargs of the same name.
        ``manual_kwargs_ids`` follows the host generation unless the config sets it
        (``HostProfile.manual_kwargs_ids``): every built-in id on 2026-07, the two-id
        table on 2026-01.
        """
        if job_id in self._tasks.builtin_ids and job_id in self._tasks.manual_kwargs_ids:
            return {"manual_run": True, "created_by": created_by}
        return {}

    def wait_for_run(self, thread_name: str, timeout: float | None = None) -> ManualRunResult:
        """Wait for a manual run started by this service and return its outcome.

        After ``timeout`` seconds the run is reported as timed out; its thread is left
        running (a thread cannot be stopped).
        """
        run = self._runs.get(thread_name)
        if run is None or run.thread is None:
            raise JobNotFoundError(f"no manual run named {thread_name!r}")
        run.thread.join(timeout)
        if not run.done.is_set():
            return run.result(
                succeeded=False,
                timed_out=True,
                timeout_seconds=timeout,
                duration_seconds=round(float(timeout or 0.0), 3),
                error=f"the task was still running after {timeout:g}s; "
                f"its thread {thread_name!r} was left running",
            )
        return run.result(timeout_seconds=timeout)

    def _app_context_factory(self) -> Callable[[], Any] | None:
        """How the run thread enters an app context, per the seed.

        The current app context is reused if there is one; otherwise the factory is
        called with ``init_scheduler_on_start=False`` inside the thread. Without a
        factory the function runs directly.
        """
        if "flask" in sys.modules:
            import flask

            if flask.has_app_context():
                app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
                return app.app_context  # type: ignore[no-any-return]
        factory_ref = self._app_factory or self._tasks.app_factory
        if not factory_ref:
            return None
        factory = self._import(factory_ref, "app factory")
        if not callable(factory):
            raise StoreConflictError(f"app factory {factory_ref!r} is not callable")

        @contextmanager
        def enter() -> Iterator[None]:
            app = factory(init_scheduler_on_start=False)
            with app.app_context():
                yield

        return enter

    def _import(self, ref: str, what: str) -> Any:
        """``ref`` imported, or :class:`StoreConflictError` naming the real cause."""
        try:
            return import_ref(ref, self._app_paths)
        except ImportRefError as exc:
            raise StoreConflictError(f"{what}: {exc}") from exc
