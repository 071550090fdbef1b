"""Reading the run history: two sources, one shape (:class:`RunRow`); never creates or
writes anything.

- the host's own ``task_runs`` and ``task_run_items`` tables (WhaleFall 2026-07), in the
  application's database (``--history-url``): read only, never created or written;
- the tool's own ``whalefall_sched_runs`` table in the job store's database, for hosts
  without ``task_runs``: written by :class:`~.own_runs.OwnRunsWriter` (the host
  integration ``record_runs`` and the ``run`` command), created by the first write,
  never by a read.

The tables are defined in ``history_tables.py``; the run history's SQL is in this module
and ``own_runs.py`` only.

Reads have the job store reads' guarantees (:mod:`.connection`, :mod:`.sqlite_files`):
a SQLite file opened by a ``mode=ro`` URI (a missing file is "no history", never created),
a recovered private copy past a crashed writer, read-only sessions on servers. Every
query is bounded (``LIMIT``); the latest run of every task is one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from whalefall_sched.errors import WhaleFallSchedError
from whalefall_sched.repository.connection import StoreConnection
from whalefall_sched.repository.history_tables import HOST_RUNS, OWN_RUNS, host_tables, own_table

if TYPE_CHECKING:
    from sqlalchemy import Connection, Table

_T = TypeVar("_T")

#: The most rows any one read returns.
MAX_ROWS = 1000
#: Items of one run shown at most.
MAX_ITEMS = 500

Kind = Literal["host", "own"]


@dataclass(frozen=True)
class RunRow:
    """One run, from either source. Times as the driver returns them (naive on SQLite
    and MariaDB, where the host stores UTC wall times)."""

    id: str
    task_id: str
    task_name: str | None
    trigger_source: str | None
    created_by: str | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None = None
    progress_total: int | None = None
    progress_completed: int | None = None
    progress_failed: int | None = None
    error_message: str | None = None
    summary: Any = None
    task_category: str | None = None
    result_url: str | None = None
    #: The host's integer primary key (``task_runs.id``); None for the tool's own rows.
    row_id: int | None = None


@dataclass(frozen=True)
class RunItemRow:
    """One item of a host run (``task_run_items``)."""

    id: int
    item_type: str
    item_key: str
    item_name: str | None
    instance_id: int | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    metrics: Any = None
    details: Any = None


# -- reading --------------------------------------------------------------------------


class HistoryReader:
    """Reads one history source; never creates or writes anything.

    ``kind`` ``host``: ``task_runs``/``task_run_items`` at ``url`` (the application's
    database); ``own``: the tool's table (``table``) in the job store's database.
    """

    def __init__(
        self,
        url: str,
        *,
        kind: Kind,
        table: str | None = None,
        schema: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.kind: Kind = kind
        name = table or (HOST_RUNS if kind == "host" else OWN_RUNS)
        option = "--history-url" if kind == "host" else "--url"
        self.connection = StoreConnection(
            url, table=name, schema=schema, timeout=timeout, url_option=option
        )
        self._tables: tuple[Table, Table | None] | None = None

    @property
    def where(self) -> str:
        """The source's location for messages, password masked."""
        return self.connection.where

    def close(self) -> None:
        """Release the connections."""
        self.connection.close()

    def _defined(self) -> tuple[Table, Table | None]:
        if self._tables is None:
            from sqlalchemy import MetaData

            metadata = MetaData()
            if self.kind == "host":
                self._tables = host_tables(metadata, self.connection.schema)
            else:
                own = own_table(metadata, self.connection.table_name, self.connection.schema)
                self._tables = (own, None)
        return self._tables

    def _read(self, query: Callable[[Connection], _T]) -> _T:
        """``query`` on a read-only connection (a recovered copy past a crashed writer),
        with the messages naming the run history rather than the job store."""
        with _named():
            return self.connection.read_only(query)

    def exists(self) -> bool:
        """Whether the source's run table is there. Creates nothing (a missing SQLite
        file is no history)."""
        path = self.connection.sqlite_path()
        if path is not None and not path.is_file():
            return False
        plain = self.connection.plain_sqlite_file()
        if plain is not None:  # stdlib sqlite3: a `list` without history imports no SQLAlchemy
            from whalefall_sched.repository import sqlite_reads

            name = self.connection.table_name
            with _named():
                return sqlite_reads.read(
                    plain,
                    self.connection.timeout,
                    lambda c: sqlite_reads.has_table(c, name),
                    self.connection.sqlite3_errors,
                )
        return self._read(self.connection.has_table)

    def list_runs(
        self, *, task_id: str | None = None, status: str | None = None, limit: int = 20
    ) -> list[RunRow]:
        """Runs newest first (``started_at``, then id), at most ``limit``."""
        from sqlalchemy import select

        runs, _ = self._defined()
        stmt = select(runs)
        key = runs.c.task_key if self.kind == "host" else runs.c.task_id
        if task_id is not None:
            stmt = stmt.where(key == task_id)
        if status is not None:
            stmt = stmt.where(runs.c.status == status)
        stmt = stmt.order_by(runs.c.started_at.desc(), runs.c.id.desc())
        stmt = stmt.limit(max(0, min(limit, MAX_ROWS)))
        return self._read(lambda c: [self._run(r._mapping) for r in c.execute(stmt)])

    def get_run(self, run_id: str) -> tuple[RunRow, list[RunItemRow]] | None:
        """One run by its id (the host's ``run_id``, or its integer ``id``) and its
        items (at most :data:`MAX_ITEMS`); None when there is none."""
        from sqlalchemy import select

        runs, items = self._defined()

        def query(c: Connection) -> tuple[RunRow, list[RunItemRow]] | None:
            key = runs.c.run_id if self.kind == "host" else runs.c.id
            row = c.execute(select(runs).where(key == run_id).limit(1)).first()
            if row is None and self.kind == "host" and run_id.isdigit() and len(run_id) < 19:
                row = c.execute(select(runs).where(runs.c.id == int(run_id)).limit(1)).first()
            if row is None:
                return None
            run = self._run(row._mapping)
            found: list[RunItemRow] = []
            if items is not None and _has(c, items):
                stmt = (
                    select(items)
                    .where(items.c.run_id == row._mapping["run_id"])
                    .order_by(items.c.id)
                    .limit(MAX_ITEMS)
                )
                found = [_item(r._mapping) for r in c.execute(stmt)]
            return run, found

        return self._read(query)

    def latest_runs(self) -> dict[str, RunRow]:
        """The latest run of every task (``started_at``, then the highest id), one query:
        each task's newest ``started_at`` joined back to its rows."""
        from sqlalchemy import and_, func, select

        runs, _ = self._defined()
        key = runs.c.task_key if self.kind == "host" else runs.c.task_id
        newest = (
            select(key.label("k"), func.max(runs.c.started_at).label("m")).group_by(key).subquery()
        )
        stmt = (
            select(runs)
            .join(newest, and_(key == newest.c.k, runs.c.started_at == newest.c.m))
            .order_by(key, runs.c.id.desc())
            .limit(MAX_ROWS * 10)
        )

        def query(c: Connection) -> dict[str, RunRow]:
            latest: dict[str, RunRow] = {}
            for r in c.execute(stmt):
                run = self._run(r._mapping)
                latest.setdefault(run.task_id, run)  # ties: the highest id comes first
            return latest

        return self._read(query)

    def latest_start(self, trigger_source: str = "scheduled") -> datetime | None:
        """When the latest run started by ``trigger_source`` started (``scheduled``: by
        the scheduler, not a manual ``run``), or None: one aggregate query."""
        from sqlalchemy import func, select

        runs, _ = self._defined()
        stmt = select(func.max(runs.c.started_at)).where(runs.c.trigger_source == trigger_source)
        return self._read(lambda c: c.execute(stmt).scalar())

    def _run(self, m: Any) -> RunRow:
        if self.kind == "own":
            return RunRow(
                id=m["id"],
                task_id=m["task_id"],
                task_name=m["task_name"],
                trigger_source=m["trigger_source"],
                created_by=m["created_by"],
                status=m["status"],
                started_at=m["started_at"],
                completed_at=m["completed_at"],
                duration_ms=m["duration_ms"],
                error_message=m["error_message"],
                summary=m["result_summary"],
            )
        started, completed = m["started_at"], m["completed_at"]
        duration = None
        if isinstance(started, datetime) and isinstance(completed, datetime):
            try:
                duration = round((completed - started).total_seconds() * 1000)
            except TypeError:  # one aware, one naive
                duration = None
        created_by = m["created_by"]
        return RunRow(
            id=m["run_id"],
            task_id=m["task_key"],
            task_name=m["task_name"],
            trigger_source=m["trigger_source"],
            created_by=None if created_by is None else str(created_by),
            status=m["status"],
            started_at=started,
            completed_at=completed,
            duration_ms=duration,
            progress_total=m["progress_total"],
            progress_completed=m["progress_completed"],
            progress_failed=m["progress_failed"],
            error_message=m["error_message"],
            summary=m["summary_json"],
            task_category=m["task_category"],
            result_url=m["result_url"],
            row_id=m["id"],
        )


@contextmanager
def _named() -> Iterator[None]:
    """The connection's errors, naming the run history rather than the job store."""
    try:
        yield
    except WhaleFallSchedError as exc:
        text = str(exc)
        if text.startswith("job store "):
            raise type(exc)("run history " + text.removeprefix("job store ")) from exc
        raise


def _has(c: Connection, table: Table) -> bool:
    from sqlalchemy import inspect

    return inspect(c).has_table(table.name, schema=table.schema)


def _item(m: Any) -> RunItemRow:
    return RunItemRow(
        id=m["id"],
        item_type=m["item_type"],
        item_key=m["item_key"],
        item_name=m["item_name"],
        instance_id=m["instance_id"],
        status=m["status"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        error_message=m["error_message"],
        metrics=m["metrics_json"],
        details=m["details_json"],
    )
