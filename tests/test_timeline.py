"""Fire times ahead: ``get --next N`` and ``timeline``, on stores written by stock APScheduler.

Exact times are checked at the service, with a fixed ``now``, against APScheduler's own
iteration of each trigger; the command line is checked for its shape (lanes, widths,
colour, errors) in-process, through a pipe and through a real pseudo-terminal.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import Invoke, StockStore
from tests.terminal import run_on_terminal
from whalefall_sched.cli.fire_times_view import MAX_NEXT as CLI_MAX_NEXT
from whalefall_sched.cli.terminal import cell_width as cells
from whalefall_sched.cli.timeline_view import timeline_lines
from whalefall_sched.errors import InvalidInputError, JobNotFoundError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerJobsReadService
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, STATE_UNREADABLE
from whalefall_sched.services.fire_times import FireTimeSearch
from whalefall_sched.services.timeline import (
    FIRE_TIMES_CAP,
    MAX_NEXT,
    build_timeline,
    fire_times,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: The fixed "now" of the service-level tests: midnight in Shanghai.
NOW = dt.datetime(2031, 1, 1, 0, 0, tzinfo=SHANGHAI)
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ANSI = "\x1b["


def _job(job_id: str, trigger: Any, **extra: Any) -> dict[str, Any]:
    return dict(func="tests.jobs:noop", trigger=trigger, id=job_id, **extra)


@pytest.fixture
def store(sqlite_stock: StockStore) -> StockStore:
    """Cron, interval and date jobs, one paused, and one unreadable row.

    In the 24 hours from :data:`NOW`, three running jobs fire at 02:00 (Shanghai): two
    on the minute, one 30 seconds into it; the paused job would too, but fires nothing.
    """
    sqlite_stock.add(
        _job("sync_accounts", CronTrigger(hour=2, minute=0, timezone=SHANGHAI)),
        _job("cleanup_logs", CronTrigger(hour="2,14", minute=0, timezone=SHANGHAI)),
        _job("half_past", CronTrigger(hour=2, minute=0, second=30, timezone=SHANGHAI)),
        _job(
            "six_hourly",
            IntervalTrigger(hours=6, start_date=NOW + dt.timedelta(hours=1), timezone=SHANGHAI),
        ),
        _job("once", DateTrigger(NOW + dt.timedelta(hours=5, minutes=7), timezone=SHANGHAI)),
        _job("paused_two", CronTrigger(hour=2, minute=0, timezone=SHANGHAI), next_run_time=None),
    )
    sqlite_stock.insert_raw("zz_broken", b"\x80\x05not a pickle", 1.0)
    return sqlite_stock


@pytest.fixture
def read_service(store: StockStore) -> Any:
    repository = JobStoreRepository(store.url)
    yield SchedulerJobsReadService(repository)
    repository.close()


def _stock_triggers(store: StockStore) -> dict[str, Any]:
    """Each readable job's trigger as stock APScheduler loads it (no unreadable rows)."""
    repository = JobStoreRepository(store.url)
    try:
        return {
            job.id: job.decoded["trigger"]
            for job in repository.list_jobs()
            if job.decoded is not None
        }
    finally:
        repository.close()


def _apscheduler_iteration(trigger: Any, now: dt.datetime, count: int) -> list[dt.datetime]:
    """APScheduler's own iteration: the first time from ``now``, each next from the last."""
    times: list[dt.datetime] = []
    when = trigger.get_next_fire_time(None, now)
    while when is not None and len(times) < count:
        if when >= now:
            times.append(when)
        when = trigger.get_next_fire_time(when, when)
    return times


# -- get --next, at the service ---------------------------------------------------------


@pytest.mark.parametrize(
    "job_id", ["sync_accounts", "cleanup_logs", "half_past", "six_hourly", "once", "paused_two"]
)
def test_next_fire_times_are_apschedulers(
    read_service: Any, store: StockStore, job_id: str
) -> None:
    trigger = _stock_triggers(store)[job_id]
    expected = _apscheduler_iteration(trigger, NOW, 25)
    result = read_service.get_job_fire_times(job_id, 25, now=NOW)
    assert result.fires.fire_times == expected
    document = result.to_dict()
    assert document["next_fire_times"] == [t.isoformat() for t in expected]
    assert document["next_fire_times_utc"] == [
        t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in expected
    ]
    assert all(UTC_Z.match(text) for text in document["next_fire_times_utc"])
    assert document["id"] == job_id  # get's own document, with the keys added


