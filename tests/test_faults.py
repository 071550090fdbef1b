"""Faults survived, nothing lost: kill -9 mid-reload, a locked SQLite file, a server gone.

Every fault tried is written to the fault log (see ``tests/fault_log.py``): which fault,
on which backend, which run, what was observed and the verdict.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, Invoke, StockStore, write_tasks_file
from tests.fault_log import FaultLog
from whalefall_sched.errors import StoreSystemError
from whalefall_sched.repository import JobStoreRepository, StoredJob, writes

#: Kill runs per backend (the issue asks for at least 20); seed of their random moments.
KILL_RUNS = int(os.environ.get("WHALEFALL_SCHED_KILL_RUNS", "24"))
SEED = int(os.environ.get("WHALEFALL_SCHED_FAULT_SEED", "20260101"))
#: Old rows in the store and new tasks in the file: enough that the transaction lasts.
N_OLD = 300
M_NEW = 300
#: Longest a child process may take; a hang fails the test instead of the run.
CHILD_TIMEOUT = 60


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_SCHED_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("FORCE_COLOR", None)
    return env


def _old_jobs(n: int) -> list[dict[str, Any]]:
    """Jobs stock APScheduler writes; next run an hour or more away, so none is due."""
    return [
        dict(
            func="tests.jobs:record" if i % 2 else "tests.jobs:noop",
            trigger="interval",
            id=f"old_{i:04d}",
            hours=1 + i % 23,
            kwargs={"n": i} if i % 2 else {},
            name=f"Old job {i}",
        )
        for i in range(n)
    ]


def _tasks_file(tmp_path: Path, m: int) -> Path:
    tasks = [
        {
            "id": f"new_{i:04d}",
            "name": f"New job {i}",
            "function": "record" if i % 2 else "noop",
            "trigger_type": "interval" if i % 3 else "cron",
            "trigger_params": {"hours": 2 + i % 20} if i % 3 else {"hour": i % 24, "minute": 7},
            "enabled": True,
        }
        for i in range(m)
    ]
    document = {
        "default_tasks": tasks,
        "functions": {"record": "tests.jobs:record", "noop": "tests.jobs:noop"},
        "timezone": "Asia/Shanghai",
    }
    return write_tasks_file(tmp_path / "tasks.yaml", document)


# -- kill -9 a reload at random moments ---------------------------------------------------


@dataclass
class KillTarget:
    """One store under test: how to reset it to the old rows and to see a write in flight."""

    stock: StockStore
    backend: str
    old: dict[str, tuple[float | None, bytes]]
    reset: Callable[[], None]
    #: True while a reload's write transaction is open (SQLite journal, PostgreSQL row locks).
    writing: Callable[[], bool]
    #: Waits until the server has finished with a killed client (PostgreSQL), else no-op.
    settle: Callable[[], None]
    close: Callable[[], None]


def _sqlite_target(stock: StockStore, tmp_path: Path) -> KillTarget:
    path = Path(stock.url.removeprefix("sqlite:///"))
    template = tmp_path / "template.db"
    shutil.copyfile(path, template)
    journal = path.with_name(path.name + "-journal")

    def reset() -> None:
        journal.unlink(missing_ok=True)
        shutil.copyfile(template, path)

    return KillTarget(
        stock, "sqlite", stock.raw(), reset, journal.exists, lambda: None, lambda: None
    )


def _postgres_target(stock: StockStore) -> KillTarget:
    engine = sa.create_engine(stock.url, isolation_level="AUTOCOMMIT")
    watcher = engine.connect()
    t = stock.table_obj()
    old = stock.raw()
    others = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state IS DISTINCT FROM 'idle'"
    )
    row_locks = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_database d ON d.oid = l.database "
        "WHERE d.datname = current_database() AND c.relname = 'apscheduler_jobs' "
        "AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
    )

    def settle() -> None:
        deadline = time.monotonic() + 30
        while watcher.execute(others).scalar_one() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not watcher.execute(others).scalar_one(), "a killed client's transaction lingers"

    def reset() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(t.delete())
            conn.execute(
                t.insert(),
                [{"id": k, "next_run_time": v[0], "job_state": v[1]} for k, v in old.items()],
            )

    def writing() -> bool:
        return bool(watcher.execute(row_locks).scalar_one())

    def close() -> None:
        watcher.close()
        engine.dispose()

    return KillTarget(stock, "postgres", old, reset, writing, settle, close)


def _reload_argv(url: str, tasks: Path, backup_dir: Path | None) -> list[str]:
    backups = ["--no-backup"] if backup_dir is None else ["--backup-dir", str(backup_dir)]
    return [
        sys.executable,
        "-m",
        "whalefall_sched",
        "--url",
        url,
        "--tasks",
        str(tasks),
        "reload",
        "--yes",
        *backups,
    ]


def _start(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=_child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes]) -> float | None:
    """Poll ``condition`` until true (its monotonic time) or the process ends (None)."""
    deadline = time.monotonic() + CHILD_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.001)
    return None


def _calibrate(target: KillTarget, argv: list[str], cwd: Path) -> tuple[float, float]:
    """One undisturbed reload: how long it runs, and how long its write transaction lasts."""
    started = time.monotonic()
    proc = _start(argv, cwd)
    seen = _wait_for(target.writing, proc)
    gone = None
    if seen is not None:
        gone = _wait_for(lambda: not target.writing(), proc) or time.monotonic()
    _, stderr = proc.communicate(timeout=CHILD_TIMEOUT)
    total = time.monotonic() - started
    assert proc.returncode == 0, stderr.decode()
    transaction = (gone - seen) if seen is not None and gone is not None else 0.0
    return total, max(transaction, 0.01)


def _verify(
    target: KillTarget, cli: Invoke, new_ids: set[str], backup_dir: Path | None
) -> tuple[str, list[str]]:
    """The store holds exactly the old rows or exactly the new ids; every row decodes."""
    notes: list[str] = []
    target.settle()
    url = target.stock.url
    # A killed SQLite writer may leave a hot journal: the read-only list must still
    # show the committed rows (from a rolled-back private copy), not fail.
    listed = cli("list", "-o", "json", url=url)
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)["items"]
    raw = target.stock.raw()
    ids = set(raw)
    if ids == set(target.old):
        assert raw == target.old, "old ids kept, but not with their old bytes"
        outcome = "old"
    else:
        assert ids == new_ids, f"neither all old nor all new: {len(ids)} rows"
        outcome = "new"
    assert {i["id"] for i in items} == ids
    unreadable = [i["id"] for i in items if i["state"] == "STATE_UNREADABLE"]
    assert not unreadable, unreadable
    assert set(target.stock.load()) == ids, "stock APScheduler could not load every row"
    if backup_dir is not None and backup_dir.exists():
        for path in backup_dir.glob("*.json"):  # a finished backup holds every old row
            rows = JobStoreRepository(target.stock.url).read_backup(path)
            assert {r.id: (r.next_run_time, r.job_state) for r in rows} == target.old
        if list(backup_dir.glob("*.tmp")):
            notes.append("an unfinished backup .tmp file was left")
    return outcome, notes


@pytest.mark.slow
@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_kill_reload_at_random_moments(
    store_url: str, stock: StockStore, cli: Invoke, tmp_path: Path, fault_log: FaultLog
) -> None:
    stock.add(*_old_jobs(N_OLD))
    tasks = _tasks_file(tmp_path, M_NEW)
    new_ids = {f"new_{i:04d}" for i in range(M_NEW)}
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    target = _sqlite_target(stock, tmp_path) if backend == "sqlite" else _postgres_target(stock)
    rng = random.Random(f"{SEED}-{backend}")
    outcomes: dict[str, int] = {}
    try:
        argv = _reload_argv(store_url, tasks, None)
        total, transaction = _calibrate(target, argv, tmp_path)
        outcome, _ = _verify(target, cli, new_ids, None)
        assert outcome == "new"
        fault_log.record(
            "kill-9 reload (calibration)",
            backend,
            "-",
            f"undisturbed reload of {N_OLD} old -> {M_NEW} new took {total:.2f}s, "
            f"write transaction {transaction * 1000:.0f}ms; seed {SEED}",
            "new",
        )
        for run in range(KILL_RUNS):
            target.reset()
            backup_dir = tmp_path / f"backups-{run}" if run % 4 == 3 else None
            argv = _reload_argv(store_url, tasks, backup_dir)
            # Even runs: any moment of the whole process (start-up, reads, the write,
            # exit). Odd runs: a moment inside the write transaction, once it is seen.
            in_transaction = run % 2 == 1
            proc = _start(argv, tmp_path)
            if in_transaction:
                delay = rng.uniform(0, transaction * 1.2)
                seen = _wait_for(target.writing, proc)
                moment = f"{delay * 1000:.0f}ms into the write" if seen else "after exit"
                if seen is not None:
                    time.sleep(delay)
            else:
                delay = rng.uniform(0, total * 1.15)
                moment = f"{delay:.3f}s after start"
                time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate(timeout=CHILD_TIMEOUT)
            if proc.returncode == -signal.SIGKILL:
                killed = "killed"
            else:
                assert proc.returncode == 0, stderr.decode()
                killed = "had already finished (exit 0)"
            outcome, notes = _verify(target, cli, new_ids, backup_dir)
            if proc.returncode == 0:
                assert outcome == "new"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            observed = f"SIGKILL {moment}: {killed}; store holds all {outcome} ids"
            if backup_dir is not None:
                observed += f"; backups to {backup_dir.name}"
            fault_log.record(
                "kill-9 reload",
                backend,
                run,
                "; ".join([observed, *notes]),
                f"ok ({outcome})",
            )
    finally:
        target.close()
    fault_log.record(
        "kill-9 reload (summary)",
        backend,
        f"{KILL_RUNS} runs",
        ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
        "ok",
    )


def test_sqlite_read_after_a_writer_killed_mid_commit(
    sqlite_stock: StockStore, cli: Invoke, tmp_path: Path, fault_log: FaultLog
) -> None:
    sqlite_stock.add(*_old_jobs(5))
    old = sqlite_stock.raw()
    path = Path(sqlite_stock.url.removeprefix("sqlite:///"))
    # A writer whose cache spills (as a large transaction's does, or any at commit time)
    # has synced its journal and written pages to the file when it is killed.
    writer = textwrap.dedent(
        f"""
        import os, signal, sqlite3
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("PRAGMA cache_size = 1")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM apscheduler_jobs")
        conn.executemany(
            "INSERT INTO apscheduler_jobs VALUES (?, NULL, ?)",
            [(f"junk_{{i}}", os.urandom(2000)) for i in range(200)],
        )
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", writer], timeout=CHILD_TIMEOUT, capture_output=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL
    journal = path.with_name(path.name + "-journal")
    assert journal.exists()
    on_disk = (path.read_bytes(), journal.read_bytes())
    listed = cli("list", "-o", "json", url=sqlite_stock.url)
    # The read rolled back a private copy: the store and its journal are untouched.
    assert (path.read_bytes(), journal.read_bytes()) == on_disk
    fault_log.record(
        "writer killed mid-commit, then read-only list",
        "sqlite",
        0,
        f"list exit {listed.exit_code}: {listed.stderr.strip() or 'ok'}",
        "ok" if listed.exit_code == 0 else "FAILED",
    )
    try:
        assert listed.exit_code == 0, listed.stderr
        assert sorted(i["id"] for i in json.loads(listed.stdout)["items"]) == sorted(old)
    finally:
        assert sqlite_stock.raw() == old  # a read-write open rolls the journal back


