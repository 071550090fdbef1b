"""Writing beside a live scheduler: never under the feet of its ``update_job``.

A scheduler in another process reads the rows that are due, runs their jobs, then
rewrites each row with ``update_job``. A write of ours to a row in that window would be
silently reverted (or, for a deleted row, kill the scheduler's thread with
``JobLookupError``). So before writing, :class:`DueRowGuard` looks at the rows a write
touches:

- none is due: write now;
- some are due and a scheduler moves them on within ``wait`` seconds: decide again at
  once on the moved rows (a scheduler has now been seen, so only rows due within
  ``SAFE_GAP`` seconds count as due);
- a scheduler was seen but keeps rows due for all of ``wait``: refuse, nothing written;
- nothing moves them: no scheduler is processing them, write anyway (with a note), then
  look again ``settle`` seconds later and re-apply if a scheduler reverted the write.

A write that loses a compare-and-swap is prepared again from fresh rows, at most
``attempts`` times. The clock and ``sleep`` are parameters, so every branch is tested in
milliseconds; docs/architecture.md has the whole decision table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from whalefall_sched.errors import StoreConflictError
from whalefall_sched.repository.rows import StoredJob, same_intent

T = TypeVar("T")

#: A row overdue for longer than this is not being processed by any scheduler.
STALE_AFTER = 30.0
#: Once a scheduler is seen moving rows on, a row this far from due can be written.
SAFE_GAP = 0.5
#: Seconds between two looks at a due row while waiting for a scheduler to move it on.
POLL_INTERVAL = 0.2


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """One round of a guarded write, prepared from rows just read."""

    #: The rows the write changes or removes, as read (an empty list writes at once).
    rows: Sequence[StoredJob]
    #: Performs the write; returns None when the store moved meanwhile (a lost race).
    write: Callable[[], T | None]
    #: What a result left in the store, by id (an id it removed is absent).
    written: Callable[[T], Mapping[str, StoredJob | None]] = lambda _: {}


@dataclass(frozen=True)
class Guarded(Generic[T]):
    """A write's result and what the operator should know about how it went."""

    result: T
    notes: list[str]


def _jobs(ids: Sequence[str]) -> str:
    quoted = ", ".join(repr(i) for i in ids)
    return f"job {quoted} was" if len(ids) == 1 else f"jobs {quoted} were"


class DueRowGuard:
    """Runs a write so that a live scheduler's ``update_job`` can neither revert nor crash on it."""

    def __init__(
        self,
        current: Callable[[str], StoredJob | None],
        *,
        wait: float,
        due_margin: float,
        settle: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        #: Reads one row afresh (None when it is gone).
        self.current = current
        #: Longest wait for a scheduler to move a due row on.
        self.wait = wait
        #: A row due within this many seconds counts as due.
        self.due_margin = due_margin
        #: Pause before looking again at a row written without a scheduler moving it on.
        self.settle = settle
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.poll_interval = poll_interval

    def is_due(self, job: StoredJob, *, scheduler_seen: bool = False) -> bool:
        """Whether a live scheduler may be about to read this row as due, or is doing so.

        A row overdue for longer than ``STALE_AFTER`` seconds is not waited for: a running
        scheduler moves a due row on within moments. Once a scheduler has been seen moving
        rows on, a row counts as due only within ``SAFE_GAP`` seconds.
        """
        if job.next_run_time is None:
            return False
        now = self.clock()
        ahead = SAFE_GAP if scheduler_seen else self.due_margin
        return now - STALE_AFTER <= job.next_run_time <= now + ahead

    def run(
        self,
        prepare: Callable[[], Attempt[T]],
        *,
        attempts: int,
        gave_up: Callable[[], StoreConflictError],
    ) -> Guarded[T]:
        """Prepare and perform a write until it lands; ``gave_up`` after ``attempts`` lost races."""
        deadline = self.monotonic() + self.wait
        notes: list[str] = []
        forced: set[str] = set()
        scheduler_seen = False
        lost = 0
        while lost < attempts:
            attempt = prepare()
            due = [
                job
                for job in attempt.rows
                if job.id not in forced and self.is_due(job, scheduler_seen=scheduler_seen)
            ]
            if due:
                if self._wait_until_moved(due, deadline):
                    scheduler_seen = True
                    continue  # moved on: decide again on the new rows, at once
                ids = sorted(job.id for job in due)
                if scheduler_seen:
                    raise StoreConflictError(
                        f"a running scheduler kept job(s) {', '.join(ids)} due for "
                        f"{self.wait:g}s (--wait); nothing written, try again or raise --wait"
                    )
                forced.update(ids)
                notes.append(
                    f"{_jobs(ids)} due and no running scheduler moved "
                    f"{'it' if len(ids) == 1 else 'them'} on within {self.wait:g}s; "
                    "written anyway"
                )
            result = attempt.write()
            if result is None:
                lost += 1
                continue
            if forced and self.settle > 0:
                reverted = self._reverted(attempt.written(result), forced)
                if reverted:
                    # Nothing moved the rows while we waited, yet a scheduler held them.
                    lost += 1
                    notes.append(f"{_jobs(reverted)} rewritten by another process; re-applied")
                    continue
            return Guarded(result, notes)
        raise gave_up()

    def _wait_until_moved(self, jobs: Sequence[StoredJob], deadline: float) -> bool:
        """Poll until any of ``jobs`` differs from what was read (a scheduler moved it on)."""
        while self.monotonic() < deadline:
            self.sleep(min(self.poll_interval, max(0.0, deadline - self.monotonic())))
            for job in jobs:
                current = self.current(job.id)
                if current is None or current.raw_job_state != job.raw_job_state:
                    return True
        return False

    def _reverted(self, written: Mapping[str, StoredJob | None], ids: set[str]) -> list[str]:
        """Which of ``ids``, ``settle`` seconds on, no longer hold what was written.

        A scheduler that merely ran a written job and moved its next run time on does
        not count: function, trigger, arguments, name and paused state are compared.
        """
        self.sleep(self.settle)
        return sorted(i for i in ids if not same_intent(self.current(i), written.get(i)))
