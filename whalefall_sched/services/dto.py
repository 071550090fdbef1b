"""Result objects the services return; the CLI renders them as tables or JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

STATE_RUNNING = "STATE_RUNNING"
STATE_PAUSED = "STATE_PAUSED"
STATE_UNREADABLE = "STATE_UNREADABLE"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset, or None."""
    return value.isoformat() if value is not None else None


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


class _Dict:
    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this result."""
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class SchedulerJobListItem(_Dict):
    """One job as the host API's list shows it, plus ``func_ref``, ``executor``, ``week``."""

    id: str
    name: str | None
    description: str | None
    next_run_time: str | None
    last_run_time: str | None
    trigger_type: str | None
    trigger_args: dict[str, str]
    state: str
    is_builtin: bool
    func: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    func_ref: str | None = None
    executor: str | None = None
    unreadable_reason: str | None = None


@dataclass(frozen=True)
class SchedulerJobDetail(_Dict):
    """One job as the host API's detail shows it, plus the list's fields."""

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
    is_builtin: bool = False
    executor: str | None = None
    unreadable_reason: str | None = None


@dataclass(frozen=True)
class JobActionResult(_Dict):
    """Outcome of a pause or resume of one job."""

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
class ManualRunResult(_Dict):
    """Outcome of a manual run, once its thread has finished."""

    job_id: str
    thread_name: str
    succeeded: bool
    duration_seconds: float
    func: str
    args: list[Any]
    kwargs: dict[str, Any]
    error: str | None = None


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
    jobs: dict[str, int]
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
