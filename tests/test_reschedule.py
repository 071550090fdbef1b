"""reschedule: what stock ``reschedule_job`` and the host's ``PUT /jobs/<id>`` write.

Each write is compared with a twin store where stock APScheduler reschedules a
byte-identical copy of the row with the trigger the host's PUT builds.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger

from tests.conftest import Invoke, StockStore
from whalefall_sched.errors import InvalidInputError, StoreConflictError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services.job_changes import JobChangesService
from whalefall_sched.services.tasks_file import load_tasks_file
from whalefall_sched.services.trigger_spec import TriggerSpec, cron_fields, parse_interval

JOBS: list[dict[str, Any]] = [
    dict(func="tests.jobs:noop", trigger="cron", id="sync_accounts", hour=1, minute=30),
    dict(func="tests.jobs:noop", trigger="cron", id="cleanup_logs", hour=2, next_run_time=None),
    dict(func="tests.jobs:noop", trigger="interval", id="custom_job", hours=2),
]


def host_cron_fields(expression: str) -> dict[str, str]:
    """The host's ``SchedulerJobWriteService._collect_cron_fields``, as written there."""
    parts = expression.strip().split()
    if len(parts) == 7:
        second, minute, hour, day, month, day_of_week, year = parts
        return dict(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            year=year,
        )
    if len(parts) == 6:
        second, minute, hour, day, month, day_of_week = parts
        return dict(
            second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week
        )
    minute, hour, day, month, day_of_week = parts
    return dict(second="0", minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week)


EXPRESSIONS = [
    "0 3 * * *",
    "*/15 8-18 * * mon-fri",
    "30 0 4 1 * *",
    "0 0 12 ? * * 2030".replace("?", "*"),
    "  5   4 * * sun ",
    "0 */10 * * * * 2026-2040",
]


@pytest.fixture
def twin(tmp_path: Path) -> StockStore:
    return StockStore(f"sqlite:///{tmp_path / 'twin.db'}")


def _service(url: str) -> JobChangesService:
    return JobChangesService(JobStoreRepository(url), load_tasks_file(None))


def _normal(raw: bytes) -> dict[str, str]:
    state = pickle.loads(raw)
    normal = {key: repr(value) for key, value in state.items()}
    normal["trigger"] = repr(state["trigger"].__getstate__())
    return normal


def _copy_to(twin: StockStore, stock: StockStore, job_id: str) -> None:
    next_run_time, job_state = stock.raw()[job_id]
    twin.insert_raw(job_id, job_state, next_run_time)


# -- parsing, table-driven against the host's rules ------------------------------------------


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_cron_fields_match_the_hosts_split(expression: str) -> None:
    assert cron_fields(expression) == host_cron_fields(expression)


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("61 * * * *", "minute"),
        ("0 25 * * *", "hour"),
        ("0 0 32 * *", "day"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * funday", "day_of_week"),
        ("60 0 0 * * *", "second"),
        ("0 0 0 * * * 1960x", "year"),
    ],
)
def test_a_bad_field_is_a_usage_error_naming_it(
    cli: Invoke, stock: StockStore, expression: str, field: str
) -> None:
    stock.add(*JOBS)
    before = stock.fingerprint()
    result = cli("reschedule", "sync_accounts", expression, url=stock.url)
    assert result.exit_code == 2
    assert f"field {field} " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stock.fingerprint() == before


