"""Run history: the host's task_runs (2026-07) and the tool's own table, on every backend.

``runs``, ``runs show``, LAST and ``last_run_time`` read what the host writes; reads
create nothing; ``record_runs`` records a real scheduler's executions, errors and
misses; ``run`` records a manual run with its user.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.conftest import Invoke, StockStore, write_tasks_file
from whalefall_sched.integration import record_runs
from whalefall_sched.services.dto import utc_z

SHANGHAI = ZoneInfo("Asia/Shanghai")


# -- the host's models (app/models/task_run.py, task_run_item.py, 2026-07), as written ---


def _now() -> datetime:
    return datetime.now(SHANGHAI)


class HostBase(DeclarativeBase):
    pass


class TaskRun(HostBase):
    __tablename__ = "task_runs"
    __table_args__ = (sa.Index("ix_task_runs_task_key_started_at", "task_key", "started_at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    run_id = mapped_column(sa.String(36), unique=True, nullable=False, index=True)
    task_key = mapped_column(sa.String(128), nullable=False, index=True)
    task_name = mapped_column(sa.String(255), nullable=False)
    task_category = mapped_column(sa.String(50), nullable=False, index=True)
    trigger_source = mapped_column(sa.String(20), nullable=False, index=True)
    status = mapped_column(sa.String(32), nullable=False, default="running", index=True)
    started_at = mapped_column(sa.DateTime(timezone=True), nullable=False, index=True)
    completed_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    created_by = mapped_column(sa.Integer, nullable=True)
    progress_total = mapped_column(sa.Integer, nullable=False, default=0)
    progress_completed = mapped_column(sa.Integer, nullable=False, default=0)
    progress_failed = mapped_column(sa.Integer, nullable=False, default=0)
    summary_json = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
    )
    result_url = mapped_column(sa.String(255), nullable=True)
    error_message = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), default=_now)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=_now, onupdate=_now)


class TaskRunItem(HostBase):
    __tablename__ = "task_run_items"
    __table_args__ = (
        sa.UniqueConstraint(
            "run_id", "item_type", "item_key", name="uq_task_run_items_run_type_key"
        ),
        sa.Index("ix_task_run_items_run_id_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    run_id = mapped_column(
        sa.String(36), sa.ForeignKey("task_runs.run_id"), nullable=False, index=True
    )
    item_type = mapped_column(sa.String(20), nullable=False, index=True)
    item_key = mapped_column(sa.String(128), nullable=False, index=True)
    item_name = mapped_column(sa.String(255), nullable=True)
    instance_id = mapped_column(sa.Integer, nullable=True, index=True)
    status = mapped_column(sa.String(32), nullable=False, default="pending", index=True)
    started_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    completed_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    metrics_json = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
    )
    details_json = mapped_column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
    )
    error_message = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), default=_now)
    updated_at = mapped_column(sa.DateTime(timezone=True), default=_now, onupdate=_now)


def host_last_run(engine: sa.Engine, job_id: str) -> str | None:
    """The 2026-07 host's ``SchedulerJobsRepository.lookup_job_last_run``, verbatim."""
    with sa.orm.Session(engine) as session:
        latest = (
            session.query(TaskRun)
            .filter(TaskRun.task_key == job_id)
            .order_by(TaskRun.started_at.desc(), TaskRun.id.desc())
            .first()
        )
        if latest and latest.started_at:
            started_at = latest.started_at
            if isinstance(started_at, datetime) and started_at.tzinfo is None:
                started_at = started_at.replace(tzinfo=UTC)
            return str(started_at.isoformat())
        return None


BASE = datetime(2026, 2, 12, 1, 0, 0, tzinfo=SHANGHAI)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.fixture
def engine(stock: StockStore) -> Iterator[sa.Engine]:
    """An engine on the parametrised database (the job store's and, here, the app's)."""
    engine = sa.create_engine(stock.url)
    yield engine
    engine.dispose()


