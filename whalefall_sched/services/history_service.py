"""Run history: ``runs``, ``runs show``, the LAST column and ``last_run_time``.

The source is the host's ``task_runs`` (``--history-url``, the application's database)
when given, else the tool's own table in the job store's database
(:mod:`whalefall_sched.repository.history`). Read-only, as every read; the only writes
are a manual run's record (:class:`ManualRunRecord`) and the host integration's.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.errors import JobNotFoundError, StoreConflictError
from whalefall_sched.repository.history import MAX_ROWS, HistoryReader, RunItemRow, RunRow
from whalefall_sched.repository.history_tables import HOST_RUNS, OWN_RUNS
from whalefall_sched.repository.own_runs import own_writer
from whalefall_sched.services.dto import _Dict, jsonable

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository

logger = logging.getLogger("whalefall_sched.history")

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


class NoHistoryError(StoreConflictError):
    """Neither history source exists (exit 4, as a store that is not initialised)."""


@dataclass
class HistoryService:
    """Reads the run history: the host's ``task_runs`` at ``history_url`` when given,
    else the tool's own table in the job store's database."""

    store: JobStoreRepository
    history_url: str | None = None
    timeout: float = 5.0
    _reader: HistoryReader | None = field(default=None, init=False)

    def _source(self) -> HistoryReader:
        if self._reader is None:
            if self.history_url is not None:
                self._reader = HistoryReader(self.history_url, kind="host", timeout=self.timeout)
            else:
                self._reader = HistoryReader(
                    self.store.url, kind="own", schema=self.store.schema, timeout=self.timeout
                )
        return self._reader

    @property
    def source_name(self) -> str:
        """``task_runs`` or ``whalefall_sched_runs``."""
        return HOST_RUNS if self.history_url is not None else OWN_RUNS

    def close(self) -> None:
        """Release the history's connections."""
        if self._reader is not None:
            self._reader.close()

    def available(self) -> bool:
        """Whether the source's table exists (creates nothing)."""
        return self._source().exists()

    def _require(self) -> HistoryReader:
        reader = self._source()
        if not reader.exists():
            raise NoHistoryError(self._missing_text(reader))
        return reader

    def _missing_text(self, reader: HistoryReader) -> str:
        if self.history_url is not None:
            return (
                f"no run history at {reader.where}: the host's {HOST_RUNS} table does not "
                "exist there; --history-url must name the application's database"
            )
        return (
            f"no run history: the job store's database has no {OWN_RUNS} table; give "
            "--history-url (the application's database with task_runs), or record runs "
            "with whalefall_sched.integration.record_runs(scheduler, url) or `run`"
        )

    def list_runs(
        self, job_id: str | None = None, *, status: str | None = None, limit: int = 20
    ) -> RunList:
        """Runs newest first, of one job or every job, at most ``limit`` (1 to 1000)."""
        if not 1 <= limit <= MAX_ROWS:
            from whalefall_sched.errors import InvalidInputError

            raise InvalidInputError(f"--limit must be 1 to {MAX_ROWS}")
        reader = self._require()
        rows = reader.list_runs(task_id=job_id, status=status, limit=limit)
        source = self.source_name
        return RunList([RunSummary.of(r, source) for r in rows], source, reader.where)

    def get_run(self, run_id: str) -> RunDetail:
        """One run and its items; :class:`JobNotFoundError` (exit 3) for an unknown id."""
        reader = self._require()
        found = reader.get_run(run_id)
        if found is None:
            raise JobNotFoundError(f"run {run_id!r} not found in {reader.where}")
        run, items = found
        return RunDetail(
            RunSummary.of(run, self.source_name),
            [RunItem.of(i) for i in items],
            summary=run.summary,
            task_category=run.task_category,
            result_url=run.result_url,
        )

    def last_runs(self) -> dict[str, LastRun] | None:
        """Each task's latest run (one query), or None when there is no history."""
        reader = self._source()
        if not reader.exists():
            return None
        return {
            task: LastRun(host_time(run.started_at), run.status)
            for task, run in reader.latest_runs().items()
        }

    def scheduler_runs(self) -> SchedulerRuns | None:
        """The history as ``status``'s evidence (one query after the table check), or
        None when there is no history."""
        reader = self._source()
        if not reader.exists():
            return None
        return SchedulerRuns(host_time(reader.latest_start("scheduled")))


# -- a manual run's record ------------------------------------------------------------


@dataclass
class ManualRunRecord:
    """The tool's own record of one ``run``: a ``running`` row before the task starts,
    completed or failed after. Recording never fails the run: a problem is returned as
    a note."""

    url: str
    schema: str | None
    timeout: float
    job_id: str
    task_name: str | None
    created_by: int | None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: datetime | None = None
    problem: str | None = None

    def start(self) -> None:
        """Write the ``running`` row (the table is created if need be)."""
        self.started = datetime.now(UTC)
        self._write(
            lambda writer: writer.insert(
                {
                    "id": self.run_id,
                    "task_id": self.job_id,
                    "task_name": self.task_name,
                    "trigger_source": "manual",
                    "created_by": None if self.created_by is None else str(self.created_by),
                    "status": "running",
                    "started_at": self.started,
                }
            )
        )

    def finish(self, *, succeeded: bool, error: str | None) -> None:
        """Write the outcome. ``duration_ms`` is ``completed_at - started_at``, as the
        host's ``task_runs`` gives it (the child process's start and end included)."""
        if self.started is None or self.problem is not None:
            return
        completed = datetime.now(UTC)
        duration_ms = max(0, round((completed - self.started).total_seconds() * 1000))
        self._write(
            lambda writer: writer.update(
                self.run_id,
                {
                    "status": "completed" if succeeded else "failed",
                    "completed_at": completed,
                    "duration_ms": duration_ms,
                    "error_message": error,
                },
            )
        )

    def _write(self, action: Any) -> None:
        connection = None
        try:
            writer, connection = own_writer(self.url, schema=self.schema, timeout=self.timeout)
            action(writer)
        except Exception as exc:
            from whalefall_sched.masking import redact

            self.problem = f"the run was not recorded in {OWN_RUNS}: {redact(str(exc), self.url)}"
            logger.debug("recording a manual run failed", exc_info=True)
        finally:
            if connection is not None:
                connection.close()
