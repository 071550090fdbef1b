"""Reading never writes: list and get leave every byte, file and table as they were."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger

from tests.conftest import Invoke, StockStore
from whalefall_sched.errors import JobNotFoundError, StoreConflictError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerJobsReadService
from whalefall_sched.services.dto import STATE_PAUSED, STATE_UNREADABLE
from whalefall_sched.services.tasks_file import load_tasks_file

NOT_INITIALISED = "job store not initialised at"


def _service(url: str) -> tuple[SchedulerJobsReadService, JobStoreRepository]:
    repository = JobStoreRepository(url)
    return SchedulerJobsReadService(repository, load_tasks_file(None)), repository


@pytest.fixture
def service_class() -> type[SchedulerJobsReadService]:
    """``service`` is the read service."""
    return SchedulerJobsReadService


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else ["<absent>"]


def _table_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _read_everything(service: SchedulerJobsReadService, cli: Invoke, url: str) -> int:
    """Every read the tool offers, at service level and through the CLI; returns #jobs."""
    items = list(service.list_jobs())
    for item in items:
        service.get_job(item.id)
    for state in ("STATE_RUNNING", STATE_PAUSED, STATE_UNREADABLE):
        list(service.list_jobs(state=state))
    with pytest.raises(JobNotFoundError):
        service.get_job("no-such-job")
    for args in (
        ("list",),
        ("list", "-o", "json"),
        ("list", "--state", "paused"),
        ("list", "--state", "unreadable", "-o", "json"),
        *(("get", item.id) for item in items),
        *(("get", item.id, "-o", "json") for item in items),
    ):
        result = cli(*args, url=url)
        assert result.exit_code == 0, (args, result.output)
    assert cli("get", "no-such-job", url=url).exit_code == 3
    return len(items)


@pytest.fixture
def store(stock: StockStore) -> StockStore:
    """Readable, paused and unreadable rows, written by stock and by hand."""
    stock.add(
        dict(
            func="tests.jobs:record",
            trigger="cron",
            week="1-10",
            year="2030",
            id="cron",
            args=[1],
            kwargs={"a": "b"},
        ),
        dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="interval"),
        dict(
            func="tests.jobs:noop", trigger="interval", minutes=5, id="paused", next_run_time=None
        ),
        dict(func="tests.jobs:noop", trigger="cron", hour=1, id="sync_accounts"),
    )
    stock.insert_raw("corrupt", b"\x00\x01 not a pickle", 1.0)
    state = {
        "version": 2,
        "id": "v2",
        "func": "tests.jobs:noop",
        "trigger": CronTrigger(hour=1, timezone="UTC"),
    }
    stock.insert_raw("v2", pickle.dumps(state), None)
    # what stock wrote for a job whose task module is not installed here
    state = {**state, "version": 1, "id": "elsewhere", "func": "no_such_module:task"}
    stock.insert_raw("elsewhere", pickle.dumps(state), 4102444800.0)
    return stock


# -- the store's bytes ---------------------------------------------------------------------


def test_list_and_get_leave_the_store_byte_identical(
    store: StockStore, service: SchedulerJobsReadService, cli: Invoke
) -> None:
    fingerprint = store.fingerprint()
    rows = store.raw()
    path = _sqlite_path(store.url)
    listing = _listing(path.parent) if path else None

    assert _read_everything(service, cli, store.url) == 7
    assert _read_everything(service, cli, store.url) == 7

    assert store.fingerprint() == fingerprint
    assert store.raw() == rows
    if path is not None:
        # no -journal (or any other file) left behind
        assert _listing(path.parent) == listing


# -- a store that is not there -------------------------------------------------------------


