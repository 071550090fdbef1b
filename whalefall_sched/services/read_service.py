"""The seed's read service: list and get jobs, straight from the store, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from whalefall_sched.errors import StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import JobStoreRepository, StoredJob
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_UNREADABLE,
    SchedulerJobDetail,
    SchedulerJobListItem,
)
from whalefall_sched.services.tasks_file import TasksFile
from whalefall_sched.services.triggers import trigger_args, trigger_type


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_state_name(job: StoredJob) -> str:
    """``STATE_RUNNING`` with a next run time, ``STATE_PAUSED`` without, or unreadable."""
    if job.state is None:
        return STATE_UNREADABLE
    return STATE_RUNNING if job.state.get("next_run_time") is not None else STATE_PAUSED


class SchedulerJobsReadService:
    """Lists and shows jobs. Never writes: decoding imports no task function."""

    def __init__(self, repository: JobStoreRepository, tasks: TasksFile) -> None:
        self._repo = repository
        self._tasks = tasks

    def list_jobs(self, state: str | None = None) -> list[SchedulerJobListItem]:
        """Every job sorted by id, optionally only those in ``state``."""
        with _as_system_error("获取任务列表失败 (listing jobs failed)"):
            items = [self._item(job) for job in self._repo.list_jobs()]
        return [item for item in items if state is None or item.state == state]

    def get_job(self, job_id: str) -> SchedulerJobDetail:
        """One job's details; raises :class:`JobNotFoundError` for an unknown id."""
        with _as_system_error("获取任务详情失败 (reading the job failed)"):
            job = self._repo.get_job(job_id)
        item = self._item(job)
        state = job.state or {}
        return SchedulerJobDetail(
            id=job.id,
            name=item.name,
            next_run_time=item.next_run_time,
            trigger=str(state["trigger"]) if "trigger" in state else None,
            func=item.func,
            args=item.args,
            kwargs=item.kwargs,
            misfire_grace_time=state.get("misfire_grace_time"),
            max_instances=state.get("max_instances"),
            coalesce=state.get("coalesce"),
            description=item.description,
            trigger_type=item.trigger_type,
            trigger_args=item.trigger_args,
            state=item.state,
            is_builtin=item.is_builtin,
            executor=item.executor,
            unreadable_reason=item.unreadable_reason,
        )

    def _item(self, job: StoredJob) -> SchedulerJobListItem:
        task = self._tasks.task(job.id)
        common: dict[str, Any] = {
            "id": job.id,
            "description": task.description if task else None,
            "last_run_time": None,
            "state": job_state_name(job),
            "is_builtin": job.id in self._tasks.builtin_ids,
        }
        if job.state is None:
            return SchedulerJobListItem(
                **common,
                name=None,
                next_run_time=None,
                trigger_type=None,
                trigger_args={},
                func=None,
                args=[],
                kwargs={},
                unreadable_reason=job.unreadable_reason,
            )
        state = job.state
        trigger = state["trigger"]
        return SchedulerJobListItem(
            **common,
            name=state.get("name"),
            next_run_time=_iso(state.get("next_run_time")),
            trigger_type=trigger_type(trigger),
            trigger_args=trigger_args(trigger),
            func=state["func"],
            args=list(state.get("args") or ()),
            kwargs=dict(state.get("kwargs") or {}),
            func_ref=state["func"],
            executor=state.get("executor"),
        )


@contextmanager
def _as_system_error(message: str) -> Iterator[None]:
    """Let the core's errors through; turn anything unexpected into the seed's SystemError."""
    try:
        yield
    except WhaleFallSchedError:
        raise
    except Exception as exc:
        raise StoreSystemError(f"{message}: {type(exc).__name__}: {exc}") from exc
