"""``pause`` and ``resume`` through the console script, honoured by a live scheduler."""

from __future__ import annotations

import time

import pytest

from tests.conftest import StockStore
from tests.live.conftest import StartLive, Wfs, describe_result, interval_job

pytestmark = pytest.mark.slow

#: How often the beat job wakes the scheduler: it only shows that wake-ups happened. The
#: victim keeps a 1 s interval (a row due every moment would keep the CLI waiting).
BEAT = 0.5


def test_pause_stops_a_live_job_and_resume_restarts_it(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = live_scheduler(interval_job("beat", BEAT), interval_job("victim", 1))
    live.wait_runs("victim", 2)

    paused = wfs.run("pause", "victim")
    paused_at = time.time()
    assert paused.returncode == 0, describe_result(paused)
    assert stock.raw()["victim"][0] is None

    # The live scheduler has woken several times since (beat runs every BEAT s): the
    # pause has been seen, and no run of the paused job was scheduled after it.
    live.wait_runs("beat", 3, after=paused_at)
    late = live.runs("victim", after=paused_at)
    assert late == [], f"victim ran after it was paused: {late}\n{live.describe()}"
    assert stock.raw()["victim"][0] is None, "the pause was reverted"

    resumed_from = time.time()
    resumed = wfs.run("resume", "victim")
    assert resumed.returncode == 0, describe_result(resumed)
    live.wait_runs("victim", 2, after=resumed_from)

    assert live.thread_alive()
    assert live.deaths() == []
