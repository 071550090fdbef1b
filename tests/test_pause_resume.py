"""pause / resume: what stock APScheduler's pause_job / resume_job write, on every backend.

Each write is compared with a twin store where stock APScheduler itself pauses or
resumes a byte-identical copy of the row.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import TIMEZONE, Invoke, StockStore, TaskModule
from whalefall_sched.errors import JobNotFoundError, StoreConflictError
from whalefall_sched.repository import CAS_ATTEMPTS, JobStoreRepository, StoredJob
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import load_tasks_file

SHANGHAI = ZoneInfo(TIMEZONE)
NEW_YORK = ZoneInfo("America/New_York")

JOBS: list[dict[str, Any]] = [
    dict(
        func="tests.jobs:record",
        trigger="cron",
        id="cron_job",
        name="Cron job",
        hour=1,
        minute=30,
        args=[1, "x"],
        kwargs={"k": 1},
    ),
    dict(func="tests.jobs:noop", trigger="interval", id="interval_job", hours=2),
    dict(func="tests.jobs:noop", trigger="cron", id="ny_job", hour=1, timezone="America/New_York"),
    dict(func="tests.jobs:noop", trigger="cron", id="paused_job", hour=5, next_run_time=None),
]


@pytest.fixture
def twin(tmp_path: Path) -> StockStore:
    """A second (SQLite) store where stock APScheduler acts on copies of our rows."""
    return StockStore(f"sqlite:///{tmp_path / 'twin.db'}")


def _state(raw: bytes) -> dict[str, Any]:
    state: dict[str, Any] = pickle.loads(raw)
    return state


def _normal(raw: bytes) -> dict[str, str]:
    """A job state by value (pickle memo layout aside), for comparing two rows."""
    state = _state(raw)
    normal = {key: repr(value) for key, value in state.items()}
    normal["trigger"] = repr(state["trigger"].__getstate__())
    return normal


def _same_row(left: tuple[float | None, bytes], right: tuple[float | None, bytes]) -> None:
    """Both rows hold the same next_run_time column and the same job state."""
    assert left[0] == right[0]
    assert _normal(left[1]) == _normal(right[1])


def _copy_to(twin: StockStore, stock: StockStore, job_id: str) -> None:
    next_run_time, job_state = stock.raw()[job_id]
    twin.insert_raw(job_id, job_state, next_run_time)


def _stock_act(store: StockStore, action: str, job_id: str) -> None:
    scheduler = store.scheduler()
    try:
        getattr(scheduler, action)(job_id)
    finally:
        scheduler.shutdown(wait=False)


# -- pause -------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["cron_job", "interval_job", "ny_job"])
def test_pause_writes_what_stock_pause_job_writes(
    stock: StockStore, twin: StockStore, service: SchedulerActionsService, job_id: str
) -> None:
    stock.add(*JOBS)
    _copy_to(twin, stock, job_id)
    before = _state(stock.raw()[job_id][1])
    assert before["next_run_time"] is not None

    result = service.pause_job(job_id)

    assert (result.changed, result.state, result.next_run_time) == (True, "STATE_PAUSED", None)
    next_run_time, job_state = stock.raw()[job_id]
    assert next_run_time is None
    loaded = stock.load()[job_id]
    assert loaded.next_run_time is None
    after = _state(job_state)
    # only next_run_time changed
    assert {k: repr(v) for k, v in after.items() if k != "next_run_time"} == {
        k: repr(v) for k, v in before.items() if k != "next_run_time"
    }
    # stock pause_job on a copy of the same row writes the same row
    _stock_act(twin, "pause_job", job_id)
    _same_row(twin.raw()[job_id], stock.raw()[job_id])


def test_pause_leaves_other_jobs_alone(stock: StockStore, service: SchedulerActionsService) -> None:
    stock.add(*JOBS)
    before = stock.raw()
    service.pause_job("cron_job")
    after = stock.raw()
    assert {k: v for k, v in after.items() if k != "cron_job"} == {
        k: v for k, v in before.items() if k != "cron_job"
    }


def test_pause_of_a_paused_job_is_a_no_op(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    stock.add(*JOBS)
    fingerprint = stock.fingerprint()
    result = service.pause_job("paused_job")
    assert result.changed is False
    assert result.message == "already paused"
    assert result.state == "STATE_PAUSED"
    assert stock.fingerprint() == fingerprint


# -- resume ------------------------------------------------------------------------------


def test_resume_writes_what_stock_resume_job_writes(
    stock: StockStore, twin: StockStore, service: SchedulerActionsService
) -> None:
    stock.add(*JOBS)
    _copy_to(twin, stock, "paused_job")

    result = service.resume_job("paused_job")
    _stock_act(twin, "resume_job", "paused_job")

    assert (result.changed, result.state, result.message) == (True, "STATE_RUNNING", "resumed")
    loaded = stock.load()["paused_job"]
    stock_resumed = twin.load()["paused_job"]
    assert loaded.next_run_time is not None
    # a daily 05:00 job: both resumes give the same fire time (barring a 05:00 crossing)
    assert loaded.next_run_time == stock_resumed.next_run_time
    assert loaded.next_run_time.hour == 5
    assert loaded.next_run_time.utcoffset() == timedelta(hours=8)
    assert result.next_run_time == loaded.next_run_time.isoformat()
    next_run_time, job_state = stock.raw()["paused_job"]
    assert next_run_time == loaded.next_run_time.timestamp()
    _same_row(twin.raw()["paused_job"], (next_run_time, job_state))


def test_resume_uses_the_jobs_own_trigger_and_time_zone(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    stock.add(*JOBS)
    service.pause_job("ny_job")
    # 2030-03-10 is the day US daylight saving time starts
    now = datetime(2030, 3, 10, 20, 0, tzinfo=SHANGHAI)  # 08:00 EDT in New York

    result = service.resume_job("ny_job", now=now)

    expected = datetime(2030, 3, 11, 1, 0, tzinfo=NEW_YORK)
    loaded = stock.load()["ny_job"]
    assert loaded.next_run_time == expected
    assert loaded.next_run_time.utcoffset() == timedelta(hours=-4)
    assert loaded.next_run_time == loaded.trigger.get_next_fire_time(None, now)
    assert stock.raw()["ny_job"][0] == expected.timestamp()
    assert result.next_run_time is not None
    assert datetime.fromisoformat(result.next_run_time) == expected


def test_resume_of_a_running_job_is_a_no_op(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    stock.add(*JOBS)
    fingerprint = stock.fingerprint()
    result = service.resume_job("cron_job")
    assert result.changed is False
    assert result.message == "already running"
    assert result.state == "STATE_RUNNING"
    assert result.next_run_time == stock.load()["cron_job"].next_run_time.isoformat()
    assert stock.fingerprint() == fingerprint


def test_pause_then_resume_round_trip(stock: StockStore, service: SchedulerActionsService) -> None:
    stock.add(*JOBS)
    original = stock.load()["cron_job"]
    service.pause_job("cron_job")
    service.resume_job("cron_job")
    resumed = stock.load()["cron_job"]
    assert resumed.next_run_time == resumed.trigger.get_next_fire_time(
        None, resumed.next_run_time - timedelta(seconds=1)
    )
    assert (resumed.name, resumed.args, resumed.kwargs) == ("Cron job", (1, "x"), {"k": 1})
    assert repr(resumed.trigger) == repr(original.trigger)


def test_resume_of_a_past_date_job_beyond_misfire_grace_is_refused(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    run_date = datetime.now(SHANGHAI) - timedelta(days=1)
    stock.add(
        dict(
            func="tests.jobs:noop",
            trigger="date",
            id="past",
            run_date=run_date,
            next_run_time=None,
        ),
        dict(func="tests.jobs:noop", trigger="cron", id="other", hour=3),
    )
    fingerprint = stock.fingerprint()
    raw_before = stock.raw()

    with pytest.raises(StoreConflictError, match="past its misfire grace"):
        service.resume_job("past")

    assert stock.fingerprint() == fingerprint
    assert stock.raw() == raw_before


def test_resume_of_a_past_date_job_within_misfire_grace_resumes_at_its_date(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    run_date = (datetime.now(SHANGHAI) - timedelta(seconds=60)).replace(microsecond=0)
    stock.add(
        dict(
            func="tests.jobs:noop", trigger="date", id="late", run_date=run_date, next_run_time=None
        )
    )

    result = service.resume_job("late")

    assert result.changed is True
    assert stock.raw()["late"][0] == run_date.timestamp()
    assert _state(stock.raw()["late"][1])["next_run_time"] == run_date


def test_resume_of_a_cron_job_past_its_end_date_is_refused_where_stock_deletes_it(
    stock: StockStore, twin: StockStore, service: SchedulerActionsService
) -> None:
    end = datetime.now(SHANGHAI) - timedelta(days=2)
    stock.add(
        dict(
            func="tests.jobs:noop",
            trigger="cron",
            id="ended",
            hour=3,
            end_date=end,
            next_run_time=None,
        )
    )
    _copy_to(twin, stock, "ended")
    fingerprint = stock.fingerprint()
    raw_before = stock.raw()

    with pytest.raises(StoreConflictError, match="no future fire time"):
        service.resume_job("ended")

    assert stock.fingerprint() == fingerprint
    assert stock.raw() == raw_before
    # what stock resume_job does with the same row: it deletes the job
    _stock_act(twin, "resume_job", "ended")
    assert "ended" not in twin.raw()


# -- never import the task function ----------------------------------------------------


@pytest.fixture
def vanished_module(task_module: TaskModule) -> tuple[str, Path, list[str]]:
    """A task module importable while the job is added, then removed from sys.path.

    Returns (module name, its directory, the sys.path list the caller should drop it from).
    """
    name, directory = task_module(
        "def task():\n    return 'ran'\n", prefix="wfs_vanishing", on_path=True
    )
    return name, directory, sys.path


def _forget(name: str, directory: Path) -> None:
    sys.path.remove(str(directory))
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    assert importlib.util.find_spec(name) is None


def test_pause_and_resume_never_import_the_task_function(
    stock: StockStore, service: SchedulerActionsService, vanished_module: tuple[str, Path, Any]
) -> None:
    name, directory, _ = vanished_module
    stock.add(dict(func=f"{name}:task", trigger="cron", id="gone", hour=3))
    _forget(name, directory)

    paused = service.pause_job("gone")
    assert paused.changed is True
    assert name not in sys.modules
    next_run_time, job_state = stock.raw()["gone"]
    assert next_run_time is None
    assert _state(job_state)["next_run_time"] is None
    assert _state(job_state)["func"] == f"{name}:task"

    resumed = service.resume_job("gone")
    assert resumed.changed is True
    assert name not in sys.modules
    next_run_time, job_state = stock.raw()["gone"]
    state = _state(job_state)
    assert state["next_run_time"] is not None
    assert next_run_time == state["next_run_time"].timestamp()
    assert state["next_run_time"].hour == 3
    assert state["func"] == f"{name}:task"


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["pause_job", "resume_job"])
def test_unknown_job_is_not_found(
    stock: StockStore, service: SchedulerActionsService, action: str
) -> None:
    stock.add(*JOBS)
    fingerprint = stock.fingerprint()
    with pytest.raises(JobNotFoundError, match="nope"):
        getattr(service, action)("nope")
    assert stock.fingerprint() == fingerprint


@pytest.mark.parametrize("action", ["pause_job", "resume_job"])
@pytest.mark.parametrize("next_run_time", [None, 1_900_000_000.0])
def test_unreadable_row_is_a_conflict_and_left_untouched(
    stock: StockStore,
    service: SchedulerActionsService,
    action: str,
    next_run_time: float | None,
) -> None:
    stock.add(*JOBS)
    stock.insert_raw("corrupt", b"\x80\x05not a pickle at all", next_run_time)
    fingerprint = stock.fingerprint()
    with pytest.raises(StoreConflictError, match="cannot be decoded"):
        getattr(service, action)("corrupt")
    assert stock.fingerprint() == fingerprint
    assert stock.raw()["corrupt"] == (next_run_time, b"\x80\x05not a pickle at all")


def test_missing_store_is_a_conflict_and_not_created(sqlite_url: str, tmp_path: Path) -> None:
    service = SchedulerActionsService(JobStoreRepository(sqlite_url), load_tasks_file(None))
    with pytest.raises(StoreConflictError, match="not initialised"):
        service.pause_job("anything")
    assert not (tmp_path / "userdata" / "scheduler.db").exists()


# -- compare-and-swap --------------------------------------------------------------------


def _pause(job: StoredJob) -> dict[str, Any]:
    assert job.decoded is not None
    return {**job.decoded, "next_run_time": None}


def test_a_row_changed_between_read_and_write_is_re_read_and_the_change_re_applied(
    stock: StockStore, repo: JobStoreRepository
) -> None:
    stock.add(*JOBS)
    seen: list[str] = []
    other = stock.scheduler()

    def change(job: StoredJob) -> dict[str, Any]:
        assert job.decoded is not None
        seen.append(job.decoded["name"])
        if len(seen) == 1:
            other.modify_job("cron_job", name="renamed by another writer")
        return _pause(job)

    try:
        outcome = repo.modify_job("cron_job", change)
    finally:
        other.shutdown(wait=False)

    assert seen == ["Cron job", "renamed by another writer"]
    assert outcome.after is not None
    loaded = stock.load()["cron_job"]
    assert loaded.name == "renamed by another writer"  # the other writer's change is kept
    assert loaded.next_run_time is None  # and ours applied on top
    assert stock.raw()["cron_job"] == (None, outcome.after.job_state)


def test_a_row_that_keeps_changing_is_a_conflict_and_the_other_writers_bytes_kept(
    stock: StockStore, repo: JobStoreRepository
) -> None:
    stock.add(*JOBS)
    written: list[tuple[float | None, bytes]] = []
    other = stock.scheduler()

    def change(job: StoredJob) -> dict[str, Any]:
        other.modify_job("cron_job", name=f"other writer #{len(written) + 1}")
        written.append(stock.raw()["cron_job"])
        return _pause(job)

    try:
        with pytest.raises(StoreConflictError, match="changed by another process"):
            repo.modify_job("cron_job", change)
    finally:
        other.shutdown(wait=False)

    assert len(written) == CAS_ATTEMPTS
    assert stock.raw()["cron_job"] == written[-1]
    loaded = stock.load()["cron_job"]
    assert loaded.name == f"other writer #{CAS_ATTEMPTS}"
    assert loaded.next_run_time is not None  # our pause was never written over theirs


def test_a_refusing_change_writes_nothing(stock: StockStore, repo: JobStoreRepository) -> None:
    stock.add(*JOBS)
    fingerprint = stock.fingerprint()
    outcome = repo.modify_job("cron_job", lambda job: None)
    assert outcome.after is None
    assert stock.fingerprint() == fingerprint


# -- CLI -----------------------------------------------------------------------------------


def test_cli_pause_and_resume_exit_codes(stock: StockStore, cli: Invoke) -> None:
    stock.add(*JOBS)
    stock.insert_raw("corrupt", b"garbage", None)

    assert cli("pause", "cron_job", url=stock.url).exit_code == 0
    assert stock.raw()["cron_job"][0] is None
    again = cli("pause", "cron_job", url=stock.url)
    assert again.exit_code == 0
    assert "already paused" in again.output
    assert cli("resume", "cron_job", url=stock.url).exit_code == 0
    assert stock.raw()["cron_job"][0] is not None
    assert cli("pause", "nope", url=stock.url).exit_code == 3
    assert cli("resume", "corrupt", url=stock.url).exit_code == 4
    assert stock.raw()["corrupt"] == (None, b"garbage")