@pytest.fixture
def host(stock: StockStore, engine: sa.Engine) -> dict[str, Any]:
    """A job store with three jobs, and the host's task_runs/task_run_items beside it:
    sync_accounts ran three times (the latest failed, two runs share its start), the
    other once; sync_databases never."""
    stock.add(
        *(
            dict(func="tests.jobs:record", trigger="cron", id=job_id, hour=1, name=job_id)
            for job_id in ("sync_accounts", "calculate_account", "sync_databases")
        )
    )
    HostBase.metadata.create_all(engine)
    runs = [
        ("a1", "sync_accounts", BASE, "completed", "scheduled", None, None),
        ("a2", "sync_accounts", BASE + timedelta(days=1), "completed", "manual", 3, None),
        ("a3", "sync_accounts", BASE + timedelta(days=1), "failed", "scheduled", None, "boom\nx"),
        (
            "c1",
            "calculate_account",
            BASE + timedelta(hours=2),
            "completed",
            "scheduled",
            None,
            None,
        ),
    ]
    with sa.orm.Session(engine) as session:
        for run_id, key, started, status, source, user, error in runs:
            session.add(
                TaskRun(
                    run_id=run_id,
                    task_key=key,
                    task_name="账户同步" if key == "sync_accounts" else key,
                    task_category="account",
                    trigger_source=source,
                    status=status,
                    started_at=started,
                    completed_at=started + timedelta(seconds=90),
                    created_by=user,
                    progress_total=4,
                    progress_completed=3,
                    progress_failed=1 if status == "failed" else 0,
                    summary_json={"accounts": 12},
                    error_message=error,
                )
            )
        session.flush()
        session.add(
            TaskRunItem(
                run_id="a3",
                item_type="instance",
                item_key="db-1",
                item_name="mysql prod",
                instance_id=1,
                status="failed",
                started_at=BASE,
                error_message="connection refused",
            )
        )
        session.add(
            TaskRunItem(run_id="a3", item_type="instance", item_key="db-2", status="completed")
        )
        session.commit()
    return {"url": stock.url}


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- the host's task_runs --------------------------------------------------------------


def test_runs_lists_the_hosts_runs_newest_first(cli: Invoke, host: dict[str, Any]) -> None:
    url = host["url"]
    document = _json(cli("--history-url", url, "runs", "-o", "json", url=url))
    assert next(iter(document)) == "schema_version"
    items = document["items"]
    # newest first; the two runs that share a start: the higher id first
    assert [i["id"] for i in items] == ["a3", "a2", "c1", "a1"]
    first = items[0]
    assert first["task_id"] == "sync_accounts"
    assert first["status"] == "failed"
    assert first["error_message"] == "boom\nx"
    assert first["duration_ms"] == 90_000
    assert first["progress_failed"] == 1
    # what the host shows: a naive stored time (SQLite, MariaDB keep the writer's wall
    # time) read as UTC, an aware one (PostgreSQL) as it is
    assert first["started_at_utc"] in ("2026-02-12T17:00:00Z", "2026-02-13T01:00:00Z")
    assert first["started_at_utc"] == utc_z(first["started_at"])
    assert items[1]["trigger_source"] == "manual"
    assert items[1]["created_by"] == "3"
    assert document["source"] == "task_runs"


def test_runs_filters_by_job_status_and_limit(cli: Invoke, host: dict[str, Any]) -> None:
    url = host["url"]

    def ids(*args: str) -> list[str]:
        document = _json(cli("--history-url", url, "runs", *args, "-o", "json", url=url))
        return [i["id"] for i in document["items"]]

    assert ids("sync_accounts") == ["a3", "a2", "a1"]
    assert ids("--status", "failed") == ["a3"]
    assert ids("sync_accounts", "--status", "completed", "--limit", "1") == ["a2"]
    assert ids("sync_databases") == []


def test_runs_table_has_its_columns_and_one_line_per_run(cli: Invoke, host: dict[str, Any]) -> None:
    url = host["url"]
    result = cli("runs", "--history-url", url, url=url)  # the global option after the command
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "RUN", "ID", "TASK", "SOURCE", "USER", "STATUS", "STARTED", "DURATION", "PROGRESS", "ERROR"
    ]  # fmt: skip
    assert len(lines) == 5
    assert "failed" in lines[1] and "3/4, 1 failed" in lines[1]
    assert "boom\\nx" not in lines[1] and "boom x" in lines[1]  # one line per run
    assert "1.5min" not in lines[1] and "1min 30s" in lines[1]


