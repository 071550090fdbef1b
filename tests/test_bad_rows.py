"""One bad row must not hide the others.

Rows that decode but hold what stock APScheduler 3 never writes (a wrong type, a trigger
whose internals are out of range, a broken time zone) and, on SQLite, columns holding
other types than the table declares are listed as STATE_UNREADABLE with the reason,
beside the good rows listed normally; ``reload`` replaces them, and a reload's backup of
them is restored only with ``--skip-invalid``. The bad states are built from real
APScheduler objects whose fields are then corrupted, so they pass the restricted
unpickler and reach the job-shape check.
"""

from __future__ import annotations

import copyreg
import datetime as dt
import json
import pickle
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytz
import sqlalchemy as sa
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.cron.fields import BaseField
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import Invoke, StockStore
from whalefall_sched.repository import rows
from whalefall_sched.repository.rows import decode_row
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, STATE_UNREADABLE

UTC = dt.UTC
#: The ids of the bundled example's jobs, which a reload writes.
EXAMPLE_COUNT = 5

# -- crafting bad states -------------------------------------------------------------


class _Bare:
    """Pickles as an instance of ``cls`` that never got its state (``state`` None), or got
    ``state`` through the class's own ``__setstate__``."""

    def __init__(self, cls: type, state: dict[str, Any] | None = None) -> None:
        self.cls = cls
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        args = (self.cls, object, None)
        if self.state is None:
            return (copyreg._reconstructor, args)  # type: ignore[attr-defined]
        return (copyreg._reconstructor, args, self.state)  # type: ignore[attr-defined]


class _Zone25h(dt.tzinfo):
    """Pickles as a pytz zone whose offset is 25 hours, which no datetime accepts."""

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return "T25"

    def __reduce__(self) -> tuple[Any, ...]:
        return (pytz._p, ("Pacific/Chatham", 90000, 0, "T25"))  # type: ignore[attr-defined]


def _cron(change: Callable[[CronTrigger], Any], **fields: Any) -> CronTrigger:
    """A real cron trigger, then ``change`` applied to it."""
    trigger = CronTrigger(timezone="UTC", **(fields or {"hour": 3}))
    change(trigger)
    return trigger


def _second_70(trigger: CronTrigger) -> None:
    expression = trigger.fields[7].expressions[0]
    expression.first = expression.last = 70


def _calendar_of_zero() -> CalendarIntervalTrigger:
    trigger = CalendarIntervalTrigger(days=1, timezone="UTC")
    trigger.days = 0
    return trigger


def _interval(seconds: float) -> IntervalTrigger:
    trigger = IntervalTrigger(seconds=5, timezone="UTC")
    trigger.interval = dt.timedelta(seconds=seconds)
    return trigger


_DROP = object()
_25H = dt.datetime(2030, 1, 1, tzinfo=_Zone25h())

