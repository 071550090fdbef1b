"""The live scheduler's ``update_job`` races, naive writer versus the CLI.

After reading due jobs a scheduler submits them and rewrites each row whole
(``update_job``). A write landing in between is silently reverted; a row deleted in
between makes ``update_job`` raise ``JobLookupError`` in the scheduler's own thread,
which dies while the process lives on.

The live scheduler here is started with ``--due-delay``: it pauses between reading the
victim job as due and writing it back, so that a write "in between" is deterministic
instead of a matter of milliseconds. The victim fires every 4 s and is held 3 s each
time: a slow scheduler that holds the row most of the time. The CLI may write in the
second after each write-back, or refuse with a conflict; it must never have its change
reverted, and never delete a row the scheduler is about to write back.

The naive reproductions still retry a bounded number of times and skip (never fail)
if the race could not be provoked; the CLI's side is asserted strictly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StockStore
from tests.live.conftest import (
    CLI_TIMEOUT,
    LiveScheduler,
    NaiveWriter,
    StartLive,
    Wfs,
    interval_job,
    sleep_until,
    wait_until,
    write_tasks,
)

pytestmark = pytest.mark.slow

#: The victim fires every INTERVAL s; the scheduler holds it DELAY s before update_job.
INTERVAL = 4
DELAY = 3.0
NAIVE_ATTEMPTS = 3
CONFLICT = 4
#: The longest a scheduler holds a row until the test releases it (and the command's
#: --wait, so that the command never gives up waiting before the release).
HOLD_AT_MOST = 60.0


def _start_with_victim(
    live_scheduler: StartLive, *others: dict[str, object], first_in: float = 3
) -> LiveScheduler:
    return live_scheduler(
        *others,
        interval_job("victim", INTERVAL, first_in=first_in),
        due_delay=DELAY,
        delay_jobs=("victim",),
    )


def _due_read(live: LiveScheduler, after: float) -> dict[str, object]:
    """Wait for the scheduler to read the victim as due (after ``after``)."""
    return live.wait_entry(
        lambda e: e["kind"] == "due" and "victim" in e["jobs"] and e["wall"] > after,
        timeout=INTERVAL + 15,
        what="the live scheduler to read the victim as due",
    )


def _assert_race_met(live: LiveScheduler, started: float, ended: float) -> None:
    """The command ran while the scheduler held the victim as due (its window overlapped)."""
    windows = [
        e["wall"] for e in live.entries("due") if "victim" in e["jobs"] and e["wall"] < ended
    ]
    assert any(w + DELAY > started for w in windows), (
        f"the race was not met: command ran {started}..{ended}, due reads {windows}"
    )


def _victim_next_run_time(stock: StockStore) -> float:
    next_run_time = stock.raw()["victim"][0]
    assert next_run_time is not None
    return next_run_time


def _wait_window_closed(live: LiveScheduler) -> None:
    wait_until(
        lambda: not live.window_open("victim"),
        DELAY + 15,
        "the live scheduler to write the victim back",
    )


# -- (a) the revert -----------------------------------------------------------------------


def test_naive_pause_while_the_job_is_due_is_silently_reverted(
    live_scheduler: StartLive,
    naive_writer: Callable[[], NaiveWriter],
    stock: StockStore,
) -> None:
    for _attempt in range(NAIVE_ATTEMPTS):
        live = _start_with_victim(live_scheduler, first_in=2)
        writer = naive_writer()
        _due_read(live, after=0)
        writer.pause("victim")  # what a stock pause_job in another process writes
        paused_at = time.time()
        assert stock.raw()["victim"][0] is None  # the pause was written...

        def written_back(e: dict[str, Any], t: float = paused_at) -> bool:
            return bool(e["kind"] == "update" and e["job"] == "victim" and e["wall"] > t)

        update = live.wait_entry(
            written_back,
            timeout=DELAY + 15,
            what="the live scheduler's update_job of the victim",
        )
        if stock.raw()["victim"][0] is not None:
            # ...and silently reverted by update_job: the job is due again, unpaused,
            # and the scheduler picks it up at its next fire time.
            assert stock.raw()["victim"][0] == pytest.approx(update["next"])
            _due_read(live, after=update["wall"])
            assert live.thread_alive()
            return
        live.stop()
    pytest.skip(f"the naive pause was not reverted in {NAIVE_ATTEMPTS} tries (race not provoked)")


def test_cli_pause_while_the_job_is_due_is_never_silently_reverted(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = _start_with_victim(live_scheduler)
    # Start the pause just before the victim is due: it meets the row about to be due,
    # then due and held by the scheduler, which writes it back DELAY s later.
    due_at = _victim_next_run_time(stock)
    sleep_until(due_at - 1.5)
    started = time.time()
    proc = wfs.start("pause", "victim")
    out, err = proc.communicate(timeout=CLI_TIMEOUT)
    ended = time.time()
    _due_read(live, after=started - DELAY)
    _assert_race_met(live, started, ended)
    assert proc.returncode in (0, CONFLICT), f"exit {proc.returncode}\n{out}\n{err}"
    _wait_window_closed(live)
    time.sleep(0.5)

    if proc.returncode == CONFLICT:
        assert "victim" in err, f"a conflict must say which job and why: {err!r}"
        return
    # Paused, and it stays paused after the scheduler's write-back: no run scheduled
    # after the pause.
    assert stock.raw()["victim"][0] is None, f"the pause was reverted\n{live.describe()}"
    assert live.runs("victim", after=ended) == []
    items = {item["id"]: item for item in wfs.list_json()}
    assert items["victim"]["state"] == "STATE_PAUSED"
    assert live.thread_alive()
    assert live.deaths() == []


# -- (b) the thread death -----------------------------------------------------------------


def test_naive_delete_while_the_job_is_due_kills_the_scheduler_thread(
    live_scheduler: StartLive,
    naive_writer: Callable[[], NaiveWriter],
) -> None:
    for _attempt in range(NAIVE_ATTEMPTS):
        live = _start_with_victim(live_scheduler, interval_job("beat", 1), first_in=2)
        writer = naive_writer()
        _due_read(live, after=0)
        writer.delete("victim")  # what a stock remove_job in another process does
        deleted_at = time.time()
        _wait_window_closed(live)
        if any(e["kind"] == "update_failed" for e in live.entries()):
            died = live.wait_entry(
                lambda e: e["kind"] == "thread_dead", timeout=10, what="the thread's death"
            )
            exception = next(e for e in live.entries("thread_exception"))
            assert exception["type"] == "JobLookupError"
            assert exception["thread"] == "APScheduler"
            # The process lives on, its scheduler does not: nothing fires any more.
            assert live.proc.poll() is None
            assert not live.thread_alive()
            time.sleep(2.5)
            assert live.runs("beat", after=died["wall"]) == []
            assert live.proc.poll() is None
            assert deleted_at < died["wall"]
            return
        live.stop()
    pytest.skip(f"the naive delete did not kill the thread in {NAIVE_ATTEMPTS} tries")


def test_cli_reload_while_a_removed_job_is_due_never_kills_the_scheduler_thread(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore, tmp_path: Path
) -> None:
    # The scheduler holds the victim as due (read, not yet written back) until the test
    # creates `release`: the window stays open however long the command takes to start.
    release = tmp_path / "release"
    live = live_scheduler(
        interval_job("beat", 1),
        interval_job("victim", INTERVAL, first_in=3),
        due_delay=HOLD_AT_MOST,
        delay_jobs=("victim",),
        hold_until=release,
    )
    tasks = write_tasks(
        tmp_path / "tasks.yaml",
        [
            {"id": "beat", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
            {"id": "fresh", "trigger_type": "interval", "trigger_params": {"seconds": 1}},
        ],
    )
    _due_read(live, after=time.time())
    assert live.window_open("victim")
    # Deleting the victim now is exactly what would kill the scheduler's thread. The
    # command's guard says when it has read the store and found the victim due: only
    # then is the scheduler let go, so the race is met on purpose, every time.
    probe = tmp_path / "guard.jsonl"
    started = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.live.cli_probed",
            str(probe),
            *wfs.argv("--tasks", tasks, "--wait", str(HOLD_AT_MOST), "reload", "--yes")[3:],
        ],
        cwd=wfs.cwd,
        env=wfs.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        waits = wait_until(
            lambda: _guard_waits(probe, "victim") or proc.poll() is not None,
            CLI_TIMEOUT,
            "the reload to find the victim due",
        )
        assert waits is not True and proc.poll() is None, (
            f"the reload ended without waiting for the victim\n{live.describe()}"
        )
        assert live.window_open("victim"), "the scheduler let the victim go too early"
    finally:
        release.touch()
    out, err = proc.communicate(timeout=CLI_TIMEOUT)
    ended = time.time()
    _assert_race_met(live, started, ended)
    assert proc.returncode in (0, CONFLICT), f"exit {proc.returncode}\n{out}\n{err}"
    _wait_window_closed(live)
    time.sleep(0.5)

    assert live.deaths() == [], live.describe()
    assert live.thread_alive(), live.describe()
    # the scheduler keeps working after the reload
    live.wait_runs("beat", 2, after=ended)
    if proc.returncode == CONFLICT:
        assert err.strip(), "a conflict must say why"
        assert sorted(stock.raw()) in (["beat", "victim"], ["beat", "fresh"])
    else:
        assert sorted(stock.raw()) == ["beat", "fresh"]
        live.wait_runs("fresh", 1, after=ended)
        assert live.runs("victim", after=ended) == []
    assert live.deaths() == [], live.describe()


def _guard_waits(probe: Path, job_id: str) -> list[dict[str, Any]]:
    """The probed command's guard waits that found ``job_id`` due."""
    if not probe.exists():
        return []
    lines = [line for line in probe.read_text(encoding="utf-8").splitlines() if line]
    return [w for w in map(json.loads, lines) if job_id in w["due"]]
