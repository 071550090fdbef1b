"""The seed's read service: list and get jobs, their fire times, the timeline and the
store's status, read-only.

:class:`SchedulerJobsReadService` holds the entry points and the lazily read sources
(the tasks file, the run history, the audit trail's pauses). Building each row's item
and details is :mod:`.items`; the status and its liveness evidence is :mod:`.status`;
the fire times and timeline are :mod:`.timeline`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo

from whalefall_sched.errors import InvalidInputError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import JobStoreRepository, StoredJob
from whalefall_sched.repository.audit import AuditRow
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    SchedulerJobDetail,
    SchedulerJobListItem,
)
from whalefall_sched.services.history_dto import LastRun, SchedulerRuns
from whalefall_sched.services.items import job_detail, job_item, unreadable_job
from whalefall_sched.services.job_ids import find_job
from whalefall_sched.services.status import store_status
from whalefall_sched.services.store_dto import StoreStatus
from whalefall_sched.services.tasks_file import TasksFile
from whalefall_sched.services.timeline_dto import JobNextFireTimes, Timeline


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
            job = unreadable_job(job, exc)
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
        return job_detail(job, self._item(job))

    def status(self, now: datetime | None = None) -> StoreStatus:
        """Reachable, initialised, jobs by state, unreadable and overdue jobs, the lock
        (:func:`.status.store_status`). A store that cannot be reached is a status too:
        ``reachable`` False, with the ``error`` every command reports (exit code 5).
        Read-only.
        """
        return store_status(self._repo, now or datetime.now(UTC), self._scheduler_runs)

    def _safe_item(self, job: StoredJob) -> SchedulerJobListItem:
        """The row's item; a row whose item cannot be built (or turned into JSON) is
        shown unreadable, with the reason, instead of failing the whole list."""
        try:
            item = self._item(job)
            item.to_dict()
        except Exception as exc:  # noqa: BLE001 - one row must not hide the others
            return self._item(unreadable_job(job, exc))
        return item

    def _item(self, job: StoredJob) -> SchedulerJobListItem:
        return job_item(job, self._tasks, self._last_run(job.id), self._pause_of)


@contextmanager
def _as_system_error(message: str) -> Iterator[None]:
    """Let the core's errors through; turn anything unexpected into the seed's SystemError."""
    try:
        yield
    except WhaleFallSchedError:
        raise
    except Exception as exc:
        raise StoreSystemError(f"{message}: {type(exc).__name__}: {exc}") from exc
