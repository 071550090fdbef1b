"""The seed's actions service: pause, resume, run in the background, reload."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whalefall_sched.errors import (
    InvalidInputError,
    JobNotFoundError,
    StoreConflictError,
    TasksFileError,
    WhaleFallSchedError,
)
from whalefall_sched.repository import JobStoreRepository, StoredJob, encode_row, unsafe_reason
from whalefall_sched.services.child_process import (
    CRASHED,
    ChildEnd,
    Send,
    can_fork,
    run_in_child,
)
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    JobActionOutcome,
    JobActionResult,
    JobActionsResult,
    ManualRunResult,
    SchedulerJobsReloadResult,
    iso,
)
from whalefall_sched.services.fire_times import FireTimeSearchLimitError, next_fire_time
from whalefall_sched.services.imports import ImportRefError, import_ref
from whalefall_sched.services.job_ids import check_job_id
from whalefall_sched.services.tasks_file import TasksFile

logger = logging.getLogger("whalefall_sched.actions")

#: What a manual run's thread catches and logs instead of propagating (as the seed says):
#: anything. ``SystemExit`` and ``KeyboardInterrupt`` too: the task did not return, so it
#: failed (APScheduler's executors count any ``BaseException`` as a job error), and a
#: thread would otherwise swallow the one silently and print the other as a traceback.
BACKGROUND_EXECUTION_EXCEPTIONS: tuple[type[BaseException], ...] = (BaseException,)


def _call(target: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> None:
    """Call a task function; an ``async def`` one is run to completion in this thread.

    APScheduler's thread pool would leave its coroutine unawaited, but an operator running
    a job by hand expects it to run.
    """
    result = target(*args, **kwargs)
    if inspect.iscoroutine(result):
        asyncio.run(result)


#: Next run times beyond year 9999 (or not finite) are not times a scheduler can wake at.
_LATEST = datetime.max.replace(tzinfo=UTC).timestamp()
#: The largest backup file ``restore`` reads.
MAX_BACKUP_BYTES = 256 * 1024 * 1024


def _check_backup_file(source: Path) -> None:
    """Refuse, before it is read, a backup that is not a regular file (``/dev/zero``, a
    pipe) or is larger than :data:`MAX_BACKUP_BYTES`: reading it would never end."""
    try:
        info = source.stat()
    except OSError:
        return  # reading it says why it cannot be read
    if stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInputError(f"backup {source} is not a regular file")
    if info.st_size > MAX_BACKUP_BYTES:
        raise InvalidInputError(
            f"backup {source} is over the size limit: larger than {MAX_BACKUP_BYTES:,} bytes"
        )


def _plausible(timestamp: float) -> bool:
    """Whether a ``next_run_time`` column holds a time a scheduler could wake up at."""
    return isinstance(timestamp, int | float) and -_LATEST < timestamp < _LATEST


def _after_commit(notes: Callable[[], list[str]]) -> list[str]:
    """Notes worked out after a write committed: a failure here is a note, not an error."""
    try:
        return notes()
    except (ArithmeticError, ValueError, OSError, TypeError) as exc:
        return [f"could not work out when a running scheduler next wakes ({exc})"]


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit: the task called sys.exit({exc.code!r})"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (no message)"


def _process_end_text(returncode: int) -> str:
    """Why a run's process ended before the task returned, from its exit status."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"the task's process was killed by {name} before the task returned"
    return (
        f"the task ended its process with exit status {returncode} "
        f"(os._exit({returncode}) or the like) before it returned"
    )


@dataclass(frozen=True)
class Replacement:
    """A planned replacement of every job: the rows to write and where they come from."""

    rows: list[StoredJob]
    #: What the rows come from, for a prompt: the tasks file or the backup file.
    origin: str
    #: The backup file of a restore; None for a reload.
    restored_from: str | None = None
    #: What the operator should know about the plan (rows left out, say).
    notes: list[str] = field(default_factory=list)