def test_next_fire_times_exact_values(read_service: Any) -> None:
    cleanup = read_service.get_job_fire_times("cleanup_logs", 3, now=NOW).to_dict()
    assert cleanup["next_fire_times"] == [
        "2031-01-01T02:00:00+08:00",
        "2031-01-01T14:00:00+08:00",
        "2031-01-02T02:00:00+08:00",
    ]
    assert cleanup["next_fire_times_utc"] == [
        "2030-12-31T18:00:00Z",
        "2031-01-01T06:00:00Z",
        "2031-01-01T18:00:00Z",
    ]
    assert cleanup["next_fire_times_note"] is None


def test_a_date_job_has_one_fire_time_and_says_so(read_service: Any) -> None:
    result = read_service.get_job_fire_times("once", 5, now=NOW)
    assert result.to_dict()["next_fire_times"] == ["2031-01-01T05:07:00+08:00"]
    assert "only 1" in result.note()
    later = read_service.get_job_fire_times("once", 5, now=NOW + dt.timedelta(days=1))
    assert later.fires.fire_times == []  # a time already past is not ahead
    assert "none" in later.note()


def test_a_paused_job_shows_the_times_it_would_fire(read_service: Any) -> None:
    result = read_service.get_job_fire_times("paused_two", 2, now=NOW)
    assert result.detail.state == STATE_PAUSED
    assert result.to_dict()["next_fire_times"] == [
        "2031-01-01T02:00:00+08:00",
        "2031-01-02T02:00:00+08:00",
    ]
    assert "paused" in result.note() and "if resumed" in result.note()


def test_an_unreadable_job_has_no_fire_times_and_says_why(read_service: Any) -> None:
    result = read_service.get_job_fire_times("zz_broken", 3, now=NOW)
    assert result.detail.state == STATE_UNREADABLE
    document = result.to_dict()
    assert document["next_fire_times"] == [] and document["next_fire_times_utc"] == []
    assert "unreadable" in document["next_fire_times_note"]


@pytest.mark.parametrize("count", [0, -1, MAX_NEXT + 1])
def test_next_count_is_bounded_at_the_service(read_service: Any, count: int) -> None:
    with pytest.raises(InvalidInputError):
        read_service.get_job_fire_times("sync_accounts", count, now=NOW)


def test_next_of_an_unknown_job_is_not_found(read_service: Any) -> None:
    with pytest.raises(JobNotFoundError):
        read_service.get_job_fire_times("nope", 3, now=NOW)


def test_the_cli_and_the_service_bound_next_alike() -> None:
    assert CLI_MAX_NEXT == MAX_NEXT


# -- the timeline, at the service ---------------------------------------------------------


def _timeline(store: StockStore, hours: int = 24, cap: int = FIRE_TIMES_CAP) -> Any:
    repository = JobStoreRepository(store.url)
    try:
        return build_timeline(
            repository,
            now=NOW,
            span=dt.timedelta(hours=hours),
            zone=SHANGHAI,
            zone_name="Asia/Shanghai",
            cap=cap,
        )
    finally:
        repository.close()


def test_the_read_service_draws_the_same_timeline(store: StockStore) -> None:
    repository = JobStoreRepository(store.url)
    try:
        service = SchedulerJobsReadService(repository)
        timeline = service.timeline(
            span=dt.timedelta(hours=24), zone=SHANGHAI, zone_name="Asia/Shanghai", now=NOW
        )
    finally:
        repository.close()
    assert timeline.to_dict() == _timeline(store).to_dict()


