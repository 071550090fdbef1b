"""The wake-up gap: a scheduler in another process re-reads the store only when it wakes.

The live scheduler's only running job fires every 60 s; its other job is paused. A
CLI ``resume`` of the paused job (every second) is seen only at the next wake-up,
unless the host app calls ``whalefall_sched.integration.watch_store``.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import StockStore
from tests.live.conftest import StartLive, Wfs, describe_result, interval_job

pytestmark = pytest.mark.slow

JOBS = (interval_job("minutely", 60), interval_job("sleeper", 1, paused=True))
WATCH = 2.0


def _resume(wfs: Wfs, stock: StockStore) -> float:
    """Resume the sleeper through the console script; the time the command started."""
    started = time.time()
    result = wfs.run("resume", "sleeper", "-o", "json")
    assert result.returncode == 0, describe_result(result)
    report = json.loads(result.stdout)
    assert report["results"][0]["changed"] is True
    assert stock.raw()["sleeper"][0] is not None
    # The operator is told that a running scheduler sees it only when it next wakes.
    notes = report["results"][0]["notes"]
    assert any("wakes" in note and "watch_store" in note for note in notes), notes
    assert "watch_store" in result.stderr
    return started


def test_without_watch_store_a_resumed_job_waits_for_the_next_wake_up(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = live_scheduler(*JOBS)
    _resume(wfs, stock)

    # Due a second later, yet the scheduler sleeps until the 60 s job: no run for
    # several seconds (and none of the 60 s job either: it is not its time yet).
    time.sleep(4)
    assert live.runs() == [], live.describe()
    next_run_time = stock.raw()["sleeper"][0]
    assert next_run_time is not None
    assert next_run_time < time.time() - 2, "overdue in the store, yet not run"
    assert live.thread_alive()


def test_with_watch_store_a_resumed_job_fires_within_the_interval(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = live_scheduler(*JOBS, watch=WATCH)
    resume_started = _resume(wfs, stock)
    # honoured at the watcher's next wake-up, long before the 60 s job's
    runs = live.wait_runs("sleeper", 2, timeout=10)
    # and not before: the sleeper was paused until the resume (it may run before the
    # command has exited, so the bound is when the command started)
    assert runs[0]["wall"] >= resume_started
    assert live.runs("minutely") == []
    assert live.thread_alive()
    assert live.deaths() == []