#: id -> (the changes to a stock state, what the reason says)
BAD_STATES: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "int_next_run_time": (lambda: {"next_run_time": 5}, "next_run_time is int, not datetime"),
    "naive_next_run_time": (
        lambda: {"next_run_time": dt.datetime(2030, 1, 1)},
        "next_run_time has no time zone",
    ),
    "zone_25h": (lambda: {"next_run_time": _25H}, "next_run_time has a broken time zone"),
    "kwargs_str": (lambda: {"kwargs": "abc"}, "kwargs is str, not dict"),
    "kwargs_int_key": (lambda: {"kwargs": {1: 2}}, "a kwargs key is int, not str"),
    "args_str": (lambda: {"args": "abc"}, "args is str, not tuple or list"),
    "name_surrogate": (lambda: {"name": "bad\udc80name"}, "name is not valid Unicode"),
    "state_id_int": (lambda: {"id": 7}, "id is int, not str"),
    "func_no_colon": (lambda: {"func": "tests.jobs.noop"}, "is not a 'module:name' reference"),
    "grace_str": (lambda: {"misfire_grace_time": "10"}, "misfire_grace_time is str, not int"),
    "grace_negative": (lambda: {"misfire_grace_time": -1}, "misfire_grace_time is -1, below 0"),
    "max_instances_0": (lambda: {"max_instances": 0}, "max_instances is 0, below 1"),
    "coalesce_int": (lambda: {"coalesce": 1}, "coalesce is int, not bool"),
    "no_executor": (lambda: {"executor": _DROP}, "job state lacks executor"),
    "date_without_run_date": (lambda: {"trigger": _Bare(DateTrigger)}, "trigger lacks run_date"),
    "date_run_date_str": (
        lambda: {"trigger": _Bare(DateTrigger, {"version": 1, "run_date": "tomorrow"})},
        "trigger.run_date is str, not datetime",
    ),
    "date_zone_25h": (
        lambda: {"trigger": DateTrigger(run_date=_25H)},
        "trigger.run_date has a broken time zone",
    ),
    "cron_second_70": (
        lambda: {"trigger": _cron(_second_70, second=5)},
        "trigger.fields[second]: 70 is above the maximum 59",
    ),
    "cron_no_expressions": (
        lambda: {"trigger": _cron(lambda t: setattr(t.fields[6], "expressions", []))},
        "trigger.fields[minute] has no expressions",
    ),
    "cron_step_too_big": (
        lambda: {"trigger": _cron(lambda t: setattr(t.fields[5].expressions[0], "step", 99))},
        "trigger.fields[hour]: step 99 is above the field's range",
    ),
    "cron_seven_fields": (
        lambda: {"trigger": _cron(lambda t: t.fields.pop())},
        "trigger has 7 cron fields, not 8",
    ),
    "cron_wrong_field": (
        lambda: {"trigger": _cron(lambda t: t.fields.__setitem__(4, BaseField("day_of_week", 1)))},
        "trigger.fields[day_of_week] is BaseField, not DayOfWeekField",
    ),
    "cron_field_extra": (
        lambda: {"trigger": _cron(lambda t: setattr(t.fields[5], "extra", 1))},
        "trigger.fields[hour] holds expressions, extra, is_default, name, not expressions, ",
    ),
    "cron_range_no_last": (
        lambda: {"trigger": _cron(lambda t: delattr(t.fields[5].expressions[0], "last"))},
        "trigger.fields[hour] holds a RangeExpression with first, step",
    ),
    "cron_position_9": (
        lambda: {
            "trigger": _cron(
                lambda t: setattr(t.fields[2].expressions[0], "option_num", 9), day="1st mon"
            )
        },
        "trigger.fields[day]: position 9, weekday 0",
    ),
    "cron_jitter_str": (
        lambda: {"trigger": CronTrigger(hour=3, timezone="UTC", jitter="5")},
        "trigger.jitter is str, not a number",
    ),
    "interval_negative": (
        lambda: {"trigger": _interval(-5)},
        "trigger.interval is -1 day, 23:59:55, not above zero",
    ),
    "interval_zero": (lambda: {"trigger": _interval(0)}, "not above zero"),
    "calendar_zero": (lambda: {"trigger": _calendar_of_zero()}, "trigger has an interval of zero"),
    "or_of_nothing": (lambda: {"trigger": OrTrigger([])}, "trigger combines no triggers"),
    "or_of_bad_cron": (
        lambda: {"trigger": OrTrigger([_cron(_second_70, second=5)])},
        "trigger.triggers[0].fields[second]: 70 is above the maximum 59",
    ),
    "and_never_built": (lambda: {"trigger": _Bare(AndTrigger)}, "was never given its state"),
    "not_a_trigger": (
        lambda: {"trigger": dt.timedelta(days=1)},
        "trigger is timedelta, not an APScheduler 3 trigger",
    ),
}

GOOD_JOBS: list[dict[str, Any]] = [
    dict(func="tests.jobs:record", trigger="cron", hour=3, id="good_cron", kwargs={"x": 1}),
    dict(
        func="tests.jobs:noop", trigger="interval", minutes=7, id="good_paused", next_run_time=None
    ),
]


def _bad_state(base: dict[str, Any], job_id: str) -> bytes:
    changes, _ = BAD_STATES[job_id]
    state = {**base, "id": job_id}
    for key, value in changes().items():
        if value is _DROP:
            del state[key]
        else:
            state[key] = value
    return pickle.dumps(state)


def _stock_state(stock: StockStore) -> dict[str, Any]:
    """A state stock APScheduler wrote (unpickled by pickle itself: it is the reference)."""
    state: dict[str, Any] = pickle.loads(stock.raw()["good_cron"][1])
    return state


def _insert(stock: StockStore, rows_: dict[str, bytes]) -> None:
    t = stock.table_obj()
    engine = stock.engine()
    try:
        with engine.begin() as conn:
            for job_id, data in rows_.items():
                conn.execute(t.insert().values(id=job_id, next_run_time=None, job_state=data))
    finally:
        engine.dispose()