def test_timeline_fire_times_and_collisions_are_exact(store: StockStore) -> None:
    document = _timeline(store).to_dict()
    assert document["from"] == "2031-01-01T00:00:00+08:00"
    assert document["to"] == "2031-01-02T00:00:00+08:00"
    jobs = {job["id"]: job for job in document["jobs"]}
    assert list(jobs) == sorted(jobs)
    assert jobs["sync_accounts"]["fire_times"] == ["2031-01-01T02:00:00+08:00"]
    assert jobs["cleanup_logs"]["fire_times_utc"] == [
        "2030-12-31T18:00:00Z",
        "2031-01-01T06:00:00Z",
    ]
    assert jobs["half_past"]["fire_times"] == ["2031-01-01T02:00:30+08:00"]
    assert jobs["six_hourly"]["fire_times"] == [
        "2031-01-01T01:00:00+08:00",
        "2031-01-01T07:00:00+08:00",
        "2031-01-01T13:00:00+08:00",
        "2031-01-01T19:00:00+08:00",
    ]
    assert jobs["once"]["fire_times"] == ["2031-01-01T05:07:00+08:00"]
    assert jobs["paused_two"]["state"] == STATE_PAUSED
    assert jobs["paused_two"]["fire_times"] == ["2031-01-01T02:00:00+08:00"]
    assert jobs["sync_accounts"]["state"] == STATE_RUNNING
    assert jobs["zz_broken"]["state"] == STATE_UNREADABLE
    assert jobs["zz_broken"]["fire_times"] == [] and jobs["zz_broken"]["problem"]
    # the paused job fires nothing, so it collides with nothing
    assert document["collisions"] == [
        {
            "minute_utc": "2030-12-31T18:00:00Z",
            "ids": ["cleanup_logs", "half_past", "sync_accounts"],
        }
    ]


def test_timeline_fire_times_are_apschedulers(store: StockStore) -> None:
    triggers = _stock_triggers(store)
    end = NOW + dt.timedelta(days=3)
    for job in _timeline(store, hours=72).lanes:
        expected = [t for t in _apscheduler_iteration(triggers[job.id], NOW, 100) if t < end]
        assert job.fire_times == expected, job.id


def test_an_every_second_job_is_capped(sqlite_stock: StockStore) -> None:
    sqlite_stock.add(
        _job("every_second", IntervalTrigger(seconds=1, start_date=NOW, timezone=SHANGHAI)),
        _job("cron_second", CronTrigger(second="*", timezone=SHANGHAI)),
        _job("hourly", CronTrigger(minute=0, timezone=SHANGHAI)),
    )
    timeline = _timeline(sqlite_stock)
    jobs = {job.id: job for job in timeline.jobs}
    for job_id in ("every_second", "cron_second"):
        assert len(jobs[job_id].fire_times) == FIRE_TIMES_CAP
        assert jobs[job_id].capped and not jobs[job_id].complete
    assert jobs["every_second"].fire_times[-1] == NOW + dt.timedelta(seconds=FIRE_TIMES_CAP - 1)
    assert not jobs["hourly"].capped and len(jobs["hourly"].fire_times) == 24
    lines = timeline_lines(timeline, 80, unicode=False)
    assert any("capped at 10,000 fire times" in line for line in lines)
    lane = next(line for line in lines if line.startswith("every_second"))
    assert lane.endswith("?")  # what was not computed is not drawn as empty


def test_a_trigger_that_never_fires_stays_bounded(sqlite_stock: StockStore) -> None:
    sqlite_stock.add(
        _job("never", CronTrigger(month=2, day=31, timezone=SHANGHAI), next_run_time=None),
        # stock APScheduler takes minutes to find this one's next time
        _job("slow", CronTrigger(month="2-11", week=1, timezone=SHANGHAI), next_run_time=None),
    )
    timeline = _timeline(sqlite_stock, hours=24 * 31)
    for job in timeline.jobs:
        assert job.fire_times == []
        assert job.problem is not None and "search limit" in job.problem
    repository = JobStoreRepository(sqlite_stock.url)
    try:
        result = SchedulerJobsReadService(repository).get_job_fire_times("slow", 5, now=NOW)
    finally:
        repository.close()
    assert result.fires.fire_times == [] and "search limit" in (result.note() or "")


