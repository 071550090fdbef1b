"""What a replacement (reload, restore) changes, job by job: a diff of decoded states.

The old rows are read undecoded for the replacement itself; only the preview and the
final report decode them here, each row once and safely (a row that cannot be decoded
is shown as ``unreadable -> replaced``). A next run time that differs, and nothing
else, is not a change: every reload recomputes it. An interval trigger's
``start_date`` (its phase) is not compared either: a reload sets it to the time of the
reload unless the tasks file gives one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from whalefall_sched.repository import StoredJob
from whalefall_sched.repository.rows import decode_row
from whalefall_sched.services.dto import jsonable
from whalefall_sched.services.store_dto import SchedulerJobsReloadResult

#: Why a job is removed, by where the new rows come from.
REMOVED_NOT_IN_FILE = "not in the tasks file"
REMOVED_DISABLED = "disabled in the tasks file (enabled: false)"
REMOVED_NOT_IN_BACKUP = "not in the backup"

#: The fields compared, in the order they are shown.
JOB_FIELDS = (
    "func",
    "args",
    "kwargs",
    "name",
    "executor",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
)
_CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")


@dataclass(frozen=True)
class RemovedJob:
    """A job the replacement deletes, and why."""

    id: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "reason"}``."""
        return {"id": self.id, "reason": self.reason}


@dataclass(frozen=True)
class ChangedJob:
    """A kept job whose definition changes: each changed field's old and new value.

    ``unreadable`` is the reason the old row could not be decoded (then ``fields`` is
    empty: the row is replaced whatever it held).
    """

    id: str
    fields: dict[str, tuple[Any, Any]]
    unreadable: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "fields": {field: {"old", "new"}}}``, plus ``unreadable`` for such a row."""
        document: dict[str, Any] = {
            "id": self.id,
            "fields": {
                name: {"old": jsonable(old), "new": jsonable(new)}
                for name, (old, new) in self.fields.items()
            },
        }
        if self.unreadable is not None:
            document["unreadable"] = self.unreadable
        return document


@dataclass(frozen=True)
class ReplacementDiff:
    """Per job what a replacement does: added, removed (and why), changed (field by
    field), unchanged, and paused jobs it resumes (or running jobs it writes paused)."""

    added: list[str] = field(default_factory=list)
    removed: list[RemovedJob] = field(default_factory=list)
    changed: list[ChangedJob] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: Paused now, running after (``! paused -> running``).
    resumed: list[str] = field(default_factory=list)
    #: Running now, paused after (a restore, or a task with ``paused: true``).
    paused: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """``2 changed, 1 removed, 1 paused job would resume`` (``no change`` when empty)."""
        return self.summary_text(dry=True)

    def summary_text(self, *, dry: bool) -> str:
        """The summary line, in the conditional (``would resume``) or the past."""
        parts = [
            f"{len(self.added)} added" if self.added else "",
            f"{len(self.changed)} changed" if self.changed else "",
            f"{len(self.removed)} removed" if self.removed else "",
            f"{len(self.unchanged)} unchanged" if self.unchanged else "",
        ]
        if self.resumed:
            n = len(self.resumed)
            verb = "would resume" if dry else "resumed"
            parts.append(f"{n} paused job{'s' if n != 1 else ''} {verb}")
        if self.paused:
            n = len(self.paused)
            verb = "would be paused" if dry else "paused"
            parts.append(f"{n} running job{'s' if n != 1 else ''} {verb}")
        text = ", ".join(p for p in parts if p)
        return text or "no job"

    def to_dict(self) -> dict[str, Any]:
        """``added, removed [{id, reason}], changed [{id, fields}], unchanged, resumed,
        paused, summary``."""
        return {
            "added": list(self.added),
            "removed": [job.to_dict() for job in self.removed],
            "changed": [job.to_dict() for job in self.changed],
            "unchanged": list(self.unchanged),
            "resumed": list(self.resumed),
            "paused": list(self.paused),
            "summary": self.summary,
        }


class Decoder:
    """Decodes old rows for a diff, each distinct row once (a preview and the report
    after it share one)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, bytes], StoredJob] = {}

    def __call__(self, row: StoredJob) -> StoredJob:
        if row.decoded is not None or row.unreadable_reason is not None:
            return row
        key = (row.id, row.job_state)
        found = self._cache.get(key)
        if found is None:
            found = decode_row(row.raw_id, row.next_run_time, row.raw_job_state)
            self._cache[key] = found
        return found


