"""How the repository reaches a store: one engine per access mode, the dialect's session
settings, the job table's definition, and read-only queries; the URL and driver checks
are ``store_url.py``'s, the translation of database errors ``store_errors.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from whalefall_sched.errors import InvalidInputError, StoreConflictError, StoreSystemError
from whalefall_sched.masking import mask_url, redact
from whalefall_sched.repository import store_errors, store_url
from whalefall_sched.repository.sqlite_files import (
    hot_journal,
    idle_wal_database,
    read_recovered_copy,
    unfinished_wal,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Table
    from sqlalchemy.engine import URL

_T = TypeVar("_T")

#: ``ro`` reads only (never creates the SQLite file), ``rw`` writes an existing store,
#: ``rwc`` may create the SQLite file and its directory (``init`` only).
Mode = Literal["ro", "rw", "rwc"]


class StoreConnection:
    """Engines, table and error translation for one job table at one URL."""

    def __init__(
        self,
        url: str,
        *,
        table: str,
        schema: str | None = None,
        timeout: float = 5.0,
        url_option: str = "--url",
    ) -> None:
        self.url = url
        #: The option that gave ``url``, named by the hints (``--history-url``).
        self.url_option = url_option
        self.table_name = table
        self.schema = schema
        #: Seconds to wait for a connection (or, on SQLite, for another writer's lock).
        self.timeout = timeout
        self._engines: dict[str, Engine] = {}
        self._table: Table | None = None

    @property
    def where(self) -> str:
        """The store's location for messages, password masked."""
        qualified = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        return f"{mask_url(self.url)} (table {qualified})"

    def plain_sqlite_file(self) -> Path | None:
        """The file of a plain SQLite URL (``sqlite:///path``, default driver, no query,
        no schema), which reads open with stdlib ``sqlite3`` (:mod:`.sqlite_reads`);
        None for any other URL. Imports no SQLAlchemy."""
        return store_url.plain_sqlite_file(self.url, self.schema)

    def parsed_url(self) -> URL:
        """The URL as SQLAlchemy reads it; :class:`InvalidInputError` if it cannot."""
        return store_url.parse_url(self.url)

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store, None for other stores or in-memory ones."""
        return store_url.sqlite_path(self.url, self.schema)

    def not_initialised(self) -> StoreConflictError:
        """The error for a store whose file or table does not exist: it names the path or
        table looked at, and why it is not a store, and suggests ``init``."""
        path = self.sqlite_path()
        qualified = f"{self.schema}.{self.table_name}" if self.schema else self.table_name
        if path is None:
            where, why = mask_url(self.url), f"table {qualified} does not exist"
        else:
            why = store_url.sqlite_missing(path) or f"the file has no table {qualified}"
            where = str(path.absolute())
        return StoreConflictError(
            f"job store not initialised at {where} ({why}); run `whalefall-sched init` to create it"
        )

    # -- engines -----------------------------------------------------------

    def engine(self, mode: Mode) -> Engine:
        """An engine for ``mode``; one per mode (servers share one for writing)."""
        path = self.sqlite_path()
        key = mode if path is not None or mode == "ro" else "rw"
        if key not in self._engines:
            url = self.parsed_url()
            if path is not None:
                url, connect_args, session_sql = self._sqlite_settings(url, path, mode)
            else:
                connect_args, session_sql = self._server_settings(url, mode)
            self._engines[key] = self._create_engine(url, connect_args, session_sql)
        return self._engines[key]

    def _sqlite_settings(
        self, url: URL, path: Path, mode: Mode
    ) -> tuple[URL, dict[str, Any], list[str]]:
        """Open the file by URI in ``mode``: ``ro`` never creates it, ``rwc`` may."""
        from urllib.parse import quote

        if mode == "rwc":
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise self.not_initialised()
        uri = f"file:{quote(str(path.resolve()))}?mode={mode}"
        if mode == "ro" and idle_wal_database(path):
            # A read-only connection to a WAL database that nobody has open would
            # create -wal and -shm files; with nobody to change it, read it as is.
            uri += "&immutable=1"
        url = url.set(database=uri, query={**url.query, "uri": "true"})
        return url, {"timeout": self.timeout}, []

    def _server_settings(self, url: URL, mode: Mode) -> tuple[dict[str, Any], list[str]]:
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
                store_url.check_pymysql_charset(url.query.get("charset"))
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
        except ModuleNotFoundError as exc:
            raise self.missing_driver(exc.name or str(exc)) from exc
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

    def missing_driver(self, module: str) -> InvalidInputError:
        """The error for a URL whose database driver is not installed: it names the
        command that installs it (the package's ``postgres`` or ``mysql`` extra)."""
        return store_url.missing_driver(self.url, module)

    def close(self) -> None:
        """Release every connection pool."""
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    # -- the table -----------------------------------------------------------

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

    def has_table(self, conn: Connection) -> bool:
        """Whether the job table exists (creates nothing)."""
        from sqlalchemy import inspect

        return inspect(conn).has_table(self.table_name, schema=self.schema)

    # -- errors --------------------------------------------------------------

    def read_only(self, query: Callable[[Connection], _T]) -> _T:
        """Run ``query`` on a read-only connection; never write the database.

        Past a hot journal or an unfinished WAL left by a killed writer, the query runs on
        a recovered private copy (:func:`.sqlite_files.read_recovered_copy`).
        """
        from sqlalchemy.exc import OperationalError

        path = self.sqlite_path()
        if path is not None and unfinished_wal(path):
            return read_recovered_copy(path, query, self.errors)
        try:
            with self.errors(), self.engine("ro").connect() as c:
                return query(c)
        except StoreSystemError as exc:
            if not (path is not None and hot_journal(path)):
                raise
            if not isinstance(exc.__cause__, OperationalError):
                raise
            return read_recovered_copy(path, query, self.errors)

    def errors(self) -> AbstractContextManager[None]:
        """Turn database errors into the core's errors, with the URL masked
        (:func:`.store_errors.sqlalchemy_errors`)."""
        return store_errors.sqlalchemy_errors(self)

    def sqlite3_errors(self) -> AbstractContextManager[None]:
        """:meth:`errors` for stdlib ``sqlite3`` connections: the same errors, the same
        messages (:func:`.store_errors.sqlite3_errors`)."""
        return store_errors.sqlite3_errors(self)
