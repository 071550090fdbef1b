"""The seed's actions service: pause, resume, run in the background, reload, restore."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from whalefall_sched.errors import (
    StoreConflictError,
    WhaleFallSchedError,
)
from whalefall_sched.repository import StoredJob
from whalefall_sched.services.action_dto import (
    JobActionOutcome,
    JobActionResult,
    JobActionsResult,
)
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, iso
from whalefall_sched.services.fire_times import FireTimeSearchLimitError, next_fire_time
from whalefall_sched.services.job_ids import by_id_or_name
from whalefall_sched.services.manual_run import ManualRuns
from whalefall_sched.services.replacement import MAX_BACKUP_BYTES, Replacement, Replacements
from whalefall_sched.services.run_state import BACKGROUND_EXECUTION_EXCEPTIONS
from whalefall_sched.services.wake_up import after_commit, wake_up_notes

__all__ = [
    "BACKGROUND_EXECUTION_EXCEPTIONS",
    "MAX_BACKUP_BYTES",
    "Replacement",
    "SchedulerActionsService",
]


class SchedulerActionsService(ManualRuns, Replacements):
    """The seed's actions service: pause and resume here; run (``manual_run.py``) and
    reload/restore (``replacement.py``) in their modules. Every write is a
    compare-and-swap in the repository; the tasks file is read only by what needs it.
    """

    # -- pause / resume ------------------------------------------------------

    def pause_jobs(
        self, job_ids: Sequence[str], failed: Mapping[str, WhaleFallSchedError] | None = None
    ) -> JobActionsResult:
        """:meth:`pause_job` each id once, in order; a failed id does not stop the others.
        An id in ``failed`` (a selection's unknown one) is reported with its error, not
        acted on."""
        return self._each("pause", self.pause_job, job_ids, failed or {})

    def resume_jobs(
        self, job_ids: Sequence[str], failed: Mapping[str, WhaleFallSchedError] | None = None
    ) -> JobActionsResult:
        """:meth:`resume_job` each id once, in order; a failed id does not stop the others.
        An id in ``failed`` is reported with its error, not acted on."""
        return self._each("resume", self.resume_job, job_ids, failed or {})

    def _each(
        self,
        action: str,
        act: Callable[[str], JobActionResult],
        job_ids: Sequence[str],
        failed: Mapping[str, WhaleFallSchedError],
    ) -> JobActionsResult:
        outcomes: list[JobActionOutcome] = []
        for job_id in dict.fromkeys(job_ids):
            if job_id in failed:
                outcomes.append(JobActionOutcome(job_id, error=failed[job_id]))
                continue
            try:
                result = by_id_or_name(self._repo, job_id, act)
                outcomes.append(JobActionOutcome(job_id, result=result))
            except WhaleFallSchedError as exc:
                outcomes.append(JobActionOutcome(job_id, error=exc))
        return JobActionsResult(action, outcomes)

    def pause_job(self, job_id: str) -> JobActionResult:
        """Clear the job's next run time, as stock ``pause_job`` does."""

        def change(job: StoredJob) -> dict[str, Any] | None:
            assert job.decoded is not None
            if job.decoded.get("next_run_time") is None:
                return None
            return {**job.decoded, "next_run_time": None}

        outcome = self._repo.modify_job(job_id, change, event=self._audit.entry("pause"))
        if outcome.after is None:
            return JobActionResult(job_id, "pause", False, STATE_PAUSED, None, "already paused")
        # A scheduler reads due jobs from the store when it wakes: a paused row is skipped.
        return JobActionResult(
            job_id, "pause", True, STATE_PAUSED, None, "paused", list(outcome.notes)
        )

    def resume_job(self, job_id: str, now: datetime | None = None) -> JobActionResult:
        """Set the next run time from the job's own trigger, as stock ``resume_job`` does.

        Where stock APScheduler would delete a job whose trigger has no future fire time,
        the job is left paused and a conflict raised.
        """

        def change(job: StoredJob) -> dict[str, Any] | None:
            assert job.decoded is not None
            if job.decoded.get("next_run_time") is not None:
                return None
            return {**job.decoded, "next_run_time": self._next_fire_time(job, now)}

        outcome = self._repo.modify_job(job_id, change, event=self._audit.entry("resume"))
        if outcome.after is None:
            current = outcome.before.decoded or {}
            return JobActionResult(
                job_id,
                "resume",
                False,
                STATE_RUNNING,
                iso(current.get("next_run_time")),
                "already running",
            )
        after = outcome.after.decoded or {}
        next_time = after.get("next_run_time")
        notes = list(outcome.notes)
        if next_time is not None:
            grace = after.get("misfire_grace_time")
            notes += after_commit(lambda: wake_up_notes(self._repo, {job_id: (next_time, grace)}))
        return JobActionResult(
            job_id, "resume", True, STATE_RUNNING, iso(next_time), "resumed", notes
        )

    @staticmethod
    def _next_fire_time(job: StoredJob, now: datetime | None) -> datetime:
        assert job.decoded is not None
        trigger = job.decoded["trigger"]
        now = now or datetime.now(getattr(trigger, "timezone", None) or UTC)
        try:
            next_time = next_fire_time(trigger, now)
        except FireTimeSearchLimitError as exc:
            raise StoreConflictError(f"job {job.id!r}: {exc}; left paused") from exc
        if next_time is None:
            raise StoreConflictError(
                f"job {job.id!r} has no future fire time ({trigger}); left paused "
                "(stock APScheduler would delete it)"
            )
        grace = job.decoded.get("misfire_grace_time")
        late = (now - next_time).total_seconds()
        if grace is not None and late > grace:
            raise StoreConflictError(
                f"job {job.id!r} would next fire at {next_time.isoformat()}, "
                f"{late:.0f}s ago, past its misfire grace of {grace}s: the scheduler would "
                "skip and delete it; left paused (use `run` to run it now)"
            )
        return next_time
