"""Run history: the only code with SQL for it.

Two sources, one shape (:class:`RunRow`):

- the host's own ``task_runs`` and ``task_run_items`` tables (WhaleFall 2026-07), in the
  application's database (``--history-url``): read only, never created or written;
- the tool's own ``whalefall_sched_runs`` table in the job store's database, for hosts
  without ``task_runs``: written by :class:`OwnRunsWriter` (the host integration
  ``record_runs`` and the ``run`` command), created by the first write, never by a read.

Reads have the job store reads' guarantees (:mod:`.connection`, :mod:`.sqlite_files`):
a SQLite file opened by a ``mode=ro`` URI (a missing file is "no history", never created),
a recovered private copy past a crashed writer, read-only sessions on servers. Every
query is bounded (``LIMIT``); the latest run of every task is one query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from whalefall_sched.errors import WhaleFallSchedError
from whalefall_sched.repository.connection import StoreConnection

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, MetaData, Table

_T = TypeVar("_T")

#: The host's tables (WhaleFall 2026-07 ``app/models/task_run*.py``).
HOST_RUNS = "task_runs"
HOST_ITEMS = "task_run_items"
#: The tool's own table, in the job store's database.
OWN_RUNS = "whalefall_sched_runs"
#: The most rows any one read returns.
MAX_ROWS = 1000
#: Items of one run shown at most.
MAX_ITEMS = 500
#: Longest error message or result summary the tool writes into its own table.
TEXT_LIMIT = 4000

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


# -- table definitions ----------------------------------------------------------------


def _json_type() -> Any:
    from sqlalchemy import JSON
    from sqlalchemy.dialects import postgresql

    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def host_tables(metadata: MetaData, schema: str | None = None) -> tuple[Table, Table]:
    """``task_runs`` and ``task_run_items`` as the 2026-07 host's models define them
    (used to read them here, and by the tests to create them as the host does)."""
    from sqlalchemy import (
        Column,
        DateTime,
        ForeignKey,
        Index,
        Integer,
        String,
        Table,
        Text,
        UniqueConstraint,
    )

    runs_key = f"{schema}.{HOST_RUNS}.run_id" if schema else f"{HOST_RUNS}.run_id"
    runs = Table(
        HOST_RUNS,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("run_id", String(36), unique=True, nullable=False, index=True),
        Column("task_key", String(128), nullable=False, index=True),
        Column("task_name", String(255), nullable=False),
        Column("task_category", String(50), nullable=False, index=True),
        Column("trigger_source", String(20), nullable=False, index=True),
        Column("status", String(32), nullable=False, default="running", index=True),
        Column("started_at", DateTime(timezone=True), nullable=False, index=True),
        Column("completed_at", DateTime(timezone=True), nullable=True),
        Column("created_by", Integer, nullable=True),
        Column("progress_total", Integer, nullable=False, default=0),
        Column("progress_completed", Integer, nullable=False, default=0),
        Column("progress_failed", Integer, nullable=False, default=0),
        Column("summary_json", _json_type(), nullable=True),
        Column("result_url", String(255), nullable=True),
        Column("error_message", Text, nullable=True),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
        Index("ix_task_runs_task_key_started_at", "task_key", "started_at"),
        schema=schema,
    )
    items = Table(
        HOST_ITEMS,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("run_id", String(36), ForeignKey(runs_key), nullable=False, index=True),
        Column("item_type", String(20), nullable=False, index=True),
        Column("item_key", String(128), nullable=False, index=True),
        Column("item_name", String(255), nullable=True),
        Column("instance_id", Integer, nullable=True, index=True),
        Column("status", String(32), nullable=False, default="pending", index=True),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("completed_at", DateTime(timezone=True), nullable=True),
        Column("metrics_json", _json_type(), nullable=True),
        Column("details_json", _json_type(), nullable=True),
        Column("error_message", Text, nullable=True),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
        UniqueConstraint("run_id", "item_type", "item_key", name="uq_task_run_items_run_type_key"),
        Index("ix_task_run_items_run_id_status", "run_id", "status"),
        schema=schema,
    )
    return runs, items


def own_table(metadata: MetaData, name: str = OWN_RUNS, schema: str | None = None) -> Table:
    """The tool's own run table: the host's ``task_runs`` columns that make sense for any
    APScheduler job. Times are UTC wall times (``DATETIME``, microseconds on MariaDB)."""
    from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text
    from sqlalchemy.dialects import mysql

    def when() -> Any:
        return DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),
        Column("task_id", String(191), nullable=False),
        Column("task_name", String(255), nullable=True),
        Column("trigger_source", String(20), nullable=False),
        Column("created_by", String(64), nullable=True),
        Column("status", String(32), nullable=False),
        Column("scheduled_run_time", when(), nullable=True),
        Column("started_at", when(), nullable=False),
        Column("completed_at", when(), nullable=True),
        Column("duration_ms", Integer, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("result_summary", Text, nullable=True),
        Index(f"ix_{name}_task_started", "task_id", "started_at"),
        Index(f"ix_{name}_started", "started_at"),
        schema=schema,
    )


def utc_wall(value: datetime) -> datetime:
    """``value`` as the naive UTC wall time the tool's own table stores."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


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


# -- the tool's own table: writing ----------------------------------------------------


@dataclass
class OwnRunsWriter:
    """Writes the tool's own run table on ``engine``; creates it on the first write.

    Used by the host integration (:func:`whalefall_sched.integration.record_runs`) and
    by ``run``. Each call is one short transaction.
    """

    engine: Engine
    table_name: str = OWN_RUNS
    schema: str | None = None
    _table: Table | None = field(default=None, init=False)
    _created: bool = field(default=False, init=False)

    @property
    def table(self) -> Table:
        """The table's definition."""
        if self._table is None:
            from sqlalchemy import MetaData

            self._table = own_table(MetaData(), self.table_name, self.schema)
        return self._table

    def ensure_table(self) -> None:
        """Create the table (and its indexes) unless it exists."""
        if not self._created:
            self.table.create(self.engine, checkfirst=True)
            self._created = True

    def insert(self, values: dict[str, Any]) -> None:
        """Add one run (``id`` a new UUID string)."""
        self.ensure_table()
        with self.engine.begin() as c:
            c.execute(self.table.insert().values(**_clean(values)))

    def update(self, run_id: str, values: dict[str, Any]) -> int:
        """Change one run; how many rows changed (0: no such run)."""
        self.ensure_table()
        with self.engine.begin() as c:
            stmt = self.table.update().where(self.table.c.id == run_id).values(**_clean(values))
            return int(c.execute(stmt).rowcount or 0)


def own_writer(
    url: str, *, schema: str | None = None, timeout: float = 5.0, table: str = OWN_RUNS
) -> tuple[OwnRunsWriter, StoreConnection]:
    """A writer of the tool's own table in the job store's database at ``url`` (an
    existing SQLite file is never created here), and its connection (close it after)."""
    connection = StoreConnection(url, table=table, schema=schema, timeout=timeout)
    return OwnRunsWriter(connection.engine("rw"), table, schema), connection


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Times as UTC wall times, long texts cut to :data:`TEXT_LIMIT`."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            out[key] = utc_wall(value)
        elif isinstance(value, str) and len(value) > TEXT_LIMIT:
            out[key] = value[: TEXT_LIMIT - 1] + "…"
        else:
            out[key] = value
    return out
