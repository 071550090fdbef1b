"""The job store repository: the one object the services use to read and write a store.

A thin facade over the modules that do the work: :mod:`.connection` (URL, engines,
errors), :mod:`.reads` (reading and streaming rows), :mod:`.changes` (modify, replace,
delete: the writing half, which :class:`JobStoreRepository` inherits), :mod:`.creation`
(``init``), :mod:`.audit_trail` (the events beside each write), :mod:`.sqlite_files`
(journal and WAL files, the lock file) and :mod:`.backups`. Reads open SQLite read-only
and never create, alter or delete anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whalefall_sched.repository import backups, creation, reads
from whalefall_sched.repository.audit import AuditEntry, AuditRow
from whalefall_sched.repository.audit_trail import AuditTrail, SortChanges, SortedChanges
from whalefall_sched.repository.changes import (
    CAS_ATTEMPTS,
    DeleteOutcome,
    ModifyOutcome,
    ReplaceOutcome,
    StoreChanges,
)
from whalefall_sched.repository.connection import StoreConnection
from whalefall_sched.repository.creation import StoreCreation
from whalefall_sched.repository.due_row_guard import DueRowGuard
from whalefall_sched.repository.rows import StoredJob
from whalefall_sched.repository.sqlite_files import SchedulerLock, probe_scheduler_lock

if TYPE_CHECKING:
    from sqlalchemy import Table

__all__ = [
    "CAS_ATTEMPTS",
    "DeleteOutcome",
    "JobStoreRepository",
    "ModifyOutcome",
    "ReplaceOutcome",
    "SortChanges",
    "SortedChanges",
    "StoreCreation",
]


class JobStoreRepository(StoreChanges):
    """An APScheduler 3 ``SQLAlchemyJobStore`` table, read safely and written atomically.

    The writes (``modify_job``, ``replace_all``, ``backup_rows``, ``delete_job``) are
    inherited from :class:`.changes.StoreChanges`."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "apscheduler_jobs",
        schema: str | None = None,
        timeout: float = 5.0,
        wait: float = 10.0,
        due_margin: float = 2.0,
        settle: float = 1.0,
    ) -> None:
        self.connection = StoreConnection(url, table=table, schema=schema, timeout=timeout)
        self.audit_trail = AuditTrail(self.connection)
        self.guard = DueRowGuard(self._current, wait=wait, due_margin=due_margin, settle=settle)

    @property
    def url(self) -> str:
        """The store's URL as given (may carry a password: never print it)."""
        return self.connection.url

    @property
    def table_name(self) -> str:
        """The job table's name."""
        return self.connection.table_name

    @property
    def schema(self) -> str | None:
        """The job table's schema, if any."""
        return self.connection.schema

    @property
    def where(self) -> str:
        """The store's location for messages, password masked."""
        return self.connection.where

    @property
    def table(self) -> Table:
        """The job table as stock APScheduler defines it."""
        return self.connection.table

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store, None for other stores or in-memory ones."""
        return self.connection.sqlite_path()

    def default_backup_dir(self) -> Path:
        """``backups/`` beside a SQLite store file, else ``userdata/backups``."""
        path = self.sqlite_path()
        return path.parent / "backups" if path is not None else Path("userdata/backups")

    def close(self) -> None:
        """Release every connection pool."""
        self.connection.close()

    # -- reading (reads.py) ---------------------------------------------------------

    def exists(self) -> bool:
        """Whether the store (file and table) exists. Creates nothing."""
        return reads.exists(self.connection)

    def require_store(self) -> None:
        """Raise the not-initialised conflict (naming the path or table looked at) unless
        the job table exists. Creates nothing."""
        reads.require_store(self.connection)

    def list_jobs(self, *, missing_ok: bool = False) -> list[StoredJob]:
        """Every row. A missing store raises a conflict unless ``missing_ok``."""
        return reads.list_jobs(self.connection, missing_ok=missing_ok)

    def get_job(self, job_id: str) -> StoredJob:
        """The row with ``job_id``; raises :class:`JobNotFoundError`."""
        return reads.get_job(self.connection, job_id)

    def job_ids_and_states(self) -> list[tuple[str, bool]]:
        """Each job's (printable) id and whether it is paused, sorted by id, nothing
        decoded (:func:`.reads.job_ids_and_states`: cheap enough for shell completion)."""
        return reads.job_ids_and_states(self.connection)

    def iter_jobs(
        self, *, paused: bool | None = None, offset: int = 0, limit: int | None = None
    ) -> Iterator[StoredJob]:
        """The rows sorted by (printable) id, filtered by ``paused`` and sliced by
        ``offset``/``limit`` before anything is decoded, then decoded a chunk at a time
        as they are consumed (:func:`.reads.iter_jobs`)."""
        return reads.iter_jobs(self.connection, paused=paused, offset=offset, limit=limit)

    def replaced_rows(self) -> list[StoredJob]:
        """The rows :meth:`replace_all` would remove, for a preview: read-only, columns
        checked but not decoded (a replacement needs ids, not states). A store that does
        not exist is the not-initialised conflict, as for :meth:`replace_all`."""
        return reads.replaced_rows(self.connection)

    def scheduler_lock(self, name: str = "scheduler.lock") -> SchedulerLock | None:
        """Who holds the host app's lock file beside a SQLite store (None for other stores)."""
        path = self.sqlite_path()
        return None if path is None else probe_scheduler_lock(path.parent / name)

    def read_backup(self, path: Path) -> list[StoredJob]:
        """The rows of a backup of this store's table (decoded where possible)."""
        return backups.read_backup(
            path,
            table=self.table_name,
            schema=self.schema,
            where=self.where,
            default_dir=self.default_backup_dir(),
        )

    # -- creation for init (creation.py) --------------------------------------------

    def creation(self) -> StoreCreation:
        """What :meth:`create_store` would create; refuses (conflict) when the job table
        exists, even empty. Creates nothing."""
        return creation.creation(self.connection)

    def create_store(
        self, rows: Sequence[StoredJob], *, event: AuditEntry | None = None
    ) -> StoreCreation:
        """Create the job table (and a SQLite store's directory and file) and write
        ``rows`` into it; the only code that creates a job table. An existing table, even
        empty, is refused (:func:`.creation.create_store`). With ``event``, the audit
        table is created too and the event written with the rows."""
        return creation.create_store(self.connection, self.audit_trail, rows, event=event)

    # -- the audit trail (audit_trail.py) -------------------------------------------

    @property
    def audited_table(self) -> str:
        """The job table as the audit table names it (``schema.table`` with a schema)."""
        return self.audit_trail.job_table

    def record(
        self, event: AuditEntry, job_ids: Sequence[str], outcome: str, change: dict[str, Any]
    ) -> None:
        """Record ``event`` in a short transaction of its own: for what changes no job
        (a manual run). Creates the audit table if needed."""
        self.audit_trail.record(event, job_ids, outcome, change)

    def audit_events(
        self,
        *,
        job_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        commands: Sequence[str] = (),
    ) -> list[AuditRow] | None:
        """Events of this job table, newest first; None when there is no audit table.
        Read-only: never creates it."""
        return self.audit_trail.events(job_id=job_id, since=since, limit=limit, commands=commands)

    def latest_pauses(self) -> dict[str, AuditRow]:
        """Each paused job's latest pause event (empty without an audit table)."""
        return self.audit_trail.latest_pauses()
