"""``reload`` while a live scheduler runs: new triggers honoured, no id duplicated or lost."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import StockStore
from tests.live.conftest import StartLive, Wfs, describe_result, interval_job, write_tasks

pytestmark = pytest.mark.slow

NEW_TASKS = [
    # was every 2 s: now every second
    {"id": "alpha", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
    # was every 3 s from an arbitrary start: now on even seconds
    {"id": "beta", "trigger_type": "cron", "trigger_params": {"second": "*/2"}},
    # new
    {"id": "delta", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
]


def _diffs(runs: list[dict[str, float]]) -> list[float]:
    times = sorted(run["scheduled"] for run in runs)
    return [round(b - a, 3) for a, b in itertools.pairwise(times)]


def test_reload_under_a_live_scheduler_fires_the_new_triggers(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore, tmp_path: Path
) -> None:
    live = live_scheduler(
        interval_job("alpha", 2), interval_job("beta", 3), interval_job("gamma", 1)
    )
    live.wait_runs("gamma", 1)
    tasks = write_tasks(tmp_path / "tasks.yaml", NEW_TASKS)

    result = wfs.run("--tasks", tasks, "reload", "--yes", "-o", "json")
    reloaded_at = time.time()
    assert result.returncode == 0, describe_result(result)
    report = json.loads(result.stdout)
    assert sorted(report["reloaded"]) == ["alpha", "beta", "delta"]
    assert sorted(report["deleted"]) == ["alpha", "beta", "gamma"]

    alpha = live.wait_runs("alpha", 3, after=reloaded_at)
    beta = live.wait_runs("beta", 2, after=reloaded_at)
    live.wait_runs("delta", 2, after=reloaded_at)

    # alpha now fires every second (its old trigger only ever gave 2 s steps)
    assert 1.0 in _diffs(alpha), f"alpha still on its old trigger: {alpha}"
    assert all(d % 1.0 == pytest.approx(0, abs=0.01) for d in _diffs(alpha))
    # beta now fires on even seconds
    for run in beta:
        assert run["scheduled"] % 2 == pytest.approx(0, abs=0.01), f"beta off its cron: {run}"
    # gamma was removed: not run again
    assert live.runs("gamma", after=reloaded_at) == []

    # no id duplicated, none lost: the store is exactly the tasks file
    assert sorted(stock.raw()) == ["alpha", "beta", "delta"]
    listed = [item["id"] for item in wfs.list_json()]
    assert listed == ["alpha", "beta", "delta"]
    assert all(item["state"] == "STATE_RUNNING" for item in wfs.list_json())
    loaded = stock.load()
    assert sorted(loaded) == ["alpha", "beta", "delta"]
    assert str(loaded["alpha"].trigger) == "interval[0:00:01]"
    assert str(loaded["beta"].trigger) == "cron[second='*/2']"
    assert str(loaded["delta"].trigger) == "interval[0:00:01]"
    # and no run was executed twice
    duplicated = [
        key for key, n in Counter((r["job"], r["scheduled"]) for r in live.runs()).items() if n > 1
    ]
    assert duplicated == []

    assert live.thread_alive()
    assert live.deaths() == []


def test_reload_keep_paused_beside_a_live_scheduler_keeps_the_pause(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore, tmp_path: Path
) -> None:
    live = live_scheduler(interval_job("alpha", 1), interval_job("held", 1))
    live.wait_runs("held", 1)
    paused = wfs.run("pause", "held", "-o", "json")
    assert paused.returncode == 0, describe_result(paused)
    tasks = write_tasks(
        tmp_path / "tasks.yaml",
        [
            {"id": "alpha", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
            {"id": "held", "trigger_type": "interval", "trigger_params": {"seconds": 2}},
        ],
    )

    dry = wfs.run("--tasks", tasks, "reload", "--dry-run", "-o", "json")
    assert dry.returncode == 0, describe_result(dry)
    assert json.loads(dry.stdout)["diff"]["resumed"] == ["held"]  # the default resumes it

    result = wfs.run("--tasks", tasks, "reload", "--keep-paused", "--yes", "-o", "json")
    reloaded_at = time.time()
    assert result.returncode == 0, describe_result(result)
    diff = json.loads(result.stdout)["diff"]
    assert diff["resumed"] == []
    assert [c["id"] for c in diff["changed"]] == ["held"]  # its interval: 1 s -> 2 s

    live.wait_runs("alpha", 3, after=reloaded_at)
    assert stock.raw()["held"][0] is None  # still paused, as stock pause_job leaves it
    assert live.runs("held", after=reloaded_at + 0.5) == []
    states = {item["id"]: item["state"] for item in wfs.list_json()}
    assert states == {"alpha": "STATE_RUNNING", "held": "STATE_PAUSED"}
    assert live.thread_alive()
    assert live.deaths() == []