# -- the job-shape check -------------------------------------------------------------


@pytest.mark.parametrize("job_id", sorted(BAD_STATES))
def test_each_bad_state_is_unreadable_with_its_field_named(job_id: str) -> None:
    base = pickle.loads(pickle.dumps(_good_state()))
    row = decode_row(job_id, None, _bad_state(base, job_id))
    assert row.decoded is None
    assert row.unreadable_reason is not None
    assert BAD_STATES[job_id][1] in row.unreadable_reason


def _good_state(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "version": 1,
        "id": "x",
        "func": "tests.jobs:noop",
        "trigger": CronTrigger(hour=3, timezone="UTC"),
        "executor": "default",
        "args": (),
        "kwargs": {},
        "name": "noop",
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": dt.datetime(2030, 1, 1, tzinfo=UTC),
    }
    return state | changes


_SHANGHAI = pytz.timezone("Asia/Shanghai")
_TRIGGERS_STOCK_WRITES = [
    CronTrigger(month="jan-mar", day="last fri", hour="*/5", minute="1-5/2", timezone=_SHANGHAI),
    CronTrigger(day="1st mon,last", day_of_week="mon-fri", week="1-53/2", year="2030-2040"),
    CronTrigger.from_crontab("*/15 0 1,15 * 1-5", timezone="Europe/Paris"),
    CronTrigger(
        second="0-0/5",
        timezone=dt.timezone(dt.timedelta(hours=5, minutes=30)),
        start_date=_SHANGHAI.localize(dt.datetime(2030, 1, 1)),
        end_date=dt.datetime(2040, 1, 1, tzinfo=UTC),
        jitter=5,
    ),
    IntervalTrigger(seconds=1, timezone=_SHANGHAI),
    IntervalTrigger(weeks=2, start_date=dt.datetime(2020, 1, 1, tzinfo=pytz.utc), jitter=0.5),
    DateTrigger(run_date=_SHANGHAI.localize(dt.datetime(2030, 1, 1))),
    DateTrigger(run_date="2030-01-01 10:00:00", timezone="Asia/Shanghai"),
    CalendarIntervalTrigger(months=1, hour=3, timezone="Europe/Paris"),
    CalendarIntervalTrigger(years=1, start_date="2030-02-28", end_date="2040-01-01", jitter=3),
    AndTrigger([CronTrigger(hour=3), CronTrigger(day_of_week="mon")], jitter=2),
    OrTrigger([IntervalTrigger(hours=1), AndTrigger([DateTrigger(dt.datetime(2030, 1, 1))])]),
]