# -- SQLite: database is locked --------------------------------------------------------


def _locker(path: Path, mode: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"BEGIN {mode}")
    if mode == "EXCLUSIVE":
        return conn
    # A writer half way through its own change: the CLI must neither see nor keep it.
    conn.execute("UPDATE apscheduler_jobs SET next_run_time = NULL")
    return conn


LOCK_JOBS = [
    dict(func="tests.jobs:noop", trigger="interval", id="alpha", hours=5),
    dict(func="tests.jobs:record", trigger="interval", id="beta", hours=7),
]


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
@pytest.mark.parametrize("command", ["pause", "reload"])
def test_sqlite_locked_is_a_clear_conflict(
    sqlite_stock: StockStore,
    cli: Invoke,
    tmp_path: Path,
    fault_log: FaultLog,
    mode: str,
    command: str,
) -> None:
    sqlite_stock.add(*LOCK_JOBS)
    before = sqlite_stock.fingerprint()
    path = Path(sqlite_stock.url.removeprefix("sqlite:///"))
    args = (
        ["pause", "alpha"]
        if command == "pause"
        else ["--tasks", str(_tasks_file(tmp_path, 3)), "reload", "--yes"]
    )
    locker = _locker(path, mode)
    try:
        result = cli("--timeout", "1", *args, url=sqlite_stock.url)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    lines = result.stderr.strip().splitlines()
    fault_log.record(
        f"sqlite BEGIN {mode} held by another connection, {command} --timeout 1",
        "sqlite",
        0,
        f"exit {result.exit_code}: {' / '.join(lines)}; file bytes "
        f"{'unchanged' if sqlite_stock.fingerprint() == before else 'CHANGED'}",
        "ok" if result.exit_code == 4 and sqlite_stock.fingerprint() == before else "FAIL",
    )
    assert result.exit_code == 4, result.output
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and "locked" in lines[0], lines
    assert "Traceback" not in result.output
    assert sqlite_stock.fingerprint() == before


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
def test_sqlite_lock_released_within_the_timeout(
    sqlite_stock: StockStore, cli: Invoke, fault_log: FaultLog, mode: str
) -> None:
    """The busy timeout retries: a lock released while pause waits lets it through."""
    sqlite_stock.add(*LOCK_JOBS)
    path = Path(sqlite_stock.url.removeprefix("sqlite:///"))
    locker = _locker(path, mode)
    done = threading.Event()
    held_while_waiting: list[bool] = []

    def release() -> None:
        time.sleep(0.5)
        held_while_waiting.append(not done.is_set())
        locker.execute("ROLLBACK")
        locker.close()

    thread = threading.Thread(target=release)
    thread.start()
    try:
        result = cli("--timeout", "30", "pause", "alpha", url=sqlite_stock.url)
    finally:
        done.set()
        thread.join()
    fault_log.record(
        f"sqlite BEGIN {mode} released while pause --timeout 30 waits",
        "sqlite",
        0,
        f"exit {result.exit_code}; pause still waiting when the lock was released: "
        f"{held_while_waiting}",
        "ok" if result.exit_code == 0 else "FAIL",
    )
    # pause could not have written while the lock was held, so exit 0 means it waited.
    assert result.exit_code == 0, result.output
    assert held_while_waiting == [True]
    loaded = sqlite_stock.load()
    assert loaded["alpha"].next_run_time is None
    assert loaded["beta"].next_run_time is not None


