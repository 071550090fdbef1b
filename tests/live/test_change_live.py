"""reschedule, delete and status beside a live scheduler in another process.

- A delete of a job the scheduler holds as due (read, not yet written back) waits for
  the scheduler to move it on, so its ``update_job`` never meets a vanished row and its
  thread never dies with ``JobLookupError``; the scheduler keeps running other jobs.
- A reschedule is picked up by the scheduler at its next wake-up.
- ``status`` with no lock file: healthy while the scheduler runs, degraded soon after the
  scheduler process is killed while a job is due.

Every wait polls against a generous deadline; nothing asserts a wall-clock duration.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import StockStore
from tests.live.conftest import (
    CLI_TIMEOUT,
    StartLive,
    Wfs,
    describe_result,
    interval_job,
    wait_until,
)

pytestmark = pytest.mark.slow

#: The longest a scheduler holds the victim until the test releases it (and --wait).
HOLD_AT_MOST = 60.0
#: Generous bound for status to see a killed scheduler (the evidence needs 30 s).
DEGRADED_WITHIN = 120.0


def _guard_waits(probe: Path, job_id: str) -> list[dict[str, Any]]:
    if not probe.exists():
        return []
    lines = [line for line in probe.read_text(encoding="utf-8").splitlines() if line]
    return [w for w in map(json.loads, lines) if job_id in w["due"]]


def test_delete_of_a_job_the_scheduler_holds_as_due_never_kills_its_thread(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    live = live_scheduler(
        interval_job("beat", 1),
        interval_job("victim", 4, first_in=3),
        due_delay=HOLD_AT_MOST,
        delay_jobs=("victim",),
        hold_until=release,
    )
    live.wait_entry(
        lambda e: e["kind"] == "due" and "victim" in e["jobs"],
        timeout=30,
        what="the live scheduler to read the victim as due",
    )
    assert live.window_open("victim")
    probe = tmp_path / "guard.jsonl"
    argv = wfs.argv("--wait", str(HOLD_AT_MOST), "delete", "victim", "--yes", "--no-backup")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.live.cli_probed", str(probe), *argv[3:]],
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
            "the delete to find the victim due",
        )
        assert waits is not True and proc.poll() is None, (
            f"the delete ended without waiting for the victim\n{live.describe()}"
        )
        assert live.window_open("victim"), "the scheduler let the victim go too early"
        assert "victim" in stock.raw()  # not deleted under the scheduler's feet
    finally:
        release.touch()
    out, err = proc.communicate(timeout=CLI_TIMEOUT)
    ended = time.time()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    wait_until(lambda: not live.window_open("victim"), 30, "the victim to be written back")
    assert "victim" not in stock.raw()
    # the scheduler keeps running other jobs afterwards, its thread alive
    live.wait_runs("beat", 2, after=ended)
    assert live.deaths() == [], live.describe()
    assert live.thread_alive(), live.describe()


def test_reschedule_beside_a_live_scheduler_is_picked_up_at_its_next_wake_up(
    live_scheduler: StartLive, wfs: Wfs, stock: StockStore
) -> None:
    live = live_scheduler(interval_job("beat", 1), interval_job("target", 3600))
    live.wait_runs("beat", 1)
    result = wfs.run("reschedule", "target", "--interval", "2s", "--force", "-o", "json")
    assert result.returncode == 0, describe_result(result)
    ended = time.time()
    doc = json.loads(result.stdout)
    assert doc["trigger"].startswith("interval[0:00:02")
    runs = live.wait_runs("target", 2, after=ended - 5, timeout=60)
    assert runs[1]["scheduled"] - runs[0]["scheduled"] == pytest.approx(2, abs=0.01)
    assert live.deaths() == [], live.describe()


def test_status_is_healthy_with_a_live_scheduler_and_degraded_once_it_is_killed(
    live_scheduler: StartLive, wfs: Wfs
) -> None:
    live = live_scheduler(interval_job("beat", 2))
    live.wait_runs("beat", 2)
    for _ in range(3):  # healthy whenever asked while the scheduler runs
        result = wfs.run("status", "-o", "json")
        assert result.returncode == 0, describe_result(result)
        doc = json.loads(result.stdout)
        assert doc["healthy"] is True
        assert doc["liveness"]["judged_by"] == ["overdue_jobs"]
        assert doc["liveness"]["lock_file"] in ("absent", None)
        time.sleep(1)

    live.proc.kill()  # the scheduler stops while "beat" keeps falling due
    live.proc.wait(15)

    def degraded() -> dict[str, Any] | None:
        result = wfs.run("status", "-o", "json")
        doc: dict[str, Any] = json.loads(result.stdout)
        return doc if result.returncode == 4 else None

    doc = wait_until(degraded, DEGRADED_WITHIN, "status to report the stopped scheduler", 2.0)
    assert [o["id"] for o in doc["overdue"]] == ["beat"]
    assert doc["overdue"][0]["late_seconds"] < doc["overdue"][0]["misfire_grace_time"]
    assert any("no scheduler seems to be processing" in r for r in doc["reasons"])
