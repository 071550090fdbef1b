"""The audit table: who changed what, when and why (the only code with its SQL).

One table of the tool's own, ``whalefall_sched_audit``, beside the job table (same
schema), shared by every job table of that schema (``job_table`` says whose event it
is). A stock scheduler never looks at it. Writes append a row in the same transaction
as the change they record (:mod:`.audit_trail` passes the connection); reads open it
read-only and never create it: a store without the table simply has no events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    from sqlalchemy import Connection, Engine, Table

#: The audit table's name (beside the job table, in its schema).
AUDIT_TABLE = "whalefall_sched_audit"
#: The longest ``--reason``, in characters.
MAX_REASON = 500
#: The longest ``--actor``, in characters.
MAX_ACTOR = 191
#: The most job ids an event names (the counts in its detail are exact).
MAX_IDS = 100
#: The largest detail document, in bytes of JSON.
MAX_DETAIL = 8192
#: Outcomes of an event.
DONE, FAILED, NO_OP = "done", "failed", "no-op"
#: Commands whose events decide why a paused job is paused (the latest one wins).
PAUSE_COMMANDS = ("pause", "resume")


@dataclass(frozen=True)
class AuditEntry:
    """What a write records besides its change: the command, who, why, and any facts
    the caller knows (a run's exit status, say). Passed as ``event=`` to a write."""

    command: str
    actor: str
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """One stored event."""

    seq: int
    at: datetime
    actor: str
    command: str
    job_ids: list[str]
    outcome: str
    reason: str | None
    detail: dict[str, Any]


_tables: dict[str | None, Table] = {}


def audit_table(schema: str | None) -> Table:
    """The audit table's definition in ``schema``."""
    if schema not in _tables:
        from sqlalchemy import Column, Integer, MetaData, String, Table, Text

        _tables[schema] = Table(
            AUDIT_TABLE,
            MetaData(),
            Column("seq", Integer, primary_key=True, autoincrement=True),
            Column("at", String(32), nullable=False, index=True),
            Column("job_table", String(191), nullable=False),
            Column("actor", String(191), nullable=False),
            Column("command", String(32), nullable=False),
            Column("outcome", String(16), nullable=False),
            Column("job_ids", Text, nullable=False),
            Column("reason", Text),
            Column("detail", Text, nullable=False),
            schema=schema,
            mysql_charset="utf8mb4",
        )
    return _tables[schema]


def has_table(conn: Connection, schema: str | None) -> bool:
    """Whether the audit table exists (creates nothing)."""
    from sqlalchemy import inspect

    return inspect(conn).has_table(AUDIT_TABLE, schema=schema)


def create_table(engine: Engine, schema: str | None) -> None:
    """Create the audit table in a transaction of its own (called before a write's
    transaction begins: MariaDB commits DDL on its own, and the write's compare-and-swap
    retries must not repeat it). Two writers creating it at once is fine: the one that
    loses finds it there."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.begin() as c:
            audit_table(schema).create(c, checkfirst=True)
    except SQLAlchemyError:
        with engine.connect() as c:
            if not has_table(c, schema):
                raise


def create_in(conn: Connection, schema: str | None) -> None:
    """Create the audit table inside the caller's transaction unless it exists (``init``)."""
    audit_table(schema).create(conn, checkfirst=True)


def _utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ids_json(ids: Sequence[str]) -> str:
    return json.dumps(list(ids)[:MAX_IDS])  # ASCII: any id, lone surrogates included


def _detail_json(detail: Mapping[str, Any]) -> str:
    """``detail`` as JSON of at most :data:`MAX_DETAIL` bytes: id lists are cut first."""
    text = json.dumps(detail, default=str)
    if len(text) <= MAX_DETAIL:
        return text
    cut = {k: (v[:10] if isinstance(v, list) else v) for k, v in detail.items()}
    cut["truncated"] = True
    text = json.dumps(cut, default=str)
    return text if len(text) <= MAX_DETAIL else json.dumps({"truncated": True})


def append(
    conn: Connection,
    schema: str | None,
    entry: AuditEntry,
    *,
    job_table: str,
    job_ids: Sequence[str],
    outcome: str,
    change: Mapping[str, Any],
    now: datetime | None = None,
) -> None:
    """Append one event inside the caller's transaction."""
    detail = {**entry.detail, **change}
    if len(job_ids) > MAX_IDS:
        detail["job_count"] = len(job_ids)
    conn.execute(
        audit_table(schema)
        .insert()
        .values(
            at=_utc_text(now or datetime.now(UTC)),
            job_table=job_table,
            actor=entry.actor[:MAX_ACTOR],
            command=entry.command[:32],
            outcome=outcome,
            job_ids=_ids_json(job_ids),
            reason=entry.reason[:MAX_REASON] if entry.reason is not None else None,
            detail=_detail_json(detail),
        )
    )


# -- reading -----------------------------------------------------------------------


def _row(raw: Sequence[Any]) -> AuditRow | None:
    """An event from its columns; None for a row that is not one of ours."""
    seq, at, actor, command, job_ids, outcome, reason, detail = raw
    try:
        when = datetime.strptime(str(at), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        ids = json.loads(job_ids)
        extra = json.loads(detail)
    except (TypeError, ValueError):
        return None
    if not isinstance(ids, list) or not isinstance(extra, dict):
        return None
    return AuditRow(
        int(seq),
        when,
        str(actor),
        str(command),
        [str(i) for i in ids],
        str(outcome),
        None if reason is None else str(reason),
        extra,
    )


def _like(job_id: str) -> str:
    """A LIKE pattern matching a JSON list that holds ``job_id`` (checked exactly after)."""
    quoted = json.dumps(job_id)
    return "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_COLUMNS = ("seq", "at", "actor", "command", "job_ids", "outcome", "reason", "detail")


def _matching(
    raws: Iterator[Sequence[Any]], job_id: str | None, limit: int | None
) -> list[AuditRow]:
    found: list[AuditRow] = []
    for raw in raws:
        event = _row(raw)
        if event is None or (job_id is not None and job_id not in event.job_ids):
            continue
        found.append(event)
        if limit is not None and len(found) >= limit:
            break
    return found


def select_events(
    conn: Connection,
    schema: str | None,
    job_table: str,
    *,
    job_id: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    commands: Sequence[str] = (),
) -> list[AuditRow]:
    """Events of ``job_table``, newest first (by time, then by order of writing;
    SQLAlchemy; the table must exist)."""
    from sqlalchemy import select

    t = audit_table(schema)
    query = select(*(t.c[name] for name in _COLUMNS)).where(t.c.job_table == job_table)
    if since is not None:
        query = query.where(t.c.at >= _utc_text(since))
    if job_id is not None:
        query = query.where(t.c.job_ids.like(_like(job_id), escape="\\"))
    if commands:
        query = query.where(t.c.command.in_(list(commands)))
    result = conn.execute(query.order_by(t.c.at.desc(), t.c.seq.desc()))
    return _matching(iter(result), job_id, limit)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def has_table3(conn: sqlite3.Connection) -> bool:
    """:func:`has_table` through stdlib ``sqlite3`` (asked as SQLAlchemy asks it)."""
    return bool(conn.execute(f"PRAGMA main.table_info({_quote(AUDIT_TABLE)})").fetchall())


def select_events3(
    conn: sqlite3.Connection,
    job_table: str,
    *,
    job_id: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    commands: Sequence[str] = (),
) -> list[AuditRow]:
    """:func:`select_events` through stdlib ``sqlite3``."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM {_quote(AUDIT_TABLE)} WHERE job_table = ?"  # noqa: S608
    params: list[Any] = [job_table]
    if since is not None:
        sql += " AND at >= ?"
        params.append(_utc_text(since))
    if job_id is not None:
        sql += " AND job_ids LIKE ? ESCAPE '\\'"
        params.append(_like(job_id))
    if commands:
        sql += f" AND command IN ({','.join('?' * len(commands))})"
        params.extend(commands)
    rows = conn.execute(sql + " ORDER BY at DESC, seq DESC", params)
    return _matching(iter(rows), job_id, limit)


def latest_pauses(events: Sequence[AuditRow]) -> dict[str, AuditRow]:
    """Each job's latest pause, from pause/resume events newest first: a job whose latest
    such event is a resume (or a no-op) has none."""
    latest: dict[str, AuditRow] = {}
    for event in events:  # newest first: the first seen per job wins
        if event.outcome != DONE:
            continue
        for job_id in event.job_ids:
            latest.setdefault(job_id, event)
    return {job_id: e for job_id, e in latest.items() if e.command == "pause"}
