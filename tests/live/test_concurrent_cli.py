"""Many CLI processes at once on a store a live scheduler is working on."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import StockStore
from tests.live.conftest import (
    CLI_TIMEOUT,
    StartLive,
    Wfs,
    describe_result,
    interval_job,
    write_tasks,
)

#: A dozen processes at once: one such test at a time (on one xdist worker), not three.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("process-storm")]

IDS = ["beat", "j1", "j2", "j3"]
TASKS = [
    {"id": "beat", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
    {"id": "j1", "trigger_type": "interval", "trigger_params": {"seconds": 2}},
    {"id": "j2", "trigger_type": "cron", "trigger_params": {"second": "*/2"}},
    {"id": "j3", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
]
CONFLICT = 4


def test_concurrent_commands_leave_the_store_consistent_and_the_scheduler_alive(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore, tmp_path: Path
) -> None:
    live = live_scheduler(
        interval_job("beat", 1),
        interval_job("j1", 1),
        {"id": "j2", "trigger": "cron", "second": "*/2"},
        interval_job("j3", 2),
    )
    live.wait_runs("beat", 1)
    tasks = write_tasks(tmp_path / "tasks.yaml", TASKS)
    commands: list[list[str | Path]] = [
        ["list"],
        ["list", "-o", "json"],
        ["pause", "j1"],
        ["resume", "j1"],
        ["pause", "j2", "j3"],
        ["resume", "j3"],
        ["run", "j1", "--allow-any-function"],
        ["run", "beat", "--allow-any-function"],
        ["--tasks", tasks, "reload", "--yes"],
        ["--tasks", tasks, "reload", "--yes", "--no-backup"],
        ["resume", "j2"],
        ["list", "--state", "paused"],
    ]
    procs = [(cmd, wfs.start(*cmd)) for cmd in commands]
    results = []
    for cmd, proc in procs:
        try:
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results.append(subprocess.CompletedProcess(wfs.argv(*cmd), proc.returncode, out, err))
    storm_over = time.time()

    failures = [describe_result(r) for r in results if r.returncode not in (0, CONFLICT)]
    assert failures == [], "\n\n".join(failures)
    for result in results:
        if result.returncode == CONFLICT:
            assert result.stderr.strip(), f"a conflict without a message: {describe_result(result)}"
        else:
            assert "Traceback" not in result.stderr, describe_result(result)
    reloads = [r for r in results if "reload" in r.args]
    assert any(r.returncode == 0 for r in reloads), "no reload got through:\n" + "\n".join(
        describe_result(r) for r in reloads
    )

    # The store is consistent: every row decodes, stock APScheduler loads every row,
    # and no job was lost or duplicated.
    items = wfs.list_json()
    assert [item["id"] for item in items] == IDS
    assert [i for i in items if i["state"] == "STATE_UNREADABLE"] == []
    assert sorted(stock.raw()) == IDS
    loaded = stock.load()
    assert sorted(loaded) == IDS
    for item in items:
        assert (item["next_run_time"] is None) == (loaded[item["id"]].next_run_time is None)

    # The live scheduler is still working: its thread is alive and beat (never paused)
    # keeps firing after the storm.
    live.wait_runs("beat", 2, after=storm_over)
    assert live.thread_alive(), live.describe()
    assert live.deaths() == [], live.describe()
    json.loads(results[1].stdout)  # the concurrent `list -o json` printed one JSON document
