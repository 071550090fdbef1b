"""A bulk ``pause --match`` through the console script beside a live scheduler."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import StockStore
from tests.live.conftest import StartLive, Wfs, describe_result, interval_job

pytestmark = pytest.mark.slow

SYNC = ["sync_a", "sync_b", "sync_c", "sync_d"]
#: The job left running: it shows the scheduler woke up and kept working after the pause.
BEAT = 0.5


def test_bulk_pause_by_match_leaves_every_selected_job_paused_and_the_scheduler_alive(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = live_scheduler(interval_job("beat", BEAT), *(interval_job(j, 1) for j in SYNC))
    for job_id in SYNC:
        live.wait_runs(job_id, 1)

    paused = wfs.run("pause", "--match", "sync_*", "--yes", "-o", "json")
    paused_at = time.time()
    assert paused.returncode == 0, describe_result(paused)
    report = json.loads(paused.stdout)
    assert [r["id"] for r in report["results"]] == SYNC
    assert report["errors"] == []

    # The scheduler has woken several times since: every selected job stays paused, none
    # ran again, and the job outside the selection keeps running.
    live.wait_runs("beat", 4, after=paused_at)
    rows = stock.raw()
    assert all(rows[job_id][0] is None for job_id in SYNC), "a pause was reverted"
    assert rows["beat"][0] is not None
    late = [run for job_id in SYNC for run in live.runs(job_id, after=paused_at)]
    assert late == [], f"paused jobs ran: {late}\n{live.describe()}"
    listed = {item["id"]: item["state"] for item in wfs.list_json()}
    assert listed == {"beat": "STATE_RUNNING", **dict.fromkeys(SYNC, "STATE_PAUSED")}

    assert live.thread_alive()
    assert live.deaths() == []