@dataclass
class _ManualRun:
    job_id: str
    thread_name: str
    func_ref: str
    args: list[Any]
    kwargs: dict[str, Any]
    #: What the operator should know about the run (an unlisted function allowed, say).
    notes: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None
    error: str | None = None
    duration: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def result(self, **changes: Any) -> ManualRunResult:
        """The run's result as it stands, with ``changes``."""
        values: dict[str, Any] = {
            "job_id": self.job_id,
            "thread_name": self.thread_name,
            "succeeded": self.done.is_set() and self.error is None,
            "duration_seconds": round(self.duration, 3),
            "func": self.func_ref,
            "args": self.args,
            "kwargs": self.kwargs,
            "error": self.error,
            "notes": list(self.notes),
        }
        return ManualRunResult(**(values | changes))


class SchedulerActionsService:
    """Acts on jobs in the store; every write is a compare-and-swap in the repository.

    ``tasks`` is the tasks file, or a function that reads it: then it is read only by
    what needs it (``run``, ``reload``), so pause, resume and restore work with a broken
    one.
    """

    def __init__(
        self,
        repository: JobStoreRepository,
        tasks: TasksFile | Callable[[], TasksFile],
        *,
        app_factory: str | None = None,
        app_paths: Sequence[str] = (),
    ) -> None:
        self._repo = repository
        self._tasks_source = tasks
        self._app_factory = app_factory
        self._app_paths = list(app_paths)
        self._runs: dict[str, _ManualRun] = {}

    @property
    def _tasks(self) -> TasksFile:
        """The tasks file, read the first time it is needed."""
        if not isinstance(self._tasks_source, TasksFile):
            self._tasks_source = self._tasks_source()
        return self._tasks_source

    # -- pause / resume ------------------------------------------------------

    def pause_jobs(self, job_ids: Sequence[str]) -> JobActionsResult:
        """:meth:`pause_job` each id once, in order; a failed id does not stop the others."""
        return self._each("pause", self.pause_job, job_ids)

    def resume_jobs(self, job_ids: Sequence[str]) -> JobActionsResult:
        """:meth:`resume_job` each id once, in order; a failed id does not stop the others."""
        return self._each("resume", self.resume_job, job_ids)

    def _each(
        self, action: str, act: Callable[[str], JobActionResult], job_ids: Sequence[str]
    ) -> JobActionsResult:
        outcomes: list[JobActionOutcome] = []
        for job_id in dict.fromkeys(job_ids):
            try:
                check_job_id(job_id, self._repo.where)
                outcomes.append(JobActionOutcome(job_id, result=act(job_id)))
            except WhaleFallSchedError as exc:
                outcomes.append(JobActionOutcome(job_id, error=exc))
        return JobActionsResult(action, outcomes)

    def pause_job(self, job_id: str) -> JobActionResult:
        """Clear the job's next run time, as stock ``pause_job`` does."""

        def change(job: StoredJob) -> dict[str, Any] | None:
            assert job.decoded is not None
            if job.decoded.get("next_run_time") is None:
                return None
            return {**job.decoded, "next_run_time": None}

        outcome = self._repo.modify_job(job_id, change)
        if outcome.after is None:
            return JobActionResult(job_id, "pause", False, STATE_PAUSED, None, "already paused")
        # A scheduler reads due jobs from the store when it wakes: a paused row is skipped.
        return JobActionResult(
            job_id, "pause", True, STATE_PAUSED, None, "paused", list(outcome.notes)
        )

    def resume_job(self, job_id: str, now: datetime | None = None) -> JobActionResult:
        """Set the next run time from the job's own trigger, as stock ``resume_job`` does.

        Where stock APScheduler would delete a job whose trigger has no future fire time,
        the job is left paused and a conflict raised.
        """

        def change(job: StoredJob) -> dict[str, Any] | None:
            assert job.decoded is not None
            if job.decoded.get("next_run_time") is not None:
                return None
            return {**job.decoded, "next_run_time": self._next_fire_time(job, now)}

        outcome = self._repo.modify_job(job_id, change)
        if outcome.after is None:
            current = outcome.before.decoded or {}
            return JobActionResult(
                job_id,
                "resume",
                False,
                STATE_RUNNING,
                iso(current.get("next_run_time")),
                "already running",
            )
        after = outcome.after.decoded or {}
        next_time = after.get("next_run_time")
        notes = list(outcome.notes)
        if next_time is not None:
            grace = after.get("misfire_grace_time")
            notes += _after_commit(lambda: self._wake_up_notes({job_id: (next_time, grace)}))
        return JobActionResult(
            job_id, "resume", True, STATE_RUNNING, iso(next_time), "resumed", notes
        )

    def _wake_up_notes(
        self,
        changed: dict[str, tuple[datetime, int | None]],
        planned: float | None = None,
    ) -> list[str]:
        """One note naming every job due before a running scheduler next wakes, if any.

        A scheduler in another process re-reads the store only when it wakes up, at the
        earliest next run time it saw (``planned``: by default the earliest among the
        store's other running jobs), unless the host app uses
        :func:`whalefall_sched.integration.watch_store`.
        """
        if planned is None:
            others = [
                j.next_run_time
                for j in self._repo.list_jobs()
                if j.id not in changed
                and j.next_run_time is not None
                and _plausible(j.next_run_time)
            ]
            planned = min(others, default=None)
        early: list[str] = []  # "'id' (due <UTC time>)", for every job due before the wake-up
        skipped: list[str] = []  # the ids a scheduler waking that late would skip
        for job_id, (next_time, grace) in sorted(changed.items()):
            late = (planned - next_time.timestamp()) if planned is not None else None
            if late is not None and late <= 0:
                continue
            early.append(f"{job_id!r} (due {_utc(next_time.timestamp())})")
            # with no planned wake-up, it may be any time: only a job without grace is safe
            if grace is not None and (late is None or late > grace):
                skipped.append(repr(job_id))
        if not early:
            return []
        if planned is None:
            wake = "only when a job is added or it restarts"
        else:
            wake = f"at {_utc(planned)}"
        note = (
            f"{', '.join(early)} {'is' if len(early) == 1 else 'are'} due before a running "
            f"scheduler next wakes to re-read the store ({wake}; times in UTC), unless the "
            "host app uses whalefall_sched.integration.watch_store"
        )
        if skipped:
            note += (
                f"; a run that late is past the misfire grace of {', '.join(skipped)}, "
                "so it would be skipped"
            )
        return [note]

    @staticmethod
    def _next_fire_time(job: StoredJob, now: datetime | None) -> datetime:
        assert job.decoded is not None
        trigger = job.decoded["trigger"]
        now = now or datetime.now(getattr(trigger, "timezone", None) or UTC)
        try:
            next_time = next_fire_time(trigger, now)
        except FireTimeSearchLimitError as exc:
            raise StoreConflictError(f"job {job.id!r}: {exc}; left paused") from exc
        if next_time is None:
            raise StoreConflictError(
                f"job {job.id!r} has no future fire time ({trigger}); left paused "
                "(stock APScheduler would delete it)"
            )
        grace = job.decoded.get("misfire_grace_time")
        late = (now - next_time).total_seconds()
        if grace is not None and late > grace:
            raise StoreConflictError(
                f"job {job.id!r} would next fire at {next_time.isoformat()}, "
                f"{late:.0f}s ago, past its misfire grace of {grace}s: the scheduler would "
                "skip and delete it; left paused (use `run` to run it now)"
            )
        return next_time

    # -- run -------------------------------------------------------------------

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

        def body(send: Send) -> None:  # pragma: no cover - runs in the child
            os.dup2(2, 1)  # what the task writes to stdout (C code included) goes to stderr
            before = set(threading.enumerate())
            try:
                thread = self._start(
                    run,
                    ready=lambda: send(
                        {"event": "started", "thread": run.thread_name, "pid": os.getpid()}
                    ),
                )
            except StoreConflictError as exc:
                send({"event": "refused", "message": str(exc)})
                return
            thread.join()
            left = [t.name for t in threading.enumerate() if t.is_alive() and t not in before]
            send(
                {
                    "event": "finished",
                    "error": run.error,
                    "duration": run.duration,
                    "left_running": left,
                }
            )

        def started(message: dict[str, Any]) -> None:
            if message.get("event") == "started" and on_start is not None:
                on_start(run.thread_name, int(message.get("pid") or 0))

        end = run_in_child(body, timeout=timeout, on_message=started)
        return self._child_result(run, end, timeout)

    @staticmethod
    def _child_result(run: _ManualRun, end: ChildEnd, timeout: float | None) -> ManualRunResult:
        """The result of a run in a child process, from what the child said and how it ended."""
        said = {str(m.get("event")): m for m in end.messages}
        if "refused" in said:
            raise StoreConflictError(str(said["refused"].get("message")))
        common: dict[str, Any] = {"pid": end.pid, "timeout_seconds": timeout}
        finished = said.get("finished")
        if finished is not None:
            error = finished.get("error")
            left = [str(name) for name in finished.get("left_running") or []]
            notes = list(run.notes)
            if left:
                notes.append(
                    f"the task left {len(left)} thread(s) running ({', '.join(left)}); "
                    "they were stopped with its process"
                )
            return run.result(
                succeeded=error is None,
                error=None if error is None else str(error),
                duration_seconds=round(float(finished.get("duration") or 0.0), 3),
                threads_left_running=left,
                notes=notes,
                **common,
            )
        if CRASHED in said:
            error = f"the run's process failed: {said[CRASHED].get('error')}"
        elif end.timed_out:
            error = (
                f"the task was still running at the --timeout of {timeout:g}s; "
                f"its process (pid {end.pid}) was killed"
            )
        else:
            error = _process_end_text(end.returncode)
        return run.result(
            succeeded=False,
            timed_out=end.timed_out,
            error=error,
            duration_seconds=round(end.seconds, 3),
            **common,
        )

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
    ) -> _ManualRun:
        """Read and check the job to run; nothing of the host app is imported yet."""
        # first: a broken tasks file stops the run before the store is read
        manual_kwargs = self.manual_kwargs(job_id, created_by)
        job = self._repo.get_job(job_id)
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
        return _ManualRun(job_id, f"{job_id}_manual", func_ref, args, kwargs, notes)

    def _start(self, run: _ManualRun, ready: Callable[[], None] | None = None) -> threading.Thread:
        """Import the job's function (and the app factory), start its thread, return it.

        ``ready`` is called once both imported, just before the thread starts.
        """
        target = self._import(run.func_ref, f"task function of job {run.job_id!r}")
        app_context = self._app_context_factory()
        if ready is not None:
            ready()
        run.thread = threading.Thread(
            target=self._execute, name=run.thread_name, args=(run, target, app_context)
        )
        self._runs[run.thread_name] = run
        run.thread.start()
        return run.thread

    def manual_kwargs(self, job_id: str, created_by: int | None) -> dict[str, Any]:
        """Extra kwargs of a manual run of ``job_id`` (decision table: docs/architecture.md).

        Only a built-in id that is also in ``manual_kwargs_ids`` gets ``manual_run=True``
        and ``created_by``; they override the stored kwargs of the same name.
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

    def _execute(
        self,
        run: _ManualRun,
        target: Callable[..., Any],
        app_context: Callable[[], Any] | None,
    ) -> None:
        start = time.monotonic()
        try:
            if app_context is None:
                _call(target, run.args, run.kwargs)
            else:
                with app_context():
                    _call(target, run.args, run.kwargs)
        except BACKGROUND_EXECUTION_EXCEPTIONS as exc:
            logger.error("manual run of job %s failed", run.job_id, exc_info=True)
            run.error = _error_text(exc)
        finally:
            run.duration = time.monotonic() - start
            run.done.set()

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

    # -- reload and restore: one replacement, two sources ------------------------------

    def plan_reload(
        self, *, verify_imports: bool = True, now: datetime | None = None
    ) -> Replacement:
        """The rows a reload would write: the enabled default tasks, validated once.

        The tasks file is validated completely first (:class:`TasksFileError` lists
        every problem); nothing is read from or written to the store.
        """
        problems = self._tasks.problems(verify_imports=verify_imports, app_paths=self._app_paths)
        if problems:
            raise TasksFileError(f"tasks file {self._tasks.path} is invalid", problems)
        from apscheduler.util import astimezone

        now = now or datetime.now(astimezone(self._tasks.timezone))
        states = [self._tasks.job_state(t, now) for t in self._tasks.tasks if t.enabled]
        return Replacement([encode_row(state) for state in states], origin=str(self._tasks.path))

    def plan_restore(
        self, source: Path, *, allow_empty: bool = False, skip_invalid: bool = False
    ) -> Replacement:
        """The rows a restore would write: a reload backup's, read once, byte for byte.

        A backup is input from outside: every row must pass the restricted decoder and
        agree with itself (:func:`~whalefall_sched.repository.unsafe_reason`), or the
        restore is refused (:class:`InvalidInputError` naming each row) — unless
        ``skip_invalid``, which leaves those rows out with a note. An empty backup would
        delete every job: refused unless ``allow_empty``.
        """
        _check_backup_file(source)
        rows = self._repo.read_backup(source)
        problems = [(row.id, reason) for row in rows if (reason := unsafe_reason(row))]
        notes: list[str] = []
        if problems and not skip_invalid:
            listed = "; ".join(f"{job_id!r}: {reason}" for job_id, reason in problems[:5])
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise InvalidInputError(
                f"backup {source} holds {len(problems)} row(s) that must not be written: "
                f"{listed}{more}; nothing changed (--skip-invalid restores the others)"
            )
        if problems:
            bad = {job_id for job_id, _ in problems}
            rows = [row for row in rows if row.id not in bad]
            notes.append(f"left out {len(bad)} invalid row(s): {', '.join(sorted(bad))}")
        if not rows and not allow_empty:
            raise InvalidInputError(
                f"backup {source} holds no row to restore: restoring it would delete every "
                "job; nothing changed (--allow-empty to do so)"
            )
        return Replacement(rows, origin=str(source), restored_from=str(source), notes=notes)

    def preview(self, plan: Replacement) -> SchedulerJobsReloadResult:
        """What ``plan`` would delete and write (a dry run); changes nothing."""
        old = self._repo.list_jobs(missing_ok=True)
        return SchedulerJobsReloadResult(
            deleted=[job.id for job in old],
            written=[row.id for row in plan.rows],
            dry_run=True,
            notes=list(plan.notes),
            restored_from=plan.restored_from,
        )

    def apply(self, plan: Replacement, *, backup_dir: Path | None) -> SchedulerJobsReloadResult:
        """Replace every job by ``plan``'s rows in one transaction: all or nothing.

        Ids present before and after are rewritten in place; the old rows are saved to
        ``backup_dir`` first, so the replacement can itself be restored.
        """
        outcome = self._repo.replace_all(plan.rows, backup_dir=backup_dir)
        # Committed: from here on nothing may turn the report into a failure.
        notes = [*plan.notes, *outcome.notes]
        if outcome.removed:  # with no old jobs, no scheduler can be waiting on this store
            notes += _after_commit(
                lambda: self._replacement_wake_up_notes(outcome.removed, outcome.written)
            )
        return SchedulerJobsReloadResult(
            deleted=[job.id for job in outcome.removed],
            written=[job.id for job in outcome.written],
            backup_path=str(outcome.backup_path) if outcome.backup_path else None,
            notes=notes,
            restored_from=plan.restored_from,
        )

    def _replacement_wake_up_notes(
        self, removed: Sequence[StoredJob], written: Sequence[StoredJob]
    ) -> list[str]:
        """When a scheduler that knew the removed rows wakes, and which new jobs are due first."""
        times = [job.next_run_time for job in removed if job.next_run_time is not None]
        planned = min((t for t in times if _plausible(t)), default=None)
        new_times = {
            row.id: (row.decoded["next_run_time"], row.decoded.get("misfire_grace_time"))
            for row in written
            if row.decoded is not None and isinstance(row.decoded.get("next_run_time"), datetime)
        }
        return self._wake_up_notes(new_times, planned)

    def reload_jobs(
        self,
        *,
        dry_run: bool = False,
        backup_dir: Path | None = None,
        verify_imports: bool = True,
        now: datetime | None = None,
    ) -> SchedulerJobsReloadResult:
        """Replace every job by the enabled default tasks (or show what would change)."""
        plan = self.plan_reload(verify_imports=verify_imports, now=now)
        return self.preview(plan) if dry_run else self.apply(plan, backup_dir=backup_dir)

    def restore_jobs(
        self,
        source: Path,
        *,
        dry_run: bool = False,
        backup_dir: Path | None = None,
        allow_empty: bool = False,
        skip_invalid: bool = False,
    ) -> SchedulerJobsReloadResult:
        """Replace every job by the rows of a reload backup (or show what would change)."""
        plan = self.plan_restore(source, allow_empty=allow_empty, skip_invalid=skip_invalid)
        return self.preview(plan) if dry_run else self.apply(plan, backup_dir=backup_dir)
