"""Shared fixtures: real job stores written by stock APScheduler 3, on real databases.

``store_url`` is parametrised over SQLite, PostgreSQL and MariaDB; each test gets a
database of its own, empty when it starts. A server that is down skips its tests with
one line saying why, unless ``WHALEFALL_SCHED_REQUIRE_DBS=1`` (set by ``.ci/run``), where
it fails them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from typer.testing import CliRunner

from tests.fault_log import FaultLog
from whalefall_sched.cli import app
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService, SchedulerJobsReadService
from whalefall_sched.services.tasks_file import TasksFile, load_tasks_file

REPO = Path(__file__).resolve().parent.parent
TIMEZONE = "Asia/Shanghai"

PG_ADMIN_URL = os.environ.get(
    "WHALEFALL_SCHED_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MYSQL_ADMIN_URL = os.environ.get(
    "WHALEFALL_SCHED_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)
REQUIRE_DBS = os.environ.get("WHALEFALL_SCHED_REQUIRE_DBS") == "1"
BACKENDS = ("sqlite", "postgres", "mysql")
#: The host API's list-item fields: a contract of `list -o json` and of list_jobs().
HOST_LIST_FIELDS = frozenset(
    {
        "id",
        "name",
        "description",
        "next_run_time",
        "last_run_time",
        "trigger_type",
        "trigger_args",
        "state",
        "is_builtin",
        "func",
        "args",
        "kwargs",
    }
)

_server_checked: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: it inherited the controller's environment
    _share_bytecode_cache(config)
    _skip_the_system_ca_bundle()


def _share_bytecode_cache(config: pytest.Config) -> None:
    """One bytecode cache for the suite's processes, outside the source tree.

    Many tests start Python processes (the console script, live schedulers, reloads
    killed mid-write). With ``PYTHONDONTWRITEBYTECODE=1`` and no ``.pyc`` files in the
    environment, each of them would compile SQLAlchemy, APScheduler, Rich and the
    package from source: about a second of CPU per process, and far more when many
    start at once. The workers and every child process share a ``PYTHONPYCACHEPREFIX``
    directory instead: pytest's cache directory (``.pytest_cache``), kept from one run
    to the next, else a temporary one for the session. Nothing is written beside the
    sources, and Python checks each cached file against its source's size and mtime.
    A prefix set by the caller is kept.
    """
    if os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    cache = getattr(config, "cache", None)
    if cache is not None:
        prefix = str(cache.mkdir("pycache"))
    else:  # -p no:cacheprovider
        prefix = tempfile.mkdtemp(prefix="whalefall-sched-pycache-")
        config.add_cleanup(lambda: shutil.rmtree(prefix, ignore_errors=True))
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def _skip_the_system_ca_bundle() -> None:
    """No system CA bundle to parse on every MariaDB connection.

    PyMySQL (1.2 and later) prefers TLS when no SSL option is given: every connection
    builds a default SSL context, and OpenSSL parses the whole system CA bundle for it
    (tens of milliseconds of CPU, for each of the thousands of connections the tests
    open), even when the server has TLS disabled. That preferred mode never verifies a
    certificate, and the tests talk to nothing but the local test servers: so the
    session's processes get an empty ``SSL_CERT_FILE``.
    """
    os.environ["SSL_CERT_FILE"] = os.devnull


#: Tests that run for many seconds, mostly waiting on a child process or a live
#: scheduler: started first (in this order) so that no worker is left with one at the
#: end of a parallel run while the others sit idle. The kill -9 test times an
#: undisturbed reload before it starts killing; the live test that starts a dozen
#: processes at once comes later, so as not to be what that first reload competes with.
LONGEST_FIRST = (
    "tests/test_faults.py::test_kill_reload_at_random_moments",
    "tests/live/test_update_job_races.py",
    "tests/live/test_reload_live.py",
    "tests/live/test_pause_resume_live.py",
    "tests/live/test_wakeup_gap.py",
    "tests/live/",
    "tests/test_cli_subprocess.py",
    "tests/test_databases.py::test_unreachable_server",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)  # stable: the collection order otherwise


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: three workers per core, eight at most.

    Most of the suite's time is spent waiting (on live schedulers' intervals, child
    processes, lock and connect timeouts), not computing; each worker holds a few
    database connections, hence the cap.
    """
    return min(3 * (os.cpu_count() or 1), 8)


