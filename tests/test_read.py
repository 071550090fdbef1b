"""The read path on stores written by stock APScheduler: list_jobs, get_job, cron fields."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import pickle
import sys
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytz
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tests.conftest import HOST_LIST_FIELDS, Invoke, StockStore, TaskModule
from whalefall_sched.errors import JobNotFoundError
from whalefall_sched.repository.codec import decode_state, encode_state
from whalefall_sched.services import SchedulerJobsReadService
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, STATE_UNREADABLE
from whalefall_sched.services.triggers import trigger_args, trigger_type

START = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
CRON_KEYS = ("second", "minute", "hour", "day", "month", "day_of_week", "year")
DEFAULTS = {
    "second": "0",
    "minute": "0",
    "hour": "0",
    "day": "*",
    "month": "*",
    "day_of_week": "*",
    "year": "",
}
#: APScheduler's order of CronTrigger.fields.
FIELD_ORDER = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")


class Custom:
    """Importable here, but not a class a job state may hold."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Custom)

    __hash__ = object.__hash__


class _System:
    """Pickles as ``os.system(command)``: a crafted row."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


class _Open:
    """Pickles as ``open(path, "w")``: a crafted row that would create a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (self.path, "w")


@pytest.fixture
def service_class() -> type[SchedulerJobsReadService]:
    """``service`` is the read service."""
    return SchedulerJobsReadService


def _add_paused_by_stock(stock: StockStore, **job: Any) -> None:
    """Add a job, then pause it with stock ``pause_job``."""
    scheduler = stock.scheduler()
    try:
        scheduler.add_job(**job)
        scheduler.pause_job(job["id"])
    finally:
        scheduler.shutdown(wait=False)


