"""Changing one job's schedule (``reschedule``) and removing jobs (``delete``): what the
host API's ``PUT /jobs/<id>`` and ``DELETE /jobs/<id>`` do, written with compare-and-swap
and the due-row guard (docs/architecture.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal

from whalefall_sched.errors import (
    ExitCode,
    InvalidInputError,
    StoreConflictError,
    WhaleFallSchedError,
)
from whalefall_sched.repository import StoredJob
from whalefall_sched.services.actions_base import ActionsBase
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, iso, utc_z, with_utc
from whalefall_sched.services.fire_times import FireTimeSearchLimitError, next_fire_time
from whalefall_sched.services.job_ids import find_job
from whalefall_sched.services.wake_up import after_commit, wake_up_notes

#: The zone of a new trigger when the job's trigger has none: the host's (its PUT always
#: builds ``CronTrigger(timezone="Asia/Shanghai", ...)``).
HOST_ZONE = "Asia/Shanghai"
#: How many fire times ``reschedule`` shows before and after.
SHOWN_FIRE_TIMES = 5
#: The host's field order for 7, 6 and 5 cron fields (``_collect_cron_fields``); with 5
#: fields ``second`` is ``"0"``. ``week`` is never given (APScheduler's default ``*``).
CRON_LAYOUTS: dict[int, tuple[str, ...]] = {
    7: ("second", "minute", "hour", "day", "month", "day_of_week", "year"),
    6: ("second", "minute", "hour", "day", "month", "day_of_week"),
    5: ("minute", "hour", "day", "month", "day_of_week"),
}
_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INTERVAL_PART = re.compile(r"(\d+)([smhdw])")
#: The longest interval: a hundred years (APScheduler's arithmetic stays in range).
MAX_INTERVAL = timedelta(days=36500)


@dataclass(frozen=True)
class TriggerSpec:
    """A new schedule as given: a cron expression, an interval or a one-shot date."""

    kind: Literal["cron", "interval", "date"]
    text: str


def cron_fields(expression: str) -> dict[str, str]:
    """The cron fields of a 5-, 6- or 7-field expression, exactly as the host's PUT
    splits it (whitespace; 5 fields get ``second`` ``"0"``). The values are not checked
    here (:func:`build_trigger` does, naming the field)."""
    parts = expression.split()
    layout = CRON_LAYOUTS.get(len(parts))
    if layout is None:
        raise InvalidInputError(
            f"cron expression {expression!r} has {len(parts)} field(s); give 5 (minute hour "
            "day month day_of_week), 6 (second first) or 7 (second first, year last)"
        )
    fields = dict(zip(layout, parts, strict=True))
    if len(parts) == 5:
        fields = {"second": "0", **fields}
    return fields


def parse_interval(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or a sum such as ``1h30m``; a bare number
    is seconds."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    elif value and _INTERVAL_PART.sub("", value) == "":
        seconds = sum(int(n) * _INTERVAL_UNITS[u] for n, u in _INTERVAL_PART.findall(value))
    else:
        raise InvalidInputError(
            f"--interval {text!r} is not a duration; give e.g. 90s, 15m, 2h, 1d or 1h30m"
        )
    if seconds <= 0 or timedelta(seconds=seconds) > MAX_INTERVAL:
        raise InvalidInputError(f"--interval {text!r} must be more than 0s and at most 36500d")
    return timedelta(seconds=seconds)


def parse_date(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or time; without an offset it is in ``zone``."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"--date {text!r} is not an ISO 8601 time; give e.g. 2026-08-01T03:00 "
            "or 2026-08-01T03:00+08:00"
        ) from None
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def build_trigger(spec: TriggerSpec, zone: tzinfo) -> Any:
    """The APScheduler trigger of ``spec`` in ``zone``; a usage error naming what is wrong
    (for cron, the field)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.kind == "interval":
        return IntervalTrigger(
            seconds=int(parse_interval(spec.text).total_seconds()), timezone=zone
        )
    if spec.kind == "date":
        return DateTrigger(run_date=parse_date(spec.text, zone), timezone=zone)
    fields = cron_fields(spec.text)
    for name, value in fields.items():
        try:
            CronTrigger(timezone=zone, **{name: value})
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                f"cron expression {spec.text!r}: field {name} {value!r} is invalid: {exc}"
            ) from None
    try:
        return CronTrigger(timezone=zone, **fields)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"cron expression {spec.text!r} is invalid: {exc}") from None


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


