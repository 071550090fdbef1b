"""Cost of the safe ``job_state`` decoder, relative to plain ``pickle.loads``.

Run: ``uv run python bench/decode.py [--rows N]``. Both decoders read the same stock
APScheduler state in this same process, so the ratio compares like with like. It prints
numbers and asserts nothing. Plain ``pickle.loads`` is the baseline only: it would run
any code a crafted row carries, and import the task function on ``Job.__setstate__``.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from whalefall_sched.repository.codec import decode_state


def stock_state() -> bytes:
    """A state shaped like the ones the host app's scheduler writes."""
    tz = ZoneInfo("Asia/Shanghai")
    state = {
        "version": 1,
        "id": "sync_accounts",
        "func": "app.tasks.accounts_sync_tasks:sync_accounts",
        "trigger": CronTrigger(second=0, minute=0, hour=1, timezone=tz),
        "executor": "default",
        "args": (),
        "kwargs": {"instance_ids": [1, 2, 3]},
        "name": "账户同步",
        "misfire_grace_time": 300,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": datetime(2026, 11, 28, 1, tzinfo=tz),
    }
    return pickle.dumps(state, pickle.HIGHEST_PROTOCOL)


def best_of(decode: Callable[[bytes], Any], data: bytes, rows: int, repeat: int = 5) -> float:
    """Seconds per decode, best of ``repeat`` passes over ``rows`` decodes."""
    passes = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rows):
            decode(data)
        passes.append((time.perf_counter() - start) / rows)
    return min(passes)


def main() -> None:
    """Print the per-row cost of both decoders and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    rows = parser.parse_args().rows
    data = stock_state()
    baseline = best_of(pickle.loads, data, rows)
    safe = best_of(decode_state, data, rows)
    print(f"state: {len(data)} bytes, {rows} decodes per pass, best of 5")
    print(f"pickle.loads (baseline): {baseline * 1e6:8.1f} us/row")
    print(f"decode_state:            {safe * 1e6:8.1f} us/row")
    print(f"ratio:                   {safe / baseline:8.1f}x")
    print(f"a 1,000-job store costs about {safe * 1000 * 1e3:.0f} ms to decode")


if __name__ == "__main__":
    main()
