"""Stores are created on purpose: ``init`` creates one (as stock APScheduler would) and
registers the default jobs; ``reload``, ``restore`` and reads never create one.

Every store test runs on SQLite, PostgreSQL and MariaDB; the stores ``init`` makes are
read back by stock APScheduler 3.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from tests.conftest import TIMEZONE, Invoke, StockStore
from whalefall_sched.errors import ExitCode, StoreConflictError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import load_tasks_file

#: The bundled tasks file's enabled jobs, in the file's order.
BUNDLED = [
    "sync_accounts",
    "cleanup_logs",
    "monitor_partition_health",
    "collect_database_sizes",
    "calculate_database_size_aggregations",
]
SUGGESTION = "run `whalefall-sched init` to create it"


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def _one_line_error(result: Any) -> str:
    lines: list[str] = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def _table_shape(url: str, table: str) -> tuple[Any, ...]:
    """The job table's columns, primary key and indexes, as the database reports them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            columns = [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ]
            key = inspector.get_pk_constraint(table)["constrained_columns"]
            indexes = sorted(
                (tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            )
    finally:
        engine.dispose()
    return columns, key, indexes


# -- init creates a store stock APScheduler reads ------------------------------------------


def test_init_creates_a_store_stock_apscheduler_reads(store_url: str, cli: Invoke) -> None:
    result = cli("init", "-o", "json", url=store_url)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["registered"] == BUNDLED
    assert document["registered_count"] == 5
    assert document["dry_run"] is False
    assert document["created"]["table"] == "apscheduler_jobs"
    path = _sqlite_path(store_url)
    assert document["created"]["file"] == (str(path) if path else None)
    assert document["created"]["directories"] == []
    # The table is the one stock APScheduler creates on a scheduler's first start.
    StockStore(store_url, table="reference").create()
    assert _table_shape(store_url, "apscheduler_jobs") == _table_shape(store_url, "reference")
    # A stock scheduler starts on it and sees every job, each with a next run time.
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=store_url)}, timezone=TIMEZONE
    )
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert sorted(jobs) == sorted(BUNDLED)
    assert all(job.next_run_time is not None for job in jobs.values())
    assert jobs["sync_accounts"].name == "账户同步"
    assert jobs["sync_accounts"].func_ref == "whalefall_sched.examples.tasks:sync_accounts"
    # list reads it as every other store
    listed = cli("list", "-o", "json", url=store_url)
    assert listed.exit_code == 0, listed.output
    assert [item["id"] for item in json.loads(listed.stdout)["items"]] == sorted(BUNDLED)


def test_init_writes_exactly_what_reload_writes(tmp_path: Path) -> None:
    now = datetime(2030, 6, 1, 12, 0, tzinfo=ZoneInfo(TIMEZONE))
    tasks = load_tasks_file(None)
    initialised = StockStore(f"sqlite:///{tmp_path / 'init.db'}")
    reloaded = StockStore(f"sqlite:///{tmp_path / 'reload.db'}")
    reloaded.create()
    for store in (initialised, reloaded):
        repository = JobStoreRepository(store.url)
        service = SchedulerActionsService(repository, tasks)
        try:
            if store is initialised:
                service.init_store(now=now)
            else:
                service.reload_jobs(now=now, backup_dir=None)
        finally:
            repository.close()
    assert initialised.raw() == reloaded.raw()
    assert sorted(initialised.raw()) == sorted(BUNDLED)


def test_init_creates_the_sqlite_directories_and_file(tmp_path: Path, cli: Invoke) -> None:
    path = tmp_path / "new" / "deeper" / "scheduler.db"
    url = f"sqlite:///{path}"

    dry = cli("init", "--dry-run", "-o", "json", url=url)
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True
    assert planned["created"] == {
        "directories": [str(tmp_path / "new"), str(tmp_path / "new" / "deeper")],
        "file": str(path),
        "table": "apscheduler_jobs",
    }
    assert planned["registered"] == BUNDLED
    assert not (tmp_path / "new").exists()  # a dry run creates nothing

    table = cli("init", url=url)
    assert table.exit_code == 0, table.output
    assert "Created: sqlite:///" in table.stdout
    assert str(path) in table.stdout
    assert "Registered (5)" in table.stdout
    assert path.is_file()
    assert sorted(StockStore(url).load()) == sorted(BUNDLED)