@dataclass(frozen=True)
class JobDeleteOutcome:
    """One id given to ``delete``: the id deleted, or the error."""

    given: str
    #: The id of the row deleted (the id given, or the id of the job so named).
    id: str | None = None
    error: WhaleFallSchedError | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobDeleteResult:
    """A ``delete`` of several ids: one outcome per id, in the order given."""

    outcomes: list[JobDeleteOutcome]
    #: The backup of every row taken before the first delete (None without one).
    backup_path: str | None = None

    @property
    def deleted(self) -> list[str]:
        return [o.id for o in self.outcomes if o.id is not None and o.error is None]

    @property
    def errors(self) -> list[tuple[str, WhaleFallSchedError]]:
        return [(o.given, o.error) for o in self.outcomes if o.error is not None]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(n for o in self.outcomes for n in o.notes))

    @property
    def exit_code(self) -> int:
        """0, or the exit code of the first id that failed."""
        errors = self.errors
        return int(errors[0][1].exit_code) if errors else int(ExitCode.OK)

    def to_dict(self) -> dict[str, Any]:
        """``{"deleted": [...], "backup_path", "errors": [{"id", "error"}...], "error"}``."""
        errors = [{"id": given, "error": error.to_dict()} for given, error in self.errors]
        return {
            "deleted": self.deleted,
            "backup_path": self.backup_path,
            "errors": errors,
            "error": errors[0]["error"] if errors else None,
            "notes": self.notes,
        }


class JobChangesService(ActionsBase):
    """``reschedule`` and ``delete`` over one store. The tasks file is read only to tell
    a built-in job (``reschedule`` without ``force``)."""

    # -- reschedule ------------------------------------------------------------

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

    # -- delete ----------------------------------------------------------------

    def resolve_ids(self, job_ids: Sequence[str]) -> list[JobDeleteOutcome]:
        """Each id given once, in order: the stored id it names (an id, or a job's exact
        name), or why none (not found, exit 3, with the nearest ids). Read-only."""
        self._repo.require_store()  # a missing store is one error, not one per id
        resolved: list[JobDeleteOutcome] = []
        for given in dict.fromkeys(job_ids):
            try:
                resolved.append(JobDeleteOutcome(given, find_job(self._repo, given).id))
            except WhaleFallSchedError as exc:
                resolved.append(JobDeleteOutcome(given, error=exc))
        return resolved

    def delete_jobs(
        self, resolved: Sequence[JobDeleteOutcome], *, backup_dir: Path | None
    ) -> JobDeleteResult:
        """Delete each resolved id (from :meth:`resolve_ids`), one failure not stopping
        the others. Every row is saved to ``backup_dir`` first (``restore`` puts back
        every job of that backup); each delete is a compare-and-swap under the due-row
        guard, so a live scheduler's ``update_job`` never meets a vanished row."""
        targets = [o for o in resolved if o.error is None and o.id is not None]
        backup = None
        if targets and backup_dir is not None:
            backup = self._repo.backup_rows(backup_dir)
        outcomes: list[JobDeleteOutcome] = []
        done: set[str] = set()
        for outcome in resolved:
            if outcome.error is not None or outcome.id is None:
                outcomes.append(outcome)
                continue
            if outcome.id in done:  # an id and a name of the same job
                continue
            try:
                removed = self._repo.delete_job(outcome.id, event=self._audit.entry("delete"))
            except WhaleFallSchedError as exc:
                outcomes.append(JobDeleteOutcome(outcome.given, outcome.id, exc))
                continue
            done.add(outcome.id)
            outcomes.append(JobDeleteOutcome(outcome.given, outcome.id, notes=removed.notes))
        return JobDeleteResult(outcomes, str(backup) if backup is not None else None)
