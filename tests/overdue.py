"""A job left overdue in a store, as when no scheduler processes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger


def add_overdue_job(
    url: str, job_id: str, next_run_time: datetime, trigger: Any | None = None
) -> None:
    """Store a job due at ``next_run_time`` (in the past) through the stock job store, so
    that no scheduler moves it on; ``trigger`` defaults to every two hours."""
    scheduler = BackgroundScheduler(timezone="Asia/Shanghai")
    job = Job(
        scheduler,
        id=job_id,
        func="tests.jobs:noop",
        trigger=trigger or IntervalTrigger(hours=2, timezone="Asia/Shanghai"),
        executor="default",
        args=(),
        kwargs={},
        name=job_id,
        misfire_grace_time=300,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )
    store = SQLAlchemyJobStore(url=url)
    store.start(scheduler, "default")
    try:
        store.add_job(job)
    finally:
        store.shutdown()