def test_init_in_an_existing_empty_sqlite_file_creates_the_table(
    sqlite_url: str, cli: Invoke
) -> None:
    path = _sqlite_path(sqlite_url)
    assert path is not None
    path.touch()
    result = cli("init", "-o", "json", url=sqlite_url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"]["file"] is None  # it was there already
    assert sorted(StockStore(sqlite_url).load()) == sorted(BUNDLED)


def test_init_with_an_invalid_tasks_file_creates_nothing(tmp_path: Path, cli: Invoke) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("default_tasks:\n  - {id: x, function: nope, trigger_type: cron}\n")
    url = f"sqlite:///{tmp_path / 'userdata' / 'scheduler.db'}"
    result = cli("--tasks", str(bad), "init", url=url)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "task x:" in result.stderr
    assert not (tmp_path / "userdata").exists()


def test_init_with_an_invalid_tasks_file_creates_no_table(store_url: str, cli: Invoke) -> None:
    bad = Path("bad.yaml")
    bad.write_text("default_tasks: [\n", encoding="utf-8")
    path = _sqlite_path(store_url)
    before = _tables(store_url) if path is None else []
    result = cli("--tasks", str(bad), "init", "-o", "json", url=store_url)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert json.loads(result.stdout)["error"]["code"] == "usage"
    if path is not None:
        assert not path.exists()
    else:
        assert _tables(store_url) == before


# -- init refuses a store that exists ---------------------------------------------------------


@pytest.mark.parametrize("content", ["jobs", "empty"])
@pytest.mark.parametrize("dry_run", [False, True], ids=["init", "dry-run"])
def test_init_refuses_an_existing_store_and_changes_nothing(
    store_url: str, stock: StockStore, cli: Invoke, content: str, dry_run: bool
) -> None:
    if content == "jobs":
        stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="mine"))
    else:
        stock.create()  # the table exists, with no row: a store all the same
    before = stock.fingerprint()
    raw = stock.raw()
    path = _sqlite_path(store_url)
    listing = _listing(path.parent) if path else None
    args = ("init", "--dry-run") if dry_run else ("init",)

    result = cli(*args, url=store_url)

    assert result.exit_code == ExitCode.CONFLICT, result.output
    line = _one_line_error(result)
    assert "a job store already exists at" in line
    assert "nothing changed" in line
    assert "apscheduler_jobs" in line
    if path is not None:
        assert str(path) in line
    assert result.stdout == ""
    as_json = cli(*args, "-o", "json", url=store_url)
    error = json.loads(as_json.stdout)["error"]
    assert (error["code"], error["exit_code"]) == ("conflict", 4)
    assert stock.fingerprint() == before
    assert stock.raw() == raw
    if path is not None:
        assert _listing(path.parent) == listing


class InjectedError(Exception):
    """A failure injected into init's write."""


def test_a_failed_write_leaves_no_table_behind(
    store_url: str, monkeypatch: pytest.MonkeyPatch, cli: Invoke
) -> None:
    """Where the database commits CREATE TABLE on its own (SQLite, MariaDB), the table
    made for a write that failed is dropped again: init can simply be run again."""
    from whalefall_sched.repository import writes

    def fail(*_args: Any) -> None:
        raise InjectedError()

    repository = JobStoreRepository(store_url)
    service = SchedulerActionsService(repository, load_tasks_file(None))
    try:
        with monkeypatch.context() as patch:
            patch.setattr(writes, "replace_rows", fail)
            with pytest.raises(InjectedError):
                service.init_store()
        assert not repository.exists()
    finally:
        repository.close()
    assert "apscheduler_jobs" not in _tables(store_url)
    again = cli("init", url=store_url)
    assert again.exit_code == 0, again.output
    assert sorted(StockStore(store_url).load()) == sorted(BUNDLED)


def test_init_twice_refuses_the_second_time(sqlite_url: str, cli: Invoke) -> None:
    assert cli("init", url=sqlite_url).exit_code == 0
    before = StockStore(sqlite_url).fingerprint()
    again = cli("init", url=sqlite_url)
    assert again.exit_code == ExitCode.CONFLICT
    assert "`whalefall-sched reload`" in _one_line_error(again)
    assert StockStore(sqlite_url).fingerprint() == before


