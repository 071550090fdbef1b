"""The real console script in a child process, on a real SQLite store.

Both ways in are exercised: ``python -m whalefall_sched`` and the ``whalefall-sched``
entry point installed in the environment's scripts directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StockStore
from whalefall_sched import __version__

ENTRY_POINT = Path(sysconfig.get_path("scripts")) / "whalefall-sched"
BUNDLED_IDS = [
    "calculate_database_size_aggregations",
    "cleanup_logs",
    "collect_database_sizes",
    "monitor_partition_health",
    "sync_accounts",
]
#: Every child is killed after this long; a prompt waiting on stdin fails the test.
TIMEOUT = 60


def _argv(kind: str) -> list[str]:
    if kind == "module":
        return [sys.executable, "-m", "whalefall_sched"]
    assert ENTRY_POINT.exists(), f"console script not installed at {ENTRY_POINT}"
    return [str(ENTRY_POINT)]


@pytest.fixture(params=["module", "entry-point"])
def run(request: pytest.FixtureRequest, tmp_path: Path):
    """Run the command line in a child process, in the test's scratch directory."""
    base = _argv(request.param)

    def invoke(*args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.pop("FORCE_COLOR", None)
        return subprocess.run(
            [*base, *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )

    return invoke


def test_help(run) -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: whalefall-sched" in result.stdout
    for command in ("init", "list", "get", "pause", "resume", "run", "reload"):
        assert command in result.stdout


def test_version(run) -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"whalefall-sched {__version__}\n"


def test_default_store_round_trip(run, tmp_path: Path) -> None:
    """init, then list, pause, resume, run, get and reload on userdata/scheduler.db."""
    init = run("init")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "userdata" / "scheduler.db").is_file()
    assert not (tmp_path / "userdata" / "backups").exists()  # nothing was removed

    listed = run("list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert [i["id"] for i in items] == BUNDLED_IDS
    assert {i["state"] for i in items} == {"STATE_RUNNING"}

    paused = run("pause", "cleanup_logs", "-o", "json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["results"][0]["state"] == "STATE_PAUSED"
    got = json.loads(run("get", "cleanup_logs", "-o", "json").stdout)
    assert (got["state"], got["next_run_time"]) == ("STATE_PAUSED", None)

    resumed = run("resume", "cleanup_logs", "-o", "json")
    assert resumed.returncode == 0, resumed.stderr
    got = json.loads(run("get", "cleanup_logs", "-o", "json").stdout)
    assert got["state"] == "STATE_RUNNING"
    assert got["next_run_time"] is not None

    ran = run("run", "calculate_database_size_aggregations", "--created-by", "3", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    doc = json.loads(ran.stdout)
    assert doc["succeeded"] is True
    assert doc["thread_name"] == "calculate_database_size_aggregations_manual"
    assert doc["kwargs"] == {"manual_run": True, "created_by": 3}

    table = run("get", "sync_accounts")
    assert table.returncode == 0, table.stderr
    assert "sync_accounts" in table.stdout
    assert "\x1b" not in table.stdout

    again = run("reload", "--yes")
    assert again.returncode == 0, again.stderr
    [backup] = (tmp_path / "userdata" / "backups").iterdir()
    assert f"Backup of the replaced rows: {backup}" in again.stdout


def test_reload_without_yes_and_no_terminal_refuses_without_waiting(
    run, sqlite_stock: StockStore, sqlite_url: str
) -> None:
    assert run("--url", sqlite_url, "init").returncode == 0
    before = sqlite_stock.fingerprint()
    # stdin is a pipe that stays open: a prompt would hang until the timeout kills it
    with subprocess.Popen(["sleep", str(TIMEOUT * 2)], stdout=subprocess.PIPE) as feeder:
        try:
            result = run("--url", sqlite_url, "reload", stdin=feeder.stdout)
        finally:
            feeder.kill()
    assert result.returncode == 4, result.stderr
    assert "--yes" in result.stderr
    assert result.stdout == ""
    assert sqlite_stock.fingerprint() == before
    assert not Path("userdata/backups").exists()


def test_errors_are_one_line_without_traceback(run, sqlite_url: str) -> None:
    result = run("--url", sqlite_url, "get", "nope")
    assert result.returncode == 4  # nothing there yet: not initialised
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: job store not initialised")
    assert "Traceback" not in result.stderr


def test_no_color_on_a_pipe(run, tmp_path: Path) -> None:
    assert run("init").returncode == 0
    env_free = run("list")
    assert env_free.returncode == 0, env_free.stderr
    assert "\x1b" not in env_free.stdout
