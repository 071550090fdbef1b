"""A live APScheduler 3 ``BackgroundScheduler`` on a job store, run as its own process.

    python -m tests.live.scheduler_proc --url URL --log LOG --status STATUS \\
        [--job JSON]... [--watch SECONDS] [--due-delay SECONDS --delay-job ID]...
        [--hold-until PATH]

It behaves as the host app's scheduler does (time zone Asia/Shanghai; coalesce, one
instance, a misfire grace of 300 s unless ``--misfire-grace``), and writes what it sees
as JSON lines to ``LOG``:

- ``{"kind": "ready", ...}`` once started with its jobs added;
- ``{"kind": "run", "job", "scheduled", "wall", "pid"}`` for every executed run (and
  ``"missed"`` / ``"error"`` for missed and failed ones);
- ``{"kind": "due", "jobs", "next", "wall"}`` each time the scheduler reads due jobs,
  ``{"kind": "update", "job", "next", "wall"}`` each time it rewrites a job's row
  (``update_failed`` with the error when that raises);
- ``{"kind": "thread_exception", "thread", "type", "message"}`` from
  ``threading.excepthook``, and ``{"kind": "thread_dead"}`` when the scheduler's own
  thread is found dead while the process lives on;
- ``{"kind": "stopped"}`` on SIGTERM, after a clean shutdown.

``STATUS`` is rewritten every 0.1 s: ``{"pid", "thread_alive", "wall"}``.

``--due-delay`` widens the window between the scheduler reading due jobs and writing
them back with ``update_job`` (only when one of the ``--delay-job`` ids is among them),
so that races with another writer in that window are deterministic. With
``--hold-until PATH`` the window lasts until ``PATH`` exists instead (``--due-delay``
is then the longest it lasts): a test opens the window, lets another process meet it,
and closes it by creating the file. Nothing else differs from a stock
``SQLAlchemyJobStore``.

``--job`` takes a JSON object: ``id``, ``trigger`` (``interval``/``cron``/``date``),
the trigger's own arguments (``seconds``, ``second``...), and optionally ``func``
(default ``tests.live.tasks:tick``), ``args``, ``kwargs``, ``paused`` (add with no next
run time) and ``first_in`` (first run that many seconds from now). Jobs are added with
``replace_existing=True``; without ``--job`` the scheduler runs what is in the store.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

TIMEZONE = "Asia/Shanghai"
DEFAULT_FUNC = "tests.live.tasks:tick"


class Log:
    """Append-only JSON lines, one ``write`` per line, safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        entry = {"kind": kind, "wall": time.time(), "pid": os.getpid(), **fields}
        line = json.dumps(entry, default=str) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()


class ObservedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """A stock ``SQLAlchemyJobStore`` that logs its due reads and row rewrites.

    With ``due_delay`` it pauses after reading due jobs that include one of
    ``delay_jobs``, before the scheduler submits them and rewrites their rows. The pause
    ends early when ``stop`` is set, so that a stopped process does not wait it out, and
    when ``hold_until`` is given, as soon as that file exists.
    """

    def __init__(
        self,
        *,
        log: Log,
        due_delay: float,
        delay_jobs: set[str],
        stop: threading.Event,
        hold_until: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._log = log
        self._due_delay = due_delay
        self._delay_jobs = delay_jobs
        self._stop = stop
        self._hold_until = hold_until

    def get_due_jobs(self, now: datetime) -> list[Any]:
        jobs: list[Any] = super().get_due_jobs(now)
        if jobs:
            self._log.write(
                "due",
                jobs=[job.id for job in jobs],
                next=[_ts(job.next_run_time) for job in jobs],
            )
            if self._due_delay > 0 and any(job.id in self._delay_jobs for job in jobs):
                self._hold()
        return jobs

    def _hold(self) -> None:
        """Keep the due jobs read and not written back: ``due_delay`` seconds, or until
        the ``hold_until`` file exists (at most ``due_delay``)."""
        if self._hold_until is None:
            self._stop.wait(self._due_delay)
            return
        deadline = time.monotonic() + self._due_delay
        while not self._hold_until.exists() and time.monotonic() < deadline:
            if self._stop.wait(0.02):
                return
        self._log.write("released")

    def update_job(self, job: Any) -> None:
        try:
            super().update_job(job)
        except BaseException as exc:
            self._log.write("update_failed", job=job.id, type=type(exc).__name__, message=str(exc))
            raise
        self._log.write("update", job=job.id, next=_ts(job.next_run_time))


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _add_job(scheduler: BackgroundScheduler, spec: dict[str, Any]) -> None:
    spec = dict(spec)
    options: dict[str, Any] = {
        "id": spec.pop("id"),
        "trigger": spec.pop("trigger"),
        "func": spec.pop("func", DEFAULT_FUNC),
        "args": spec.pop("args", ()),
        "kwargs": spec.pop("kwargs", {}),
        "replace_existing": True,
    }
    options["name"] = spec.pop("name", options["id"])
    if spec.pop("paused", False):
        options["next_run_time"] = None
    first_in = spec.pop("first_in", None)
    if first_in is not None:
        options["next_run_time"] = datetime.now(scheduler.timezone) + timedelta(
            seconds=float(first_in)
        )
    scheduler.add_job(**options, **spec)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scheduler_proc", description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--table", default="apscheduler_jobs")
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--status", required=True, type=Path)
    parser.add_argument("--job", action="append", default=[], type=json.loads)
    parser.add_argument("--watch", type=float, default=None)
    parser.add_argument("--misfire-grace", type=int, default=300)
    parser.add_argument("--due-delay", type=float, default=0.0)
    parser.add_argument("--delay-job", action="append", default=[])
    parser.add_argument("--hold-until", type=Path, default=None)
    return parser.parse_args(argv)


def _write_status(path: Path, alive: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(
        json.dumps({"pid": os.getpid(), "thread_alive": alive, "wall": time.time()}),
        encoding="utf-8",
    )
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    options = _parse(argv)
    log = Log(options.log)
    stop = threading.Event()

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        log.write(
            "thread_exception",
            thread=args.thread.name if args.thread else None,
            type=args.exc_type.__name__,
            message=str(args.exc_value),
        )

    threading.excepthook = on_thread_exception
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    store = ObservedJobStore(
        log=log,
        due_delay=options.due_delay,
        delay_jobs=set(options.delay_job),
        stop=stop,
        hold_until=options.hold_until,
        url=options.url,
        tablename=options.table,
    )
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        timezone=TIMEZONE,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": options.misfire_grace,
        },
    )

    def on_job_event(event: JobExecutionEvent) -> None:
        kind = {EVENT_JOB_EXECUTED: "run", EVENT_JOB_ERROR: "error", EVENT_JOB_MISSED: "missed"}
        log.write(
            kind[event.code],
            job=event.job_id,
            scheduled=_ts(event.scheduled_run_time),
        )

    scheduler.add_listener(on_job_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    for spec in options.job:
        _add_job(scheduler, spec)
    scheduler.start()
    watcher = None
    if options.watch is not None:
        from whalefall_sched.integration import watch_store

        watcher = watch_store(scheduler, options.watch)
    _write_status(options.status, scheduler._thread.is_alive())
    log.write("ready", jobs=[spec["id"] for spec in options.job], watch=options.watch)

    reported_dead = False
    while not stop.wait(0.1):
        alive = scheduler._thread.is_alive()
        _write_status(options.status, alive)
        if not alive and not reported_dead:
            reported_dead = True
            log.write("thread_dead")
    if watcher is not None:
        watcher.stop()
    scheduler.shutdown(wait=False)
    log.write("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