def test_service_init_refuses_before_reading_the_tasks_file(stock: StockStore) -> None:
    stock.create()

    def unreadable() -> Any:
        raise AssertionError("the tasks file was read")

    repository = JobStoreRepository(stock.url)
    try:
        with pytest.raises(StoreConflictError, match="already exists"):
            SchedulerActionsService(repository, unreadable).init_store()
    finally:
        repository.close()


# -- reload and restore never create a store --------------------------------------------------


@pytest.fixture
def backup_file(tmp_path: Path, cli: Invoke) -> Path:
    """A backup of the bundled jobs, from a SQLite store of its own."""
    url = f"sqlite:///{tmp_path / 'source' / 'scheduler.db'}"
    assert cli("init", url=url).exit_code == 0
    reloaded = cli("reload", "--yes", "-o", "json", url=url)
    assert reloaded.exit_code == 0, reloaded.output
    return Path(json.loads(reloaded.stdout)["backup_path"])


def _missing_store_commands(backup: Path) -> list[tuple[str, ...]]:
    return [
        ("reload", "--yes"),
        ("reload", "--dry-run"),
        ("reload",),  # no --yes, no terminal: the missing store is what is reported
        ("restore", str(backup), "--yes"),
        ("restore", str(backup), "--dry-run"),
    ]


@pytest.mark.parametrize("where", ["file", "directory"])
def test_reload_and_restore_on_a_missing_sqlite_store_create_nothing(
    tmp_path: Path, cli: Invoke, backup_file: Path, where: str
) -> None:
    work = tmp_path / "work"
    (work / "userdata").mkdir(parents=True)
    path = work / ("userdata" if where == "file" else "userdta") / "sheduler.db"  # misspelt
    url = f"sqlite:///{path}"
    listing = _listing(work)
    reason = (
        "(the file does not exist)"
        if where == "file"
        else f"(the directory {work / 'userdta'} does not exist)"
    )

    for args in _missing_store_commands(backup_file):
        result = cli(*args, url=url)
        assert result.exit_code == ExitCode.CONFLICT, (args, result.output)
        line = _one_line_error(result)
        assert line == f"Error: job store not initialised at {path} {reason}; {SUGGESTION}"
        as_json = cli(*args, "-o", "json", url=url)
        error = json.loads(as_json.stdout)["error"]
        assert error == {
            "code": "conflict",
            "message": line.removeprefix("Error: "),
            "exit_code": 4,
        }
        assert _listing(work) == listing  # no directory, no file, no backups/

    assert not path.exists()


def test_reload_and_restore_on_a_sqlite_file_without_the_table_create_nothing(
    sqlite_url: str, cli: Invoke, backup_file: Path
) -> None:
    path = _sqlite_path(sqlite_url)
    assert path is not None
    path.touch()
    for args in _missing_store_commands(backup_file):
        result = cli(*args, url=sqlite_url)
        assert result.exit_code == ExitCode.CONFLICT, (args, result.output)
        line = _one_line_error(result)
        assert f"at {path} (the file has no table apscheduler_jobs)" in line
        assert SUGGESTION in line
    assert path.stat().st_size == 0
    assert _listing(path.parent) == ["scheduler.db"]


@pytest.mark.parametrize("store_url", ["postgres", "mysql"], indirect=True)
def test_reload_and_restore_on_a_server_without_the_table_create_nothing(
    store_url: str, cli: Invoke, backup_file: Path
) -> None:
    before = _tables(store_url)
    for args in _missing_store_commands(backup_file):
        result = cli(*args, url=store_url)
        assert result.exit_code == ExitCode.CONFLICT, (args, result.output)
        line = _one_line_error(result)
        assert "(table apscheduler_jobs does not exist)" in line
        assert SUGGESTION in line
        assert _tables(store_url) == before
    assert not Path("userdata").exists()  # no backup directory either


