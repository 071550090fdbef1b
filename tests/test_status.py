"""`status`: the runbook's health check, read-only, with exit codes 0, 4 and 5."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import Invoke, StockStore


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Path]:
    """The host app's userdata/scheduler.lock, held by this process as its scheduler would."""
    path = tmp_path / "userdata" / "scheduler.lock"
    path.parent.mkdir(exist_ok=True)
    path.write_text(str(os.getpid()))
    with path.open("r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path


def _add_overdue_job(stock: StockStore, job_id: str, next_run_time: datetime) -> None:
    """Store a job an hour late through the stock job store (no scheduler moves it on)."""
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    job = Job(
        scheduler,
        id=job_id,
        func="tests.jobs:noop",
        trigger=IntervalTrigger(hours=2, timezone="Asia/Shanghai"),
        executor="default",
        args=(),
        kwargs={},
        name=job_id,
        misfire_grace_time=300,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )
    store = SQLAlchemyJobStore(url=stock.url)
    store.start(scheduler, "default")
    try:
        store.add_job(job)
    finally:
        store.shutdown()


def _status(cli: Invoke, url: str) -> tuple[int, dict[str, Any]]:
    result = cli("status", "-o", "json", url=url)
    return result.exit_code, json.loads(result.stdout)


def test_healthy_store_exits_0(cli: Invoke, stock: StockStore, held_lock: Path) -> None:
    stock.add(
        dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"),
        dict(func="tests.jobs:noop", trigger="cron", hour=1, id="b"),
    )
    scheduler = stock.scheduler()
    scheduler.pause_job("b")
    scheduler.shutdown(wait=False)
    before = stock.fingerprint()
    code, doc = _status(cli, stock.url)
    assert code == 0, doc
    assert doc["healthy"] is True and doc["reasons"] == []
    assert doc["jobs"] == {"total": 2, "running": 1, "paused": 1, "unreadable": 0}
    assert doc["next_wakeup"] is not None
    if stock.url.startswith("sqlite"):
        assert doc["lock"]["held"] is True and doc["lock"]["pid"] == os.getpid()
    else:
        assert doc["lock"] is None
    assert stock.fingerprint() == before


def test_overdue_and_unreadable_rows_degrade(cli: Invoke, stock: StockStore) -> None:
    _add_overdue_job(stock, "late", datetime.now(UTC) - timedelta(hours=1))
    stock.insert_raw("broken", b"not a pickle", 1.0)
    before = stock.fingerprint()
    code, doc = _status(cli, stock.url)
    assert code == 4
    assert doc["healthy"] is False
    assert [o["id"] for o in doc["overdue"]] == ["late"]
    assert doc["overdue"][0]["late_seconds"] > 300
    assert [u["id"] for u in doc["unreadable"]] == ["broken"]
    assert any("overdue" in r for r in doc["reasons"])
    assert any("cannot be decoded" in r for r in doc["reasons"])
    assert stock.fingerprint() == before


def test_sqlite_lock_not_held_is_degraded(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    (tmp_path / "userdata" / "scheduler.lock").write_text("4242")
    code, doc = _status(cli, sqlite_stock.url)
    assert code == 4
    assert doc["lock"] == {
        "path": str(tmp_path / "userdata" / "scheduler.lock"),
        "exists": True,
        "held": False,
        "pid": 4242,
    }
    assert any("no scheduler is running" in r for r in doc["reasons"])


def test_missing_store_is_degraded_and_not_created(cli: Invoke, sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    code, doc = _status(cli, sqlite_url)
    assert code == 4
    assert doc["initialised"] is False
    assert doc["reasons"][0].startswith("job store not initialised at")
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_unreachable_server_exits_5_with_masked_url(cli: Invoke) -> None:
    url = "postgresql+psycopg://operator:s3cret@127.0.0.1:1/x"
    result = cli("--timeout", "1", "status", "-o", "json", url=url)
    assert result.exit_code == 5
    doc = json.loads(result.stdout)
    assert doc["reachable"] is False
    assert doc["error"]["code"] == "system_error"
    assert "s3cret" not in result.output
    assert "***" in doc["store"]


def test_table_output_lists_reasons(cli: Invoke, sqlite_url: str) -> None:
    result = cli("status", url=sqlite_url)
    assert result.exit_code == 4
    assert "degraded" in result.stdout
    assert "job store not initialised" in result.stdout
