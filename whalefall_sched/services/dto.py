"""Result objects the services return; the CLI renders them as tables or JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Literal, overload

from whalefall_sched.errors import (
    ExitCode,
    JobRunFailedError,
    JobRunTimedOutError,
    StoreConflictError,
    WhaleFallSchedError,
)

STATE_RUNNING = "STATE_RUNNING"
STATE_PAUSED = "STATE_PAUSED"
STATE_UNREADABLE = "STATE_UNREADABLE"
#: The version of the JSON documents' shape (``schema_version``, the first key of each).
SCHEMA_VERSION = 1
#: What a count of ``StoreStatus.jobs`` is when the store cannot be read: unknown.
UNKNOWN_JOB_COUNTS: dict[str, int | None] = dict.fromkeys(
    ("total", "running", "paused", "unreadable")
)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset, or None."""
    return value.isoformat() if value is not None else None


@overload
def utc_z(value: None) -> None: ...
@overload
def utc_z(value: datetime | str) -> str | None: ...
def utc_z(value: datetime | str | None) -> str | None:
    """A time (a datetime, or ISO 8601 text with its offset) as UTC in whole seconds, cut
    not rounded, ending in ``Z`` (``2026-12-02T17:00:00Z``, what ``jq``'s
    ``fromdateiso8601`` reads); None for None, and for a time UTC cannot hold (before
    year 1 or after 9999). A time without an offset is taken as UTC already."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    try:
        utc = when.astimezone(UTC) if when.tzinfo is not None else when
    except OverflowError:
        return None
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
        f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def with_utc(document: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``document`` with ``<key>_utc`` (:func:`utc_z`) right after each of ``keys``."""
    out: dict[str, Any] = {}
    for key, value in document.items():
        out[key] = value
        if key in keys:
            out[f"{key}_utc"] = utc_z(value)
    return out