def test_the_search_budget_stops_a_long_iteration() -> None:
    trigger = CronTrigger(second="*", timezone=SHANGHAI)
    times, capped, problem, _ = fire_times(trigger, NOW, cap=100_000, steps=1_000)
    assert 0 < len(times) < 1_000 and not capped
    assert problem is not None and "budget" in problem
    assert FireTimeSearch(1_000).steps == 1_000


def test_jitter_is_left_out_and_said(sqlite_stock: StockStore) -> None:
    sqlite_stock.add(_job("jittery", CronTrigger(minute="*/15", jitter=30, timezone=SHANGHAI)))
    job = _timeline(sqlite_stock, hours=1).jobs[0]
    assert [t.minute for t in job.fire_times] == [0, 15, 30, 45]
    assert all(t.second == 0 for t in job.fire_times)
    assert any("jitter" in note for note in job.notes)


@pytest.mark.parametrize("hours", [0, 24 * 31 + 1])
def test_the_window_is_bounded_at_the_service(store: StockStore, hours: int) -> None:
    with pytest.raises(InvalidInputError):
        _timeline(store, hours=hours)


# -- the picture ------------------------------------------------------------------------


def test_picture_at_80_columns(store: StockStore) -> None:
    timeline = _timeline(store)
    lines = timeline_lines(timeline, 80)
    assert all(cells(line) <= 80 for line in lines), [x for x in lines if cells(x) > 80]
    for job in timeline.lanes:
        lane = [line for line in lines if line.startswith(job.id)]
        assert len(lane) == 1 and cells(lane[0]) == 80, job.id  # one line, never folded
    assert any(line.startswith("paused_two (paused)") for line in lines)
    assert not any(line.startswith("zz_broken") for line in lines)  # no lane
    assert "SKIPPED, UNREADABLE (1)" in lines
    assert any(line.strip().startswith("zz_broken:") for line in lines)
    # the collision in words, so it survives without colour
    assert "  02:00 cleanup_logs, half_past, sync_accounts" in lines
    assert any(line.startswith("! same minute") and "!" in line[14:] for line in lines)
    assert not any(ANSI in line for line in lines)


def test_picture_colours_collisions_and_greys_paused_lanes(store: StockStore) -> None:
    lines = timeline_lines(_timeline(store), 100, color=True)
    paused = next(line for line in lines if "paused_two" in line)
    assert paused.startswith("\x1b[2m")  # greyed
    sync = next(line for line in lines if line.startswith("sync_accounts"))
    assert "\x1b[1;31m" in sync  # its collision highlighted
    six = next(line for line in lines if line.startswith("six_hourly"))
    assert "\x1b[1;31m" not in six


def test_long_and_wide_ids_are_cut_not_folded(sqlite_stock: StockStore) -> None:
    long_id = "calculate_database_size_aggregations_for_every_instance_daily"
    sqlite_stock.add(
        _job(long_id, CronTrigger(hour=3, timezone=SHANGHAI)),
        _job("账户同步" * 8, CronTrigger(hour=3, timezone=SHANGHAI)),
    )
    timeline = _timeline(sqlite_stock, hours=48)
    for width in (40, 60, 80, 200):
        lines = timeline_lines(timeline, width)
        assert all(cells(line) <= width for line in lines), width
        lanes = [line for line in lines if line.startswith(("calculate", "账户"))]
        assert len(lanes) == 2 and all(cells(line) == width for line in lanes)
    assert any(line.startswith(long_id) for line in timeline_lines(timeline, 200))


def test_a_multi_day_axis_labels_dates(store: StockStore) -> None:
    lines = timeline_lines(_timeline(store, hours=24 * 7), 100)
    axis = lines[next(i for i, line in enumerate(lines) if line.startswith("JOB")) - 1]
    assert re.search(r"01-0[2-7]", axis)
    assert all(cells(line) <= 100 for line in lines)


# -- the command line ---------------------------------------------------------------------


