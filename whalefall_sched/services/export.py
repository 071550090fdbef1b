"""``export``: the store's jobs as a tasks file, so ``reload`` can rebuild them.

The host's YAML shape (``default_tasks``: id, name, function, trigger_type,
trigger_params, enabled, description) plus the tool's own keys where a job needs them:
``paused: true``, ``args``, ``kwargs``, a task's own ``job_defaults``, and at the top
``timezone``, ``job_defaults`` and the ``functions`` map of the short names used.
``trigger_params`` holds only what is not a default, as the host's file does. A job that
cannot be written so (an unreadable row, another executor, arguments that are not plain
YAML data, a trigger of another kind) is left out and listed in ``skipped``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from whalefall_sched.services.tasks_file import DEFAULT_JOB_DEFAULTS, DEFAULT_TIMEZONE

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository, StoredJob
    from whalefall_sched.services.tasks_file import TasksFile

_OPTION_KEYS = tuple(DEFAULT_JOB_DEFAULTS)
#: The most ids an incomplete export's error message names (``problems`` has them all).
_IDS_SHOWN = 10


@dataclass(frozen=True)
class ExportResult:
    """The tasks-file document of the store's jobs, and the jobs left out (``(id, why)``)."""

    document: dict[str, Any]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exported(self) -> int:
        """How many jobs the document holds."""
        return len(self.document["default_tasks"])

    @property
    def error(self) -> dict[str, Any] | None:
        """The error object of an export that left jobs out (exit 4, each job and why
        under ``problems``), None when every job was exported."""
        if not self.skipped:
            return None
        from whalefall_sched.errors import StoreConflictError, error_object

        ids = [job_id for job_id, _ in self.skipped]
        shown = ", ".join(ids[:_IDS_SHOWN])
        if len(ids) > _IDS_SHOWN:
            shown += f" and {len(ids) - _IDS_SHOWN:,} more"
        message = (
            f"{len(ids)} job(s) not exported: {shown} "
            f"(the other {self.exported} job(s) were exported)"
        )
        problems = [f"{job_id}: {why}" for job_id, why in self.skipped]
        return error_object(
            StoreConflictError.code, message, StoreConflictError.exit_code, problems
        )

    def to_dict(self) -> dict[str, Any]:
        """The document (a tasks file), then ``skipped: [{id, reason}]`` and ``error``
        (None when every job was exported)."""
        skipped = [{"id": job_id, "reason": why} for job_id, why in self.skipped]
        return {**self.document, "skipped": skipped, "error": self.error}

    def yaml_text(self) -> str:
        """The document as YAML, keys in the tasks file's order, text as written."""
        import yaml

        return str(yaml.safe_dump(self.document, allow_unicode=True, sort_keys=False))


class NotExportableError(ValueError):
    """A job that cannot be written as a task (the message says why)."""


def export_jobs(repo: JobStoreRepository, tasks: TasksFile | None) -> ExportResult:
    """Every job of the store as a task; ``tasks`` (the current tasks file, if readable)
    gives the functions map and descriptions."""
    rows = sorted(repo.list_jobs(), key=lambda r: r.id)
    readable = [row for row in rows if row.decoded is not None]
    skipped = [
        (row.id, f"cannot be decoded ({row.unreadable_reason})")
        for row in rows
        if row.decoded is None
    ]
    zone = _most_common([_zone_name(row.decoded) for row in readable]) or (
        tasks.timezone if tasks is not None else DEFAULT_TIMEZONE
    )
    options = _most_common_options(readable)
    names = _short_names(tasks)
    used: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for row in readable:
        try:
            entries.append(
                _task(row, zone=zone, options=options, names=names, used=used, tasks=tasks)
            )
        except NotExportableError as exc:
            skipped.append((row.id, str(exc)))
    document: dict[str, Any] = {"default_tasks": entries, "timezone": zone}
    document["job_defaults"] = dict(options)
    if used:
        document["functions"] = dict(sorted(used.items()))
    return ExportResult(document, sorted(skipped))


def _most_common(values: list[Any]) -> Any:
    counted = Counter(v for v in values if v is not None)
    return counted.most_common(1)[0][0] if counted else None


def _most_common_options(rows: list[StoredJob]) -> dict[str, Any]:
    combos = [tuple(row.decoded.get(k) for k in _OPTION_KEYS) for row in rows if row.decoded]
    best = _most_common(combos)
    return dict(zip(_OPTION_KEYS, best, strict=True)) if best else dict(DEFAULT_JOB_DEFAULTS)


def _short_names(tasks: TasksFile | None) -> dict[str, list[str]]:
    """``module:attr`` -> the short names that map to it (``functions:``)."""
    found: dict[str, list[str]] = {}
    if tasks is not None:
        for name, ref in tasks.functions.items():
            found.setdefault(ref, []).append(name)
    return found


def _function(
    job_id: str,
    ref: str,
    names: dict[str, list[str]],
    used: dict[str, str],
    tasks: TasksFile | None,
) -> str:
    """The task's ``function:``: a short name of the functions map, else the reference."""
    candidates = names.get(ref, [])
    known = tasks.task(job_id) if tasks is not None else None
    for name in (known.function if known else None, job_id, *sorted(candidates)):
        if name is not None and name in candidates:
            used[name] = ref
            return name
    return ref