def _assert_not_initialised(url: str, cli: Invoke) -> None:
    read, repository = _service(url)
    try:
        with pytest.raises(StoreConflictError) as listed:
            read.list_jobs()
        assert str(listed.value).startswith(NOT_INITIALISED)
        assert "run `whalefall-sched init` to create it" in str(listed.value)
        with pytest.raises(StoreConflictError) as got:
            read.get_job("sync_accounts")
        assert str(got.value).startswith(NOT_INITIALISED)
    finally:
        repository.close()
    for args in (("list",), ("get", "sync_accounts")):
        result = cli(*args, url=url)
        assert result.exit_code == 4, result.output
        assert result.stderr.startswith(f"Error: {NOT_INITIALISED}")
        assert len(result.stderr.strip().splitlines()) == 1
        document = json.loads(cli(*args, "-o", "json", url=url).stdout)
        assert document["error"]["code"] == "conflict"
        assert document["error"]["message"].startswith(NOT_INITIALISED)
        assert document["error"]["exit_code"] == 4


def test_missing_sqlite_file_is_not_created(sqlite_url: str, cli: Invoke) -> None:
    path = _sqlite_path(sqlite_url)
    assert path is not None
    assert _listing(path.parent) == []

    _assert_not_initialised(sqlite_url, cli)

    assert not path.exists()
    assert _listing(path.parent) == []  # no file, no -journal, -wal or -shm


def test_missing_sqlite_directory_is_not_created(tmp_path: Path, cli: Invoke) -> None:
    directory = tmp_path / "nowhere" / "deeper"
    url = f"sqlite:///{directory / 'scheduler.db'}"

    _assert_not_initialised(url, cli)

    assert not (tmp_path / "nowhere").exists()


def test_default_store_url_is_not_created(tmp_path: Path, cli: Invoke) -> None:
    """Without --url the store is userdata/scheduler.db in the working directory."""
    before = _listing(tmp_path)
    result = cli("list")
    assert result.exit_code == 4
    assert result.stderr.startswith(f"Error: {NOT_INITIALISED}")
    assert "userdata/scheduler.db" in result.stderr
    assert _listing(tmp_path) == before


def _create_unrelated_table(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO unrelated (id) VALUES (1)"))
    finally:
        engine.dispose()


def test_missing_table_is_not_created(store_url: str, cli: Invoke) -> None:
    _create_unrelated_table(store_url)
    tables = _table_names(store_url)
    assert tables == ["unrelated"]
    path = _sqlite_path(store_url)
    stock = StockStore(store_url)
    fingerprint = stock.fingerprint() if path else None
    listing = _listing(path.parent) if path else None

    _assert_not_initialised(store_url, cli)

    assert _table_names(store_url) == tables
    if path is not None:
        assert stock.fingerprint() == fingerprint
        assert _listing(path.parent) == listing


def test_empty_sqlite_file_is_not_initialised_and_stays_empty(sqlite_url: str, cli: Invoke) -> None:
    path = _sqlite_path(sqlite_url)
    assert path is not None
    path.touch()

    _assert_not_initialised(sqlite_url, cli)

    assert path.stat().st_size == 0
    assert _listing(path.parent) == ["scheduler.db"]


# -- SQLite journal modes ------------------------------------------------------------------


def _journal_mode(path: Path, mode: str) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute(f"PRAGMA journal_mode={mode}").fetchone()[0] == mode
    finally:
        conn.close()


def test_reading_a_rollback_journal_store_leaves_no_journal(
    sqlite_stock: StockStore, cli: Invoke
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    path = _sqlite_path(sqlite_stock.url)
    assert path is not None
    _journal_mode(path, "delete")
    fingerprint = sqlite_stock.fingerprint()
    listing = _listing(path.parent)
    read, repository = _service(sqlite_stock.url)
    try:
        assert _read_everything(read, cli, sqlite_stock.url) == 1
    finally:
        repository.close()
    assert sqlite_stock.fingerprint() == fingerprint
    assert _listing(path.parent) == listing


def test_reading_a_wal_store_creates_no_files(sqlite_stock: StockStore, cli: Invoke) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    path = _sqlite_path(sqlite_stock.url)
    assert path is not None
    _journal_mode(path, "wal")
    assert _listing(path.parent) == ["scheduler.db"]
    fingerprint = sqlite_stock.fingerprint()
    read, repository = _service(sqlite_stock.url)
    try:
        assert [item.id for item in read.list_jobs()] == ["a"]
    finally:
        repository.close()
    assert sqlite_stock.fingerprint() == fingerprint
    assert _listing(path.parent) == ["scheduler.db"]
