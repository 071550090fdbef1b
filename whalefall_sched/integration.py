"""One line for the host app: make its scheduler see changes made by whalefall-sched.

An APScheduler 3 scheduler re-reads its job stores only when it wakes up, at the
earliest next run time it knows of. A job resumed or reloaded from a shell to fire
before that moment starts late, and is skipped if later than its misfire grace time.
:func:`watch_store` wakes the scheduler every ``interval`` seconds, so such a change
is honoured within ``interval`` seconds::

    from whalefall_sched.integration import watch_store

    scheduler.start()
    watch_store(scheduler, 5)

Waking costs one ``SELECT`` per job store (the scheduler's own due-job query).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("whalefall_sched.integration")


class StoreWatcher:
    """A daemon thread that wakes a scheduler periodically until stopped or shut down."""

    def __init__(self, scheduler: Any, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.scheduler = scheduler
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="whalefall-sched-watch-store", daemon=True
        )

    def start(self) -> StoreWatcher:
        """Start waking the scheduler; also stops by itself when the scheduler shuts down."""
        from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

        self.scheduler.add_listener(lambda _event: self.stop(), EVENT_SCHEDULER_SHUTDOWN)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop waking the scheduler."""
        self._stopped.set()

    @property
    def running(self) -> bool:
        """Whether the thread is still waking the scheduler."""
        return self._thread.is_alive()

    def _run(self) -> None:
        from apscheduler.schedulers.base import STATE_RUNNING

        while not self._stopped.wait(self.interval):
            try:
                if self.scheduler.state == STATE_RUNNING:
                    self.scheduler.wakeup()
            except Exception:  # keep watching: one failed wake-up must not end the thread
                logger.warning("whalefall-sched could not wake the scheduler", exc_info=True)


def watch_store(scheduler: Any, interval: float = 5.0) -> StoreWatcher:
    """Make ``scheduler`` re-read its job stores at least every ``interval`` seconds."""
    return StoreWatcher(scheduler, interval).start()


# -- run history ----------------------------------------------------------------------

#: Events waiting to be written at most; past it, new ones are dropped (and logged).
QUEUE_LIMIT = 10_000
#: Keys of runs already finished, remembered so a late submission event adds no row.
_FINISHED_KEEP = 1_000


