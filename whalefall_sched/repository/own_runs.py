"""Writing the tool's own run table ``whalefall_sched_runs`` (hosts without
``task_runs``): created by the first write, never by a read; one short transaction per
call. Used by the host integration and by ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from whalefall_sched.repository.connection import StoreConnection
from whalefall_sched.repository.history_tables import OWN_RUNS, own_table

if TYPE_CHECKING:
    from sqlalchemy import Engine, Table

#: Longest error message or result summary the tool writes into its own table.
TEXT_LIMIT = 4000


def utc_wall(value: datetime) -> datetime:
    """``value`` as the naive UTC wall time the tool's own table stores."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


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
