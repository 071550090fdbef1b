"""`status` without a lock file: liveness judged by overdue jobs, and says so."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from tests.conftest import Invoke, StockStore
from tests.overdue import add_overdue_job
from tests.test_history import HostBase, TaskRun
from whalefall_sched.integration import record_runs
from whalefall_sched.services.status import OVERDUE_AFTER


def _status(cli: Invoke, url: str) -> tuple[int, dict[str, Any]]:
    result = cli("status", "-o", "json", url=url)
    return result.exit_code, json.loads(result.stdout)


def test_no_lock_file_is_healthy_and_says_how_it_was_judged(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    assert not (tmp_path / "userdata" / "scheduler.lock").exists()
    code, doc = _status(cli, sqlite_stock.url)
    assert code == 0, doc
    assert doc["healthy"] is True and doc["reasons"] == []
    assert doc["liveness"] == {
        "judged_by": ["overdue_jobs"],
        "lock_file": "absent",
        "overdue_after_seconds": OVERDUE_AFTER,
        "summary": "judged by overdue jobs (no lock file)",
    }
    table = cli("status", url=sqlite_stock.url)
    assert table.exit_code == 0
    assert "judged by overdue jobs (no lock file)" in table.stdout
    assert not (tmp_path / "userdata" / "scheduler.lock").exists()


def test_a_job_due_more_than_the_threshold_degrades_within_its_grace(
    cli: Invoke, stock: StockStore
) -> None:
    # due 2 * OVERDUE_AFTER ago: well within its misfire grace of 300 s, yet no scheduler
    # left it unmoved that long
    add_overdue_job(stock.url, "late", datetime.now(UTC) - timedelta(seconds=2 * OVERDUE_AFTER))
    code, doc = _status(cli, stock.url)
    assert code == 4
    assert [o["id"] for o in doc["overdue"]] == ["late"]
    assert doc["overdue"][0]["misfire_grace_time"] == 300
    assert any("not moved on" in r for r in doc["reasons"])
    assert "overdue_jobs" in doc["liveness"]["judged_by"]


def test_a_job_just_due_is_not_evidence(cli: Invoke, stock: StockStore) -> None:
    add_overdue_job(stock.url, "late", datetime.now(UTC) - timedelta(seconds=OVERDUE_AFTER / 3))
    code, doc = _status(cli, stock.url)
    assert code == 0, doc
    assert doc["overdue"] == []


def test_servers_are_judged_by_overdue_jobs(cli: Invoke, stock: StockStore) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="cron", hour=1, id="b", next_run_time=None))
    code, doc = _status(cli, stock.url)
    assert code == 0
    if stock.url.startswith("sqlite"):
        assert doc["liveness"]["lock_file"] == "absent"
    else:
        assert doc["liveness"]["lock_file"] is None
    assert doc["liveness"]["judged_by"] == ["overdue_jobs"]
    assert doc["liveness"]["summary"].endswith("; no running job to judge by")


def test_a_missing_store_file_lists_no_lock_reason(cli: Invoke, sqlite_url: str) -> None:
    result = cli("status", url=sqlite_url)
    assert result.exit_code == 4
    assert "no process holds" not in result.stdout
    _code, doc = _status(cli, sqlite_url)
    assert not any("no process holds" in r for r in doc["reasons"])


def test_the_run_history_is_evidence_where_there_is_one(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("default_tasks: []\nfunctions: {noop: 'tests.jobs:noop'}\n", encoding="utf-8")
    _, before = _status(cli, sqlite_stock.url)
    assert "run_history" not in before["liveness"]["judged_by"]  # no history yet
    ran = cli("--tasks", str(tasks), "run", "a", url=sqlite_stock.url)
    assert ran.exit_code == 0, ran.output  # a manual run is recorded in the tool's history
    # ... but it proves nothing about a scheduler: `run` started it without one
    code, doc = _status(cli, sqlite_stock.url)
    assert code == 0, doc
    liveness = doc["liveness"]
    assert liveness["judged_by"] == ["overdue_jobs", "run_history"]
    assert liveness["latest_run"] is None and liveness["latest_run_utc"] is None
    assert liveness["summary"].endswith("; the run history holds no scheduled run")
    listed = json.loads(cli("list", "-o", "json", url=sqlite_stock.url).stdout)
    assert listed["items"][0]["last_run_time"] is not None  # LAST still shows manual runs

    # a run a real scheduler started, recorded by the host integration, is evidence
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=sqlite_stock.url)})
    done = threading.Event()
    scheduler.add_listener(lambda _event: done.set(), EVENT_JOB_EXECUTED)
    recorder = record_runs(scheduler, sqlite_stock.url)
    scheduler.add_job("tests.jobs:noop", "date", run_date=datetime.now(UTC), id="once")
    scheduler.start()
    try:
        assert done.wait(30)
        assert recorder.flush(30)
    finally:
        scheduler.shutdown(wait=True)
    code, doc = _status(cli, sqlite_stock.url)
    assert code == 0, doc
    liveness = doc["liveness"]
    assert liveness["judged_by"] == ["overdue_jobs", "run_history"]
    started = datetime.fromisoformat(liveness["latest_run_utc"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - started) < timedelta(hours=1)
    assert "the run history's latest scheduled run started" in liveness["summary"]


def test_the_hosts_manual_runs_are_not_evidence(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    engine = sa.create_engine(sqlite_stock.url)
    HostBase.metadata.create_all(engine)
    start = datetime(2026, 2, 12, 1, 0, tzinfo=UTC)

    def add(run_id: str, source: str, started: datetime) -> None:
        with sa.orm.Session(engine) as session:
            session.add(
                TaskRun(
                    run_id=run_id,
                    task_key="a",
                    task_name="a",
                    task_category="account",
                    trigger_source=source,
                    status="completed",
                    started_at=started,
                )
            )
            session.commit()

    add("m1", "manual", start + timedelta(days=1))
    try:
        code, doc = _status_with_history(cli, sqlite_stock.url)
        assert code == 0, doc
        assert doc["liveness"]["latest_run"] is None
        assert doc["liveness"]["summary"].endswith("the run history holds no scheduled run")
        add("s1", "scheduled", start)
        code, doc = _status_with_history(cli, sqlite_stock.url)
        assert doc["liveness"]["latest_run_utc"] == "2026-02-12T01:00:00Z"  # not the manual one
    finally:
        engine.dispose()


def _status_with_history(cli: Invoke, url: str) -> tuple[int, dict[str, Any]]:
    result = cli("--history-url", url, "status", "-o", "json", url=url)
    return result.exit_code, json.loads(result.stdout)


def test_a_history_that_cannot_be_read_is_a_note_in_the_document(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    broken = tmp_path / "app.db"
    broken.write_bytes(b"this is not a database" * 100)
    result = cli(
        "--history-url", f"sqlite:///{broken}", "status", "-o", "json", url=sqlite_stock.url
    )
    doc = json.loads(result.stdout)
    assert result.exit_code == 0, doc
    notes = [n for n in doc["notes"] if "the run history is not judged" in n]
    assert len(notes) == 1 and notes[0].startswith("run history "), doc["notes"]
    assert "run_history" not in doc["liveness"]["judged_by"]
