"""Run history: reading it for ``runs``, ``runs show``, the LAST column and
``last_run_time`` (``HistoryService``; its result objects are in ``history_dto.py``).

The source is the host's ``task_runs`` (``--history-url``, the application's database)
when given, else the tool's own table in the job store's database
(:mod:`whalefall_sched.repository.history`). Read-only, as every read; the only writes
are a manual run's record (``run_record.py``) and the host integration's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from whalefall_sched.errors import JobNotFoundError, StoreConflictError
from whalefall_sched.repository.history import MAX_ROWS, HistoryReader
from whalefall_sched.repository.history_tables import HOST_RUNS, OWN_RUNS
from whalefall_sched.services.history_dto import (
    LastRun,
    RunDetail,
    RunItem,
    RunList,
    RunSummary,
    SchedulerRuns,
    host_time,
)

if TYPE_CHECKING:
    from whalefall_sched.repository import JobStoreRepository


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