def _task(
    row: StoredJob,
    *,
    zone: str,
    options: dict[str, Any],
    names: dict[str, list[str]],
    used: dict[str, str],
    tasks: TasksFile | None,
) -> dict[str, Any]:
    state = row.decoded or {}
    ref = state.get("func")
    if not isinstance(ref, str) or ":" not in ref:
        raise NotExportableError(f"its function is not a 'module:attr' reference ({ref!r})")
    if state.get("executor", "default") != "default":
        raise NotExportableError(
            f"executor {state.get('executor')!r}: a tasks file has only 'default'"
        )
    trigger_type, params = trigger_params(state.get("trigger"), zone)
    entry: dict[str, Any] = {"id": row.id}
    if state.get("name") is not None:
        entry["name"] = str(state["name"])
    entry["function"] = _function(row.id, ref, names, used, tasks)
    entry |= {"trigger_type": trigger_type, "trigger_params": params, "enabled": True}
    known = tasks.task(row.id) if tasks is not None else None
    if known is not None and known.description is not None:
        entry["description"] = known.description
    if state.get("next_run_time") is None:
        entry["paused"] = True
    args = list(state.get("args") or ())
    kwargs = dict(state.get("kwargs") or {})
    if args:
        entry["args"] = _plain(args, "args")
    if kwargs:
        if not all(isinstance(k, str) for k in kwargs):
            raise NotExportableError("kwargs with keys that are not text")
        entry["kwargs"] = _plain(kwargs, "kwargs")
    own = {k: state.get(k) for k in _OPTION_KEYS if state.get(k) != options.get(k)}
    if own:
        entry["job_defaults"] = own
    return entry


def _plain(value: Any, what: str) -> Any:
    """``value`` if it is plain YAML data (text, numbers, booleans, null, lists, maps)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, what) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, what) for k, v in value.items()}
    raise NotExportableError(f"{what} hold a {type(value).__name__}, not plain YAML data")


def _zone_name(state: dict[str, Any] | None) -> str | None:
    trigger = (state or {}).get("trigger")
    zone = getattr(trigger, "timezone", None)
    if zone is None:
        run_date = getattr(trigger, "run_date", None)
        zone = getattr(run_date, "tzinfo", None)
    return _name_of(zone)


def _name_of(zone: Any) -> str | None:
    if zone is None:
        return None
    return str(getattr(zone, "key", None) or getattr(zone, "zone", None) or zone)


def _local(value: datetime, zone: Any) -> str:
    """A time as the trigger's zone reads it, without an offset (the ``timezone`` given
    beside it says which zone)."""
    local = value.astimezone(zone) if zone is not None else value
    return local.replace(tzinfo=None).isoformat(sep=" ")


def _number(text: str) -> int | str:
    return int(text) if text.isdigit() and not (len(text) > 1 and text.startswith("0")) else text


def trigger_params(trigger: Any, zone: str) -> tuple[str, dict[str, Any]]:
    """``(trigger_type, trigger_params)`` of a cron, interval or date trigger: the fields
    that are not defaults, and ``timezone`` only where it is not ``zone``."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    params: dict[str, Any] = {}
    if isinstance(trigger, CronTrigger):
        kind = "cron"
        tz = trigger.timezone
        for f in trigger.fields:
            if not f.is_default:
                params[f.name] = _number(str(f))
        _dates(params, trigger, tz)
        if trigger.jitter is not None:
            params["jitter"] = trigger.jitter
    elif isinstance(trigger, IntervalTrigger):
        kind = "interval"
        tz = trigger.timezone
        params |= _interval(trigger.interval)
        _dates(params, trigger, tz)
        if trigger.jitter is not None:
            params["jitter"] = trigger.jitter
    elif isinstance(trigger, DateTrigger):
        kind = "date"
        tz = trigger.run_date.tzinfo
        params["run_date"] = _local(trigger.run_date, tz)
    else:
        raise NotExportableError(f"trigger {trigger!s:.80} is not cron, interval or date")
    name = _name_of(tz)
    if name is not None and name != zone:
        params["timezone"] = name
    return kind, params


def _dates(params: dict[str, Any], trigger: Any, tz: Any) -> None:
    # start_date keeps an interval's phase; end_date ends any trigger
    for key in ("start_date", "end_date"):
        value = getattr(trigger, key, None)
        if value is not None:
            params[key] = _local(value, tz)


def _interval(interval: timedelta) -> dict[str, Any]:
    """An interval in the largest whole units (``hours: 2``), seconds as a number."""
    days, rest = interval.days, interval.seconds
    parts: dict[str, Any] = {}
    if days % 7 == 0 and days:
        parts["weeks"] = days // 7
    elif days:
        parts["days"] = days
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        parts["hours"] = hours
    if minutes:
        parts["minutes"] = minutes
    if seconds or interval.microseconds:
        micro = interval.microseconds
        parts["seconds"] = seconds + micro / 1e6 if micro else seconds
    return parts or {"seconds": 0}