def test_runs_show_gives_one_run_with_its_items(cli: Invoke, host: dict[str, Any]) -> None:
    url = host["url"]
    document = _json(cli("--history-url", url, "runs", "show", "a3", "-o", "json", url=url))
    assert next(iter(document)) == "schema_version"
    assert document["id"] == "a3"
    assert document["summary"] == {"accounts": 12}
    assert [i["item_key"] for i in document["items"]] == ["db-1", "db-2"]
    assert document["items"][0]["error_message"] == "connection refused"
    assert document["items"][0]["started_at_utc"] in (
        "2026-02-11T17:00:00Z",
        "2026-02-12T01:00:00Z",
    )
    table = cli("--history-url", url, "runs", "show", "a3", url=url)
    assert table.exit_code == 0
    assert "connection refused" in table.stdout and "db-2" in table.stdout
    missing = cli("--history-url", url, "runs", "show", "nope", url=url)
    assert missing.exit_code == 3
    assert missing.stderr.count("\n") == 1 and "run 'nope' not found" in missing.stderr


def test_last_run_time_is_what_the_host_shows(
    cli: Invoke, host: dict[str, Any], engine: sa.Engine
) -> None:
    url = host["url"]
    document = _json(cli("--history-url", url, "list", "-o", "json", url=url))
    by_id = {item["id"]: item for item in document["items"]}
    for job_id in ("sync_accounts", "calculate_account", "sync_databases"):
        assert by_id[job_id]["last_run_time"] == host_last_run(engine, job_id), job_id
    assert by_id["sync_accounts"]["last_run_time"] is not None
    assert by_id["sync_accounts"]["last_run_time_utc"] == utc_z(
        host_last_run(engine, "sync_accounts")
    )
    assert by_id["sync_databases"]["last_run_time"] is None
    assert "last_run_status" not in by_id["sync_accounts"]
    detail = _json(cli("--history-url", url, "get", "calculate_account", "-o", "json", url=url))
    assert detail["last_run_time"] == host_last_run(engine, "calculate_account")


def test_list_shows_last_with_the_outcome(
    cli: Invoke, host: dict[str, Any], engine: sa.Engine
) -> None:
    url = host["url"]
    result = cli("--history-url", url, "list", "--tz", "Asia/Shanghai", url=url)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert "LAST" in header.split()
    row = {line.split()[0]: line for line in rows}

    def shown(job_id: str) -> str:
        when = datetime.fromisoformat(host_last_run(engine, job_id) or "")
        return f"{when.astimezone(SHANGHAI):%m-%d %H:%M}"

    assert f"{shown('sync_accounts')} failed" in row["sync_accounts"]
    assert f"{shown('calculate_account')} ok" in row["calculate_account"]
    assert row["sync_databases"].split()[-3] == "-"  # LAST, STATE, BUILTIN


def test_last_is_dropped_first_when_narrow(
    cli: Invoke, host: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from whalefall_sched.cli import list_view

    url = host["url"]
    lines = cli("--history-url", url, "list", url=url).stdout.splitlines()
    assert "LAST" in lines[0].split()
    # narrower than every column with NAME cut to its least (8 of 17 cells)
    full = max(len(line) for line in lines)
    monkeypatch.setattr(list_view, "stdout_width", lambda: full - 10)
    narrow = cli("--history-url", url, "list", url=url).stdout.splitlines()[0].split()
    assert "LAST" not in narrow and "BUILTIN" in narrow


# -- without history -----------------------------------------------------------------


def test_without_history_list_is_unchanged_and_runs_says_how(
    cli: Invoke, stock: StockStore, engine: sa.Engine
) -> None:
    stock.add(dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1))
    before = _tables(engine)
    listing = cli("list", url=stock.url)
    assert listing.exit_code == 0
    assert "LAST" not in listing.stdout.splitlines()[0].split()
    document = _json(cli("list", "-o", "json", url=stock.url))
    assert document["items"][0]["last_run_time"] is None
    runs = cli("runs", url=stock.url)
    assert runs.exit_code == 4
    assert runs.stderr.count("\n") == 1
    assert "--history-url" in runs.stderr and "record_runs" in runs.stderr
    assert _tables(engine) == before  # no table created by a read


