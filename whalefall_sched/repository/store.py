"""The job store repository: the only code that runs SQL on the APScheduler table.

Reads open SQLite read-only and never create, alter or delete anything. Writes are
compare-and-swap on the bytes read (``WHERE id = :id AND job_state = :old``), so a row
another process changed in between is re-read, never silently overwritten.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from whalefall_sched.errors import (
    InvalidInputError,
    JobNotFoundError,
    StoreConflictError,
    StoreSystemError,
    WhaleFallSchedError,
)
from whalefall_sched.masking import authority, mask_url, redact
from whalefall_sched.repository.codec import (
    UnreadableStateError,
    decode_state,
    encode_state,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Table
    from sqlalchemy.engine import URL

_T = TypeVar("_T")

#: How many times a compare-and-swap that lost a race is re-read and retried.
CAS_ATTEMPTS = 5
#: A row overdue for longer than this is not being processed by any scheduler.
STALE_AFTER = 30.0
#: Once a scheduler is seen moving rows on, a row this far from due can be written.
SAFE_GAP = 0.5
#: Seconds between two looks at a due row while waiting for a scheduler to move it on.
POLL_INTERVAL = 0.2
BACKUP_FORMAT = "whalefall-sched-backup/1"


@dataclass(frozen=True)
class StoredJob:
    """One row of the job table, decoded when possible."""

    id: str
    next_run_time: float | None
    job_state: bytes = field(repr=False)
    state: dict[str, Any] | None = field(default=None, repr=False)
    #: Why ``state`` is None: the row could not be decoded safely.
    unreadable_reason: str | None = None


@dataclass(frozen=True)
class SchedulerLock:
    """The host app's scheduler lock file beside a SQLite store."""

    path: Path
    exists: bool
    #: True/False from the kernel's lock table; None where it cannot be read.
    held: bool | None
    #: The holder's pid (or, when not held, the pid recorded in the file).
    pid: int | None


@dataclass(frozen=True)
class ModifyOutcome:
    """What :meth:`JobStoreRepository.modify_job` did: ``after`` is None for a no-op."""

    before: StoredJob
    after: StoredJob | None
    #: What the operator should know (e.g. a due job written without a scheduler moving it).
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReplaceOutcome:
    """What :meth:`JobStoreRepository.replace_all` did."""

    removed: list[StoredJob]
    written: list[StoredJob]
    backup_path: Path | None
    notes: list[str] = field(default_factory=list)


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def decode_row(job_id: str, next_run_time: float | None, job_state: bytes) -> StoredJob:
    """Decode one raw row; an undecodable row is kept with the reason."""
    raw = bytes(job_state)
    try:
        state = decode_state(raw)
    except UnreadableStateError as exc:
        return StoredJob(job_id, next_run_time, raw, None, str(exc))
    return StoredJob(job_id, next_run_time, raw, state)


def _in_wal_mode(path: Path) -> bool:
    """Whether a SQLite file's header says it is in WAL mode."""
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
    except OSError:
        return False
    return header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def _idle_wal_database(path: Path) -> bool:
    """A WAL-mode file that no connection has open and whose -wal holds nothing."""
    if Path(f"{path}-shm").exists() or not _in_wal_mode(path):
        return False
    wal = Path(f"{path}-wal")
    return not wal.exists() or wal.stat().st_size == 0


def _unfinished_wal(path: Path) -> bool:
    """A WAL-mode file nobody has open whose -wal still holds pages (after a crash)."""
    wal = Path(f"{path}-wal")
    return (
        not Path(f"{path}-shm").exists()
        and wal.exists()
        and wal.stat().st_size > 0
        and _in_wal_mode(path)
    )


def _intent(job: StoredJob) -> tuple[Any, ...]:
    """What a change means for a row, ignoring a next run time a scheduler moved on."""
    if job.state is None:
        return (job.job_state,)
    state = job.state
    return (
        state.get("func"),
        repr(state.get("trigger")),
        repr(state.get("args")),
        repr(state.get("kwargs")),
        state.get("name"),
        state.get("next_run_time") is None,
    )


