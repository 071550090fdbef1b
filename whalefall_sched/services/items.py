"""Turning stored job rows into what ``list`` and ``get`` show: each row's state name,
its list item and details (the tasks file's and the 2026-07 host's fields, the latest
run, the latest pause), and a row that cannot be shown made an unreadable one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_UNREADABLE,
    SchedulerJobDetail,
    SchedulerJobListItem,
    iso,
)
from whalefall_sched.services.triggers import trigger_args, trigger_type

if TYPE_CHECKING:
    from whalefall_sched.repository import StoredJob
    from whalefall_sched.repository.audit import AuditRow
    from whalefall_sched.services.history_dto import LastRun
    from whalefall_sched.services.tasks_file import TasksFile


def job_state_name(job: StoredJob) -> str:
    """``STATE_RUNNING`` with a next run time, ``STATE_PAUSED`` without, or unreadable."""
    if job.decoded is None:
        return STATE_UNREADABLE
    return STATE_RUNNING if job.decoded.get("next_run_time") is not None else STATE_PAUSED


def job_item(
    job: StoredJob,
    tasks: TasksFile | None,
    last: LastRun | None,
    pause_of: Callable[[str], AuditRow | None],
) -> SchedulerJobListItem:
    """The list item of ``job``: ``tasks`` gives ``is_builtin``, ``description`` and the
    2026-07 host's fields (all None when unknown), ``last`` the latest run, and
    ``pause_of`` a paused job's latest pause in the audit trail."""
    task = tasks.task(job.id) if tasks is not None else None
    common: dict[str, Any] = {
        "id": job.id,
        "description": task.description if task else _registry_description(tasks, job.id),
        # the host's: started_at of the task's latest task_runs row
        "last_run_time": last.started_at if last is not None else None,
        "last_run_status": last.status if last is not None else None,
        "state": job_state_name(job),
        "is_builtin": job.id in tasks.builtin_ids if tasks is not None else None,
    }
    if job.decoded is None:
        common |= _host_fields(tasks, job.id, None)
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
    state = job.decoded
    trigger = state["trigger"]
    func_ref = state["func"]
    common |= _host_fields(tasks, job.id, state.get("name"))
    pause = pause_of(job.id) if state.get("next_run_time") is None else None
    if pause is not None:
        common |= {
            "paused_by": pause.actor,
            "paused_reason": pause.reason,
            "paused_at": iso(pause.at),
        }
    return SchedulerJobListItem(
        **common,
        name=state.get("name"),
        next_run_time=iso(state.get("next_run_time")),
        trigger_type=trigger_type(trigger),
        trigger_args=trigger_args(trigger),
        func=func_ref,
        args=list(state.get("args") or ()),
        kwargs=dict(state.get("kwargs") or {}),
        func_ref=func_ref,
        executor=state.get("executor"),
        timezone=_zone_name(trigger),
    )


def job_detail(job: StoredJob, item: SchedulerJobListItem) -> SchedulerJobDetail:
    """The details of ``job``, whose list item is ``item``."""
    state = job.decoded or {}
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
        last_run_time=item.last_run_time,
        func_ref=item.func_ref,
        task_id=item.task_id,
        task_name=item.task_name,
        editable_fields=item.editable_fields,
        paused_by=item.paused_by,
        paused_reason=item.paused_reason,
        paused_at=item.paused_at,
    )


def _registry_description(tasks: TasksFile | None, job_id: str) -> str | None:
    """A built-in job's description from the 2026-07 host's registry (also when its
    tasks file leaves the job out), else None."""
    meta = tasks.host.task(job_id) if tasks is not None else None
    return meta.description if meta is not None else None


def _host_fields(tasks: TasksFile | None, job_id: str, name: str | None) -> dict[str, Any]:
    """``task_id``, ``task_name``, ``editable_fields`` as the 2026-07 host's list gives
    them: the registry's for a built-in id, else the id, the stored name and none; all
    None where the host has no such fields (2026-01) or the tasks file is unknown."""
    if tasks is None or not tasks.host.has_registry:
        return {"task_id": None, "task_name": None, "editable_fields": None}
    meta = tasks.host.task(job_id)
    if meta is None:
        return {"task_id": job_id, "task_name": name, "editable_fields": []}
    return {
        "task_id": job_id,
        "task_name": meta.task_name,
        "editable_fields": list(meta.editable_fields),
    }


def _zone_name(trigger: Any) -> str | None:
    """The name of a trigger's time zone (a date trigger's: its run date's), or None."""
    zone = getattr(trigger, "timezone", None)
    if zone is None:
        run_date = getattr(trigger, "run_date", None)
        zone = getattr(run_date, "tzinfo", None)
    if zone is None:
        return None
    name = getattr(zone, "key", None) or getattr(zone, "zone", None) or str(zone)
    return name if isinstance(name, str) else None


def unreadable_job(job: StoredJob, exc: Exception) -> StoredJob:
    """``job`` as an unreadable row: what went wrong showing it is the reason."""
    reason = f"cannot be shown: {type(exc).__name__}: {exc}"
    return dataclasses.replace(job, decoded=None, unreadable_reason=reason)