def _server_problem(admin_url: str) -> str | None:
    """None when the server answers, else why not (checked once per session)."""
    if admin_url not in _server_checked:
        engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _server_checked[admin_url] = None
        except Exception as exc:  # any failure means: no usable server here
            first_line = str(exc).strip().splitlines()[0]
            _server_checked[admin_url] = f"{type(exc).__name__}: {first_line}"
        finally:
            engine.dispose()
    return _server_checked[admin_url]


def _need_server(backend: str, admin_url: str) -> None:
    problem = _server_problem(admin_url)
    if problem is None:
        return
    masked = sa.engine.make_url(admin_url).render_as_string(hide_password=True)
    message = f"{backend} server not reachable at {masked} ({problem})"
    if REQUIRE_DBS:
        pytest.fail(message + "; WHALEFALL_SCHED_REQUIRE_DBS=1 makes this a failure")
    pytest.skip(message + "; set WHALEFALL_SCHED_TEST_*_URL or start the server")


class ServerDatabases:
    """The databases one test process uses on one server; each test gets one, empty.

    MariaDB creates and drops a database in a few tens of milliseconds: each test gets
    a new one, dropped afterwards. PostgreSQL takes a fraction of a second (it copies
    the template database and syncs it to disk), while emptying one takes a few
    milliseconds: so after each test every session on its database is ended,
    everything in it is dropped, it is checked to look exactly as it did when it was
    created, and it is renamed before another test gets it. One that does not pass is
    dropped, never handed out again. Whatever is left is dropped at the end of the
    session.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.reuse = self.admin.dialect.name == "postgresql"
        #: database name -> what it looked like when created (see _signature)
        self.created: dict[str, tuple[Any, ...]] = {}
        self.emptied: list[str] = []

    def url(self, name: str) -> str:
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def acquire(self) -> str:
        """The name of an empty database for one test."""
        if self.emptied:
            return self.emptied.pop()
        name = f"wfs_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        self.created[name] = ()
        if self.reuse:
            with self._connect(name) as conn:
                self.created[name] = self._signature(conn)
        return name

    def release(self, name: str) -> None:
        """After a test: empty its database and rename it for the next test, or drop it.

        The new name means that a process the test left behind cannot reach the next
        test's store with the URL it was given.
        """
        renamed = None
        if self.reuse:
            try:
                with self._connect(name) as conn:
                    with conn.begin():
                        self._empty(conn)
                    reusable = self._signature(conn) == self.created[name]
                if reusable:
                    renamed = f"wfs_{uuid.uuid4().hex[:12]}"
                    with self.admin.connect() as conn:  # fails if anyone connected since
                        conn.execute(sa.text(f"ALTER DATABASE {name} RENAME TO {renamed}"))
            except sa.exc.SQLAlchemyError:
                renamed = None
        if renamed is None:
            self.drop(name)
            return
        self.created[renamed] = self.created.pop(name)
        self.emptied.append(renamed)

    def drop(self, name: str) -> None:
        self.created.pop(name, None)
        with self.admin.connect() as conn:
            if self.admin.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.admin.dispose()

    @contextlib.contextmanager
    def _connect(self, name: str) -> Iterator[sa.Connection]:
        """One connection to the database itself, closed afterwards (no pool kept)."""
        engine = sa.create_engine(self.url(name), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    @staticmethod
    def _empty(conn: sa.Connection) -> None:
        """End the test's sessions (as DROP ... WITH (FORCE) would); drop what it made."""
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
        schemas = conn.execute(
            sa.text(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                "AND nspname NOT IN ('public', 'information_schema')"
            )
        ).scalars()
        for schema in list(schemas):
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        kinds = {"r": "TABLE", "p": "TABLE", "f": "FOREIGN TABLE", "v": "VIEW"}
        kinds |= {"m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
        relations = conn.execute(
            sa.text(
                "SELECT c.relname, c.relkind FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')"
            )
        ).all()
        for relname, relkind in relations:
            conn.execute(sa.text(f'DROP {kinds[relkind]} IF EXISTS public."{relname}" CASCADE'))

    @staticmethod
    def _signature(conn: sa.Connection) -> tuple[Any, ...]:
        """What is in the database: its schemas (owner, grants) and counts of objects."""
        schemas = conn.execute(
            sa.text(
                "SELECT nspname, nspowner::regrole::text, nspacl::text FROM pg_namespace "
                "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' "
                "ORDER BY nspname"
            )
        ).all()
        counts = conn.execute(
            sa.text(
                "SELECT "
                "(SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                " ON n.oid = c.relnamespace WHERE n.nspname = 'public'), "
                "(SELECT count(*) FROM pg_type t JOIN pg_namespace n "
                " ON n.oid = t.typnamespace WHERE n.nspname = 'public'), "
                "(SELECT count(*) FROM pg_proc p JOIN pg_namespace n "
                " ON n.oid = p.pronamespace WHERE n.nspname = 'public'), "
                "(SELECT count(*) FROM pg_extension), "
                "(SELECT count(*) FROM pg_largeobject_metadata), "
                "(SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d "
                " ON d.oid = s.setdatabase WHERE d.datname = current_database())"
            )
        ).one()
        return (tuple(map(tuple, schemas)), tuple(counts))


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, ServerDatabases]]:
    """This process's :class:`ServerDatabases`, by admin URL (dropped at the end)."""
    servers: dict[str, ServerDatabases] = {}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(params=BACKENDS)
