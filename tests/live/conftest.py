"""Fixtures for tests against a live scheduler process beside the CLI's console script.

- ``live_scheduler(*jobs, watch=..., due_delay=..., delay_jobs=..., hold_until=...)`` starts
  ``tests.live.scheduler_proc`` on the parametrised ``store_url``, waits until it is
  ready and terminates it (SIGTERM, then SIGKILL) after the test, whatever happens.
- ``wfs`` runs ``python -m whalefall_sched --url <store_url> ...`` as a real process.
- ``NaiveWriter`` writes the way a second stock APScheduler would: no compare-and-swap,
  no look at whether a scheduler is about to rewrite the row.

Every wait polls against a generous deadline; no test asserts a wall-clock duration.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from tests.conftest import REPO, TIMEZONE, write_tasks_file

#: How long a live scheduler process gets to start (imports, connecting, adding jobs).
READY_TIMEOUT = 30.0
#: How long one CLI process may take; --wait is 10 s by default.
CLI_TIMEOUT = 90.0
TICK = "tests.live.tasks:tick"

Entry = dict[str, Any]


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def sleep_until(wall: float) -> None:
    """Sleep until the wall-clock time ``wall`` (epoch seconds)."""
    delay = wall - time.time()
    if delay > 0:
        time.sleep(delay)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the repository importable, no colour."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def interval_job(job_id: str, seconds: float, **extra: Any) -> dict[str, Any]:
    """A ``--job`` spec for the live scheduler: an interval job running ``tick``."""
    return {"id": job_id, "trigger": "interval", "seconds": seconds, **extra}


@dataclass
class LiveScheduler:
    """A running ``tests.live.scheduler_proc`` process and what it has logged."""

    proc: subprocess.Popen[bytes]
    log: Path
    status: Path
    stderr_path: Path
    url: str

    def entries(self, kind: str | None = None) -> list[Entry]:
        """Every logged entry so far (of one kind)."""
        if not self.log.exists():
            return []
        found = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if not line.endswith("}"):  # a line being written right now
                continue
            entry = json.loads(line)
            if kind is None or entry["kind"] == kind:
                found.append(entry)
        return found

    def runs(self, job_id: str | None = None, *, after: float | None = None) -> list[Entry]:
        """Executed runs (of one job, scheduled strictly after ``after``), in log order."""
        return [
            e
            for e in self.entries("run")
            if (job_id is None or e["job"] == job_id) and (after is None or e["scheduled"] > after)
        ]

    def wait_entry(self, match: Callable[[Entry], bool], timeout: float, what: str) -> Entry:
        """The first logged entry matching ``match``, waiting for it."""

        def find() -> Entry | None:
            return next((e for e in self.entries() if match(e)), None)

        entry: Entry = wait_until(find, timeout, what)
        return entry

    def wait_runs(
        self, job_id: str, count: int = 1, *, after: float | None = None, timeout: float = 20.0
    ) -> list[Entry]:
        """Wait until ``job_id`` has ``count`` runs scheduled after ``after``."""
        runs: list[Entry] = wait_until(
            lambda: (found := self.runs(job_id, after=after)) and len(found) >= count and found,
            timeout,
            f"{count} run(s) of {job_id!r} scheduled after {after}\n{self.describe()}",
        )
        return runs

    def window_open(self, job_id: str) -> bool:
        """Whether the scheduler has read ``job_id`` as due and not yet written it back."""
        reads = sum(1 for e in self.entries("due") if job_id in e["jobs"])
        writes = sum(
            1
            for e in self.entries()
            if e["kind"] in ("update", "update_failed") and e["job"] == job_id
        )
        return reads > writes

    def thread_alive(self) -> bool:
        """The process runs and its scheduler thread was alive a moment ago."""
        if self.proc.poll() is not None:
            return False
        try:
            status = json.loads(self.status.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return bool(status["thread_alive"]) and time.time() - status["wall"] < 5

    def deaths(self) -> list[Entry]:
        """Signs that the scheduler thread died or failed to write a row."""
        return [
            e
            for e in self.entries()
            if e["kind"] in ("thread_exception", "thread_dead", "update_failed")
        ]

    def describe(self) -> str:
        """The tail of the log and of stderr, for failure messages."""
        tail = "\n".join(json.dumps(e) for e in self.entries()[-15:])
        stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        return f"--- scheduler log (tail)\n{tail}\n--- scheduler stderr (tail)\n{stderr}"

    def stop(self) -> int:
        """SIGTERM, wait for a clean exit (SIGKILL after 15 s); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        return self.proc.returncode


StartLive = Callable[..., LiveScheduler]


