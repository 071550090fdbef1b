"""watch_store: a running scheduler is woken periodically, and stops being woken."""

from __future__ import annotations

import threading

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from whalefall_sched.integration import watch_store


def _counting_scheduler() -> tuple[BackgroundScheduler, threading.Semaphore]:
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    woken = threading.Semaphore(0)
    original = scheduler.wakeup

    def wakeup() -> None:
        woken.release()
        original()

    scheduler.wakeup = wakeup
    return scheduler, woken


def test_wakes_a_running_scheduler_repeatedly() -> None:
    scheduler, woken = _counting_scheduler()
    scheduler.start()
    watcher = watch_store(scheduler, 0.05)
    try:
        assert all(woken.acquire(timeout=5) for _ in range(3))
    finally:
        scheduler.shutdown(wait=False)
    watcher._thread.join(timeout=5)
    assert not watcher.running


def test_does_not_wake_a_paused_scheduler_and_stop_ends_it() -> None:
    scheduler, woken = _counting_scheduler()
    scheduler.start(paused=True)
    watcher = watch_store(scheduler, 0.05)
    try:
        assert not woken.acquire(timeout=0.3)
        watcher.stop()
        watcher._thread.join(timeout=5)
        assert not watcher.running
    finally:
        scheduler.shutdown(wait=False)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        watch_store(BackgroundScheduler(), 0)