@pytest.fixture
def populated(stock: StockStore) -> StockStore:
    """One job of each kind, added (out of id order) by stock APScheduler."""
    stock.add(
        dict(
            func="tests.jobs:noop",
            trigger=AndTrigger(
                [
                    CronTrigger(day_of_week="mon", hour=3, start_date=START, timezone="UTC"),
                    CronTrigger(day="1-7", hour=3, start_date=START, timezone="UTC"),
                ]
            ),
            id="and",
        ),
        dict(
            func="tests.jobs:record",
            trigger="cron",
            id="cron_week",
            name="weekly report",
            week="10-20",
            year="2030-2032",
            day_of_week="mon",
            hour=3,
            args=[1, "x", [2, 3]],
            kwargs={"n": 2, "amount": Decimal("1.50"), "flag": True},
            misfire_grace_time=60,
            max_instances=3,
            coalesce=False,
        ),
        dict(
            func="tests.jobs:noop",
            trigger=IntervalTrigger(
                minutes=30,
                start_date=dt.datetime(2031, 1, 1, tzinfo=ZoneInfo("America/New_York")),
                timezone=ZoneInfo("America/New_York"),
            ),
            id="interval_zoneinfo",
        ),
        dict(
            func="tests.jobs:noop",
            trigger="date",
            run_date=dt.datetime(2031, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            id="date_fixed",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=DateTrigger(pytz.timezone("Asia/Shanghai").localize(dt.datetime(2031, 3, 4))),
            id="date_pytz",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=CalendarIntervalTrigger(
                months=1, hour=4, start_date=dt.date(2031, 1, 1), timezone="Europe/Berlin"
            ),
            id="calendar",
        ),
        dict(
            func="tests.jobs:noop",
            trigger=OrTrigger(
                [
                    CronTrigger(hour=2, start_date=START, timezone="UTC"),
                    CronTrigger(hour=1, start_date=START, timezone="UTC"),
                ]
            ),
            id="or",
        ),
        dict(
            func="tests.jobs:noop",
            trigger="interval",
            seconds=30,
            id="paused_added",
            next_run_time=None,
        ),
        dict(
            func="tests.jobs:record",
            trigger="cron",
            hour=1,
            id="sync_accounts",
            kwargs={"manual_run": False},
        ),
    )
    _add_paused_by_stock(stock, func="tests.jobs:noop", trigger="cron", hour=5, id="paused_stock")
    return stock


EXPECTED_NEXT = {
    "and": "2031-01-06T03:00:00+00:00",
    "calendar": "2031-01-01T04:00:00+01:00",
    "cron_week": "2030-03-04T03:00:00+08:00",
    "date_fixed": "2031-01-01T00:00:00+05:30",
    "date_pytz": "2031-03-04T00:00:00+08:00",
    "interval_zoneinfo": "2031-01-01T00:00:00-05:00",
    "or": "2031-01-01T01:00:00+00:00",
    "paused_added": None,
    "paused_stock": None,
}
EXPECTED_TYPES = {
    "and": "and",
    "calendar": "calendarinterval",
    "cron_week": "cron",
    "date_fixed": "date",
    "date_pytz": "date",
    "interval_zoneinfo": "interval",
    "or": "or",
    "paused_added": "interval",
    "paused_stock": "cron",
    "sync_accounts": "cron",
}


# -- list_jobs ---------------------------------------------------------------------------


def test_list_jobs_sorted_by_id_with_the_host_api_fields(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    items = list(service.list_jobs())
    ids = [item.id for item in items]
    assert ids == sorted(EXPECTED_TYPES)
    for item in items:
        document = item.to_dict()
        assert document.keys() >= HOST_LIST_FIELDS
        assert document["last_run_time"] is None
        assert document["trigger_type"] == EXPECTED_TYPES[item.id]
        json.dumps(document)  # plain JSON data


def test_list_jobs_matches_what_stock_apscheduler_loads(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    items = {item.id: item for item in service.list_jobs()}
    stock_jobs = populated.load()
    assert items.keys() == stock_jobs.keys()
    for job_id, job in stock_jobs.items():
        item = items[job_id]
        expected_next = job.next_run_time.isoformat() if job.next_run_time else None
        assert item.next_run_time == expected_next, job_id
        assert item.name == job.name
        assert item.func == job.func_ref
        assert item.args == list(job.args)
        assert item.kwargs == job.kwargs
        assert item.state == (STATE_RUNNING if job.next_run_time else STATE_PAUSED)
        if item.trigger_type != "cron":
            assert item.trigger_args == {"description": str(job.trigger)}


def test_next_run_time_is_iso_8601_with_offset_in_the_job_s_zone(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    items = {item.id: item for item in service.list_jobs()}
    for job_id, expected in EXPECTED_NEXT.items():
        assert items[job_id].next_run_time == expected, job_id
    for item in items.values():
        if item.next_run_time is not None:
            assert dt.datetime.fromisoformat(item.next_run_time).utcoffset() is not None


def test_cron_job_with_week_and_year(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    item = next(i for i in service.list_jobs() if i.id == "cron_week")
    assert item.to_dict() | {"func_ref": None, "executor": None} == {
        "id": "cron_week",
        "name": "weekly report",
        "description": None,
        "next_run_time": "2030-03-04T03:00:00+08:00",
        "next_run_time_utc": "2030-03-03T19:00:00Z",
        "last_run_time": None,
        "last_run_time_utc": None,
        "trigger_type": "cron",
        "trigger_args": {
            "second": "0",
            "minute": "0",
            "hour": "3",
            "day": "*",
            "month": "*",
            "day_of_week": "mon",
            "year": "2030-2032",
            "week": "10-20",
        },
        "state": STATE_RUNNING,
        "is_builtin": False,
        "func": "tests.jobs:record",
        "args": [1, "x", [2, 3]],
        "kwargs": {"n": 2, "amount": "1.50", "flag": True},
        "func_ref": None,
        "executor": None,
        "unreadable_reason": None,
        "paused_by": None,
        "paused_reason": None,
        "paused_at": None,
        "paused_at_utc": None,
    }
    assert item.kwargs["amount"] == Decimal("1.50")


def test_paused_jobs_both_ways(populated: StockStore, service: SchedulerJobsReadService) -> None:
    items = {item.id: item for item in service.list_jobs()}
    for job_id in ("paused_added", "paused_stock"):
        assert items[job_id].state == STATE_PAUSED
        assert items[job_id].next_run_time is None
    assert items["paused_stock"].trigger_args["hour"] == "5"
    running = [i.id for i in items.values() if i.state == STATE_RUNNING]
    assert sorted(running) == sorted(set(EXPECTED_TYPES) - {"paused_added", "paused_stock"})


def test_state_filter(populated: StockStore, service: SchedulerJobsReadService) -> None:
    assert [i.id for i in service.list_jobs(state=STATE_PAUSED)] == [
        "paused_added",
        "paused_stock",
    ]
    assert len(list(service.list_jobs(state=STATE_RUNNING))) == len(EXPECTED_TYPES) - 2
    assert list(service.list_jobs(state=STATE_UNREADABLE)) == []


def test_builtin_jobs_come_from_the_tasks_file(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    items = {item.id: item for item in service.list_jobs()}
    builtin = items["sync_accounts"]
    assert builtin.is_builtin is True
    assert builtin.description == "每日同步所有数据库实例的账户信息"
    assert builtin.kwargs == {"manual_run": False}
    assert [i.id for i in items.values() if i.is_builtin] == ["sync_accounts"]


def test_empty_store_lists_nothing(stock: StockStore, service: SchedulerJobsReadService) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="interval", seconds=5, id="gone"))
    scheduler = stock.scheduler()
    scheduler.remove_all_jobs()
    scheduler.shutdown(wait=False)
    assert list(service.list_jobs()) == []


def test_ids_sort_the_same_on_every_database(
    stock: StockStore, service: SchedulerJobsReadService
) -> None:
    # no two ids differ only in case or accent: MariaDB's default collation would call them equal
    ids = ["b", "A", "a_b", "a-b", "ab", "Z", "_z", "10", "9", "é", "a b", "Ba"]
    stock.add(*(dict(func="tests.jobs:noop", trigger="interval", seconds=5, id=i) for i in ids))
    assert [item.id for item in service.list_jobs()] == sorted(ids)


# -- get_job -----------------------------------------------------------------------------


def test_get_job_fields_match_stock(
    populated: StockStore, service: SchedulerJobsReadService
) -> None:
    stock_jobs = populated.load()
    for job_id, job in stock_jobs.items():
        detail = service.get_job(job_id)
        assert detail.id == job_id
        assert detail.name == job.name
        assert detail.next_run_time == (
            job.next_run_time.isoformat() if job.next_run_time else None
        )
        assert detail.trigger == str(job.trigger)
        assert detail.func == job.func_ref
        assert detail.args == list(job.args)
        assert detail.kwargs == job.kwargs
        assert detail.misfire_grace_time == job.misfire_grace_time
        assert detail.max_instances == job.max_instances
        assert detail.coalesce == job.coalesce


def test_get_job_of_a_cron_job(populated: StockStore, service: SchedulerJobsReadService) -> None:
    detail = service.get_job("cron_week")
    document = detail.to_dict()
    assert {k: document[k] for k in ("id", "name", "next_run_time", "trigger", "func")} == {
        "id": "cron_week",
        "name": "weekly report",
        "next_run_time": "2030-03-04T03:00:00+08:00",
        "trigger": "cron[year='2030-2032', week='10-20', day_of_week='mon', hour='3']",
        "func": "tests.jobs:record",
    }
    assert (detail.misfire_grace_time, detail.max_instances, detail.coalesce) == (60, 3, False)
    # the scheduler's job defaults, as stock wrote them
    other = service.get_job("or")
    assert (other.misfire_grace_time, other.max_instances, other.coalesce) == (300, 1, True)
    assert other.trigger == "or[cron[hour='2'], cron[hour='1']]"
    assert service.get_job("paused_stock").state == STATE_PAUSED


def test_get_unknown_job_is_not_found(
    populated: StockStore, service: SchedulerJobsReadService, cli: Invoke
) -> None:
    with pytest.raises(JobNotFoundError, match="'nope' not found"):
        service.get_job("nope")
    result = cli("get", "nope", "-o", "json", url=populated.url)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["code"] == "not_found"


def test_cli_list_and_get_json(populated: StockStore, cli: Invoke) -> None:
    result = cli("list", "-o", "json", url=populated.url)
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)["items"]
    assert [d["id"] for d in documents] == sorted(EXPECTED_TYPES)
    by_id = {d["id"]: d for d in documents}
    assert by_id["date_pytz"]["next_run_time"] == "2031-03-04T00:00:00+08:00"
    assert by_id["paused_stock"]["state"] == STATE_PAUSED
    listed = cli("list", "--state", "paused", "-o", "json", url=populated.url)
    paused = json.loads(listed.stdout)["items"]
    assert [d["id"] for d in paused] == ["paused_added", "paused_stock"]
    detail = json.loads(cli("get", "cron_week", "-o", "json", url=populated.url).stdout)
    assert detail["trigger"] == "cron[year='2030-2032', week='10-20', day_of_week='mon', hour='3']"
    assert detail["kwargs"] == {"n": 2, "amount": "1.50", "flag": True}


def test_cli_table_shows_a_restricted_week(populated: StockStore, cli: Invoke) -> None:
    result = cli("list", url=populated.url)
    assert result.exit_code == 0, result.output
    assert "WEEK" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "cron_week" in line)
    assert "10-20" in row
    assert "2030-2032" in row


# -- a task module that does not exist here ----------------------------------------------


class _ImportRecorder:
    """A meta path finder that records attempts to import one module and finds nothing."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.attempts: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".", maxsplit=1)[0] == self.name:
            self.attempts.append(fullname)


@pytest.fixture
def vanished_module(
    task_module: TaskModule, stock: StockStore
) -> Iterator[tuple[str, _ImportRecorder]]:
    """A job whose task module existed when stock added it, and exists no more."""
    name, directory = task_module(
        "class Holder:\n"
        "    @staticmethod\n"
        "    def run(x, *, y=0):\n"
        "        return x + y\n"
        "def task():\n"
        "    return 1\n",
        prefix="wfs_vanished",
        on_path=True,
    )
    module_file = directory / f"{name}.py"
    try:
        importlib.invalidate_caches()
        stock.add(
            dict(
                func=f"{name}:Holder.run",
                trigger="cron",
                hour=4,
                id="vanished",
                args=[1],
                kwargs={"y": 2},
            ),
            dict(func=f"{name}:task", trigger="interval", hours=1, id="vanished_paused"),
        )
        scheduler = stock.scheduler()
        scheduler.pause_job("vanished_paused")
        scheduler.shutdown(wait=False)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)
    module_file.unlink()
    importlib.invalidate_caches()
    recorder = _ImportRecorder(name)
    sys.meta_path.insert(0, recorder)
    try:
        yield name, recorder
    finally:
        sys.meta_path.remove(recorder)


def test_job_whose_module_is_missing_is_listed_without_importing_it(
    vanished_module: tuple[str, _ImportRecorder],
    stock: StockStore,
    service: SchedulerJobsReadService,
    cli: Invoke,
) -> None:
    name, recorder = vanished_module
    items = {item.id: item for item in service.list_jobs()}
    assert items["vanished"].func == f"{name}:Holder.run"
    assert items["vanished"].state == STATE_RUNNING
    assert items["vanished"].trigger_args["hour"] == "4"
    assert items["vanished"].args == [1]
    assert items["vanished"].kwargs == {"y": 2}
    assert items["vanished_paused"].func == f"{name}:task"
    assert items["vanished_paused"].state == STATE_PAUSED
    detail = service.get_job("vanished")
    assert detail.func == f"{name}:Holder.run"
    assert detail.trigger == "cron[hour='4']"
    documents = json.loads(cli("list", "-o", "json", url=stock.url).stdout)["items"]
    assert {d["id"]: d["func"] for d in documents} == {
        "vanished": f"{name}:Holder.run",
        "vanished_paused": f"{name}:task",
    }
    assert cli("get", "vanished", url=stock.url).exit_code == 0
    assert recorder.attempts == []
    assert name not in sys.modules


# -- unreadable rows ---------------------------------------------------------------------


def _state_bytes(**changes: Any) -> bytes:
    state: dict[str, Any] = {
        "version": 1,
        "id": "x",
        "func": "tests.jobs:noop",
        "trigger": IntervalTrigger(seconds=5, timezone="UTC"),
        "executor": "default",
        "args": (),
        "kwargs": {},
        "name": "noop",
        "misfire_grace_time": 1,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": None,
    }
    state.update(changes)
    return pickle.dumps(state)


def _combining_with_child(child: bytes) -> bytes:
    trigger = OrTrigger([CronTrigger(hour=1, timezone="UTC")])
    data = pickle.dumps(pickle.loads(_state_bytes(trigger=trigger)), 0)
    return data.replace(b"apscheduler.triggers.cron:CronTrigger", child)


@pytest.fixture
def with_unreadable(stock: StockStore, tmp_path: Path) -> tuple[StockStore, Path]:
    """A store with good rows and unreadable ones, stock-written where stock can."""
    stock.add(
        dict(func="tests.jobs:noop", trigger="interval", seconds=30, id="good"),
        dict(
            func="tests.jobs:record",
            trigger="interval",
            seconds=30,
            id="u_fraction",
            kwargs={"f": Fraction(1, 3)},
        ),
        dict(
            func="tests.jobs:record",
            trigger="interval",
            seconds=30,
            id="u_custom",
            kwargs={"c": Custom()},
        ),
        dict(
            func="tests.jobs:record",
            trigger="interval",
            seconds=30,
            id="z_decimal",
            kwargs={"d": Decimal("2.5")},
        ),
    )
    canary = tmp_path / "canary"
    stock.insert_raw("u_corrupt", b"\x80\x05garbage, not a pickle", 1.0)
    stock.insert_raw("u_version2", _state_bytes(id="u_version2", version=2), None)
    stock.insert_raw("u_crafted", _state_bytes(args=(_System(f"touch {canary}"),)), 2.0)
    stock.insert_raw("u_child_ref", _combining_with_child(b"tests.test_read:Custom"), None)
    stock.insert_raw("u_open", _state_bytes(kwargs={"f": _Open(str(canary))}), 3.0)
    return stock, canary


UNREADABLE_REASONS = {
    "u_corrupt": "corrupt job_state",
    "u_version2": "job state version 2 is newer than 1",
    "u_fraction": "class fractions.Fraction is not allowed in a job state",
    "u_custom": "class tests.test_read.Custom is not allowed in a job state",
    "u_crafted": "class posix.system is not allowed in a job state",
    "u_child_ref": "trigger class 'tests.test_read:Custom' is not allowed in a job state",
    "u_open": "class io.open is not allowed in a job state",
}


def test_unreadable_rows_are_listed_and_kept(
    with_unreadable: tuple[StockStore, Path], service: SchedulerJobsReadService, cli: Invoke
) -> None:
    stock, canary = with_unreadable
    before = stock.raw()
    items = {item.id: item for item in service.list_jobs()}
    assert list(items) == sorted(before)
    assert items["good"].state == STATE_RUNNING
    assert items["z_decimal"].kwargs == {"d": Decimal("2.5")}
    for job_id, reason in UNREADABLE_REASONS.items():
        item = items[job_id]
        assert item.state == STATE_UNREADABLE, job_id
        assert item.unreadable_reason is not None
        assert item.unreadable_reason.startswith(reason), (job_id, item.unreadable_reason)
        assert item.func is None
        assert item.next_run_time is None
        detail = service.get_job(job_id)
        assert detail.state == STATE_UNREADABLE
        assert detail.unreadable_reason == item.unreadable_reason
    assert [i.id for i in service.list_jobs(state=STATE_UNREADABLE)] == sorted(UNREADABLE_REASONS)

    result = cli("list", "-o", "json", url=stock.url)
    assert result.exit_code == 0, result.output
    documents = {d["id"]: d for d in json.loads(result.stdout)["items"]}
    assert documents["u_crafted"]["state"] == STATE_UNREADABLE
    assert documents["u_crafted"]["unreadable_reason"].startswith(UNREADABLE_REASONS["u_crafted"])
    assert cli("list", url=stock.url).exit_code == 0
    assert cli("get", "u_crafted", url=stock.url).exit_code == 0

    assert not canary.exists()
    assert stock.raw() == before


def test_real_states_in_every_pickle_protocol_are_read(
    stock: StockStore, service: SchedulerJobsReadService
) -> None:
    stock.add(
        dict(
            func="tests.jobs:record",
            trigger="cron",
            week="2",
            hour="1-3",
            id="original",
            timezone=pytz.timezone("Asia/Shanghai"),
            args=[Decimal("1.1"), {"s": {1, 2}}],
            kwargs={"when": pytz.utc.localize(dt.datetime(2030, 1, 1))},
        )
    )
    next_run_time, data = stock.raw()["original"]
    state = pickle.loads(data)  # written by stock a moment ago
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        job_id = f"p{protocol}"
        stock.insert_raw(job_id, pickle.dumps({**state, "id": job_id}, protocol), next_run_time)
    items = list(service.list_jobs())
    original = items[0].to_dict()
    assert [i.id for i in items] == ["original", "p0", "p1", "p2", "p3", "p4", "p5"]
    for item in items[1:]:
        assert item.to_dict() | {"id": "original"} == original, item.id
    assert original["state"] == STATE_RUNNING
    assert original["trigger_args"]["week"] == "2"


# -- cron fields of any trigger (the rule: docs/architecture.md) -------------------------


class CronTrigger42:
    """A cron-like trigger with arbitrary ``fields`` (named so it counts as cron)."""

    def __init__(self, fields: Any) -> None:
        self.fields = fields


CronTrigger42.__name__ = "CronTrigger"


def test_table_4_2_fields_dict_read_by_key() -> None:
    fields = {
        "second": 5,
        "minute": "10",
        "hour": "2-4",
        "day": "1",
        "month": "6",
        "day_of_week": "tue",
        "year": "2030",
        "week": "7",
        "unrelated": "ignored",
    }
    args = trigger_args(CronTrigger42(fields))
    assert {k: args[k] for k in CRON_KEYS} == {
        "second": "5",
        "minute": "10",
        "hour": "2-4",
        "day": "1",
        "month": "6",
        "day_of_week": "tue",
        "year": "2030",
    }
    assert args["week"] == "7"
    assert "unrelated" not in args
    # keys the dict lacks read as the defaults
    partial = trigger_args(CronTrigger42({"hour": "4"}))
    assert {k: partial[k] for k in CRON_KEYS} == DEFAULTS | {"hour": "4"}


@pytest.mark.parametrize("extra", [0, 1, 3])
def test_table_4_2_list_of_8_or_more_read_by_index(extra: int) -> None:
    values = [f"v_{name}" for name in FIELD_ORDER] + [f"extra{i}" for i in range(extra)]
    args = trigger_args(CronTrigger42(values))
    assert {k: args[k] for k in CRON_KEYS} == {k: f"v_{k}" for k in CRON_KEYS}
    assert args["week"] == "v_week"


def test_table_4_2_real_cron_trigger_fields_are_a_list_of_8() -> None:
    trigger = CronTrigger(
        year="2030", month="2", day="3", week="4", day_of_week="5", hour="6", minute="7"
    )
    assert isinstance(trigger.fields, list)
    assert len(trigger.fields) == 8
    assert trigger_args(trigger) == {
        "year": "2030",
        "month": "2",
        "day": "3",
        "week": "4",
        "day_of_week": "5",
        "hour": "6",
        "minute": "7",
        "second": "0",
    }


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="empty-list"),
        pytest.param([f"v{i}" for i in range(7)], id="list-of-7"),
        pytest.param("0 0 * * *", id="string"),
        pytest.param(tuple(f"v{i}" for i in range(8)), id="tuple-of-8"),
        pytest.param(42, id="int"),
    ],
)
def test_table_4_2_anything_else_falls_back_to_defaults(fields: Any) -> None:
    args = trigger_args(CronTrigger42(fields))
    assert {k: args[k] for k in CRON_KEYS} == DEFAULTS
    assert args.get("week", "*") == "*"


def test_table_4_2_cron_trigger_without_fields_falls_back_to_defaults() -> None:
    class CronTrigger:  # no ``fields`` attribute at all
        pass

    args = trigger_args(CronTrigger())
    assert {k: args[k] for k in CRON_KEYS} == DEFAULTS


@pytest.mark.parametrize(
    "trigger",
    [
        pytest.param(IntervalTrigger(minutes=5, timezone="UTC"), id="interval"),
        pytest.param(DateTrigger(START), id="date"),
        pytest.param(CalendarIntervalTrigger(weeks=2, timezone="UTC"), id="calendarinterval"),
        pytest.param(OrTrigger([CronTrigger(hour=1, timezone="UTC")]), id="or"),
        pytest.param(AndTrigger([CronTrigger(hour=1, timezone="UTC")]), id="and"),
    ],
)
def test_non_cron_triggers_are_described(trigger: Any) -> None:
    assert trigger_args(trigger) == {"description": str(trigger)}
    assert trigger_type(trigger) == type(trigger).__name__.lower().removesuffix("trigger")


def test_cron_restricting_week_exposes_the_week() -> None:
    assert trigger_args(CronTrigger(week="10-20", timezone="UTC"))["week"] == "10-20"
    assert trigger_args(CronTrigger(hour=3, timezone="UTC"))["week"] == "*"


# -- property: cron fields survive CronTrigger -> job_state -> trigger_args ----------------

_RANGES = {
    "year": (1970, 2099),
    "month": (1, 12),
    "day": (1, 31),
    "week": (1, 53),
    "day_of_week": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}


@st.composite
def _expression(draw: st.DrawFn, field: str) -> str:
    low, high = _RANGES[field]
    kind = draw(st.sampled_from(["all", "step", "value", "range", "range-step"]))
    if kind == "all":
        return "*"
    if kind == "step":
        return f"*/{draw(st.integers(2, high - low))}"
    first = draw(st.integers(low, high))
    if kind == "value":
        return str(first)
    last = draw(st.integers(first + 1, high)) if first < high else None
    if last is None:
        return str(first)
    if kind == "range":
        return f"{first}-{last}"
    return f"{first}-{last}/{draw(st.integers(1, last - first))}"


_NAMED = {
    "day_of_week": st.sampled_from(["mon", "tue-fri", "sat,sun", "mon-wed,fri"]),
    "month": st.sampled_from(["jan", "feb-apr", "dec"]),
    "day": st.sampled_from(["last", "1st mon", "last fri", "2nd wed"]),
}


@st.composite
def _cron_fields(draw: st.DrawFn) -> dict[str, str]:
    chosen = draw(st.sets(st.sampled_from(FIELD_ORDER), min_size=1))
    fields = {}
    for field in chosen:
        parts = draw(st.lists(_expression(field), min_size=1, max_size=3))
        if field in _NAMED and draw(st.booleans()):
            parts = [draw(_NAMED[field])]
        fields[field] = ",".join(parts)
    return fields


def _normalise(value: str) -> str:
    """Compare expressions regardless of spacing."""
    return value.replace(" ", "")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=_cron_fields())
def test_cron_fields_round_trip_to_trigger_args(fields: dict[str, str]) -> None:
    try:
        trigger = CronTrigger(timezone="UTC", **fields)
    except ValueError:
        reject()  # e.g. a step larger than its range: not a valid cron value
    state = decode_state(encode_state({"id": "p", "func": "m:f", "trigger": trigger}))
    args = trigger_args(state["trigger"])
    assert set(args) == set(FIELD_ORDER)
    for field, value in fields.items():
        assert _normalise(args[field]) == _normalise(value), field
    # and the displayed fields describe the same schedule
    rebuilt = CronTrigger(timezone="UTC", **args)
    assert trigger_args(rebuilt) == args
    assert [str(f) for f in rebuilt.fields] == [str(f) for f in trigger.fields]