def store_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    server_databases: dict[str, ServerDatabases],
) -> Iterator[str]:
    """A URL to an empty store of its own, on each of SQLite, PostgreSQL and MariaDB.

    On a server, the test has a database to itself, empty when the test starts (see
    :class:`ServerDatabases`).
    """
    backend = request.param
    if backend == "sqlite":
        (tmp_path / "userdata").mkdir()
        yield f"sqlite:///{tmp_path / 'userdata' / 'scheduler.db'}"
        return
    admin_url = PG_ADMIN_URL if backend == "postgres" else MYSQL_ADMIN_URL
    _need_server(backend, admin_url)
    if admin_url not in server_databases:
        server_databases[admin_url] = ServerDatabases(admin_url)
    server = server_databases[admin_url]
    name = server.acquire()
    try:
        yield server.url(name)
    finally:
        server.release(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL to a SQLite store file that does not exist yet (its directory does)."""
    (tmp_path / "userdata").mkdir(exist_ok=True)
    return f"sqlite:///{tmp_path / 'userdata' / 'scheduler.db'}"


@dataclass
class StockStore:
    """A job store written and read by stock APScheduler 3: the reference client."""

    url: str
    table: str = "apscheduler_jobs"
    schema: str | None = None

    def _store(self) -> SQLAlchemyJobStore:
        return SQLAlchemyJobStore(url=self.url, tablename=self.table, tableschema=self.schema)

    def scheduler(self) -> BackgroundScheduler:
        """A started but paused scheduler on this store (adds write straight through)."""
        scheduler = BackgroundScheduler(
            jobstores={"default": self._store()},
            timezone=TIMEZONE,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        scheduler.start(paused=True)
        return scheduler

    def create(self) -> None:
        """The empty job table, created by stock APScheduler on a scheduler's first start."""
        self.scheduler().shutdown(wait=False)

    def add(self, *jobs: dict[str, Any]) -> None:
        """``scheduler.add_job(**job)`` for each job, as the host app does."""
        scheduler = self.scheduler()
        try:
            for job in jobs:
                scheduler.add_job(**job)
        finally:
            scheduler.shutdown(wait=False)

    def load(self) -> dict[str, Any]:
        """Every job as stock APScheduler loads it (imports the functions), by id.

        Note: like stock, this deletes rows it cannot load; call it only where every
        row is expected to load.
        """
        store = self._store()
        store.start(BackgroundScheduler(timezone=TIMEZONE), "default")
        try:
            return {job.id: job for job in store.get_all_jobs()}
        finally:
            store.shutdown()

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url)

    def table_obj(self) -> sa.Table:
        table: sa.Table = self._store().jobs_t
        return table

    def raw(self) -> dict[str, tuple[float | None, bytes]]:
        """Every row as stored: id -> (next_run_time, job_state bytes)."""
        t = self.table_obj()
        engine = self.engine()
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.select(t.c.id, t.c.next_run_time, t.c.job_state))
                return {r.id: (r.next_run_time, bytes(r.job_state)) for r in rows}
        finally:
            engine.dispose()

    def insert_raw(self, job_id: str, job_state: bytes, next_run_time: float | None = None) -> None:
        """Insert a row by hand (a corrupt or crafted one, say)."""
        t = self.table_obj()
        engine = self.engine()
        try:
            t.create(engine, checkfirst=True)
            with engine.begin() as conn:
                conn.execute(
                    t.insert().values(id=job_id, next_run_time=next_run_time, job_state=job_state)
                )
        finally:
            engine.dispose()

    def fingerprint(self) -> str:
        """A digest of every row's bytes (for SQLite, of the file itself)."""
        if self.url.startswith("sqlite:///"):
            path = Path(self.url.removeprefix("sqlite:///"))
            return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"
        digest = hashlib.sha256()
        for job_id, (next_run_time, state) in sorted(self.raw().items()):
            digest.update(f"{job_id}|{next_run_time!r}|".encode() + state)
        return digest.hexdigest()


