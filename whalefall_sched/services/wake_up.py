"""When a scheduler in another process next wakes, and what a change tells the operator
about it: a job due before that wake-up starts late, or is skipped past its grace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from whalefall_sched.repository import JobStoreRepository

#: Next run times beyond year 9999 (or not finite) are not times a scheduler can wake at.
_LATEST = datetime.max.replace(tzinfo=UTC).timestamp()


def plausible(timestamp: float) -> bool:
    """Whether a ``next_run_time`` column holds a time a scheduler could wake up at."""
    return isinstance(timestamp, int | float) and -_LATEST < timestamp < _LATEST


def after_commit(notes: Callable[[], list[str]]) -> list[str]:
    """Notes worked out after a write committed: a failure here is a note, not an error."""
    try:
        return notes()
    except (ArithmeticError, ValueError, OSError, TypeError) as exc:
        return [f"could not work out when a running scheduler next wakes ({exc})"]


def utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def wake_up_notes(
    repo: JobStoreRepository,
    changed: dict[str, tuple[datetime, int | None]],
    planned: float | None = None,
) -> list[str]:
    """One note naming every job due before a running scheduler next wakes, if any.

    A scheduler in another process re-reads the store only when it wakes up, at the
    earliest next run time it saw (``planned``: by default the earliest among the
    store's other running jobs), unless the host app uses
    :func:`whalefall_sched.integration.watch_store`.
    """
    if planned is None:
        others = [
            j.next_run_time
            for j in repo.list_jobs()
            if j.id not in changed and j.next_run_time is not None and plausible(j.next_run_time)
        ]
        planned = min(others, default=None)
    early: list[str] = []  # "'id' (due <UTC time>)", for every job due before the wake-up
    skipped: list[str] = []  # the ids a scheduler waking that late would skip
    for job_id, (next_time, grace) in sorted(changed.items()):
        late = (planned - next_time.timestamp()) if planned is not None else None
        if late is not None and late <= 0:
            continue
        early.append(f"{job_id!r} (due {utc(next_time.timestamp())})")
        # with no planned wake-up, it may be any time: only a job without grace is safe
        if grace is not None and (late is None or late > grace):
            skipped.append(repr(job_id))
    if not early:
        return []
    wake = "only when a job is added or it restarts" if planned is None else f"at {utc(planned)}"
    note = (
        f"{', '.join(early)} {'is' if len(early) == 1 else 'are'} due before a running "
        f"scheduler next wakes to re-read the store ({wake}; times in UTC), unless the "
        "host app uses whalefall_sched.integration.watch_store"
    )
    if skipped:
        note += (
            f"; a run that late is past the misfire grace of {', '.join(skipped)}, "
            "so it would be skipped"
        )
    return [note]
