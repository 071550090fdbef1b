"""`status` without a lock file: liveness judged by overdue jobs, and says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import Invoke, StockStore
from tests.test_status import _add_overdue_job
from whalefall_sched.services.read_service import OVERDUE_AFTER


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
    _add_overdue_job(stock, "late", datetime.now(UTC) - timedelta(seconds=2 * OVERDUE_AFTER))
    code, doc = _status(cli, stock.url)
    assert code == 4
    assert [o["id"] for o in doc["overdue"]] == ["late"]
    assert doc["overdue"][0]["misfire_grace_time"] == 300
    assert any("not moved on" in r for r in doc["reasons"])
    assert "overdue_jobs" in doc["liveness"]["judged_by"]


def test_a_job_just_due_is_not_evidence(cli: Invoke, stock: StockStore) -> None:
    _add_overdue_job(stock, "late", datetime.now(UTC) - timedelta(seconds=OVERDUE_AFTER / 3))
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
    code, doc = _status(cli, sqlite_stock.url)
    assert code == 0, doc
    liveness = doc["liveness"]
    assert liveness["judged_by"] == ["overdue_jobs", "run_history"]
    started = datetime.fromisoformat(liveness["latest_run_utc"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - started) < timedelta(hours=1)
    assert "the run history's latest run started" in liveness["summary"]