def test_cli_get_next_table(cli: Invoke, store: StockStore) -> None:
    result = cli("get", "sync_accounts", "--next", "3", url=store.url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("NEXT 3 FIRE TIMES")
    rows = lines[start + 2 : start + 5]
    assert len(rows) == 3 and all(re.search(r"\d\d:00:00Z", row) for row in rows)
    assert lines[start + 1].split() == ["LOCAL", "UTC", "LEFT"]
    # LEFT reads as list's LEFT does: two units with a space (``21h 1min``, ``1d 21h``)
    left = [row.split("Z  ", 1)[1] for row in rows]
    assert all(re.fullmatch(r"\d+(d|h|min|s)( \d+(h|min|s))?", text) for text in left), left
    assert lines[0].startswith("FIELD")  # get's own table first


def test_cli_get_next_json(cli: Invoke, store: StockStore) -> None:
    plain = json.loads(cli("get", "sync_accounts", "-o", "json", url=store.url).stdout)
    assert "next_fire_times" not in plain and "next_fire_times_utc" not in plain
    result = cli("get", "sync_accounts", "--next", "4", "-o", "json", url=store.url)
    document = json.loads(result.stdout)
    assert set(plain) <= set(document)
    assert len(document["next_fire_times"]) == 4
    utc = document["next_fire_times_utc"]
    assert len(utc) == 4 and all(UTC_Z.match(t) and t.endswith("T18:00:00Z") for t in utc)
    times = [dt.datetime.fromisoformat(t) for t in document["next_fire_times"]]
    assert times == sorted(times) and all(t.utcoffset() == dt.timedelta(hours=8) for t in times)
    assert times[0] > dt.datetime.now(dt.UTC)


def test_cli_get_next_paused_and_unreadable(cli: Invoke, store: StockStore) -> None:
    paused = cli("get", "paused_two", "--next", "2", url=store.url)
    assert paused.exit_code == 0
    assert "NEXT 2 FIRE TIMES (paused: the times it would fire if resumed)" in paused.stdout
    today = cli("get", "zz_broken", url=store.url)
    broken = cli("get", "zz_broken", "--next", "2", url=store.url)
    assert broken.exit_code == today.exit_code == 0
    assert "no fire times: the job is unreadable" in broken.stdout


@pytest.mark.parametrize("value", ["0", "1001", "-3", "two"])
def test_cli_get_next_bad_count_is_a_usage_error(
    cli: Invoke, store: StockStore, value: str
) -> None:
    result = cli("get", "sync_accounts", "--next", value, url=store.url)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--next" in result.stderr


def test_cli_get_next_unknown_job(cli: Invoke, store: StockStore) -> None:
    assert cli("get", "nope", "--next", "2", url=store.url).exit_code == 3


def test_cli_timeline_json_shape(cli: Invoke, store: StockStore) -> None:
    result = cli("timeline", "-o", "json", "--tz", "UTC", url=store.url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"from", "to", "jobs", "collisions"} <= set(document)
    start = dt.datetime.fromisoformat(document["from"])
    end = dt.datetime.fromisoformat(document["to"])
    assert end - start == dt.timedelta(hours=24) and start.utcoffset() == dt.timedelta(0)
    for job in document["jobs"]:
        assert {"id", "state", "fire_times", "fire_times_utc"} <= set(job)
        assert len(job["fire_times"]) == len(job["fire_times_utc"])
        for when in job["fire_times"]:
            assert start <= dt.datetime.fromisoformat(when) < end
    daily = next(job for job in document["jobs"] if job["id"] == "sync_accounts")
    assert len(daily["fire_times"]) == 1
    assert [c["ids"] for c in document["collisions"]] == [
        ["cleanup_logs", "half_past", "sync_accounts"]
    ]
    assert all(UTC_Z.match(c["minute_utc"]) for c in document["collisions"])


def test_cli_timeline_table(cli: Invoke, store: StockStore) -> None:
    result = cli("timeline", "--days", "2", "--width", "80", url=store.url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(cells(line) <= 80 for line in lines)
    assert lines[0].startswith("TIMELINE next 2d")
    assert any(line.startswith("paused_two (paused)") for line in lines)
    assert "SAME MINUTE (2)" in lines
    assert not any(ANSI in line for line in lines)


def test_cli_timeline_is_100_columns_when_piped(cli: Invoke, store: StockStore) -> None:
    lines = cli("timeline", url=store.url).stdout.splitlines()
    lane = next(line for line in lines if line.startswith("sync_accounts"))
    assert cells(lane) == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hours", "5", "--days", "1"], "cannot be used together"),
        (["--hours", "0"], "--hours"),
        (["--hours", "745"], "--hours"),
        (["--days", "32"], "--days"),
        (["--days", "0"], "--days"),
        (["--tz", "Mars/Olympus"], "unknown time zone"),
        (["--tz", "America"], "unknown time zone"),  # a directory of the zone database
        (["--tz", "job"], "'job' (each job's own zone) is not accepted here"),
        (["--width", "10"], "--width"),
    ],
)
def test_cli_timeline_bad_options(
    cli: Invoke, store: StockStore, args: list[str], message: str
) -> None:
    before = store.fingerprint()
    result = cli("timeline", *args, url=store.url)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    as_json = cli("timeline", *args, "-o", "json", url=store.url)
    assert json.loads(as_json.stdout)["error"]["code"] == "usage"
    assert store.fingerprint() == before