def jsonable(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """``value`` as plain JSON data (job args may hold datetimes, sets, bytes...)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    return str(value)


#: The 2026-07 host's list fields, last in an item; left out where ``task_id`` is None.
HOST_FIELDS = ("task_id", "task_name", "editable_fields")


def without_host_fields(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without :data:`HOST_FIELDS` when the host has none (2026-01)."""
    if document.get("task_id") is None:
        for key in HOST_FIELDS:
            document.pop(key, None)
    return document


class _Dict:
    #: The fields holding a time (ISO 8601 with its offset): each is followed in the JSON
    #: by ``<field>_utc``, the same time in UTC, whole seconds, ending in ``Z``.
    TIME_FIELDS: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this result."""
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        document = {f.name: jsonable(getattr(self, f.name)) for f in fields}
        return with_utc(document, self.TIME_FIELDS) if self.TIME_FIELDS else document


@dataclass(frozen=True)
class SchedulerJobListItem(_Dict):
    """One job as the host API's list shows it, plus ``func_ref``, ``executor``, ``week``.

    ``func`` and ``func_ref`` (always equal) are the host API's JSON keys; in code the
    job's ``module:attr`` reference is called ``func_ref``. ``is_builtin`` and
    ``description`` are None when the tasks file could not be read.
    """

    TIME_FIELDS = ("next_run_time", "last_run_time", "paused_at")

    id: str
    name: str | None
    description: str | None
    next_run_time: str | None
    last_run_time: str | None
    trigger_type: str | None
    trigger_args: dict[str, str]
    state: str
    is_builtin: bool | None
    func: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    func_ref: str | None = None
    executor: str | None = None
    unreadable_reason: str | None = None
    #: The trigger's time zone (``Asia/Shanghai``), for tables only: not in the JSON.
    timezone: str | None = None
    #: The status of the run ``last_run_time`` is of, for tables only: not in the JSON.
    last_run_status: str | None = None
    #: A paused job's latest pause in the audit trail: who, why, when (None when unknown).
    paused_by: str | None = None
    paused_reason: str | None = None
    paused_at: str | None = None
    #: The 2026-07 host's list fields (README, "Host generations"): None, and left out of
    #: the JSON, where the host has none (2026-01) or the tasks file is unknown.
    task_id: str | None = None
    task_name: str | None = None
    editable_fields: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this item (``timezone`` and ``last_run_status`` are left
        out, and the 2026-07 host's fields where the host has none)."""
        document = without_host_fields(super().to_dict())
        del document["timezone"]
        del document["last_run_status"]
        return document


@dataclass(frozen=True)
class SchedulerJobDetail(_Dict):
    """One job as the host API's detail shows it, plus every field of the list's item
    (``tests/test_json_contract.py`` keeps them in step)."""

    TIME_FIELDS = ("next_run_time", "last_run_time", "paused_at")

    id: str
    name: str | None
    next_run_time: str | None
    trigger: str | None
    func: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    misfire_grace_time: int | None
    max_instances: int | None
    coalesce: bool | None
    description: str | None = None
    trigger_type: str | None = None
    trigger_args: dict[str, str] = field(default_factory=dict)
    state: str = STATE_UNREADABLE
    is_builtin: bool | None = False
    executor: str | None = None
    unreadable_reason: str | None = None
    #: The ``started_at`` of the job's latest run, as in the list (None without history).
    last_run_time: str | None = None
    func_ref: str | None = None
    #: A paused job's latest pause in the audit trail: who, why, when (None when unknown).
    paused_by: str | None = None
    paused_reason: str | None = None
    paused_at: str | None = None
    #: As in the list's item (2026-07 host); None on 2026-01.
    task_id: str | None = None
    task_name: str | None = None
    editable_fields: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (the 2026-07 host's fields only where the host has them)."""
        return without_host_fields(super().to_dict())


@dataclass(frozen=True)
class JobActionResult(_Dict):
    """Outcome of a pause or resume of one job."""

    TIME_FIELDS = ("next_run_time",)

    id: str
    action: str
    #: False when the job already was in the wanted state (a no-op).
    changed: bool
    state: str
    next_run_time: str | None
    message: str
    #: What the operator should know, e.g. when a running scheduler will see the change.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobActionOutcome:
    """One id of a pause or resume: ``done`` with its result, or ``failed`` with its error."""

    id: str
    result: JobActionResult | None = None
    error: WhaleFallSchedError | None = None

    @property
    def outcome(self) -> Literal["done", "failed"]:
        """``done`` or ``failed``."""
        return "failed" if self.error is not None else "done"


@dataclass(frozen=True)
class JobActionsResult:
    """A pause or resume of several ids: one outcome per id, in the order given.

    One failed id does not stop the others; the first failure decides the exit code.
    """

    action: str
    outcomes: list[JobActionOutcome]

    @property
    def results(self) -> list[JobActionResult]:
        """The ids that were done."""
        return [o.result for o in self.outcomes if o.result is not None]

    @property
    def errors(self) -> list[tuple[str, WhaleFallSchedError]]:
        """``(id, error)`` of each id that failed."""
        return [(o.id, o.error) for o in self.outcomes if o.error is not None]

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        """``success`` (every id done), ``partial`` (some failed) or ``error`` (all failed)."""
        failed = len(self.errors)
        if not failed:
            return "success"
        return "partial" if failed < len(self.outcomes) else "error"

    @property
    def exit_code(self) -> ExitCode:
        """0, or the exit code of the first id that failed."""
        errors = self.errors
        return errors[0][1].exit_code if errors else ExitCode.OK

    @property
    def notes(self) -> list[str]:
        """Every note of the ids done, each once."""
        return list(dict.fromkeys(note for r in self.results for note in r.notes))

    def to_dict(self) -> dict[str, Any]:
        """``{"results": [...], "errors": [{"id", "error"}...], "error": ...}``: ``error``
        is the first id's error, None when every id was done."""
        errors = [{"id": job_id, "error": error.to_dict()} for job_id, error in self.errors]
        document: dict[str, Any] = {"results": [r.to_dict() for r in self.results]}
        document["errors"] = errors
        document["error"] = errors[0]["error"] if errors else None
        return document


@dataclass(frozen=True)
class ManualRunResult(_Dict):
    """Outcome of a manual run: it returned, failed, or timed out.

    ``succeeded`` is False whenever the function did not return: it raised anything
    (``SystemExit`` and ``KeyboardInterrupt`` included), ended its process
    (``os._exit``), or ran past the timeout (``timed_out``).
    """

    id: str
    thread_name: str
    succeeded: bool
    duration_seconds: float
    func: str
    args: list[Any]
    kwargs: dict[str, Any]
    error: str | None = None
    #: True when the run was still going at the timeout (then stopped or abandoned).
    timed_out: bool = False
    #: The timeout that applied, None for none.
    timeout_seconds: float | None = None
    #: The process the task ran in, when ``run`` gave it one of its own.
    pid: int | None = None
    #: Threads the task started and left running; they ended with its process.
    threads_left_running: list[str] = field(default_factory=list)
    #: What the operator should know about the run.
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """0 when the function returned, 6 when it timed out, 1 otherwise."""
        if self.succeeded:
            return ExitCode.OK
        if self.timed_out:
            return JobRunTimedOutError.exit_code
        return JobRunFailedError.exit_code

    def error_dict(self) -> dict[str, Any] | None:
        """The error object of a run that did not succeed (``run_failed`` or
        ``run_timeout``), None for a success."""
        if self.succeeded:
            return None
        kind = JobRunTimedOutError if self.timed_out else JobRunFailedError
        return kind(self.error or "the task did not complete").to_dict()


@dataclass(frozen=True)
class SchedulerJobsReloadResult(_Dict):
    """Outcome of replacing every job (or of its dry run): a reload, or a restore.

    A restore is a reload whose rows come from a backup file (``restored_from``); its
    JSON says ``source``/``restored``/``restored_count`` where a reload's says
    ``reloaded``/``reloaded_count``.
    """

    #: Ids of the jobs the replacement removes or rewrites (all the old ones).
    deleted: list[str]
    #: Ids of the jobs it writes.
    written: list[str]
    dry_run: bool = False
    backup_path: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The backup file of a restore; None for a reload.
    restored_from: str | None = None

    @property
    def deleted_count(self) -> int:
        """How many jobs the replacement removes or rewrites."""
        return len(self.deleted)

    @property
    def written_count(self) -> int:
        """How many jobs it writes."""
        return len(self.written)

    @property
    def verb(self) -> str:
        """``reloaded`` or ``restored``: the JSON key of the written ids."""
        return "reloaded" if self.restored_from is None else "restored"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: the same keys, in the same order, as before the merge."""
        document: dict[str, Any] = {}
        if self.restored_from is not None:
            document["source"] = self.restored_from
        document |= {
            "deleted": list(self.deleted),
            self.verb: list(self.written),
            "deleted_count": len(self.deleted),
            f"{self.verb}_count": len(self.written),
            "dry_run": self.dry_run,
            "backup_path": self.backup_path,
            "notes": list(self.notes),
        }
        return document


@dataclass(frozen=True)
class StoreStatus(_Dict):
    """The runbook's health check: is the store reachable and initialised, is it processed."""

    store: str
    reachable: bool
    initialised: bool
    healthy: bool
    #: Why the store is not healthy, one sentence each.
    reasons: list[str]
    #: Counts by state (``total``, ``running``, ``paused``, ``unreadable``); each None
    #: when the store cannot be read.
    jobs: dict[str, int | None]
    unreadable: list[dict[str, Any]]
    #: Jobs whose next run time is older than now minus their misfire grace.
    overdue: list[dict[str, Any]]
    #: The earliest next run time: when a running scheduler wakes up at the latest.
    next_wakeup: str | None
    #: SQLite only: the host app's ``scheduler.lock`` beside the store.
    lock: dict[str, Any] | None = None
    #: Unreachable only: ``{code, message, exit_code}``, as every command's error.
    error: dict[str, Any] | None = None
    #: What the operator should know about how health was judged (no effect on it).
    notes: list[str] = field(default_factory=list)
    #: Which evidence judged whether a scheduler processes the store (``judged_by``,
    #: ``lock_file``, ``overdue_after_seconds``, ``summary``); None when unreachable.
    liveness: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: each time also in UTC (``next_wakeup_utc``, and the overdue
        jobs' ``next_run_time_utc``); an unreadable row's reason as ``unreadable_reason``,
        the key ``list`` and ``get`` use."""
        document = with_utc(super().to_dict(), ("next_wakeup",))
        document["unreadable"] = [
            {("unreadable_reason" if k == "reason" else k): v for k, v in row.items()}
            for row in document["unreadable"]
        ]
        document["overdue"] = [with_utc(row, ("next_run_time",)) for row in document["overdue"]]
        return document

    @property
    def exit_code(self) -> int:
        """0 healthy, 4 degraded, the error's (5) when unreachable."""
        if self.error is not None:
            return int(self.error["exit_code"])
        return ExitCode.OK if self.healthy else StoreConflictError.exit_code