class JobStoreRepository:
    """An APScheduler 3 ``SQLAlchemyJobStore`` table, read safely and written atomically."""

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
        self.url = url
        self.table_name = table
        self.schema = schema
        #: Seconds to wait for a connection (or, on SQLite, for another writer's lock).
        self.timeout = timeout
        #: Longest wait for a live scheduler to move a due row on before writing it.
        self.wait = wait
        #: A row due within this many seconds counts as due.
        self.due_margin = due_margin
        #: Pause before re-reading a row written without a scheduler moving it on.
        self.settle = settle
        self._engines: dict[str, Engine] = {}
        self._table: Table | None = None

    # -- connection --------------------------------------------------------

    @property
    def where(self) -> str:
        """The store's location for messages, password masked."""
        qualified = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        return f"{mask_url(self.url)} (table {qualified})"

    def _parsed_url(self) -> URL:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if authority(self.url).count("@") > 1:
            raise InvalidInputError(
                f"invalid store URL {mask_url(self.url)!r}: percent-encode '@' in the "
                "user name or password as %40"
            )
        try:
            return make_url(self.url)
        except ArgumentError as exc:
            raise InvalidInputError(
                f"invalid store URL {mask_url(self.url)!r}; want e.g. "
                "sqlite:///userdata/scheduler.db or postgresql+psycopg://user@host/db"
            ) from exc

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store, None for other stores or in-memory ones."""
        url = self._parsed_url()
        if not url.drivername.startswith("sqlite"):
            return None
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(database)

    def _engine(self, mode: str) -> Engine:
        """An engine; ``mode`` is ``ro`` (read-only), ``rw`` or ``rwc`` (may create the file)."""
        path = self.sqlite_path()
        key = mode if path is not None or mode == "ro" else "rw"
        if key not in self._engines:
            url = self._parsed_url()
            if path is not None:
                url, connect_args, session_sql = self._sqlite_settings(url, path, mode)
            else:
                connect_args, session_sql = self._server_settings(url, mode)
            self._engines[key] = self._create_engine(url, connect_args, session_sql)
        return self._engines[key]

    def _sqlite_settings(
        self, url: URL, path: Path, mode: str
    ) -> tuple[URL, dict[str, Any], list[str]]:
        """Open the file by URI in ``mode``: ``ro`` never creates it, ``rwc`` may."""
        from urllib.parse import quote

        if mode == "rwc":
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise self._not_initialised()
        uri = f"file:{quote(str(path.resolve()))}?mode={mode}"
        if mode == "ro" and _idle_wal_database(path):
            # A read-only connection to a WAL database that nobody has open would
            # create -wal and -shm files; with nobody to change it, read it as is.
            uri += "&immutable=1"
        url = url.set(database=uri, query={**url.query, "uri": "true"})
        return url, {"timeout": self.timeout}, []

    def _server_settings(self, url: URL, mode: str) -> tuple[dict[str, Any], list[str]]:
        """Bounded connects and lock waits; read-only sessions for reads."""
        connect_args: dict[str, Any] = {}
        session_sql: list[str] = []
        wait_s = max(1, round(self.timeout))
        if url.drivername.startswith("postgresql"):
            connect_args["connect_timeout"] = wait_s
            # A row locked by another transaction fails after --timeout (retried, then a
            # conflict) instead of hanging.
            options = [f"-c lock_timeout={wait_s * 1000}"]
            if mode == "ro":
                options.append("-c default_transaction_read_only=on")
            if url.drivername != "postgresql+pg8000":
                connect_args["options"] = " ".join(options)
        elif url.drivername.startswith(("mysql", "mariadb")):
            connect_args["connect_timeout"] = wait_s
            session_sql.append(f"SET SESSION innodb_lock_wait_timeout = {wait_s}")
            if mode == "ro":
                session_sql.append("SET SESSION TRANSACTION READ ONLY")
            if url.drivername.endswith("pymysql"):
                # PyMySQL's connect_timeout covers only the TCP connect: the handshake that
                # follows (and every reply) waits read_timeout, unbounded by default, so a
                # server that accepts and never answers would hang the command forever.
                # It outlasts the lock wait, so a lock wait ends as a lock error.
                connect_args["read_timeout"] = wait_s + 2
        return connect_args, session_sql

    def _create_engine(
        self, url: URL, connect_args: dict[str, Any], session_sql: list[str]
    ) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            engine = create_engine(url, connect_args=connect_args, pool_pre_ping=False)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise InvalidInputError(
                f"cannot use store URL {mask_url(self.url)!r}: {redact(str(exc), self.url)}; "
                "use sqlite:///..., postgresql+psycopg://... (extra 'postgres') or "
                "mysql+pymysql://... (extra 'mysql')"
            ) from exc
        if session_sql:

            @event.listens_for(engine, "connect")
            def _session(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                for statement in session_sql:
                    cursor.execute(statement)
                cursor.close()

        return engine

    def close(self) -> None:
        """Release every connection pool."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    @property
    def table(self) -> Table:
        """The job table, defined by stock APScheduler itself so the schema always matches."""
        if self._table is None:
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
            from sqlalchemy import create_engine

            # No connection is made: the store only needs an engine object to build its Table.
            store = SQLAlchemyJobStore(
                engine=create_engine("sqlite://"),
                tablename=self.table_name,
                tableschema=self.schema,
            )
            self._table = store.jobs_t
        return self._table

    def default_backup_dir(self) -> Path:
        """``backups/`` beside a SQLite store file, else ``userdata/backups``."""
        path = self.sqlite_path()
        return path.parent / "backups" if path is not None else Path("userdata/backups")

    def _not_initialised(self) -> StoreConflictError:
        return StoreConflictError(
            f"job store not initialised at {self.where}; "
            "run `whalefall-sched reload` to register the default jobs"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn database errors into the core's errors, with the URL masked."""
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        try:
            yield
        except WhaleFallSchedError:
            raise
        except DBAPIError as exc:
            lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
            detail = redact(lines[0] if lines else type(exc.orig or exc).__name__, self.url)
            if "database is locked" in detail:
                raise StoreConflictError(
                    f"job store {self.where} stayed locked by another writer for "
                    f"{self.timeout:g}s; nothing written, try again"
                ) from exc
            if any(fragment in detail.lower() for fragment in _TRANSIENT):
                raise _TransientError(f"job store {self.where}: {detail}") from exc
            raise StoreSystemError(
                f"job store {self.where}: {detail} (check the server, --url and --timeout)"
            ) from exc
        except SQLAlchemyError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreSystemError(f"job store {self.where}: {redact(first, self.url)}") from exc

    def _has_table(self, conn: Connection) -> bool:
        from sqlalchemy import inspect

        return inspect(conn).has_table(self.table_name, schema=self.schema)

    def _select_rows(self, conn: Connection, job_id: str | None = None) -> list[StoredJob]:
        from sqlalchemy import select

        t = self.table
        query = select(t.c.id, t.c.next_run_time, t.c.job_state).order_by(t.c.id)
        if job_id is not None:
            query = query.where(t.c.id == job_id)
        # A case-insensitive collation (MariaDB's default) matches 'A' for 'a': ids are exact.
        return [
            decode_row(r.id, r.next_run_time, r.job_state)
            for r in conn.execute(query)
            if job_id is None or r.id == job_id
        ]

    # -- reading -----------------------------------------------------------

    def _read(self, query: Callable[[Connection], _T]) -> _T:
        """Run ``query`` on a read-only connection.

        A SQLite writer killed mid-transaction leaves a hot journal (or, in WAL mode, a
        -wal file nobody has open) that only a read-write open recovers, and a
        read-only one cannot read past without creating files. Then the file and its
        journal are copied to a private temporary directory, the copy is recovered
        there and read: the store itself is never written.
        """
        from sqlalchemy.exc import OperationalError

        path = self.sqlite_path()
        if path is not None and _unfinished_wal(path):
            return self._read_recovered_copy(path, query)
        try:
            with self._errors(), self._engine("ro").connect() as conn:
                return query(conn)
        except StoreSystemError as exc:
            hot = path is not None and Path(f"{path}-journal").exists()
            if not (hot and isinstance(exc.__cause__, OperationalError)):
                raise
            assert path is not None
            return self._read_recovered_copy(path, query)

    def _read_recovered_copy(self, path: Path, query: Callable[[Connection], _T]) -> _T:
        import shutil
        import tempfile

        from sqlalchemy import create_engine

        with tempfile.TemporaryDirectory(prefix="whalefall-sched-") as scratch:
            copy = Path(scratch) / path.name
            shutil.copyfile(path, copy)
            for suffix in ("-journal", "-wal"):
                if Path(f"{path}{suffix}").exists():
                    shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
            engine = create_engine(f"sqlite:///{copy}")
            try:
                with self._errors(), engine.connect() as conn:
                    return query(conn)
            finally:
                engine.dispose()

    def exists(self) -> bool:
        """Whether the store (file and table) exists. Creates nothing."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            return False
        return self._read(self._has_table)

    def list_jobs(self, *, missing_ok: bool = False) -> list[StoredJob]:
        """Every row, sorted by id. A missing store raises a conflict unless ``missing_ok``."""
        path = self.sqlite_path()
        if path is not None and not path.exists():
            if missing_ok:
                return []
            raise self._not_initialised()

        def query(conn: Connection) -> list[StoredJob] | None:
            return self._select_rows(conn) if self._has_table(conn) else None

        rows = self._read(query)
        if rows is None:
            if missing_ok:
                return []
            raise self._not_initialised()
        return rows

    def get_job(self, job_id: str) -> StoredJob:
        """The row with ``job_id``; raises :class:`JobNotFoundError`."""

        def query(conn: Connection) -> list[StoredJob] | None:
            return self._select_rows(conn, job_id) if self._has_table(conn) else None

        rows = self._read(query)
        if rows is None:
            raise self._not_initialised()
        if not rows:
            raise JobNotFoundError(
                f"job {job_id!r} not found in {self.where}; `whalefall-sched list` shows the ids"
            )
        return rows[0]

    def scheduler_lock(self, name: str = "scheduler.lock") -> SchedulerLock | None:
        """Who holds the host app's lock file beside a SQLite store (None for other stores).

        Read passively from ``/proc/locks``: taking the lock, even for an instant, could
        make a starting host app believe another scheduler runs.
        """
        path = self.sqlite_path()
        if path is None:
            return None
        lock = path.parent / name
        try:
            st = lock.stat()
            pid_text = lock.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return SchedulerLock(lock, exists=False, held=False, pid=None)
        recorded = int(pid_text) if pid_text.isdigit() else None
        key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        try:
            lines = Path("/proc/locks").read_text(encoding="utf-8").splitlines()
        except OSError:
            return SchedulerLock(lock, exists=True, held=None, pid=recorded)
        holders = [
            int(f[4]) for f in (line.split() for line in lines) if len(f) > 5 and f[5] == key
        ]
        if holders:
            return SchedulerLock(lock, exists=True, held=True, pid=holders[0])
        return SchedulerLock(lock, exists=True, held=False, pid=recorded)

    # -- writing -----------------------------------------------------------

    def _is_due(self, job: StoredJob, *, scheduler_seen: bool = False) -> bool:
        """Whether a live scheduler may be about to read this row as due, or is doing so.

        Such a row is re-written by the scheduler's ``update_job`` right after it runs the
        job, which would silently revert (or, for a deleted row, crash on) our change. A
        row overdue for longer than ``STALE_AFTER`` seconds is not waited for: a running
        scheduler moves a due row on within moments, so nobody is processing that one.
        Once a scheduler has been seen moving rows on, a row counts as due only within
        ``SAFE_GAP`` seconds: it has just been rescheduled and can be written now.
        """
        if job.next_run_time is None:
            return False
        now = time.time()
        ahead = SAFE_GAP if scheduler_seen else self.due_margin
        return now - STALE_AFTER <= job.next_run_time <= now + ahead

    def _read_row(self, conn: Connection, job_id: str) -> StoredJob | None:
        from sqlalchemy import select

        t = self.table
        row = conn.execute(
            select(t.c.id, t.c.next_run_time, t.c.job_state).where(t.c.id == job_id)
        ).first()
        if row is None or row.id != job_id:  # exact, whatever the collation
            return None
        return decode_row(row.id, row.next_run_time, row.job_state)

    def _current(self, job_id: str) -> StoredJob | None:
        with self._errors(), self._engine("rw").connect() as conn:
            return self._read_row(conn, job_id)

    def _wait_until_moved(self, jobs: Sequence[StoredJob], deadline: float) -> bool:
        """Poll until any of ``jobs`` differs from what was read (a scheduler moved it on)."""
        while time.monotonic() < deadline:
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
            for job in jobs:
                current = self._current(job.id)
                if current is None or current.job_state != job.job_state:
                    return True
        return False

    def _held_by_scheduler(self, ids: Sequence[str]) -> StoreConflictError:
        return StoreConflictError(
            f"a running scheduler kept job(s) {', '.join(ids)} due for {self.wait:g}s "
            "(--wait); nothing written, try again or raise --wait"
        )

    def modify_job(
        self,
        job_id: str,
        change: Callable[[StoredJob], dict[str, Any] | None],
        *,
        attempts: int = CAS_ATTEMPTS,
    ) -> ModifyOutcome:
        """Apply ``change`` to a job's state with compare-and-swap.

        ``change`` gets the decoded row and returns the new state, or None for a no-op;
        it may raise to refuse. A row changed by someone else between read and write is
        re-read and ``change`` applied again, up to ``attempts`` times.

        A row that is due (or due within ``due_margin`` seconds) is not written until a
        live scheduler has moved it on, waiting at most ``wait`` seconds; after that it
        is written anyway, then re-read once ``settle`` seconds later and the change
        re-applied if a scheduler reverted it.
        """
        deadline = time.monotonic() + self.wait
        notes: list[str] = []
        forced = False
        scheduler_seen = False
        lost = 0
        while lost < attempts:
            before = self._read_for_change(job_id)
            new_state = change(before)
            if new_state is None:
                return ModifyOutcome(before, None, notes)
            if not forced and self._is_due(before, scheduler_seen=scheduler_seen):
                if self._wait_until_moved([before], deadline):
                    scheduler_seen = True
                    continue  # moved on: decide again on the new row, at once
                if scheduler_seen:
                    raise self._held_by_scheduler([job_id])
                forced = True
                notes.append(
                    f"job {job_id!r} was due and no running scheduler moved it on within "
                    f"{self.wait:g}s; written anyway"
                )
            try:
                after = self._cas_write(before, new_state)
            except _TransientError:
                after = None
            if after is None:
                lost += 1
                continue
            if forced and self.settle > 0:
                # Nothing moved the row while we waited, yet a scheduler may hold it: look
                # again, and re-apply if what we meant was undone.
                time.sleep(self.settle)
                current = self._current(job_id)
                if current is None or _intent(current) != _intent(after):
                    lost += 1
                    notes.append(f"job {job_id!r} was rewritten by another process; re-applied")
                    continue
            return ModifyOutcome(before, after, notes)
        raise StoreConflictError(
            f"job {job_id!r} was changed by another process {attempts} times while "
            "being written; the last change is kept, try again"
        )

    def _read_for_change(self, job_id: str) -> StoredJob:
        """The decoded row, or the reason it cannot be changed."""
        with self._errors(), self._engine("rw").begin() as conn:
            if not self._has_table(conn):
                raise self._not_initialised()
            job = self._read_row(conn, job_id)
        if job is None:
            raise JobNotFoundError(
                f"job {job_id!r} not found in {self.where}; `whalefall-sched list` shows the ids"
            )
        if job.state is None:
            raise StoreConflictError(
                f"job {job_id!r} cannot be decoded ({job.unreadable_reason}); left unchanged"
            )
        return job

    def _cas_write(self, before: StoredJob, new_state: dict[str, Any]) -> StoredJob | None:
        """Write ``new_state`` if the row still holds ``before``'s bytes; None if not."""
        t = self.table
        data = encode_state(new_state)
        next_ts = _timestamp(new_state.get("next_run_time"))
        with self._errors(), self._engine("rw").begin() as conn:
            result = conn.execute(
                t.update()
                .where(t.c.id == before.id, t.c.job_state == before.job_state)
                .values(next_run_time=next_ts, job_state=data)
            )
            if result.rowcount != 1:
                return None
        return StoredJob(before.id, next_ts, data, new_state)

    def replace_all(
        self,
        new_states: list[dict[str, Any]],
        *,
        backup_dir: Path | None,
        attempts: int = CAS_ATTEMPTS,
    ) -> ReplaceOutcome:
        """Replace every job by ``new_states`` in one transaction; all or nothing.

        Creates the table if missing (as the stock store does on start). Ids present
        before and after are updated in place; others are deleted or inserted. Every
        update and delete is a compare-and-swap on the bytes read, so a concurrent change
        aborts the whole transaction, which is then retried. The rows removed or
        rewritten are saved to ``backup_dir`` first.

        Rows that are due are left to a live scheduler to move on first (at most
        ``wait`` seconds): deleting a row the scheduler is about to ``update_job`` kills
        its thread, and rewriting it would be reverted.
        """
        encoded = [
            (s["id"], _timestamp(s.get("next_run_time")), encode_state(s), s) for s in new_states
        ]
        return self._replace(encoded, backup_dir, attempts)

    def restore_backup(
        self, path: Path, *, backup_dir: Path | None, attempts: int = CAS_ATTEMPTS
    ) -> ReplaceOutcome:
        """Put back, byte for byte, the rows a backup file holds; all or nothing.

        Every current row is replaced (and itself saved to ``backup_dir`` first), with
        the same care for a live scheduler as :meth:`replace_all`.
        """
        rows = [
            (job.id, job.next_run_time, job.job_state, job.state) for job in self.read_backup(path)
        ]
        return self._replace(rows, backup_dir, attempts)

    def read_backup(self, path: Path) -> list[StoredJob]:
        """The rows of a backup of this store's table (decoded where possible)."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read backup {path}: {exc.strerror or exc} "
                f"(reload saves them in {self.default_backup_dir().absolute()})"
            ) from exc
        except ValueError as exc:
            raise InvalidInputError(f"backup {path} is not JSON: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
            raise InvalidInputError(f"{path} is not a whalefall-sched backup ({BACKUP_FORMAT})")
        table, schema = document.get("table"), document.get("schema")
        if (table, schema) != (self.table_name, self.schema):
            where = f"{schema}.{table}" if schema else table
            raise InvalidInputError(
                f"{path} is a backup of table {where!r}, not of {self.where}; "
                "pass the matching --table/--schema"
            )
        try:
            rows = [
                decode_row(
                    str(row["id"]),
                    None if row["next_run_time"] is None else float(row["next_run_time"]),
                    base64.b64decode(row["job_state"], validate=True),
                )
                for row in document["rows"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"backup {path} has a malformed row: {exc}") from exc
        ids = [row.id for row in rows]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InvalidInputError(f"backup {path} holds id(s) twice: {', '.join(duplicates)}")
        return rows

    def _replace(
        self,
        encoded: Sequence[tuple[str, float | None, bytes, dict[str, Any] | None]],
        backup_dir: Path | None,
        attempts: int,
    ) -> ReplaceOutcome:
        t = self.table
        engine = self._engine("rwc")
        with self._errors():
            t.create(engine, checkfirst=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        notes: list[str] = []
        forced: set[str] = set()
        scheduler_seen = False
        deadline = time.monotonic() + self.wait
        lost = 0
        while lost < attempts:
            with self._errors(), engine.connect() as conn:
                current = self._select_rows(conn)
            due = [
                job
                for job in current
                if job.id not in forced and self._is_due(job, scheduler_seen=scheduler_seen)
            ]
            if due:
                if self._wait_until_moved(due, deadline):
                    scheduler_seen = True
                    continue  # re-read at once: the scheduler has just moved a row on
                if scheduler_seen:
                    raise self._held_by_scheduler(sorted(j.id for j in due))
                forced.update(job.id for job in due)
                notes.append(
                    f"job(s) {', '.join(sorted(j.id for j in due))} were due and no running "
                    f"scheduler moved them on within {self.wait:g}s; replaced anyway"
                )
            try:
                outcome = self._replace_once(engine, encoded, backup_dir, stamp)
            except (_LostRaceError, _TransientError):
                lost += 1
                continue
            if forced and self.settle > 0 and self._reverted(outcome, forced):
                lost += 1
                notes.append("a running scheduler rewrote a replaced job; re-applied")
                continue
            return ReplaceOutcome(outcome.removed, outcome.written, outcome.backup_path, notes)
        raise StoreConflictError(
            f"job store {self.where} was changed by another process {attempts} times during "
            "the replacement; nothing written, try again"
        )

    def _reverted(self, outcome: ReplaceOutcome, ids: set[str]) -> bool:
        """Whether, ``settle`` seconds on, any of ``ids`` no longer holds what we meant.

        A scheduler that merely ran a written job and moved its next run time on does not
        count: the job's function, trigger, arguments and paused state are compared.
        """
        time.sleep(self.settle)
        written = {job.id: job for job in outcome.written}
        for job_id in ids:
            current = self._current(job_id)
            expected = written.get(job_id)
            if (current is None) != (expected is None):
                return True
            if (
                current is not None
                and expected is not None
                and _intent(current) != _intent(expected)
            ):
                return True
        return False

    def _replace_once(
        self,
        engine: Engine,
        encoded: Sequence[tuple[str, float | None, bytes, dict[str, Any] | None]],
        backup_dir: Path | None,
        stamp: str,
    ) -> ReplaceOutcome:
        """One all-or-nothing attempt; raises :class:`_LostRaceError` if the store moved."""
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        t = self.table
        with self._errors(), engine.begin() as conn:
            old = self._select_rows(conn)
            backup = None
            if old and backup_dir is not None:
                backup = self._write_backup(old, backup_dir, stamp)
            old_by_id = {job.id: job for job in old}
            new_ids = {job_id for job_id, *_ in encoded}
            for job in old:
                if job.id not in new_ids:
                    self._cas(conn, t.delete(), job)
            written = []
            for job_id, next_ts, data, state in encoded:
                if job_id in old_by_id:
                    update = t.update().values(next_run_time=next_ts, job_state=data)
                    self._cas(conn, update, old_by_id[job_id])
                else:
                    try:
                        conn.execute(
                            t.insert().values(id=job_id, next_run_time=next_ts, job_state=data)
                        )
                    except IntegrityError as exc:  # inserted meanwhile by someone else
                        raise _LostRaceError() from exc
                written.append(StoredJob(job_id, next_ts, data, state))
            # Read back inside the transaction: what is committed is what was meant.
            # (Compared as sets: a server's collation may order ids unlike Python.)
            check = conn.execute(select(t.c.id)).scalars().all()
            if len(check) != len(new_ids) or set(check) != new_ids:
                raise _LostRaceError()
        return ReplaceOutcome(old, written, backup)

    def _cas(self, conn: Connection, statement: Any, job: StoredJob) -> None:
        t = self.table
        result = conn.execute(statement.where(t.c.id == job.id, t.c.job_state == job.job_state))
        if result.rowcount != 1:
            raise _LostRaceError()

    # -- backups -----------------------------------------------------------

    def _write_backup(self, rows: list[StoredJob], directory: Path, stamp: str) -> Path:
        """Save raw rows, restorable byte for byte (job_state in base64)."""
        try:
            # Job arguments can hold secrets: only the owner may read the backups.
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = (directory / f"{self.table_name}-{stamp}.json").absolute()
            document = {
                "format": BACKUP_FORMAT,
                "created_at": datetime.now(UTC).isoformat(),
                "store": mask_url(self.url),
                "table": self.table_name,
                "schema": self.schema,
                "rows": [
                    {
                        "id": row.id,
                        "next_run_time": row.next_run_time,
                        "job_state": base64.b64encode(row.job_state).decode("ascii"),
                    }
                    for row in rows
                ],
            }
            tmp = path.with_suffix(".json.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(document, indent=2, ensure_ascii=False))
            tmp.replace(path)
        except OSError as exc:
            raise StoreSystemError(
                f"cannot write the backup under {directory}: {exc.strerror or exc}; "
                "nothing changed (use --backup-dir or --no-backup)"
            ) from exc
        return path


class _LostRaceError(Exception):
    """A compare-and-swap matched no row: someone else changed the store."""


class _TransientError(StoreConflictError):
    """The database aborted a transaction that is worth retrying (deadlock, serialization)."""


#: Fragments of driver messages for transactions the database aborted on its own.
_TRANSIENT = (
    "deadlock",  # PostgreSQL 40P01, MySQL/MariaDB 1213
    "lock timeout",  # PostgreSQL 55P03 (lock_timeout)
    "could not serialize",  # PostgreSQL 40001
    "lock wait timeout",  # MySQL/MariaDB 1205
)