@pytest.fixture
def live_scheduler(store_url: str, tmp_path: Path) -> Iterator[StartLive]:
    """Start live schedulers on ``store_url``: ``live_scheduler(job_spec, ..., watch=2)``.

    Each call starts a new process (a test may restart one); all are terminated at the
    end of the test.
    """
    started: list[LiveScheduler] = []

    def start(
        *jobs: dict[str, Any],
        watch: float | None = None,
        due_delay: float = 0.0,
        delay_jobs: tuple[str, ...] = (),
        hold_until: Path | None = None,
        misfire_grace: int = 300,
        table: str = "apscheduler_jobs",
    ) -> LiveScheduler:
        n = len(started) + 1
        log = tmp_path / f"live-{n}.jsonl"
        status = tmp_path / f"live-{n}.status.json"
        stderr_path = tmp_path / f"live-{n}.stderr"
        argv = [
            sys.executable,
            "-m",
            "tests.live.scheduler_proc",
            "--url",
            store_url,
            "--table",
            table,
            "--log",
            str(log),
            "--status",
            str(status),
            "--misfire-grace",
            str(misfire_grace),
        ]
        for job in jobs:
            argv += ["--job", json.dumps(job)]
        if watch is not None:
            argv += ["--watch", str(watch)]
        if due_delay:
            argv += ["--due-delay", str(due_delay)]
            for job_id in delay_jobs:
                argv += ["--delay-job", job_id]
        if hold_until is not None:
            argv += ["--hold-until", str(hold_until)]
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                argv, cwd=REPO, env=child_env(), stdout=subprocess.DEVNULL, stderr=stderr
            )
        live = LiveScheduler(proc, log, status, stderr_path, store_url)
        started.append(live)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"live scheduler exited with {proc.returncode} before it was ready\n"
                    + live.describe()
                )
            return bool(live.entries("ready"))

        wait_until(ready, READY_TIMEOUT, "the live scheduler to be ready")
        return live

    try:
        yield start
    finally:
        for live in started:
            live.stop()


@dataclass
class Wfs:
    """The real console script, ``python -m whalefall_sched --url URL ...``, as a process."""

    url: str
    cwd: Path
    env: dict[str, str] = field(default_factory=child_env)

    def argv(self, *args: str | Path) -> list[str]:
        return [sys.executable, "-m", "whalefall_sched", "--url", self.url, *map(str, args)]

    def run(
        self, *args: str | Path, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run one command to completion."""
        return subprocess.run(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str | Path) -> subprocess.Popen[str]:
        """Start one command; ``communicate()`` it later."""
        return subprocess.Popen(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def list_json(self) -> list[dict[str, Any]]:
        """``list -o json``, which must succeed."""
        result = self.run("list", "-o", "json")
        assert result.returncode == 0, describe_result(result)
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items


def describe_result(result: subprocess.CompletedProcess[str]) -> str:
    """A finished CLI process, for failure messages."""
    return (
        f"{' '.join(map(str, result.args[3:]))} -> exit {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


@pytest.fixture
def wfs(store_url: str, tmp_path: Path) -> Wfs:
    """The console script on the parametrised store, run from the test's scratch directory."""
    return Wfs(store_url, tmp_path)


def write_tasks(path: Path, tasks: list[dict[str, Any]]) -> Path:
    """A tasks file whose every task runs ``tests.live.tasks:tick``.

    ``tasks``: ``{"id", "trigger_type", "trigger_params"}`` each.
    """
    document = {
        "default_tasks": [
            {
                "id": task["id"],
                "name": task["id"],
                "function": "tick",
                "trigger_type": task["trigger_type"],
                "trigger_params": task["trigger_params"],
                "enabled": True,
                "description": f"live test job {task['id']}",
            }
            for task in tasks
        ],
        "functions": {"tick": TICK},
        "timezone": TIMEZONE,
        "job_defaults": {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1},
    }
    return write_tasks_file(path, document)


class NaiveWriter:
    """A second stock APScheduler job store on the same table: writes without looking.

    Started ahead (connection pooled) so that a write lands within milliseconds.
    """

    def __init__(self, url: str) -> None:
        self.store = SQLAlchemyJobStore(url=url)
        self.store.start(BackgroundScheduler(timezone=TIMEZONE), "default")
        self.store.get_next_run_time()  # open a connection now, not in the race

    def pause(self, job_id: str) -> None:
        """What stock ``scheduler.pause_job`` does: rewrite the row with no next run time."""
        job = self.store.lookup_job(job_id)
        job._modify(next_run_time=None)
        self.store.update_job(job)

    def delete(self, job_id: str) -> None:
        """What stock ``scheduler.remove_job`` does: a plain DELETE."""
        self.store.remove_job(job_id)

    def close(self) -> None:
        self.store.shutdown()


@pytest.fixture
def naive_writer(store_url: str) -> Iterator[Callable[[], NaiveWriter]]:
    """``naive_writer()`` opens a :class:`NaiveWriter` on the store (closed after the test)."""
    opened: list[NaiveWriter] = []

    def open_writer() -> NaiveWriter:
        writer = NaiveWriter(store_url)
        opened.append(writer)
        return writer

    yield open_writer
    for writer in opened:
        writer.close()