def test_the_repository_refuses_to_replace_into_a_missing_store(sqlite_url: str) -> None:
    """The service's own reload (not only the command) creates nothing."""
    path = _sqlite_path(sqlite_url)
    assert path is not None
    repository = JobStoreRepository(sqlite_url)
    try:
        service = SchedulerActionsService(repository, load_tasks_file(None))
        with pytest.raises(StoreConflictError, match="the file does not exist"):
            service.reload_jobs(backup_dir=None)
    finally:
        repository.close()
    assert _listing(path.parent) == []


# -- status on a store that is not there -------------------------------------------------


@pytest.mark.parametrize("where", ["file", "directory"])
def test_status_on_a_missing_sqlite_store_is_not_reachable(
    tmp_path: Path, cli: Invoke, where: str
) -> None:
    directory = tmp_path / ("userdata" if where == "file" else "nowhere")
    if where == "file":
        directory.mkdir()
    path = directory / "scheduler.db"
    listing = _listing(tmp_path)

    result = cli("status", "-o", "json", url=f"sqlite:///{path}")

    assert result.exit_code == ExitCode.CONFLICT, result.output
    document = json.loads(result.stdout)
    assert document["reachable"] is False
    assert document["initialised"] is False
    assert document["healthy"] is False
    assert str(path) in document["reasons"][0]
    assert SUGGESTION in document["reasons"][0]
    if where == "directory":
        assert f"the directory {directory} does not exist" in document["reasons"][0]
    assert document["error"]["exit_code"] == 4
    # nothing to count, nothing to judge a scheduler by
    assert document["jobs"] == dict.fromkeys(("total", "running", "paused", "unreadable"))
    assert document["liveness"] is None
    table = cli("status", url=f"sqlite:///{path}")
    assert table.exit_code == ExitCode.CONFLICT
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert "reachable      no" in lines
    assert "jobs           ?" in lines
    words = " ".join(table.stdout.split())  # a long path may wrap
    assert f"health not initialised (no store at {path})" in words
    assert "unreachable" not in table.stdout
    assert not any(line.startswith("liveness") for line in lines)
    assert _listing(tmp_path) == listing


@pytest.mark.parametrize("store_url", ["postgres", "mysql"], indirect=True)
def test_status_on_a_server_without_the_table_is_not_initialised(
    store_url: str, cli: Invoke
) -> None:
    result = cli("status", "-o", "json", url=store_url)
    assert result.exit_code == ExitCode.CONFLICT, result.output
    document = json.loads(result.stdout)
    assert (document["reachable"], document["initialised"]) == (True, False)
    assert "(table apscheduler_jobs does not exist)" in document["reasons"][0]
    assert SUGGESTION in document["reasons"][0]
    assert _tables(store_url) == []


# -- a missing database driver names its install command ------------------------------------

DRIVERS = {
    "postgres": ("psycopg", "postgresql+psycopg://ops:s3cret@127.0.0.1:1/whalefall"),
    "mysql": ("pymysql", "mysql+pymysql://ops:s3cret@127.0.0.1:1/whalefall"),
}


@pytest.mark.parametrize("extra", DRIVERS)
@pytest.mark.parametrize("command", [("list",), ("init",), ("status",)])
def test_a_missing_driver_names_the_install_command(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch, extra: str, command: tuple[str, ...]
) -> None:
    module, url = DRIVERS[extra]
    monkeypatch.setitem(sys.modules, module, None)  # `import psycopg` now fails

    result = cli(*command, url=url)

    assert result.exit_code == ExitCode.USAGE, result.output
    line = _one_line_error(result)
    assert f"its driver {module} is not installed" in line
    assert f"`uv sync --extra {extra}`" in line
    assert f"`pip install 'whalefall-sched[{extra}]'`" in line
    assert "s3cret" not in result.output


def test_a_missing_driver_in_a_real_process(tmp_path: Path) -> None:
    """The console's own process, with the driver's import blocked before anything runs."""
    code = (
        "import sys; sys.modules['psycopg'] = None; "
        "from whalefall_sched.cli import main; "
        "sys.argv = ['whalefall-sched', '--url', 'postgresql+psycopg://ops@127.0.0.1:1/x', "
        "'list']; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "Error: cannot use store URL 'postgresql+psycopg://ops@127.0.0.1:1/x': its driver "
        "psycopg is not installed; install it with `uv sync --extra postgres` (in a clone) "
        "or `pip install 'whalefall-sched[postgres]'`\n"
    )