def test_cli_timeline_color_flags(cli: Invoke, store: StockStore) -> None:
    always = cli("timeline", "--color", "always", url=store.url).stdout
    never = cli("timeline", "--color", "never", url=store.url).stdout
    assert ANSI in always and ANSI not in never


def test_reads_write_nothing(cli: Invoke, store: StockStore) -> None:
    before = store.fingerprint()
    assert cli("timeline", "--days", "31", url=store.url).exit_code == 0
    assert cli("get", "cleanup_logs", "--next", "1000", url=store.url).exit_code == 0
    assert store.fingerprint() == before


def test_cli_timeline_without_a_store(cli: Invoke, sqlite_url: str) -> None:
    result = cli("timeline", url=sqlite_url)
    assert result.exit_code == 4
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


# -- a real terminal -------------------------------------------------------------------------


def _in_a_terminal(argv: list[str], columns: int, env: dict[str, str]) -> str:
    """Run ``argv`` with stdout on a pseudo-terminal ``columns`` wide; what it printed."""
    run = run_on_terminal(argv, columns=columns, env=env, stdin_too=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("columns", [60, 80, 200])
@pytest.mark.parametrize("no_color", [False, True])
def test_in_a_real_terminal(store: StockStore, columns: int, no_color: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "TERM")}
    env |= {"TERM": "xterm-256color", "PYTHONIOENCODING": "utf-8"}
    if no_color:
        env["NO_COLOR"] = "1"
    argv = [sys.executable, "-m", "whalefall_sched", "--url", store.url, "timeline"]
    text = _in_a_terminal(argv, columns, env)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert (ANSI in text) is not no_color
    lines = plain.splitlines()
    assert all(cells(line) <= columns for line in lines)
    lanes = [line for line in lines if line.startswith(("sync_accounts", "paused_two"))]
    assert len(lanes) == 2 and all(cells(line) == columns for line in lanes)
    assert any(line.endswith(" cleanup_logs, half_past, sync_accounts") for line in lines)


@pytest.mark.parametrize("zone_name", ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_axis_across_daylight_saving_and_odd_offsets(
    sqlite_stock: StockStore, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    sqlite_stock.add(_job("hourly", CronTrigger(minute=0, timezone=zone)))
    repository = JobStoreRepository(sqlite_stock.url)
    try:
        timeline = build_timeline(
            repository,
            now=dt.datetime(2031, 3, 8, 12, 0, tzinfo=zone),  # New York's clocks go on 03-09
            span=dt.timedelta(days=2),
            zone=zone,
            zone_name=zone_name,
        )
    finally:
        repository.close()
    hourly = timeline.jobs[0].fire_times
    assert all(t.astimezone(zone).minute == 0 for t in hourly)
    assert hourly == sorted(set(hourly))
    for width in (60, 80, 120):
        lines = timeline_lines(timeline, width)
        assert all(cells(line) <= width for line in lines)
        axis = lines[next(i for i, line in enumerate(lines) if line.startswith("JOB")) - 1]
        assert re.search(r"\d\d:00|\d\d-\d\d", axis)
