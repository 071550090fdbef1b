"""The live-scheduler harness itself: it records runs, survives nothing silently, stops cleanly."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import StockStore
from tests.live.conftest import StartLive, interval_job

pytestmark = pytest.mark.slow

#: The beat's interval: short, the test only needs a few evenly spaced runs.
BEAT = 0.5


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_harness_records_runs_and_stops_cleanly_on_sigterm(
    live_scheduler: StartLive, stock: StockStore
) -> None:
    live = live_scheduler(interval_job("beat", BEAT), interval_job("idle", 60, paused=True))

    runs = live.wait_runs("beat", 3)
    scheduled = [run["scheduled"] for run in runs[:3]]
    assert all(abs(b - a - BEAT) < 1e-3 for a, b in itertools.pairwise(scheduled))
    assert {run["pid"] for run in runs} == {live.proc.pid}
    assert all(run["wall"] >= run["scheduled"] for run in runs)
    assert live.thread_alive()
    assert live.deaths() == []
    assert not live.runs("idle")
    rows = stock.raw()
    assert set(rows) == {"beat", "idle"}
    assert rows["idle"][0] is None

    assert live.stop() == 0
    assert live.entries()[-1]["kind"] == "stopped"
