"""Changing one job's schedule (``reschedule``): what the host API's ``PUT /jobs/<id>``
does, written with compare-and-swap and the due-row guard (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from whalefall_sched.errors import ExitCode, InvalidInputError, StoreConflictError
from whalefall_sched.repository import StoredJob
from whalefall_sched.services.actions_base import ActionsBase
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, iso, utc_z, with_utc
from whalefall_sched.services.fire_times import FireTimeSearchLimitError, next_fire_time
from whalefall_sched.services.job_ids import find_job
from whalefall_sched.services.trigger_spec import TriggerSpec, build_trigger
from whalefall_sched.services.wake_up import after_commit, wake_up_notes

#: The zone of a new trigger when the job's trigger has none: the host's (its PUT always
#: builds ``CronTrigger(timezone="Asia/Shanghai", ...)``).
HOST_ZONE = "Asia/Shanghai"
#: How many fire times ``reschedule`` shows before and after.
SHOWN_FIRE_TIMES = 5


def _fire_times(trigger: Any, now: datetime) -> list[str]:
    from whalefall_sched.services.timeline import fire_times

    times, _capped, _problem, _notes = fire_times(trigger, now, count=SHOWN_FIRE_TIMES)
    return [t.isoformat() for t in times]


@dataclass(frozen=True)
class JobRescheduleResult:
    """A job's new trigger: what was written (or, in a dry run, would be)."""

    TIME_FIELDS: ClassVar[tuple[str, ...]] = ("previous_next_run_time", "next_run_time")

    id: str
    #: False in a dry run.
    changed: bool
    dry_run: bool
    #: The job's state after the change.
    state: str
    previous_trigger: str
    trigger: str
    previous_next_run_time: str | None
    next_run_time: str | None
    #: The next fire times of the old and the new trigger (at most 5 each, from now).
    previous_fire_times: list[str]
    fire_times: list[str]
    message: str
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: each time with its ``_utc`` twin, lists included."""
        document: dict[str, Any] = {
            "id": self.id,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "state": self.state,
            "previous_trigger": self.previous_trigger,
            "trigger": self.trigger,
            "previous_next_run_time": self.previous_next_run_time,
            "next_run_time": self.next_run_time,
            "previous_fire_times": self.previous_fire_times,
            "previous_fire_times_utc": [utc_z(t) for t in self.previous_fire_times],
            "fire_times": self.fire_times,
            "fire_times_utc": [utc_z(t) for t in self.fire_times],
            "message": self.message,
            "notes": self.notes,
        }
        return with_utc(document, self.TIME_FIELDS)


class JobReschedules(ActionsBase):
    """``reschedule`` over one store. The tasks file is read only to tell a built-in job
    (``reschedule`` without ``force``)."""

    def reschedule_job(
        self,
        job_id: str,
        spec: TriggerSpec,
        *,
        zone: tzinfo | None = None,
        keep_paused: bool = False,
        dry_run: bool = False,
        force: bool = False,
        now: datetime | None = None,
    ) -> JobRescheduleResult:
        """Replace the job's trigger and set its next run time from the new trigger, as
        stock ``reschedule_job`` (and the host's PUT) does; a paused job is resumed
        unless ``keep_paused``. Only built-in jobs unless ``force``, as the host allows.
        """
        from zoneinfo import ZoneInfo

        build_trigger(spec, zone or ZoneInfo(HOST_ZONE))  # a bad schedule: nothing read
        job = find_job(self._repo, job_id)
        job_id = job.id
        if not force and job_id not in self._tasks.builtin_ids:
            raise StoreConflictError(
                f"job {job_id!r} is not a built-in task; the host only lets built-in jobs "
                "be rescheduled, so nothing was changed (pass --force to reschedule it)"
            )
        if job.decoded is None:
            raise StoreConflictError(
                f"job {job_id!r} cannot be decoded ({job.unreadable_reason}); left unchanged"
            )
        planned: dict[str, Any] = {}

        def plan(current: StoredJob) -> dict[str, Any]:
            assert current.decoded is not None
            state = current.decoded
            old = state["trigger"]
            tz = zone or getattr(old, "timezone", None) or ZoneInfo(HOST_ZONE)
            trigger = build_trigger(spec, tz)
            at = now or datetime.now(tz)
            try:
                next_time = next_fire_time(trigger, at)
            except FireTimeSearchLimitError as exc:
                raise InvalidInputError(f"the new trigger {trigger}: {exc}") from exc
            if next_time is None or next_time < at:  # a --date already past
                raise InvalidInputError(
                    f"the new trigger {trigger} has no fire time after now; nothing changed"
                )
            paused = state.get("next_run_time") is None
            new_next = None if (paused and keep_paused) else next_time
            planned.update(old=old, trigger=trigger, at=at, before=state.get("next_run_time"))
            return {**state, "trigger": trigger, "next_run_time": new_next}

        if dry_run:
            new_state = plan(job)
            notes: list[str] = []
        else:
            outcome = self._repo.modify_job(job_id, plan, event=self._audit.entry("reschedule"))
            assert outcome.after is not None and outcome.after.decoded is not None
            new_state = outcome.after.decoded
            notes = list(outcome.notes)
            next_time = new_state.get("next_run_time")
            if next_time is not None:
                grace = new_state.get("misfire_grace_time")
                notes += after_commit(
                    lambda: wake_up_notes(self._repo, {job_id: (next_time, grace)})
                )
        new_next = new_state.get("next_run_time")
        if new_next is None:
            message = "would be rescheduled, kept paused" if dry_run else "rescheduled, kept paused"
        else:
            message = "would be rescheduled" if dry_run else "rescheduled"
        return JobRescheduleResult(
            id=job_id,
            changed=not dry_run,
            dry_run=dry_run,
            state=STATE_PAUSED if new_next is None else STATE_RUNNING,
            previous_trigger=str(planned["old"]),
            trigger=str(new_state["trigger"]),
            previous_next_run_time=iso(planned["before"]),
            next_run_time=iso(new_next),
            previous_fire_times=_fire_times(planned["old"], planned["at"]),
            fire_times=_fire_times(new_state["trigger"], planned["at"]),
            message=message,
            notes=notes,
        )