def replacement_diff(
    old: Sequence[StoredJob],
    new: Sequence[StoredJob],
    *,
    removal_reason: Callable[[str], str],
    decode: Callable[[StoredJob], StoredJob] | None = None,
) -> ReplacementDiff:
    """The diff of replacing the ``old`` rows (decoded here) by the ``new`` ones."""
    decode = decode or Decoder()
    new_by_id = {row.id: row for row in new}
    old_ids = {row.id for row in old}
    diff = ReplacementDiff(added=[row.id for row in new if row.id not in old_ids])
    for row in sorted(old, key=lambda r: r.id):
        target = new_by_id.get(row.id)
        if target is None:
            diff.removed.append(RemovedJob(row.id, removal_reason(row.id)))
            continue
        was_paused = row.next_run_time is None
        now_paused = _paused(target)
        if was_paused and not now_paused:
            diff.resumed.append(row.id)
        elif now_paused and not was_paused:
            diff.paused.append(row.id)
        if row.raw_job_state is not None and row.raw_job_state == target.raw_job_state:
            diff.unchanged.append(row.id)  # the very same bytes: nothing to decode
            continue
        before = decode(row)
        if before.decoded is None:
            reason = before.unreadable_reason or "cannot be decoded"
            diff.changed.append(ChangedJob(row.id, {}, reason))
            continue
        changes = field_changes(before.decoded, target.decoded or {})
        if changes:
            diff.changed.append(ChangedJob(row.id, changes))
        elif was_paused == now_paused:
            diff.unchanged.append(row.id)
    return diff


def _paused(row: StoredJob) -> bool:
    if row.decoded is not None:
        return row.decoded.get("next_run_time") is None
    return row.next_run_time is None


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Each field of two decoded job states that differs: ``{field: (old, new)}``."""
    a, b = job_fields(old), job_fields(new)
    return {key: (a.get(key), b.get(key)) for key in _ordered(a, b) if a.get(key) != b.get(key)}


def _ordered(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def job_fields(state: dict[str, Any]) -> dict[str, Any]:
    """A decoded job state as comparable, displayable fields: the trigger's type, zone
    and fields (``trigger.hour``...), then the job's own (:data:`JOB_FIELDS`)."""
    fields = trigger_fields(state.get("trigger"))
    for key in JOB_FIELDS:
        value = state.get(key)
        if key == "args" and isinstance(value, tuple):
            value = list(value)
        fields[key] = value
    return fields


def trigger_fields(trigger: Any) -> dict[str, Any]:
    """``trigger`` (its type), ``zone``, and each field of a cron, interval or date trigger."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if isinstance(trigger, CronTrigger):
        fields: dict[str, Any] = {"trigger": "cron", "zone": _zone(trigger)}
        by_name = {f.name: str(f) for f in trigger.fields}
        fields |= {f"trigger.{name}": by_name.get(name) for name in _CRON_FIELDS}
        fields["trigger.start_date"] = _time(trigger.start_date)
        fields["trigger.end_date"] = _time(trigger.end_date)
        fields["trigger.jitter"] = trigger.jitter
        return fields
    if isinstance(trigger, IntervalTrigger):
        return {
            "trigger": "interval",
            "zone": _zone(trigger),
            "trigger.interval": str(trigger.interval),
            "trigger.end_date": _time(trigger.end_date),
            "trigger.jitter": trigger.jitter,
        }
    if isinstance(trigger, DateTrigger):
        return {
            "trigger": "date",
            "zone": _zone_of(trigger.run_date),
            "trigger.run_date": _time(trigger.run_date),
        }
    return {"trigger": str(trigger)}


def _zone(trigger: Any) -> str | None:
    zone = getattr(trigger, "timezone", None)
    return None if zone is None else str(zone)


def _zone_of(value: datetime | None) -> str | None:
    if value is None or value.tzinfo is None:
        return None
    zone = value.tzinfo
    return str(getattr(zone, "key", None) or getattr(zone, "zone", None) or zone)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def show_value(value: Any) -> str:
    """A field's value for the human diff: text as it is, ``-`` for none, else JSON."""
    import json

    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, timedelta):
        return str(value)
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class ReplacementResult(SchedulerJobsReloadResult):
    """A reload's or restore's result with its diff: the JSON keeps every key of
    :class:`SchedulerJobsReloadResult` and adds the diff under ``diff``."""

    diff: ReplacementDiff = field(default_factory=ReplacementDiff)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the result, then ``diff``."""
        diff = self.diff.to_dict()
        diff["summary"] = self.diff.summary_text(dry=self.dry_run)
        return {**super().to_dict(), "diff": diff}