class RunRecorder:
    """Records each execution, error and miss of a scheduler's jobs in the tool's own
    run table (``whalefall_sched_runs``) in the job store's database.

    The listener only puts the event on a queue (no I/O in the scheduler's threads); a
    daemon thread writes it, one short transaction each. A run's row is written
    ``running`` when the scheduler submits it and completed, failed or missed when its
    event arrives. Nothing here ever raises into the scheduler: a failed write is logged
    and the next event is written as usual.
    """

    def __init__(self, scheduler: Any, engine: Any, table: str, schema: str | None) -> None:
        import queue

        from whalefall_sched.repository.own_runs import OwnRunsWriter

        self.scheduler = scheduler
        self.writer = OwnRunsWriter(engine, table, schema)
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(QUEUE_LIMIT)
        self._running: dict[tuple[str, Any], tuple[str, Any]] = {}
        self._finished: dict[tuple[str, Any], None] = {}
        self._names: dict[str, str | None] = {}
        self._thread = threading.Thread(
            target=self._run, name="whalefall-sched-record-runs", daemon=True
        )

    def start(self) -> RunRecorder:
        """Listen to the scheduler's events and start writing."""
        from apscheduler.events import (
            EVENT_JOB_ERROR,
            EVENT_JOB_EXECUTED,
            EVENT_JOB_MISSED,
            EVENT_JOB_SUBMITTED,
            EVENT_SCHEDULER_SHUTDOWN,
        )

        self._thread.start()
        mask = EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        self.scheduler.add_listener(self._listen, mask)
        self.scheduler.add_listener(lambda _event: self.stop(), EVENT_SCHEDULER_SHUTDOWN)
        return self

    def _listen(self, event: Any) -> None:
        """The listener: cheap, never raises."""
        import queue
        from datetime import UTC, datetime

        try:
            self._queue.put_nowait((event, datetime.now(UTC)))
        except queue.Full:
            logger.warning("whalefall-sched run history: queue full, event dropped")
        except Exception:  # never into the scheduler
            logger.warning("whalefall-sched run history: event not queued", exc_info=True)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event is written (or ``timeout``); whether it was."""
        import time

        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.02)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop."""
        if self._thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except Exception:  # noqa: BLE001 - a full queue: the daemon thread ends with us
                return
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            try:
                if entry is None:
                    return
                self._write(*entry)
            except Exception:  # keep recording: one failed write must not end the thread
                logger.warning("whalefall-sched could not record a run", exc_info=True)
            finally:
                self._queue.task_done()

    def _name(self, job_id: str) -> str | None:
        if job_id not in self._names:
            job = None
            try:
                job = self.scheduler.get_job(job_id)
            except Exception:
                logger.debug("job %s not read for its name", job_id, exc_info=True)
            self._names[job_id] = getattr(job, "name", None) if job is not None else None
        return self._names[job_id]

    def _write(self, event: Any, seen: Any) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED

        if event.code == EVENT_JOB_SUBMITTED:
            times = list(getattr(event, "scheduled_run_times", None) or [])
            for run_time in times[:1]:  # later ones (no coalescing) start after this one
                self._submitted(event.job_id, run_time, seen)
            return
        key = (event.job_id, event.scheduled_run_time)
        running = self._running.pop(key, None)
        self._finished[key] = None
        if len(self._finished) > _FINISHED_KEEP:
            self._finished.pop(next(iter(self._finished)))
        if event.code == EVENT_JOB_MISSED:
            values = {"status": "missed", "completed_at": None, "duration_ms": None}
            late = (seen - event.scheduled_run_time).total_seconds()
            values["error_message"] = f"run time missed by {late:.0f}s"
        else:
            failed = event.code == EVENT_JOB_ERROR
            started = running[1] if running is not None else min(event.scheduled_run_time, seen)
            values = {
                "status": "failed" if failed else "completed",
                "completed_at": seen,
                "duration_ms": max(0, round((seen - started).total_seconds() * 1000)),
                "error_message": _error_text(event.exception) if failed else None,
                "result_summary": None if failed else _summary(event.retval),
            }
        if running is not None and self.writer.update(running[0], values):
            return
        started_at = event.scheduled_run_time if running is None else running[1]
        self.writer.insert(
            {
                "id": _new_id(),
                "task_id": event.job_id,
                "task_name": self._name(event.job_id),
                "trigger_source": "scheduled",
                "scheduled_run_time": event.scheduled_run_time,
                "started_at": min(started_at, seen),
                **values,
            }
        )

    def _submitted(self, job_id: str, run_time: Any, seen: Any) -> None:
        key = (job_id, run_time)
        if key in self._finished:  # its outcome came first: the row is written
            return
        run_id = _new_id()
        self.writer.insert(
            {
                "id": run_id,
                "task_id": job_id,
                "task_name": self._name(job_id),
                "trigger_source": "scheduled",
                "status": "running",
                "scheduled_run_time": run_time,
                "started_at": seen,
            }
        )
        self._running[key] = (run_id, seen)


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())


def _error_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _summary(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a summary is a nicety
        return type(value).__name__
    return text[:1000]


def record_runs(
    scheduler: Any,
    url: str | None = None,
    *,
    table: str = "whalefall_sched_runs",
    schema: str | None = None,
) -> RunRecorder:
    """Record every execution, error and miss of ``scheduler``'s jobs in the tool's own
    run table, which ``whalefall-sched runs`` and ``list`` read::

        from whalefall_sched.integration import record_runs

        record_runs(scheduler, "sqlite:///userdata/scheduler.db")

    ``url`` is the database to record in (the job store's); None takes the engine of
    the scheduler's ``default`` SQLAlchemy job store. The table is created by the first
    record. Call it before or after ``scheduler.start()``.
    """
    if url is None:
        store = scheduler._lookup_jobstore("default")
        engine = store.engine
    else:
        from sqlalchemy import create_engine

        engine = create_engine(url)
    return RunRecorder(scheduler, engine, table, schema).start()
