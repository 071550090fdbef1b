"""Small stand-ins for the host app's five 2026-01 default tasks.

Each logs what it was asked to do and returns a short summary; none touches anything.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("whalefall_sched.examples")


def _report(task: str, **kwargs: Any) -> str:
    summary = f"{task} done" + (f" ({kwargs})" if kwargs else "")
    logger.info(summary)
    return summary


def sync_accounts(manual_run: bool = False, created_by: int | None = None) -> str:
    """Stand-in for the daily account synchronisation."""
    return _report("sync_accounts", manual_run=manual_run, created_by=created_by)


def cleanup_old_logs() -> str:
    """Stand-in for removing logs older than 30 days."""
    return _report("cleanup_old_logs")


def monitor_partition_health() -> str:
    """Stand-in for the partition health check."""
    return _report("monitor_partition_health")


def collect_database_sizes() -> str:
    """Stand-in for collecting database sizes."""
    return _report("collect_database_sizes")


def calculate_database_size_aggregations(
    manual_run: bool = False, created_by: int | None = None
) -> str:
    """Stand-in for the size aggregation statistics."""
    return _report(
        "calculate_database_size_aggregations",
        manual_run=manual_run,
        created_by=created_by,
    )
