"""Result objects about the whole store: a replacement (``reload``, ``restore``) and
``status``'s health check; the CLI renders them as tables or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from whalefall_sched.errors import ExitCode, StoreConflictError
from whalefall_sched.services.dto import _Dict, with_utc

#: What a count of ``StoreStatus.jobs`` is when the store cannot be read: unknown.
UNKNOWN_JOB_COUNTS: dict[str, int | None] = dict.fromkeys(
    ("total", "running", "paused", "unreadable")
)


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
