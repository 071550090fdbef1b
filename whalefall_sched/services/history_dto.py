"""The run history's result objects: ``runs``' summaries, ``runs show``'s run with its
items, and a task's latest run for ``list`` and ``status``; each time as the host shows
it (:func:`host_time`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.services.dto import _Dict, jsonable

if TYPE_CHECKING:
    from whalefall_sched.repository.history import RunItemRow, RunRow

#: Statuses the host writes (``TaskRunStatus``) and the tool's own ``missed``.
STATUSES = (
    "pending",
    "running",
    "completed",
    "completed_with_errors",
    "failed",
    "cancelled",
    "missed",
)
#: The LAST column's word for a run's status.
OUTCOME = {"completed": "ok", "completed_with_errors": "partial"}


def host_time(value: datetime | None) -> str | None:
    """A stored time exactly as the 2026-07 host shows ``last_run_time``: a naive time
    (SQLite, MariaDB) taken as UTC, then ``isoformat()``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


@dataclass(frozen=True)
class RunSummary(_Dict):
    """One run as ``runs`` lists it."""

    TIME_FIELDS = ("started_at", "completed_at")

    id: str
    task_id: str
    task_name: str | None
    trigger_source: str | None
    created_by: str | None
    status: str
    started_at: str | None
    completed_at: str | None
    duration_ms: int | None
    progress_total: int | None
    progress_completed: int | None
    progress_failed: int | None
    error_message: str | None
    #: ``task_runs`` or ``whalefall_sched_runs``.
    source: str

    @classmethod
    def of(cls, run: RunRow, source: str) -> RunSummary:
        """The summary of a stored run."""
        return cls(
            id=run.id,
            task_id=run.task_id,
            task_name=run.task_name,
            trigger_source=run.trigger_source,
            created_by=run.created_by,
            status=run.status,
            started_at=host_time(run.started_at),
            completed_at=host_time(run.completed_at),
            duration_ms=run.duration_ms,
            progress_total=run.progress_total,
            progress_completed=run.progress_completed,
            progress_failed=run.progress_failed,
            error_message=run.error_message,
            source=source,
        )


@dataclass(frozen=True)
class RunItem(_Dict):
    """One item of a host run (``task_run_items``)."""

    TIME_FIELDS = ("started_at", "completed_at")

    id: int
    item_type: str
    item_key: str
    item_name: str | None
    instance_id: int | None
    status: str
    started_at: str | None
    completed_at: str | None
    error_message: str | None
    metrics: Any
    details: Any

    @classmethod
    def of(cls, item: RunItemRow) -> RunItem:
        """The item of a stored row."""
        return cls(
            id=item.id,
            item_type=item.item_type,
            item_key=item.item_key,
            item_name=item.item_name,
            instance_id=item.instance_id,
            status=item.status,
            started_at=host_time(item.started_at),
            completed_at=host_time(item.completed_at),
            error_message=item.error_message,
            metrics=item.metrics,
            details=item.details,
        )


@dataclass(frozen=True)
class RunList:
    """``runs``: the runs newest first, and where they were read."""

    runs: list[RunSummary]
    source: str
    where: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``items`` last, as in ``list``)."""
        return {
            "source": self.source,
            "where": self.where,
            "items": [run.to_dict() for run in self.runs],
        }


@dataclass(frozen=True)
class RunDetail:
    """``runs show``: one run with its items and result summary."""

    run: RunSummary
    items: list[RunItem]
    summary: Any = None
    task_category: str | None = None
    result_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: the run's fields, then ``summary`` and ``items``."""
        return {
            **self.run.to_dict(),
            "task_category": self.task_category,
            "result_url": self.result_url,
            "summary": jsonable(self.summary),
            "items": [item.to_dict() for item in self.items],
        }


@dataclass(frozen=True)
class LastRun:
    """A task's latest run, for ``list``: its ``started_at`` as the host shows it and
    its status."""

    started_at: str | None
    status: str


@dataclass(frozen=True)
class SchedulerRuns:
    """The run history as evidence that a scheduler is alive: when the latest run the
    scheduler started (``trigger_source`` ``scheduled``) began. Manual runs (``run``,
    the host's own) do not count: they prove nothing about a scheduler."""

    latest_started_at: str | None