@pytest.fixture
def stock(store_url: str) -> StockStore:
    """Stock APScheduler over the parametrised store."""
    return StockStore(store_url)


@pytest.fixture
def repo(store_url: str) -> Iterator[JobStoreRepository]:
    """The repository over the parametrised store, closed afterwards."""
    repository = JobStoreRepository(store_url)
    yield repository
    repository.close()


@pytest.fixture
def sqlite_stock(sqlite_url: str) -> StockStore:
    """Stock APScheduler over a SQLite store."""
    return StockStore(sqlite_url)


@pytest.fixture(autouse=True)
def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No WHALEFALL_SCHED_* variable leaks in; tests run in a scratch directory."""
    keep = ("WHALEFALL_SCHED_TEST", "WHALEFALL_SCHED_REQUIRE_DBS")
    for key in list(os.environ):
        if key.startswith("WHALEFALL_SCHED_") and not key.startswith(keep):
            monkeypatch.delenv(key)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)


Invoke = Callable[..., Any]


@pytest.fixture
def cli() -> Invoke:
    """Run the CLI in-process through Typer's CliRunner: ``cli("list", url=...)``."""
    runner = CliRunner()

    def invoke(*args: str, url: str | None = None, input: str | None = None) -> Any:
        argv = (["--url", url] if url else []) + list(args)
        return runner.invoke(app, argv, input=input, catch_exceptions=False)

    return invoke


# -- services, tasks files, task modules, the fault log ------------------------------------


@pytest.fixture
def service_class() -> type[SchedulerActionsService] | type[SchedulerJobsReadService]:
    """Which service ``service`` is: the actions; a test module about reads overrides this."""
    return SchedulerActionsService


@pytest.fixture
def service_tasks() -> TasksFile:
    """The tasks file ``service`` is built with: the bundled one unless a module overrides."""
    return load_tasks_file(None)


@pytest.fixture
def service(
    service_class: type[SchedulerActionsService] | type[SchedulerJobsReadService],
    repo: JobStoreRepository,
    service_tasks: TasksFile,
) -> SchedulerActionsService | SchedulerJobsReadService:
    """The service under test over ``repo`` (the parametrised store) and ``service_tasks``."""
    return service_class(repo, service_tasks)


def write_tasks_file(path: Path, content: str | Mapping[str, Any]) -> Path:
    """Write a tasks file; return its path. ``content``: YAML text (dedented) or a document."""
    if isinstance(content, str):
        text = textwrap.dedent(content)
    else:
        text = yaml.safe_dump(dict(content), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


TaskModule = Callable[..., tuple[str, Path]]


@pytest.fixture
def task_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskModule]:
    """Write task modules: ``task_module(source)`` returns ``(module name, its directory)``.

    Each module goes in a directory of its own, off ``sys.path`` unless ``on_path=True``,
    under a name of its own (``prefix`` and a random part) unless ``name`` is given (a
    stand-in of the same name elsewhere, say). After the test ``sys.path`` is restored
    and the modules are forgotten.
    """
    monkeypatch.setattr(sys, "path", list(sys.path))
    names: list[str] = []

    def make(
        source: str, *, prefix: str = "wfs_tasks", name: str | None = None, on_path: bool = False
    ) -> tuple[str, Path]:
        name = name or f"{prefix}_{uuid.uuid4().hex[:8]}"
        names.append(name)
        directory = tmp_path / f"modules_{len(names)}"
        directory.mkdir()
        (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        if on_path:
            sys.path.insert(0, str(directory))
        return name, directory

    yield make
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def fault_log(tmp_path: Path) -> Iterator[FaultLog]:
    """The fault log (see ``tests/fault_log.py``); the test's lines are printed at the end."""
    log = FaultLog.at(tmp_path)
    yield log
    print(log.summary())