@pytest.mark.parametrize("trigger", _TRIGGERS_STOCK_WRITES, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_kind_of_trigger_stock_writes_passes(trigger: Any, protocol: int) -> None:
    for when in (None, _SHANGHAI.localize(dt.datetime(2030, 1, 1))):
        data = pickle.dumps(_good_state(trigger=trigger, next_run_time=when), protocol)
        row = decode_row("x", None, data)
        assert row.decoded is not None, row.unreadable_reason


# -- bad states beside good rows, on every database ------------------------------------


@pytest.fixture
def with_bad_states(stock: StockStore) -> StockStore:
    """Good rows written by stock APScheduler, and one row for each bad state."""
    stock.add(*GOOD_JOBS)
    base = _stock_state(stock)
    _insert(stock, {job_id: _bad_state(base, job_id) for job_id in BAD_STATES})
    return stock


def test_bad_states_are_listed_unreadable_beside_the_good_rows(
    with_bad_states: StockStore, cli: Invoke
) -> None:
    stock = with_bad_states
    before = stock.fingerprint()

    table = cli("list", url=stock.url)
    assert table.exit_code == 0, table.output
    assert "good_cron" in table.stdout and "cron_second_70" in table.stdout

    listed = cli("list", "-o", "json", url=stock.url)
    assert listed.exit_code == 0, listed.output
    documents = {d["id"]: d for d in json.loads(listed.stdout)["items"]}
    assert documents["good_cron"]["state"] == STATE_RUNNING
    assert documents["good_cron"]["kwargs"] == {"x": 1}
    assert documents["good_paused"]["state"] == STATE_PAUSED
    for job_id, (_, says) in BAD_STATES.items():
        assert documents[job_id]["state"] == STATE_UNREADABLE, job_id
        assert says in documents[job_id]["unreadable_reason"], job_id

    status = cli("status", "-o", "json", url=stock.url)
    assert status.exit_code == 4, status.output
    report = json.loads(status.stdout)
    assert report["healthy"] is False
    assert report["jobs"]["unreadable"] == len(BAD_STATES)
    assert report["jobs"]["running"] + report["jobs"]["paused"] == len(GOOD_JOBS)
    reasons = {entry["id"]: entry["unreadable_reason"] for entry in report["unreadable"]}
    assert set(reasons) == set(BAD_STATES)
    assert BAD_STATES["grace_str"][1] in reasons["grace_str"]

    for job_id in ("kwargs_str", "cron_second_70", "zone_25h", "name_surrogate"):
        shown = cli("get", job_id, "-o", "json", url=stock.url)
        assert shown.exit_code == 0, shown.output
        detail = json.loads(shown.stdout)
        assert detail["state"] == STATE_UNREADABLE
        assert BAD_STATES[job_id][1] in detail["unreadable_reason"]
    assert cli("get", "good_cron", url=stock.url).exit_code == 0

    assert stock.fingerprint() == before


def test_reload_replaces_bad_states_and_their_backup_restores_only_the_good_rows(
    with_bad_states: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    stock = with_bad_states
    good_before = {k: v for k, v in stock.raw().items() if k in {"good_cron", "good_paused"}}

    reloaded = cli(
        "reload", "--yes", "--backup-dir", str(tmp_path / "bk"), "-o", "json", url=stock.url
    )
    assert reloaded.exit_code == 0, reloaded.output
    result = json.loads(reloaded.stdout)
    assert set(BAD_STATES) <= set(result["deleted"])
    assert len(stock.raw()) == EXAMPLE_COUNT
    backup = result["backup_path"]

    refused = cli("restore", backup, "--yes", url=stock.url)
    assert refused.exit_code == 2, refused.output
    first = min(BAD_STATES)
    assert f"'{first}': cannot be decoded safely (" in refused.stderr
    assert BAD_STATES[first][1] in refused.stderr
    assert len(stock.raw()) == EXAMPLE_COUNT

    restored = cli("restore", backup, "--yes", "--skip-invalid", "-o", "json", url=stock.url)
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["restored"] == ["good_cron", "good_paused"]
    assert stock.raw() == good_before


def test_resume_and_pause_never_compute_on_a_bad_trigger(
    sqlite_stock: StockStore, cli: Invoke
) -> None:
    sqlite_stock.add(*GOOD_JOBS)
    base = _stock_state(sqlite_stock)
    _insert(sqlite_stock, {"cron_second_70": _bad_state(base, "cron_second_70")})
    before = sqlite_stock.fingerprint()
    for command in ("resume", "pause"):
        result = cli(command, "cron_second_70", url=sqlite_stock.url)
        assert result.exit_code == 4, result.output
        assert "trigger.fields[second]: 70 is above the maximum 59" in result.stderr
    assert sqlite_stock.fingerprint() == before


def test_what_escapes_the_shape_check_still_hides_no_other_row(
    sqlite_stock: StockStore, cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the shape check switched off, showing a bad row fails: that row only."""
    monkeypatch.setattr(rows, "shape_problem", lambda state: None)
    sqlite_stock.add(*GOOD_JOBS)
    base = _stock_state(sqlite_stock)
    bad = ("kwargs_str", "int_next_run_time")
    _insert(sqlite_stock, {job_id: _bad_state(base, job_id) for job_id in bad})

    listed = cli("list", "-o", "json", url=sqlite_stock.url)
    assert listed.exit_code == 0, listed.output
    documents = {d["id"]: d for d in json.loads(listed.stdout)["items"]}
    assert documents["good_cron"]["state"] == STATE_RUNNING
    for job_id in bad:
        assert documents[job_id]["state"] == STATE_UNREADABLE
        assert documents[job_id]["unreadable_reason"].startswith("cannot be shown: ")
    assert cli("list", url=sqlite_stock.url).exit_code == 0

    status = cli("status", "-o", "json", url=sqlite_stock.url)
    assert status.exit_code == 4, status.output
    unreadable = json.loads(status.stdout)["unreadable"]
    assert [entry["id"] for entry in unreadable] == ["int_next_run_time"]
    assert "TypeError" in unreadable[0]["unreadable_reason"]

    shown = cli("get", "kwargs_str", "-o", "json", url=sqlite_stock.url)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["state"] == STATE_UNREADABLE


# -- SQLite columns holding other types --------------------------------------------------

#: id -> (SQL values for id, next_run_time, job_state, with :state the good bytes; reason)
ODD_COLUMNS: dict[str, tuple[str, str]] = {
    "b'blob_id'": ("X'626c6f625f6964', NULL, :state", "id column holds a blob, not text"),
    "bad\\udcffutf8": (
        "CAST(X'626164ff75746638' AS TEXT), NULL, :state",
        "id column holds text that is not UTF-8",
    ),
    "text_time": ("'text_time', 'soon', :state", "next_run_time column holds text, not a number"),
    "blob_time": ("'blob_time', X'00', :state", "next_run_time column holds a blob, not a number"),
    "int_state": ("'int_state', NULL, 5", "job_state column holds an integer, not a blob"),
    "text_state": ("'text_state', NULL, 'abc'", "job_state column holds text, not a blob"),
    "bad_utf8_state": (
        "'bad_utf8_state', NULL, CAST(X'ff' AS TEXT)",
        "job_state column holds text, not a blob",
    ),
}

#: The same, in a table whose columns were declared without a type (no affinity).
UNTYPED_COLUMNS: dict[str, tuple[str, str]] = {
    "1.5": ("1.5, NULL, :state", "id column holds a real, not text"),
    "7": ("7, NULL, :state", "id column holds an integer, not text"),
    "null_state": ("'null_state', NULL, NULL", "job_state column holds NULL, not a blob"),
}


def _sqlite_path(stock: StockStore) -> str:
    return stock.url.removeprefix("sqlite:///")


def _insert_sql(stock: StockStore, columns: dict[str, tuple[str, str]], state: bytes) -> None:
    with sqlite3.connect(_sqlite_path(stock)) as conn:
        for values, _ in columns.values():
            params = {"state": state} if ":state" in values else {}
            conn.execute(f"INSERT INTO apscheduler_jobs VALUES ({values})", params)
    conn.close()


def _sqlite_rows(stock: StockStore) -> list[tuple[str, str, str]]:
    """Every row's storage classes, read without decoding any text."""
    with sqlite3.connect(_sqlite_path(stock)) as conn:
        found = conn.execute(
            "SELECT typeof(id), typeof(next_run_time), typeof(job_state) FROM apscheduler_jobs"
        ).fetchall()
    conn.close()
    return found


def _check_odd_rows_listed_and_replaced(
    stock: StockStore, cli: Invoke, tmp_path: Path, columns: dict[str, tuple[str, str]]
) -> None:
    before = stock.fingerprint()
    listed = cli("list", "-o", "json", url=stock.url)
    assert listed.exit_code == 0, listed.output
    documents = {d["id"]: d for d in json.loads(listed.stdout)["items"]}
    assert documents["good_cron"]["state"] == STATE_RUNNING
    assert documents["good_paused"]["state"] == STATE_PAUSED
    for job_id, (_, says) in columns.items():
        assert documents[job_id]["state"] == STATE_UNREADABLE, job_id
        assert documents[job_id]["unreadable_reason"] == says, job_id
    assert cli("list", url=stock.url).exit_code == 0

    status = cli("status", "-o", "json", url=stock.url)
    assert status.exit_code == 4, status.output
    report = json.loads(status.stdout)
    assert {entry["id"] for entry in report["unreadable"]} == set(columns)

    for job_id, (_, says) in columns.items():  # found by the id as listed
        shown = cli("get", job_id, "-o", "json", url=stock.url)
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["unreadable_reason"] == says
        paused = cli("pause", job_id, url=stock.url)
        assert paused.exit_code == 4, paused.output
        assert says in paused.stderr
    assert stock.fingerprint() == before

    reloaded = cli(
        "reload", "--yes", "--backup-dir", str(tmp_path / "bk"), "-o", "json", url=stock.url
    )
    assert reloaded.exit_code == 0, reloaded.output
    result = json.loads(reloaded.stdout)
    assert set(columns) <= set(result["deleted"])
    assert _sqlite_rows(stock) == [("text", "real", "blob")] * EXAMPLE_COUNT
    example = stock.raw()

    backup = result["backup_path"]
    document = json.loads(Path(backup).read_text(encoding="utf-8"))
    marked = {row["id"]: row["unreadable"] for row in document["rows"] if "unreadable" in row}
    assert marked == {job_id: says for job_id, (_, says) in columns.items()}
    refused = cli("restore", backup, "--yes", url=stock.url)
    assert refused.exit_code == 2, refused.output
    assert "unreadable when backed up" in refused.stderr
    assert stock.raw() == example

    restored = cli("restore", backup, "--yes", "--skip-invalid", "-o", "json", url=stock.url)
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["restored"] == ["good_cron", "good_paused"]
    assert sorted(stock.raw()) == ["good_cron", "good_paused"]


def test_sqlite_columns_of_other_types_are_listed_and_replaced(
    sqlite_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    sqlite_stock.add(*GOOD_JOBS)
    state = sqlite_stock.raw()["good_paused"][1]
    _insert_sql(sqlite_stock, ODD_COLUMNS, state)
    _check_odd_rows_listed_and_replaced(sqlite_stock, cli, tmp_path, ODD_COLUMNS)


def test_sqlite_columns_without_affinity_are_listed_and_replaced(
    sqlite_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    with sqlite3.connect(_sqlite_path(sqlite_stock)) as conn:
        conn.execute(
            "CREATE TABLE apscheduler_jobs (id PRIMARY KEY NOT NULL, next_run_time, job_state)"
        )
    conn.close()
    sqlite_stock.add(*GOOD_JOBS)
    state = sqlite_stock.raw()["good_paused"][1]
    _insert_sql(sqlite_stock, UNTYPED_COLUMNS, state)
    _check_odd_rows_listed_and_replaced(sqlite_stock, cli, tmp_path, UNTYPED_COLUMNS)


def test_a_due_row_with_an_odd_id_is_waited_for_then_replaced(
    sqlite_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    """The due-row guard reads such a row again by its listed id."""
    sqlite_stock.add(*GOOD_JOBS)
    state = sqlite_stock.raw()["good_paused"][1]
    due = dt.datetime.now(UTC).timestamp()
    with sqlite3.connect(_sqlite_path(sqlite_stock)) as conn:
        conn.execute("INSERT INTO apscheduler_jobs VALUES (X'6f6464', ?, ?)", (due, state))
    conn.close()
    result = cli(
        "--wait", "0.2", "reload", "--yes", "--no-backup", "-o", "json", url=sqlite_stock.url
    )
    assert result.exit_code == 0, result.output
    assert "b'odd'" in json.loads(result.stdout)["deleted"]
    assert _sqlite_rows(sqlite_stock) == [("text", "real", "blob")] * EXAMPLE_COUNT


def test_reads_of_odd_columns_match_exactly(sqlite_stock: StockStore) -> None:
    """A blob id is not the text of the same bytes, nor 7 the text '7'."""
    sqlite_stock.add(*GOOD_JOBS)
    with sqlite3.connect(_sqlite_path(sqlite_stock)) as conn:
        conn.execute("INSERT INTO apscheduler_jobs VALUES ('odd', NULL, X'01')")
        conn.execute("INSERT INTO apscheduler_jobs VALUES (X'6f6464', NULL, X'01')")
    conn.close()
    engine = sa.create_engine(sqlite_stock.url)
    t = sqlite_stock.table_obj()
    try:
        with engine.connect() as connection:
            for raw in ("odd", b"odd"):
                query = sa.select(t.c.id).where(rows.column_is(t.c.id, raw, str))
                assert rows.fetch(connection, query) == [(raw,)]
    finally:
        engine.dispose()


def test_a_next_run_time_column_that_is_not_a_time_is_unreadable(
    stock: StockStore, cli: Invoke
) -> None:
    """A scheduler cannot wake up at such a time; SQLite and PostgreSQL store infinity too."""
    stock.add(*GOOD_JOBS)
    state = stock.raw()["good_paused"][1]
    columns = {"far_past": -1e300}
    if not stock.url.startswith("mysql"):  # MariaDB stores no infinity
        columns["forever"] = float("inf")
    for job_id, column in columns.items():
        stock.insert_raw(job_id, state, column)
    listed = cli("list", "-o", "json", url=stock.url)
    assert listed.exit_code == 0, listed.output
    documents = {d["id"]: d for d in json.loads(listed.stdout)["items"]}
    for job_id, column in columns.items():
        says = f"next_run_time column holds {column!r}, not a time"
        assert documents[job_id]["unreadable_reason"] == says
    assert documents["good_cron"]["state"] == STATE_RUNNING
    status = cli("status", "-o", "json", url=stock.url)
    assert status.exit_code == 4, status.output
    report = json.loads(status.stdout)
    assert {entry["id"] for entry in report["unreadable"]} == set(columns)
    assert report["next_wakeup"] is not None