# -- the server going away between read and write --------------------------------------


def _kill_sessions(url: str) -> int:
    """End every other session on the store's database, as a server restart would."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                return len(
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    ).all()
                )
            ids = conn.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
                )
            ).scalars()
            killed = 0
            for session in ids:
                conn.execute(sa.text(f"KILL CONNECTION {int(session)}"))
                killed += 1
            return killed
    finally:
        admin.dispose()


def _server_backend(url: str) -> str:
    return "postgres" if url.startswith("postgresql") else "mysql"


GONE_JOBS = [
    dict(func="tests.jobs:noop", trigger="interval", id=f"job_{i}", hours=3 + i) for i in range(6)
]

servers = pytest.mark.parametrize("store_url", ["postgres", "mysql"], indirect=True)


@servers
def test_server_gone_between_read_and_write_modify(
    store_url: str, stock: StockStore, fault_log: FaultLog
) -> None:
    stock.add(*GONE_JOBS)
    before = stock.raw()
    repo = JobStoreRepository(store_url, timeout=2)
    killed: list[int] = []

    def change(job: StoredJob) -> dict[str, Any]:
        killed.append(_kill_sessions(store_url))
        assert job.decoded is not None
        return {**job.decoded, "next_run_time": None}

    try:
        with pytest.raises(StoreSystemError) as info:
            repo.modify_job("job_1", change)
    finally:
        repo.close()
    fault_log.record(
        "server sessions killed between read and write (modify_job)",
        _server_backend(store_url),
        0,
        f"{killed} session(s) ended; StoreSystemError: {info.value}; rows "
        f"{'unchanged' if stock.raw() == before else 'CHANGED'}",
        "ok" if stock.raw() == before else "FAIL",
    )
    assert killed and killed[0] >= 1
    assert stock.raw() == before


def _sabotage_once(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, url: str, *, on_call: int = 1
) -> list[int]:
    """Make ``owner.<name>`` (a method or a module function) end the store's sessions on
    its n-th call, then do its work."""
    original = getattr(owner, name)
    calls: list[int] = []
    killed: list[int] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == on_call:
            killed.append(_kill_sessions(url))
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return killed


@servers
@pytest.mark.parametrize("command", ["pause", "resume"])
def test_server_gone_between_read_and_write_cli(
    store_url: str,
    stock: StockStore,
    cli: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    fault_log: FaultLog,
    command: str,
) -> None:
    stock.add(*GONE_JOBS, dict(GONE_JOBS[0], id="paused_job", next_run_time=None))
    before = stock.raw()
    killed = _sabotage_once(monkeypatch, JobStoreRepository, "_cas_write", store_url)
    job_id = "job_2" if command == "pause" else "paused_job"
    result = cli("--timeout", "2", command, job_id, url=store_url)
    lines = result.stderr.strip().splitlines()
    unchanged = stock.raw() == before
    fault_log.record(
        f"server sessions killed between read and write ({command} via the CLI)",
        _server_backend(store_url),
        0,
        f"{killed} session(s) ended; exit {result.exit_code}: {' / '.join(lines)}; rows "
        f"{'unchanged' if unchanged else 'CHANGED'}",
        "ok" if result.exit_code == 5 and unchanged else "FAIL",
    )
    assert killed and killed[0] >= 1
    assert result.exit_code == 5, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: job store "), lines
    assert "Traceback" not in result.output
    assert unchanged


@servers
@pytest.mark.parametrize("on_call", [1, 5], ids=["before-first-write", "after-4-deletes"])
def test_server_gone_inside_the_reload_transaction(
    store_url: str,
    stock: StockStore,
    cli: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault_log: FaultLog,
    on_call: int,
) -> None:
    """Sessions ended in the middle of replace_all's transaction: it is rolled back whole."""
    stock.add(*GONE_JOBS)
    before = stock.raw()
    tasks = _tasks_file(tmp_path, 4)
    with monkeypatch.context() as patch:
        killed = _sabotage_once(patch, writes, "cas", store_url, on_call=on_call)
        result = cli(
            "--timeout", "2", "--tasks", str(tasks), "reload", "--yes", "--no-backup", url=store_url
        )
    lines = result.stderr.strip().splitlines()
    unchanged = stock.raw() == before
    fault_log.record(
        f"server sessions killed inside the reload transaction (CAS call {on_call})",
        _server_backend(store_url),
        0,
        f"{killed} session(s) ended; exit {result.exit_code}: {' / '.join(lines)}; rows "
        f"{'unchanged' if unchanged else 'CHANGED'}",
        "ok" if result.exit_code == 5 and unchanged else "FAIL",
    )
    assert killed and killed[0] >= 1
    assert result.exit_code == 5, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: job store "), lines
    assert "Traceback" not in result.output
    assert unchanged
    assert set(stock.load()) == set(before)
    # The store works again at once: the next reload goes through.
    again = cli("--tasks", str(tasks), "reload", "--yes", "--no-backup", url=store_url)
    assert again.exit_code == 0, again.output
    assert set(stock.load()) == {f"new_{i:04d}" for i in range(4)}
