"""The run history's table definitions: the host's ``task_runs``/``task_run_items``
(WhaleFall 2026-07) and the tool's own ``whalefall_sched_runs``. Defines them only; the
reads are ``history.py``'s, the writes ``own_runs.py``'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table

#: The host's tables (WhaleFall 2026-07 ``app/models/task_run*.py``).
HOST_RUNS = "task_runs"
HOST_ITEMS = "task_run_items"
#: The tool's own table, in the job store's database.
OWN_RUNS = "whalefall_sched_runs"


def _json_type() -> Any:
    from sqlalchemy import JSON
    from sqlalchemy.dialects import postgresql

    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def host_tables(metadata: MetaData, schema: str | None = None) -> tuple[Table, Table]:
    """``task_runs`` and ``task_run_items`` as the 2026-07 host's models define them
    (used to read them, ``history.py``, and by the tests to create them as the host does)."""
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
