"""Fire times ahead, from each job's own trigger: ``get --next`` and ``timeline``.

Every search goes through :class:`~whalefall_sched.services.fire_times.FireTimeSearch`:
each step of a trigger's search is bounded (a trigger that never fires ends with a
problem, not a hang), one job's searches share a budget, and at most ``cap`` fire
times are computed per job (an every-second job is capped, not a million times long).
Read-only: the rows are read, nothing is written.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from whalefall_sched.errors import InvalidInputError, StoreSystemError, WhaleFallSchedError
from whalefall_sched.repository import JobStoreRepository, StoredJob
from whalefall_sched.services.dto import STATE_PAUSED, STATE_UNREADABLE
from whalefall_sched.services.fire_times import (
    TRIGGER_STEPS,
    FireTimeSearch,
    FireTimeSearchLimitError,
)
from whalefall_sched.services.items import job_state_name
from whalefall_sched.services.timeline_dto import Collision, JobFireTimes, Timeline

#: ``get --next N``: N at most.
MAX_NEXT = 1000
#: Fire times computed for one job in a timeline, at most.
FIRE_TIMES_CAP = 10_000
#: Search steps all of one job's fire-time searches may take together (a cron job firing
#: every second spends about ten a fire time).
JOB_STEPS = 400_000
#: The longest timeline window.
MAX_WINDOW = timedelta(days=31)


def job_fire_times(
    job: StoredJob,
    now: datetime,
    *,
    count: int | None = None,
    until: datetime | None = None,
    cap: int = FIRE_TIMES_CAP,
) -> JobFireTimes:
    """The fire times of ``job`` from ``now`` (included): the first ``count``, or those
    before ``until``, at most ``cap``. An unreadable job has none, and says why."""
    state = job_state_name(job)
    if job.decoded is None:
        return JobFireTimes(job.id, STATE_UNREADABLE, [], problem=job.unreadable_reason)
    try:
        trigger = job.decoded["trigger"]
        times, capped, problem, notes = fire_times(trigger, now, count=count, until=until, cap=cap)
    except Exception as exc:  # noqa: BLE001 - one job must not hide the others
        problem = f"cannot compute its fire times: {type(exc).__name__}: {exc}"
        return JobFireTimes(job.id, state, [], problem=problem)
    return JobFireTimes(job.id, state, times, capped=capped, problem=problem, notes=notes)


def fire_times(
    trigger: Any,
    now: datetime,
    *,
    count: int | None = None,
    until: datetime | None = None,
    cap: int = FIRE_TIMES_CAP,
    steps: int = JOB_STEPS,
) -> tuple[list[datetime], bool, str | None, list[str]]:
    """``trigger``'s fire times from ``now`` (included), as APScheduler iterates them:
    each next time searched from the one before (``get_next_fire_time(t, t)``).

    Stops after ``count`` times, at ``until`` (excluded), when the trigger fires no more,
    or after ``cap`` times (then ``capped``). Returns ``(times, capped, problem, notes)``:
    ``problem`` says why the search stopped early (its step limit or budget ran out, or
    the trigger did not move on). Jitter is left out, and a note says so.
    """
    notes: list[str] = []
    jitter = getattr(trigger, "jitter", None)
    if jitter:
        trigger = copy.copy(trigger)
        trigger.jitter = None
        notes.append(f"the trigger's jitter (up to {jitter}s) is not shown")
    limit = min(cap, count) if count is not None else cap
    search = FireTimeSearch(steps, budget_name="this job's")
    times: list[datetime] = []
    previous: datetime | None = None
    current = now
    while True:
        try:
            found = search.next_fire_time(trigger, current, previous, limit=TRIGGER_STEPS)
        except FireTimeSearchLimitError as exc:
            return times, False, str(exc), notes
        if found is None or (until is not None and found >= until):
            return times, False, None, notes
        if previous is not None and found <= previous:
            return times, False, f"the trigger did not move on from {found.isoformat()}", notes
        previous = current = found
        if found < now:
            continue  # a date trigger's time already past: not ahead
        if len(times) >= limit:
            return times, count is None, None, notes
        times.append(found)


def build_timeline(
    repository: JobStoreRepository,
    *,
    now: datetime,
    span: timedelta,
    zone: tzinfo,
    zone_name: str,
    cap: int = FIRE_TIMES_CAP,
) -> Timeline:
    """Every job's fire times from ``now`` for ``span`` (at most :data:`MAX_WINDOW`),
    and the minutes in which several jobs that are not paused fire."""
    if not timedelta(0) < span <= MAX_WINDOW:
        raise InvalidInputError(
            f"the timeline's window must be more than 0 and at most {MAX_WINDOW.days} days"
        )
    if now.tzinfo is None:
        raise InvalidInputError("now must carry a time zone")
    end = now + span
    try:
        rows = sorted(repository.list_jobs(), key=lambda job: job.id)
    except WhaleFallSchedError:
        raise
    except Exception as exc:
        raise StoreSystemError(f"reading the jobs failed: {type(exc).__name__}: {exc}") from exc
    jobs = [job_fire_times(row, now, until=end, cap=cap) for row in rows]
    return Timeline(
        start=now,
        end=end,
        zone=zone,
        zone_name=zone_name,
        jobs=jobs,
        collisions=collisions(jobs),
        cap=cap,
    )


def collisions(jobs: list[JobFireTimes]) -> list[Collision]:
    """The minutes (UTC) in which two or more jobs fire; paused and unreadable jobs fire
    nothing, so they collide with nothing."""
    by_minute: dict[datetime, set[str]] = defaultdict(set)
    for job in jobs:
        if job.state in (STATE_PAUSED, STATE_UNREADABLE):
            continue
        for when in job.fire_times:
            minute = when.astimezone(UTC).replace(second=0, microsecond=0)
            by_minute[minute].add(job.id)
    return [
        Collision(minute, sorted(ids)) for minute, ids in sorted(by_minute.items()) if len(ids) > 1
    ]