def test_reads_never_create_the_history_database(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1))
    app_db = tmp_path / "app" / "app.db"
    url = f"sqlite:///{app_db}"
    runs = cli("--history-url", url, "runs", url=stock.url)
    assert runs.exit_code == 4 and "task_runs" in runs.stderr
    listing = cli("--history-url", url, "list", "-o", "json", url=stock.url)
    assert listing.exit_code == 0
    assert json.loads(listing.stdout)["items"][0]["last_run_time"] is None
    assert not app_db.exists() and not app_db.parent.exists()


def test_an_unreachable_history_masks_its_password(cli: Invoke, stock: StockStore) -> None:
    stock.add(dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1))
    url = "postgresql+psycopg://ops:s3cretpw@127.0.0.1:1/app"
    runs = cli("--history-url", url, "--timeout", "1", "runs", url=stock.url)
    assert runs.exit_code == 5
    assert "s3cretpw" not in runs.output and "run history" in runs.stderr
    listing = cli("--history-url", url, "--timeout", "1", "list", url=stock.url)
    assert listing.exit_code == 0  # LAST unknown, with a warning
    assert "s3cretpw" not in listing.output and "warning:" in listing.stderr


# -- the tool's own table: record_runs and run -------------------------------------------


def _until_removed(scheduler: BackgroundScheduler) -> None:
    """Wait for the scheduler to remove its finished date jobs: a shutdown in between
    makes stock APScheduler's own thread raise JobLookupError."""
    for _ in range(600):
        if not scheduler.get_jobs():
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"jobs left: {scheduler.get_jobs()}")


