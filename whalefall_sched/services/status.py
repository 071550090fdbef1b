"""The store's status: reachable, initialised, jobs by state, unreadable and overdue
jobs, and the liveness evidence (the lock file where there is one, overdue jobs, the run
history's latest scheduled run). Read-only; :meth:`.read_service.SchedulerJobsReadService.status`
calls :func:`store_status`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import StoreSystemError, WhaleFallSchedError
from whalefall_sched.services.dto import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_UNREADABLE,
    iso,
    utc_z,
)
from whalefall_sched.services.items import job_state_name, unreadable_job
from whalefall_sched.services.store_dto import UNKNOWN_JOB_COUNTS, StoreStatus

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository, SchedulerLock, StoredJob
    from whalefall_sched.services.history_dto import SchedulerRuns

#: A running job due this many seconds ago and still not moved on is overdue: a running
#: scheduler moves a due row on within moments, so no scheduler is processing the store.
#: Its misfire grace is not waited out (the host's is 300 s).
OVERDUE_AFTER = 30
#: Where there is no scheduler lock file to look at (PostgreSQL, MySQL).
NO_LOCK_NOTE = (
    "no scheduler lock file on this kind of store: whether a scheduler is processing it "
    "is judged only by overdue jobs"
)


def store_status(
    repo: JobStoreRepository,
    now: datetime,
    scheduler_runs: Callable[[], SchedulerRuns | None] | None = None,
) -> StoreStatus:
    """Reachable, initialised, jobs by state, unreadable and overdue jobs, the lock.

    A store that cannot be reached is a status too: ``reachable`` False, with the
    ``error`` every command reports (exit code 5). ``scheduler_runs`` reads the run
    history's evidence (runs the scheduler started), when there is a history. Read-only.
    """
    try:
        return _status(repo, now, scheduler_runs)
    except StoreSystemError as exc:
        message = str(exc)  # the repository's errors mask the URL's password
        return StoreStatus(
            store=repo.where,
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


def _status(
    repo: JobStoreRepository,
    now: datetime,
    scheduler_runs: Callable[[], SchedulerRuns | None] | None,
) -> StoreStatus:
    where = repo.where
    lock = repo.scheduler_lock()
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
    if not repo.exists():
        # No SQLite file (or no directory) is nothing to reach: not reachable, and not
        # initialised as a missing table is (exit 4); the reason names the path.
        # With no file there is nothing to count or to judge a scheduler by: the
        # counts are unknown and there is no liveness.
        missing = repo.connection.not_initialised()
        path = repo.sqlite_path()
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
    for stored in repo.list_jobs():
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
    _with_history(liveness, _evidence(scheduler_runs, notes), now)
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


def _evidence(
    scheduler_runs: Callable[[], SchedulerRuns | None] | None, notes: list[str]
) -> SchedulerRuns | None:
    """The run history's evidence for ``status``; a history that cannot be read is
    a note (``notes``, in the document), never a failure."""
    if scheduler_runs is None:
        return None
    try:
        return scheduler_runs()
    except WhaleFallSchedError as exc:
        notes.append(f"{exc}; the run history is not judged")
        return None


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
        return unreadable_job(job, exc), None
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
