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

from tests.conftest import Invoke, StockStore
from tests.overdue import add_overdue_job
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerJobsReadService
from whalefall_sched.services.status import NO_LOCK_NOTE
from whalefall_sched.services.tasks_file import load_tasks_file


@pytest.fixture
def held_lock(tmp_path: Path) -> Iterator[Path]:
    """The host app's userdata/scheduler.lock, held by this process as its scheduler would."""
    path = tmp_path / "userdata" / "scheduler.lock"
    path.parent.mkdir(exist_ok=True)
    path.write_text(str(os.getpid()))
    with path.open("r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path


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
        assert doc["notes"] == []
    else:
        assert doc["lock"] is None
        # no lock file to look at: said, without degrading the status
        assert doc["notes"] == [NO_LOCK_NOTE]
        assert "overdue" in NO_LOCK_NOTE
    assert stock.fingerprint() == before


def test_overdue_and_unreadable_rows_degrade(cli: Invoke, stock: StockStore) -> None:
    add_overdue_job(stock.url, "late", datetime.now(UTC) - timedelta(hours=1))
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
        "problem": None,
    }
    assert any("no scheduler is running" in r for r in doc["reasons"])


def test_missing_store_file_is_not_reachable_and_not_created(cli: Invoke, sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    code, doc = _status(cli, sqlite_url)
    assert code == 4
    assert doc["initialised"] is False
    assert doc["reachable"] is False  # no file: nothing to reach
    assert doc["reasons"][0] == (
        f"job store not initialised at {path} (the file does not exist); "
        "run `whalefall-sched init` to create it"
    )
    assert doc["error"]["exit_code"] == 4
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_unreachable_server_exits_5_with_masked_url(cli: Invoke) -> None:
    url = "postgresql+psycopg://operator:s3cret@127.0.0.1:1/x"
    result = cli("--timeout", "1", "status", "-o", "json", url=url)
    assert result.exit_code == 5
    doc = json.loads(result.stdout)
    assert doc["reachable"] is False
    assert doc["error"]["code"] == "system_error"
    assert doc["error"]["exit_code"] == 5
    assert "s3cret" not in result.output
    assert "***" in doc["store"]
    # the one-line error of every failure, on stderr only: stdout is the status alone
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert doc["error"]["message"] in result.stderr
    assert "s3cret" not in result.stderr


def test_unreachable_server_table_output(cli: Invoke) -> None:
    url = "postgresql+psycopg://operator:s3cret@127.0.0.1:1/x"
    result = cli("--timeout", "1", "status", url=url)
    assert result.exit_code == 5
    assert "unreachable" in result.stdout
    assert result.stderr.startswith("Error: ")
    assert "s3cret" not in result.output


def test_the_read_service_reports_an_unreachable_store_as_a_status() -> None:
    repository = JobStoreRepository("postgresql+psycopg://operator:s3cret@127.0.0.1:1/x", timeout=1)
    try:
        status = SchedulerJobsReadService(repository, load_tasks_file(None)).status()
    finally:
        repository.close()
    assert status.reachable is False
    assert status.healthy is False
    assert status.error is not None
    assert status.error["code"] == "system_error"
    assert status.error["exit_code"] == 5
    assert status.reasons == [status.error["message"]]
    assert "s3cret" not in status.error["message"]


def test_table_output_lists_reasons(cli: Invoke, sqlite_url: str) -> None:
    result = cli("status", url=sqlite_url)
    assert result.exit_code == 4
    assert "not initialised (no store at " in result.stdout  # no store file
    assert "unreachable" not in result.stdout
    assert "job store not initialised" in result.stdout
