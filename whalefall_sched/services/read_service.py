"""The seed's read service: list and get jobs (and the store's status), read-only."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from whalefall_sched.errors import InvalidInputError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import JobStoreRepository, SchedulerLock, StoredJob
from whalefall_sched.repository.audit import AuditRow
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_UNREADABLE,
    UNKNOWN_JOB_COUNTS,
    SchedulerJobDetail,
    SchedulerJobListItem,
    StoreStatus,
    iso,
    utc_z,
)
from whalefall_sched.services.history_service import LastRun, SchedulerRuns
from whalefall_sched.services.job_ids import find_job
from whalefall_sched.services.tasks_file import TasksFile
from whalefall_sched.services.timeline_dto import JobNextFireTimes, Timeline
from whalefall_sched.services.triggers import trigger_args, trigger_type

#: A running job due this many seconds ago and still not moved on is overdue: a running
#: scheduler moves a due row on within moments, so no scheduler is processing the store.
#: Its misfire grace is not waited out (the host's is 300 s).
OVERDUE_AFTER = 30
#: Where there is no scheduler lock file to look at (PostgreSQL, MySQL).
NO_LOCK_NOTE = (
    "no scheduler lock file on this kind of store: whether a scheduler is processing it "
    "is judged only by overdue jobs"
)


def job_state_name(job: StoredJob) -> str:
    """``STATE_RUNNING`` with a next run time, ``STATE_PAUSED`` without, or unreadable."""
    if job.decoded is None:
        return STATE_UNREADABLE
    return STATE_RUNNING if job.decoded.get("next_run_time") is not None else STATE_PAUSED


class SchedulerJobsReadService:
    """Lists and shows jobs. Never writes: decoding imports no task function.

    ``tasks`` gives ``is_builtin`` and ``description``: the tasks file, a function that
    reads it (called once, the first time a job is shown; ``status`` never does), or
    None when it cannot be read: then both are None (unknown).
    """

    def __init__(
        self,
        repository: JobStoreRepository,
        tasks: TasksFile | Callable[[], TasksFile | None] | None = None,
        *,
        last_runs: Callable[[], Mapping[str, LastRun] | None] | None = None,
        scheduler_runs: Callable[[], SchedulerRuns | None] | None = None,
    ) -> None:
        self._repo = repository
        self._tasks_source = tasks
        #: Each task's latest run (the run history), read once when first needed.
        self._last_runs_source = last_runs
        self._last_runs: Mapping[str, LastRun] | None = None
        #: The history as ``status``'s evidence (runs the scheduler started only).
        self._scheduler_runs = scheduler_runs
        #: Each paused job's latest pause event, read once (services/audit.py).
        self._pauses: dict[str, AuditRow] | None = None

    def _pause_of(self, job_id: str) -> AuditRow | None:
        """The job's latest pause in the audit trail, or None (also without an audit
        table, or when it cannot be read: a list must not fail for it)."""
        if self._pauses is None:
            try:
                self._pauses = self._repo.latest_pauses()
            except StoreSystemError:
                self._pauses = {}
        return self._pauses.get(job_id)

    @property
    def _tasks(self) -> TasksFile | None:
        """The tasks file, read the first time it is needed; None when unknown."""
        if callable(self._tasks_source):
            self._tasks_source = self._tasks_source()
        return self._tasks_source

    def _last_run(self, job_id: str) -> LastRun | None:
        """``job_id``'s latest run; the history's one query runs the first time."""
        runs = self._runs()
        return None if runs is None else runs.get(job_id)

    def _runs(self) -> Mapping[str, LastRun] | None:
        """Each task's latest run (read the first time), None without history."""
        if self._last_runs_source is not None:
            self._last_runs = self._last_runs_source()
            self._last_runs_source = None
        return self._last_runs

    def list_jobs(
        self, state: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> Iterator[SchedulerJobListItem]:
        """The jobs sorted by id, optionally only those in ``state``, skipping the first
        ``offset`` and stopping after ``limit``: an iterator, to be consumed once.

        The store is reached at once (a missing or unreachable store raises here); the
        rows are then read and decoded as the items are consumed, so memory does not
        grow with the table. ``STATE_RUNNING`` and ``STATE_PAUSED`` are filtered on the
        ``next_run_time`` column before anything is decoded, and the decoded state is
        checked after: a row that cannot be decoded is only ever ``STATE_UNREADABLE``.
        """
        if (limit is not None and limit < 0) or offset < 0:
            raise ValueError("limit and offset must not be negative")
        paused = {STATE_RUNNING: False, STATE_PAUSED: True}.get(state or "")
        with _as_system_error("获取任务列表失败 (listing jobs failed)"):
            if state is None:
                # every row is an item: slice before anything is read
                jobs = self._repo.iter_jobs(offset=offset, limit=limit)
            else:
                jobs = self._repo.iter_jobs(paused=paused)
        items = self._items(jobs, state)
        if state is not None:
            stop = None if limit is None else offset + limit
            items = itertools.islice(items, offset, stop)
        return items

    def _items(
        self, jobs: Iterator[StoredJob], state: str | None
    ) -> Iterator[SchedulerJobListItem]:
        with _as_system_error("获取任务列表失败 (listing jobs failed)"):
            for job in jobs:
                item = self._safe_item(job)
                if state is None or item.state == state:
                    yield item

    def get_job(self, job_id: str) -> SchedulerJobDetail:
        """One job's details, by id or else by exact name (``job_ids.find_job``); raises
        :class:`JobNotFoundError` for an unknown one."""
        return self._shown(self._find(job_id))[1]

    def _find(self, job_id: str) -> StoredJob:
        with _as_system_error("获取任务详情失败 (reading the job failed)"):
            return find_job(self._repo, job_id)

    def _shown(self, job: StoredJob) -> tuple[StoredJob, SchedulerJobDetail]:
        """``job`` and its details; a job whose details cannot be built is shown as
        unreadable, not a failed command."""
        try:
            detail = self._detail(job)
            detail.to_dict()
        except Exception as exc:  # noqa: BLE001 - shown as unreadable, not a failed command
            job = _unreadable(job, exc)
            return job, self._detail(job)
        return job, detail

    def get_job_fire_times(
        self, job_id: str, count: int, now: datetime | None = None
    ) -> JobNextFireTimes:
        """One job's details and its next ``count`` fire times from ``now`` (one read).

        A paused job's are the times it would fire if resumed; an unreadable job has
        none, and says why (as ``get`` shows such a job, not an error).
        """
        from whalefall_sched.services.timeline import MAX_NEXT, job_fire_times

        if not 1 <= count <= MAX_NEXT:
            raise InvalidInputError(f"the number of fire times must be 1 to {MAX_NEXT}")
        now = now or datetime.now(UTC)
        job, detail = self._shown(self._find(job_id))
        return JobNextFireTimes(detail, count, job_fire_times(job, now, count=count), now)

    def timeline(
        self,
        *,
        span: timedelta,
        zone: tzinfo,
        zone_name: str,
        now: datetime | None = None,
    ) -> Timeline:
        """Every job's fire times from ``now`` (default: the current time) for ``span``,
        and the minutes in which several jobs fire (``services/timeline.py``)."""
        from whalefall_sched.services.timeline import build_timeline

        return build_timeline(
            self._repo,
            now=now or datetime.now(UTC),
            span=span,
            zone=zone,
            zone_name=zone_name,
        )

    def _detail(self, job: StoredJob) -> SchedulerJobDetail:
        item = self._item(job)
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

    def status(self, now: datetime | None = None) -> StoreStatus:
        """Reachable, initialised, jobs by state, unreadable and overdue jobs, the lock.

        A store that cannot be reached is a status too: ``reachable`` False, with the
        ``error`` every command reports (exit code 5). Read-only.
        """
        try:
            return self._status(now or datetime.now(UTC))
        except StoreSystemError as exc:
            message = str(exc)  # the repository's errors mask the URL's password
            return StoreStatus(
                store=self._repo.where,
                reachable=False,
                initialised=False,
                healthy=False,
                reasons=[message],
                jobs=dict(UNKNOWN_JOB_COUNTS),
                unreadable=[],
                overdue=[],
                next_wakeup=None,
                error=exc.to_dict(),
            )

    def _status(self, now: datetime) -> StoreStatus:
        where = self._repo.where
        lock = self._repo.scheduler_lock()
        lock_doc = None
        reasons: list[str] = []
        notes = [NO_LOCK_NOTE] if lock is None else []
        liveness = _liveness(lock)
        if lock is not None:
            lock_doc = {"path": str(lock.path), "exists": lock.exists, "held": lock.held}
            lock_doc |= {"pid": lock.pid, "problem": lock.problem}
            if lock.problem:
                notes.append(
                    f"{lock.path}: {lock.problem}; whether a scheduler is processing this "
                    "store is judged only by overdue jobs"
                )
        if not self._repo.exists():
            # No SQLite file (or no directory) is nothing to reach: not reachable, and not
            # initialised as a missing table is (exit 4); the reason names the path.
            # With no file there is nothing to count or to judge a scheduler by: the
            # counts are unknown and there is no liveness.
            missing = self._repo.connection.not_initialised()
            path = self._repo.sqlite_path()
            no_file = path is not None and not path.exists()
            reasons.insert(0, str(missing))
            return StoreStatus(
                store=where,
                reachable=not no_file,
                error=missing.to_dict() if no_file else None,
                initialised=False,
                healthy=False,
                reasons=reasons,
                jobs=(
                    dict(UNKNOWN_JOB_COUNTS)
                    if no_file
                    else {"total": 0, "running": 0, "paused": 0, "unreadable": 0}
                ),
                unreadable=[],
                overdue=[],
                next_wakeup=None,
                lock=lock_doc,
                notes=notes,
                liveness=None if no_file else liveness,
            )
        if lock is not None and lock.exists and lock.held is False:
            # a lock file that exists is the host's (2026-01): nobody holding it is evidence
            reasons.append(f"no process holds {lock.path}: no scheduler is running on this store")
        rows: list[StoredJob] = []
        overdue: list[dict[str, Any]] = []
        for stored in self._repo.list_jobs():
            job, late = _with_overdue(stored, now)
            rows.append(job)
            if late is not None:
                overdue.append(late)
        states = [job_state_name(job) for job in rows]
        unreadable = [
            {"id": job.id, "reason": job.unreadable_reason} for job in rows if job.decoded is None
        ]
        if unreadable:
            reasons.append(f"{len(unreadable)} row(s) cannot be decoded")
        if overdue:
            reasons.append(
                f"{len(overdue)} job(s) overdue, due more than {OVERDUE_AFTER}s ago and not "
                "moved on: no scheduler seems to be processing this store"
            )
        if "overdue_jobs" in liveness["judged_by"] and not states.count(STATE_RUNNING):
            liveness["summary"] += "; no running job to judge by"
        _with_history(liveness, self._evidence(notes), now)
        return StoreStatus(
            store=where,
            reachable=True,
            initialised=True,
            healthy=not reasons,
            reasons=reasons,
            jobs={
                "total": len(rows),
                "running": states.count(STATE_RUNNING),
                "paused": states.count(STATE_PAUSED),
                "unreadable": states.count(STATE_UNREADABLE),
            },
            unreadable=unreadable,
            overdue=overdue,
            next_wakeup=_next_wakeup(rows),
            lock=lock_doc,
            notes=notes,
            liveness=liveness,
        )

    def _evidence(self, notes: list[str]) -> SchedulerRuns | None:
        """The run history's evidence for ``status``; a history that cannot be read is
        a note (``notes``, in the document), never a failure."""
        if self._scheduler_runs is None:
            return None
        try:
            return self._scheduler_runs()
        except WhaleFallSchedError as exc:
            notes.append(f"{exc}; the run history is not judged")
            return None

    def _safe_item(self, job: StoredJob) -> SchedulerJobListItem:
        """The row's item; a row whose item cannot be built (or turned into JSON) is
        shown unreadable, with the reason, instead of failing the whole list."""
        try:
            item = self._item(job)
            item.to_dict()
        except Exception as exc:  # noqa: BLE001 - one row must not hide the others
            return self._item(_unreadable(job, exc))
        return item

    def _item(self, job: StoredJob) -> SchedulerJobListItem:
        tasks = self._tasks
        task = tasks.task(job.id) if tasks is not None else None
        last = self._last_run(job.id)
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
        pause = self._pause_of(job.id) if state.get("next_run_time") is None else None
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


def _next_wakeup(rows: list[StoredJob]) -> str | None:
    """The earliest ``next_run_time`` column that is a time: when a scheduler wakes up."""
    times = []
    for job in rows:
        if job.next_run_time is None:
            continue
        try:
            times.append(datetime.fromtimestamp(job.next_run_time, UTC))
        except (OverflowError, ValueError, OSError):
            continue  # such a row is unreadable, and says why
    return min(times).isoformat() if times else None


def _unreadable(job: StoredJob, exc: Exception) -> StoredJob:
    """``job`` as an unreadable row: what went wrong showing it is the reason."""
    reason = f"cannot be shown: {type(exc).__name__}: {exc}"
    return dataclasses.replace(job, decoded=None, unreadable_reason=reason)


def _with_overdue(job: StoredJob, now: datetime) -> tuple[StoredJob, dict[str, Any] | None]:
    """The row and, when it is overdue beyond its misfire grace, what status says of it.

    A state that cannot be computed on makes the row unreadable, not the status fail.
    """
    state = job.decoded or {}
    when = state.get("next_run_time")
    if when is None:
        return job, None
    try:
        grace = state.get("misfire_grace_time")
        late = (now - when).total_seconds()
        if late <= OVERDUE_AFTER:
            return job, None
        entry = {
            "id": job.id,
            "next_run_time": when.isoformat(),
            "late_seconds": round(late),
            "misfire_grace_time": grace,
        }
    except Exception as exc:  # noqa: BLE001 - one row must not hide the others
        return _unreadable(job, exc), None
    return job, entry


def _liveness(lock: SchedulerLock | None) -> dict[str, Any]:
    """Which evidence tells whether a scheduler processes the store.

    Overdue jobs always count; a lock file counts only where it exists (the 2026-01 host
    keeps ``userdata/scheduler.lock``, the 2026-07 host none), so a missing one is no
    reason to be degraded.
    """
    if lock is None:
        state, summary = None, "judged by overdue jobs (no lock file on this kind of store)"
    elif not lock.exists:
        state, summary = "absent", "judged by overdue jobs (no lock file)"
    elif lock.held is None:
        state, summary = "unknown", "judged by overdue jobs (the lock file cannot be read)"
    else:
        state = "held" if lock.held else "not_held"
        summary = f"judged by the lock file ({state.replace('_', ' ')}) and overdue jobs"
    judged_by = ["lock_file", "overdue_jobs"] if state in ("held", "not_held") else ["overdue_jobs"]
    return {
        "judged_by": judged_by,
        "lock_file": state,
        "overdue_after_seconds": OVERDUE_AFTER,
        "summary": summary,
    }


def _with_history(liveness: dict[str, Any], runs: SchedulerRuns | None, now: datetime) -> None:
    """Add the latest run the scheduler started to ``liveness``, where there is a
    history: a run the scheduler started lately is evidence it was alive then (never a
    reason to be degraded: a store of daily jobs has no recent run). A manual run is no
    evidence: ``run`` starts it without any scheduler."""
    if runs is None:
        return
    started = runs.latest_started_at
    latest = _aware(started) if started else None
    liveness["judged_by"].append("run_history")
    liveness["latest_run"] = iso(latest)
    liveness["latest_run_utc"] = utc_z(iso(latest))
    if latest is None:
        liveness["summary"] += "; the run history holds no scheduled run"
        return
    ago = max(0, int((now - latest).total_seconds()))
    liveness["summary"] += f"; the run history's latest scheduled run started {ago}s ago"


def _aware(value: str) -> datetime:
    """A history time; a naive one (SQLite, MariaDB) is UTC, as the host reads it."""
    when = datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@contextmanager
def _as_system_error(message: str) -> Iterator[None]:
    """Let the core's errors through; turn anything unexpected into the seed's SystemError."""
    try:
        yield
    except WhaleFallSchedError:
        raise
    except Exception as exc:
        raise StoreSystemError(f"{message}: {type(exc).__name__}: {exc}") from exc