@pytest.mark.parametrize("expression", ["", "0 3 * *", "1 2 3 4 5 6 7 8"])
def test_a_wrong_number_of_fields_is_a_usage_error(expression: str) -> None:
    with pytest.raises(InvalidInputError, match="give 5"):
        cron_fields(expression)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45", 45)],
)
def test_interval_durations(text: str, seconds: int) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["0s", "1x", "h", "-5m", "1.5h", ""])
def test_bad_interval_durations(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_interval(text)


# -- what is written -------------------------------------------------------------------------


@pytest.mark.parametrize("expression", EXPRESSIONS[:4])
def test_reschedule_writes_what_stock_reschedule_job_writes(
    stock: StockStore, twin: StockStore, expression: str
) -> None:
    stock.add(*JOBS)
    _copy_to(twin, stock, "sync_accounts")

    result = _service(stock.url).reschedule_job("sync_accounts", TriggerSpec("cron", expression))

    scheduler = twin.scheduler()
    try:
        trigger = CronTrigger(timezone="Asia/Shanghai", **host_cron_fields(expression))
        scheduler.reschedule_job("sync_accounts", trigger=trigger)
    finally:
        scheduler.shutdown(wait=False)
    ours, theirs = stock.raw()["sync_accounts"], twin.raw()["sync_accounts"]
    assert ours[0] == theirs[0]  # next_run_time equal
    assert _normal(ours[1]) == _normal(theirs[1])
    assert result.changed and result.state == "STATE_RUNNING"
    assert result.next_run_time is not None
    assert datetime.fromisoformat(result.next_run_time).timestamp() == ours[0]
    assert stock.load()["sync_accounts"].trigger.fields[5].expressions  # stock loads it


def test_a_paused_job_resumes_as_stock_does_unless_keep_paused(
    stock: StockStore, twin: StockStore
) -> None:
    stock.add(*JOBS)
    _copy_to(twin, stock, "cleanup_logs")
    service = _service(stock.url)

    kept = service.reschedule_job(
        "cleanup_logs", TriggerSpec("cron", "0 4 * * *"), keep_paused=True
    )
    assert kept.state == "STATE_PAUSED" and kept.next_run_time is None
    assert stock.raw()["cleanup_logs"][0] is None
    assert "hour='4'" in str(stock.load()["cleanup_logs"].trigger)

    resumed = service.reschedule_job("cleanup_logs", TriggerSpec("cron", "0 5 * * *"))
    assert resumed.state == "STATE_RUNNING"
    scheduler = twin.scheduler()
    try:
        scheduler.reschedule_job(
            "cleanup_logs",
            trigger=CronTrigger(timezone="Asia/Shanghai", **host_cron_fields("0 5 * * *")),
        )
    finally:
        scheduler.shutdown(wait=False)
    ours, theirs = stock.raw()["cleanup_logs"], twin.raw()["cleanup_logs"]
    assert ours[0] is not None and ours[0] == theirs[0]
    assert _normal(ours[1]) == _normal(theirs[1])


def test_the_zone_is_the_jobs_own_unless_tz(stock: StockStore) -> None:
    stock.add(
        dict(
            func="tests.jobs:noop",
            trigger="cron",
            id="sync_accounts",
            hour=1,
            timezone="America/New_York",
        )
    )
    service = _service(stock.url)
    service.reschedule_job("sync_accounts", TriggerSpec("cron", "0 3 * * *"))
    assert str(stock.load()["sync_accounts"].trigger.timezone) == "America/New_York"
    from zoneinfo import ZoneInfo

    service.reschedule_job("sync_accounts", TriggerSpec("cron", "0 3 * * *"), zone=ZoneInfo("UTC"))
    job = stock.load()["sync_accounts"]
    assert str(job.trigger.timezone) == "UTC"
    assert job.next_run_time.astimezone(UTC).hour == 3


def test_interval_and_date_variants(stock: StockStore) -> None:
    stock.add(*JOBS)
    service = _service(stock.url)
    result = service.reschedule_job("sync_accounts", TriggerSpec("interval", "15m"))
    job = stock.load()["sync_accounts"]
    assert job.trigger.interval == timedelta(minutes=15)
    assert result.next_run_time is not None
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    service.reschedule_job("sync_accounts", TriggerSpec("date", when.isoformat()))
    job = stock.load()["sync_accounts"]
    assert job.next_run_time == when
    with pytest.raises(InvalidInputError, match="no fire time"):
        service.reschedule_job("sync_accounts", TriggerSpec("date", "2001-01-01T00:00"))


def test_dry_run_changes_nothing_and_shows_five_fire_times(cli: Invoke, stock: StockStore) -> None:
    stock.add(*JOBS)
    before = stock.fingerprint()
    result = cli(
        "reschedule", "sync_accounts", "0 3 * * *", "--dry-run", "-o", "json", url=stock.url
    )
    assert result.exit_code == 0, result.output
    assert stock.fingerprint() == before
    doc = json.loads(result.stdout)
    assert next(iter(doc)) == "schema_version"
    assert doc["id"] == "sync_accounts" and doc["dry_run"] is True and doc["changed"] is False
    assert len(doc["previous_fire_times"]) == len(doc["fire_times"]) == 5
    assert [datetime.fromisoformat(t).hour for t in doc["fire_times"]] == [3] * 5
    assert [datetime.fromisoformat(t).minute for t in doc["previous_fire_times"]] == [30] * 5
    assert doc["next_run_time_utc"].endswith("Z")
    assert len(doc["fire_times_utc"]) == 5
    table = cli("reschedule", "sync_accounts", "0 3 * * *", "--dry-run", url=stock.url)
    assert table.exit_code == 0 and "Dry run: nothing changed." in table.stdout
    assert stock.fingerprint() == before


def test_a_job_that_is_not_built_in_needs_force(cli: Invoke, stock: StockStore) -> None:
    stock.add(*JOBS)
    before = stock.fingerprint()
    refused = cli("reschedule", "custom_job", "0 3 * * *", url=stock.url)
    assert refused.exit_code == 4
    assert "--force" in refused.stderr
    assert stock.fingerprint() == before
    forced = cli("reschedule", "custom_job", "0 3 * * *", "--force", "-o", "json", url=stock.url)
    assert forced.exit_code == 0, forced.output
    assert "hour='3'" in str(stock.load()["custom_job"].trigger)


def test_exactly_one_schedule_and_unknown_ids(cli: Invoke, stock: StockStore) -> None:
    stock.add(*JOBS)
    none = cli("reschedule", "sync_accounts", url=stock.url)
    both = cli("reschedule", "sync_accounts", "0 3 * * *", "--interval", "1h", url=stock.url)
    assert none.exit_code == both.exit_code == 2
    missing = cli("reschedule", "sync_acounts", "0 3 * * *", "-o", "json", url=stock.url)
    assert missing.exit_code == 3
    assert json.loads(missing.stdout)["error"]["suggestions"] == ["sync_accounts"]


def test_the_service_refuses_a_non_builtin_job_without_force(stock: StockStore) -> None:
    stock.add(*JOBS)
    with pytest.raises(StoreConflictError, match="not a built-in task"):
        _service(stock.url).reschedule_job("custom_job", TriggerSpec("interval", "1h"))