def test_record_runs_records_executions_errors_and_misses(
    stock: StockStore, engine: sa.Engine, cli: Invoke
) -> None:
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=stock.url)}, timezone=SHANGHAI
    )
    seen: list[int] = []
    done = threading.Semaphore(0)

    def count(event: Any) -> None:
        seen.append(event.code)
        done.release()

    scheduler.add_listener(count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    recorder = record_runs(scheduler, stock.url)
    now = datetime.now(UTC)
    scheduler.add_job("tests.jobs:record", "date", run_date=now, id="ok_job", name="好的")
    scheduler.add_job("tests.jobs:fail", "date", run_date=now, id="bad_job")
    scheduler.add_job(
        "tests.jobs:noop",
        "date",
        run_date=now - timedelta(minutes=5),
        id="late_job",
        misfire_grace_time=1,
    )
    scheduler.start()
    try:
        assert all(done.acquire(timeout=30) for _ in range(3)), seen
        assert recorder.flush(30)
        _until_removed(scheduler)
    finally:
        scheduler.shutdown(wait=True)
    assert not recorder.running
    document = _json(cli("runs", "-o", "json", url=stock.url))
    by_task = {i["task_id"]: i for i in document["items"]}
    assert set(by_task) == {"ok_job", "bad_job", "late_job"}
    assert by_task["ok_job"]["status"] == "completed"
    assert by_task["ok_job"]["trigger_source"] == "scheduled"
    assert by_task["ok_job"]["duration_ms"] is not None
    assert by_task["bad_job"]["status"] == "failed"
    assert by_task["bad_job"]["error_message"] == "RuntimeError: task failed on purpose"
    assert by_task["late_job"]["status"] == "missed"
    assert "missed by" in by_task["late_job"]["error_message"]
    assert all(i["started_at_utc"] for i in document["items"])
    show = _json(cli("runs", "show", by_task["ok_job"]["id"], "-o", "json", url=stock.url))
    assert show["summary"] == "'ok'" and show["items"] == []


def test_record_runs_never_raises_into_the_scheduler(tmp_path: Path) -> None:
    """A database that cannot be written: the jobs still run, the writer keeps going."""
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    (tmp_path / "ro").mkdir()
    recorder = record_runs(scheduler, f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    ran = threading.Event()
    scheduler.add_job(ran.set, "date", run_date=datetime.now(UTC))
    scheduler.start()
    try:
        assert ran.wait(30)
        assert recorder.flush(30)
        assert recorder.running
        _until_removed(scheduler)
    finally:
        scheduler.shutdown(wait=True)


def _tasks_file(tmp_path: Path) -> Path:
    text = """
default_tasks:
  - id: sync_accounts
    function: sync_accounts
    trigger_type: cron
    trigger_params: {hour: 1}
functions:
  sync_accounts: tests.jobs:record
"""
    return write_tasks_file(tmp_path / f"tasks-{uuid.uuid4().hex[:6]}.yaml", text)


def test_run_records_a_manual_run_with_its_user(
    cli: Invoke, stock: StockStore, tmp_path: Path, engine: sa.Engine
) -> None:
    stock.add(
        dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1, name="账户同步"),
        dict(func="tests.jobs:fail", trigger="cron", id="broken", hour=1),
    )
    tasks = str(_tasks_file(tmp_path))
    ran = cli("--tasks", tasks, "run", "sync_accounts", "--created-by", "42", url=stock.url)
    assert ran.exit_code == 0, ran.output
    failed = cli("--tasks", tasks, "run", "broken", "--allow-any-function", url=stock.url)
    assert failed.exit_code == 1
    document = _json(cli("runs", "-o", "json", url=stock.url))
    first, second = document["items"]
    assert (first["task_id"], first["status"]) == ("broken", "failed")
    assert first["error_message"] == "RuntimeError: task failed on purpose"
    assert second["task_id"] == "sync_accounts" and second["task_name"] == "账户同步"
    assert (second["trigger_source"], second["created_by"]) == ("manual", "42")
    assert second["status"] == "completed" and second["completed_at"] is not None
    # duration_ms is completed_at - started_at, as the host's runs give it
    spent = datetime.fromisoformat(second["completed_at"]) - datetime.fromisoformat(
        second["started_at"]
    )
    assert second["duration_ms"] == round(spent.total_seconds() * 1000)
    assert second["duration_ms"] > 0  # the child process's start included
    listing = _json(cli("list", "-o", "json", url=stock.url))
    last = {i["id"]: i["last_run_time"] for i in listing["items"]}
    assert last["sync_accounts"] == second["started_at"]


def test_run_records_nothing_where_the_host_keeps_task_runs(
    cli: Invoke, host: dict[str, Any], tmp_path: Path, engine: sa.Engine
) -> None:
    url = host["url"]
    tasks = str(_tasks_file(tmp_path))
    ran = cli("--tasks", tasks, "--history-url", url, "run", "sync_accounts", url=url)
    assert ran.exit_code == 0, ran.output
    assert "whalefall_sched_runs" not in _tables(engine)


def test_a_history_server_that_cannot_be_reached_names_history_url(
    cli: Invoke, sqlite_stock: StockStore
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    unreachable = "postgresql+psycopg://nobody:secret@127.0.0.1:1/app"
    result = cli("--history-url", unreachable, "--timeout", "2", "runs", url=sqlite_stock.url)
    assert result.exit_code == 5, result.output
    message = result.stderr
    assert message.count("\n") <= 1 and "run history" in message
    assert "--history-url and --timeout" in message and "--url and" not in message
    assert "secret" not in message
    status = cli("--history-url", unreachable, "--timeout", "2", "status", url=sqlite_stock.url)
    assert "--history-url and --timeout" in status.stderr


@pytest.mark.parametrize(
    ("raised", "error"),
    [(KeyboardInterrupt(), "interrupted"), (OSError("no more processes"), "OSError: no more")],
)
def test_an_interrupted_run_is_finished_as_failed_in_the_history_and_the_audit_trail(
    cli: Invoke,
    sqlite_stock: StockStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    raised: BaseException,
    error: str,
) -> None:
    from whalefall_sched.services import manual_run

    sqlite_stock.add(dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1))

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise raised  # Ctrl-C while `run` waits for its child, say

    monkeypatch.setattr(manual_run, "run_in_child", interrupted)
    tasks = str(_tasks_file(tmp_path))
    result = cli("--tasks", tasks, "run", "sync_accounts", url=sqlite_stock.url)
    assert result.exit_code != 0  # the exception went on to the CLI
    [run] = _json(cli("runs", "-o", "json", url=sqlite_stock.url))["items"]
    assert run["status"] == "failed" and run["completed_at"] is not None
    assert run["error_message"].startswith(error)
    events = _json(cli("log", "-o", "json", url=sqlite_stock.url))["events"]
    [event] = [e for e in events if e["command"] == "run"]
    assert (event["outcome"], event["id"]) == ("failed", ["sync_accounts"])
    assert event["detail"]["error"].startswith(error)
