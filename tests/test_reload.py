"""reload: validate everything first, then replace every job in one transaction."""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.conftest import TIMEZONE, Invoke, StockStore, write_tasks_file
from whalefall_sched.errors import StoreConflictError, TasksFileError
from whalefall_sched.repository import CAS_ATTEMPTS, JobStoreRepository, backups, writes
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import TasksFile, load_tasks_file

SHANGHAI = ZoneInfo(TIMEZONE)

TASKS = """
default_tasks:
  - id: sync_accounts
    name: 账户同步
    function: sync_accounts
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 1
      day: '*'
      month: '*'
      day_of_week: '*'
    enabled: true
    description: 每日同步所有数据库实例的账户信息
  - id: fortnightly
    name: Every other Monday
    function: noop
    trigger_type: cron
    trigger_params: {hour: 6, day_of_week: mon, week: '*/2'}
  - id: leap_days
    function: noop
    trigger_type: cron
    trigger_params: {month: 2, day: 29, hour: 12, year: '2028-2040'}
  - id: one_off
    name: One-off
    function: noop
    trigger_type: date
    trigger_params: {run_date: '2099-01-01 08:00:00'}
  - id: every_two_hours
    function: noop
    trigger_type: interval
    trigger_params: {hours: 2}
  - id: disabled_task
    function: noop
    trigger_type: cron
    trigger_params: {hour: 9}
    enabled: false
functions:
  sync_accounts: tests.jobs:record
  noop: tests.jobs:noop
"""
ENABLED = ["sync_accounts", "fortnightly", "leap_days", "one_off", "every_two_hours"]

#: What is in the store before a reload: one id kept, one disabled in the file, others gone.
OLD_JOBS: list[dict[str, Any]] = [
    dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=7, minute=15),
    dict(func="tests.jobs:record", trigger="cron", id="old_job", hour=3, kwargs={"x": 1}),
    dict(func="tests.jobs:noop", trigger="interval", id="old_paused", hours=1, next_run_time=None),
    dict(func="tests.jobs:noop", trigger="cron", id="disabled_task", hour=9),
]
OLD_IDS = ["disabled_task", "old_job", "old_paused", "sync_accounts"]


def _write(tmp_path: Path, text: str, name: str = "tasks.yaml") -> Path:
    return write_tasks_file(tmp_path / name, text)


def _tasks(tmp_path: Path, text: str = TASKS) -> TasksFile:
    return load_tasks_file(_write(tmp_path, text))


@pytest.fixture
def service_tasks(tmp_path: Path) -> TasksFile:
    """``service`` reloads from TASKS."""
    return _tasks(tmp_path)


@pytest.fixture
def old(stock: StockStore) -> StockStore:
    stock.add(*OLD_JOBS)
    return stock


@pytest.fixture
def statements() -> Iterator[list[tuple[str, list[Any]]]]:
    """Every statement run on the job table: (verb, parameter values)."""
    seen: list[tuple[str, list[Any]]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if "apscheduler_jobs" in statement and verb in ("INSERT", "UPDATE", "DELETE"):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            seen.append((verb, list(values or ())))

    sa.event.listen(sa.Engine, "before_cursor_execute", listen)
    yield seen
    sa.event.remove(sa.Engine, "before_cursor_execute", listen)


def _ids_by_verb(seen: list[tuple[str, list[Any]]], ids: set[str]) -> dict[str, list[str]]:
    by_verb: dict[str, list[str]] = {"INSERT": [], "UPDATE": [], "DELETE": []}
    for verb, values in seen:
        by_verb[verb].extend(v for v in values if isinstance(v, str) and v in ids)
    return {verb: sorted(found) for verb, found in by_verb.items()}


# -- validation ------------------------------------------------------------------------------

ALL_PROBLEMS = """
default_tasks:
  - id: unknown_fn
    function: no_such_function
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: bad_hour
    function: noop
    trigger_type: cron
    trigger_params: {hour: 25}
  - id: no_trigger_type
    function: noop
    trigger_params: {hour: 1}
  - name: has no id
    function: noop
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: bad_hour
    function: noop
    trigger_type: cron
    trigger_params: {hour: 2}
  - id: missing_module
    function: gone
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: missing_attr
    function: tests.jobs:no_such_attr
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: valid_task
    function: noop
    trigger_type: cron
    trigger_params: {hour: 1}
functions:
  noop: tests.jobs:noop
  gone: wfs_no_such_module_anywhere:task
"""

EXPECTED_PROBLEMS = [
    ("task unknown_fn:", "unknown function 'no_such_function'"),
    ("task bad_hour:", "bad trigger_params"),
    ("task no_trigger_type:", "trigger_type"),
    ("task #4:", "missing `id`"),
    ("task bad_hour:", "duplicate id"),
    ("task missing_module:", "wfs_no_such_module_anywhere"),
    ("task missing_attr:", "tests.jobs:no_such_attr"),
]


def test_an_invalid_tasks_file_lists_every_problem_and_leaves_the_store_unchanged(
    old: StockStore, repo: JobStoreRepository, tmp_path: Path
) -> None:
    service = SchedulerActionsService(repo, _tasks(tmp_path, ALL_PROBLEMS))
    fingerprint = old.fingerprint()

    with pytest.raises(TasksFileError) as caught:
        service.reload_jobs(backup_dir=tmp_path / "backups")

    problems = caught.value.problems
    for prefix, fragment in EXPECTED_PROBLEMS:
        assert any(p.startswith(prefix) and fragment in p for p in problems), (prefix, problems)
    assert not any("valid_task" in p for p in problems)
    assert len(problems) == len(EXPECTED_PROBLEMS)
    assert old.fingerprint() == fingerprint
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize(
    ("task", "fragment"),
    [
        ("{id: t, function: nope, trigger_type: cron, trigger_params: {hour: 1}}", "unknown"),
        ("{id: t, function: noop, trigger_type: cron, trigger_params: {hour: 25}}", "'25'"),
        ("{id: t, function: noop, trigger_type: cron, trigger_params: {minute: x}}", "minute"),
        ("{id: t, function: noop, trigger_type: cron, trigger_params: {hours: 1}}", "hours"),
        ("{id: t, function: noop, trigger_params: {hour: 1}}", "trigger_type"),
        ("{id: t, function: noop, trigger_type: weekly, trigger_params: {}}", "weekly"),
        ("{function: noop, trigger_type: cron, trigger_params: {hour: 1}}", "id"),
        ("{id: t, function: 'wfs_gone_module:f', trigger_type: cron}", "wfs_gone_module"),
        ("{id: t, function: 'tests.jobs:absent', trigger_type: cron}", "tests.jobs:absent"),
        (
            "{id: t, function: noop, trigger_type: cron, trigger_params: {timezone: Mars/Base}}",
            "Mars/Base",
        ),
        ("{id: t, function: noop, trigger_type: cron, trigger_params: {jitter: abc}}", "cron"),
        ("{id: t, function: noop, trigger_type: interval, trigger_params: {hours: x}}", "hours"),
        ("{id: t, function: noop, trigger_type: date, trigger_params: {run_date: x}}", "date"),
    ],
    ids=[
        "unknown-function",
        "hour-25",
        "bad-minute",
        "unknown-cron-field",
        "no-trigger-type",
        "unknown-trigger-type",
        "no-id",
        "module-not-importable",
        "attribute-missing",
        "unknown-time-zone",
        "bad-jitter",
        "bad-interval",
        "bad-run-date",
    ],
)
def test_each_validation_failure_alone_changes_nothing(
    old: StockStore, repo: JobStoreRepository, tmp_path: Path, task: str, fragment: str
) -> None:
    text = (
        "default_tasks:\n"
        f"  - {task}\n"
        "  - {id: ok, function: noop, trigger_type: cron, trigger_params: {hour: 1}}\n"
        "functions: {noop: 'tests.jobs:noop'}\n"
    )
    service = SchedulerActionsService(repo, _tasks(tmp_path, text))
    fingerprint = old.fingerprint()

    with pytest.raises(TasksFileError) as caught:
        service.reload_jobs(backup_dir=tmp_path / "backups")

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(("task t:", "task #1:"))
    assert fragment in caught.value.problems[0]
    assert old.fingerprint() == fingerprint
    with pytest.raises(TasksFileError):
        service.reload_jobs(dry_run=True)


def test_an_invalid_tasks_file_does_not_create_a_missing_store(
    sqlite_stock: StockStore, tmp_path: Path
) -> None:
    service = SchedulerActionsService(
        JobStoreRepository(sqlite_stock.url), _tasks(tmp_path, ALL_PROBLEMS)
    )
    with pytest.raises(TasksFileError):
        service.reload_jobs()
    assert sqlite_stock.fingerprint() == "absent"


def test_cli_reload_of_an_invalid_file_exits_2_listing_every_task(
    old: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    path = _write(tmp_path, ALL_PROBLEMS)
    fingerprint = old.fingerprint()

    result = cli("--tasks", str(path), "reload", "--yes", url=old.url)

    assert result.exit_code == 2
    for prefix, _ in EXPECTED_PROBLEMS:
        assert prefix in result.stderr
    assert "Traceback" not in result.output
    assert old.fingerprint() == fingerprint


# -- success -----------------------------------------------------------------------------------


def test_reload_replaces_every_job_by_the_enabled_tasks(
    old: StockStore,
    service: SchedulerActionsService,
    statements: list[tuple[str, list[Any]]],
) -> None:
    result = service.reload_jobs(backup_dir=None)

    assert sorted(result.deleted) == OLD_IDS
    assert result.deleted_count == len(OLD_IDS)
    assert result.written == ENABLED
    assert result.written_count == len(ENABLED)
    assert result.dry_run is False
    assert result.backup_path is None
    assert sorted(old.raw()) == sorted(ENABLED)
    loaded = old.load()
    assert "disabled_task" not in loaded
    # the kept id now holds the NEW trigger
    assert str(loaded["sync_accounts"].trigger) == str(
        loaded["sync_accounts"].trigger.__class__(
            second=0, minute=0, hour=1, day="*", month="*", day_of_week="*", timezone=TIMEZONE
        )
    )
    assert loaded["sync_accounts"].name == "账户同步"
    # ... rewritten in place: updated, never deleted or re-inserted
    verbs = _ids_by_verb(statements, set(OLD_IDS) | set(ENABLED))
    assert verbs == {
        "UPDATE": ["sync_accounts"],
        "DELETE": ["disabled_task", "old_job", "old_paused"],
        "INSERT": sorted(set(ENABLED) - {"sync_accounts"}),
    }


def _same_or_next(trigger: Any, expected: datetime, actual: datetime) -> bool:
    """``actual`` is ``expected`` or, if a fire time passed in between, the one after."""
    return actual in (expected, trigger.get_next_fire_time(expected, expected))


def test_rows_written_by_reload_are_what_stock_add_job_writes(
    stock: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    # the reference: stock add_job of the same tasks, timezone Asia/Shanghai
    reference = StockStore(f"sqlite:///{tmp_path / 'reference.db'}")
    tasks = service._tasks
    reference.add(
        *(
            dict(
                func=t.func_ref,
                trigger=t.trigger_type,
                id=t.id,
                **({"name": t.name} if t.name else {}),
                **t.trigger_params,
            )
            for t in tasks.tasks
            if t.enabled
        )
    )

    stock.create()  # an empty store (init would also register the jobs)
    service.reload_jobs()

    ours = stock.load()
    theirs = reference.load()
    assert sorted(ours) == sorted(theirs) == sorted(ENABLED)
    for job_id in ENABLED:
        mine, stock_job = ours[job_id], theirs[job_id]
        assert mine.func_ref == stock_job.func_ref, job_id
        assert mine.name == stock_job.name, job_id
        assert mine.args == stock_job.args == ()
        assert mine.kwargs == stock_job.kwargs == {}
        assert mine.executor == stock_job.executor == "default"
        assert (mine.misfire_grace_time, mine.coalesce, mine.max_instances) == (300, True, 1)
        assert (stock_job.misfire_grace_time, stock_job.coalesce, stock_job.max_instances) == (
            300,
            True,
            1,
        )
        assert type(mine.trigger) is type(stock_job.trigger)
        zone = getattr(mine.trigger, "timezone", None) or mine.trigger.run_date.tzinfo
        stock_zone = (
            getattr(stock_job.trigger, "timezone", None) or stock_job.trigger.run_date.tzinfo
        )
        assert zone == stock_zone == SHANGHAI
        if job_id == "every_two_hours":  # starts "now + interval", whenever now is
            assert mine.trigger.interval == stock_job.trigger.interval == timedelta(hours=2)
            assert mine.next_run_time == mine.trigger.start_date
            continue
        assert repr(mine.trigger.__getstate__()) == repr(stock_job.trigger.__getstate__())
        assert _same_or_next(mine.trigger, stock_job.next_run_time, mine.next_run_time), job_id
    assert ours["one_off"].next_run_time == datetime(2099, 1, 1, 8, tzinfo=SHANGHAI)
    assert ours["leap_days"].next_run_time == datetime(2028, 2, 29, 12, tzinfo=SHANGHAI)
    assert ours["fortnightly"].next_run_time.weekday() == 0
    assert ours["fortnightly"].next_run_time.isocalendar().week % 2 == 1  # */2 from week 1
    assert ours["sync_accounts"].name == "账户同步"
    assert ours["leap_days"].name == "noop"  # unnamed: named after the function, as stock does


def test_reload_with_a_fixed_now_computes_next_run_times_from_it(
    stock: StockStore, service: SchedulerActionsService
) -> None:
    now = datetime(2030, 6, 1, 12, 0, tzinfo=SHANGHAI)
    stock.create()
    service.reload_jobs(now=now)
    loaded = stock.load()
    assert loaded["sync_accounts"].next_run_time == datetime(2030, 6, 2, 1, tzinfo=SHANGHAI)
    assert loaded["leap_days"].next_run_time == datetime(2032, 2, 29, 12, tzinfo=SHANGHAI)
    assert loaded["fortnightly"].next_run_time == datetime(2030, 6, 3, 6, tzinfo=SHANGHAI)


# -- backups -----------------------------------------------------------------------------------


def test_the_backup_holds_every_removed_row_byte_for_byte(
    old: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    before = old.raw()
    backup_dir = tmp_path / "backups"

    result = service.reload_jobs(backup_dir=backup_dir)

    assert result.backup_path is not None
    path = Path(result.backup_path)
    assert path.parent == backup_dir
    document = json.loads(path.read_text(encoding="utf-8"))
    restored = {
        row["id"]: (row["next_run_time"], base64.b64decode(row["job_state"]))
        for row in document["rows"]
    }
    assert restored == before
    assert sorted(restored) == OLD_IDS
    # and restorable: put the rows in an empty store and stock loads the old jobs
    twin = StockStore(f"sqlite:///{tmp_path / 'restored.db'}")
    for job_id, (next_run_time, job_state) in restored.items():
        twin.insert_raw(job_id, job_state, next_run_time)
    assert twin.raw() == before
    reloaded_old = twin.load()
    assert reloaded_old["old_job"].kwargs == {"x": 1}
    assert reloaded_old["old_paused"].next_run_time is None


def test_no_backup_when_nothing_is_removed(
    stock: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    backup_dir = tmp_path / "backups"
    stock.create()
    result = service.reload_jobs(backup_dir=backup_dir)
    assert result.backup_path is None
    assert result.deleted == []
    assert not backup_dir.exists() or list(backup_dir.iterdir()) == []


def test_no_backup_when_backup_dir_is_none(
    old: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    files_before = sorted(p for p in tmp_path.rglob("*") if "userdata" not in p.parts)
    result = service.reload_jobs(backup_dir=None)
    assert result.backup_path is None
    assert sorted(p for p in tmp_path.rglob("*") if "userdata" not in p.parts) == files_before


# -- dry run -------------------------------------------------------------------------------------


def test_dry_run_changes_nothing(
    old: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    fingerprint = old.fingerprint()
    result = service.reload_jobs(dry_run=True, backup_dir=tmp_path / "backups")
    assert result.dry_run is True
    assert sorted(result.deleted) == OLD_IDS
    assert result.written == ENABLED
    assert (result.deleted_count, result.written_count) == (len(OLD_IDS), len(ENABLED))
    assert old.fingerprint() == fingerprint
    assert not (tmp_path / "backups").exists()


def test_dry_run_on_a_missing_store_is_the_not_initialised_conflict_and_creates_nothing(
    sqlite_stock: StockStore, tmp_path: Path
) -> None:
    service = SchedulerActionsService(JobStoreRepository(sqlite_stock.url), _tasks(tmp_path))
    with pytest.raises(StoreConflictError, match=r"not initialised.*`whalefall-sched init`"):
        service.reload_jobs(dry_run=True)
    assert sqlite_stock.fingerprint() == "absent"


# -- all or nothing --------------------------------------------------------------------------------


class InjectedError(Exception):
    """Raised on purpose in the middle of a reload's transaction."""


def test_a_reload_interrupted_at_its_first_insert_leaves_the_old_jobs_intact(
    old: StockStore,
    service: SchedulerActionsService,
    statements: list[tuple[str, list[Any]]],
) -> None:
    before = old.raw()

    def explode(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "apscheduler_jobs" in statement:
            raise InjectedError("interrupted after deleting and updating")

    sa.event.listen(sa.Engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(InjectedError):
            service.reload_jobs(backup_dir=None)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", explode)

    # deletions and the in-place update did run before the failure...
    verbs = _ids_by_verb(statements, set(OLD_IDS))
    assert verbs["DELETE"] == ["disabled_task", "old_job", "old_paused"]
    assert verbs["UPDATE"] == ["sync_accounts"]
    # ... and were rolled back
    assert old.raw() == before
    # the store is usable afterwards
    assert service.reload_jobs().written == ENABLED


def test_a_reload_interrupted_after_its_first_deletion_leaves_the_old_jobs_intact(
    old: StockStore, service: SchedulerActionsService, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = old.raw()
    original = writes.cas
    done: list[str] = []

    def cas_then_fail(conn: Any, table: Any, statement: Any, job: Any) -> None:
        original(conn, table, statement, job)
        done.append(job.id)
        raise InjectedError("interrupted after one deletion")

    monkeypatch.setattr(writes, "cas", cas_then_fail)
    with pytest.raises(InjectedError):
        service.reload_jobs(backup_dir=None)

    assert len(done) == 1
    assert old.raw() == before


# -- the bundled example ---------------------------------------------------------------------------


def test_the_bundled_tasks_file_reloads_on_an_empty_store_and_runs(
    stock: StockStore, cli: Invoke
) -> None:
    service = SchedulerActionsService(JobStoreRepository(stock.url), load_tasks_file(None))
    stock.create()
    result = service.reload_jobs()
    assert result.deleted == []
    assert result.written == [
        "sync_accounts",
        "cleanup_logs",
        "monitor_partition_health",
        "collect_database_sizes",
        "calculate_database_size_aggregations",
    ]
    loaded = stock.load()
    assert loaded["sync_accounts"].name == "账户同步"
    assert loaded["sync_accounts"].func_ref == "whalefall_sched.examples.tasks:sync_accounts"
    assert loaded["monitor_partition_health"].next_run_time.timetuple()[3:6] == (0, 30, 0)

    run = cli("run", "sync_accounts", "--created-by", "1", "-o", "json", url=stock.url)
    assert run.exit_code == 0, run.output
    document = json.loads(run.stdout)
    assert document["succeeded"] is True
    assert document["kwargs"] == {"manual_run": True, "created_by": 1}


def test_cli_reload(stock: StockStore, cli: Invoke, tmp_path: Path) -> None:
    stock.add(*OLD_JOBS)
    path = _write(tmp_path, TASKS)
    fingerprint = stock.fingerprint()

    refused = cli("--tasks", str(path), "reload", url=stock.url)  # no terminal, no --yes
    assert refused.exit_code == 4
    assert stock.fingerprint() == fingerprint

    dry = cli("--tasks", str(path), "reload", "--dry-run", "-o", "json", url=stock.url)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["deleted_count"] == len(OLD_IDS)
    assert stock.fingerprint() == fingerprint

    done = cli(
        "--tasks",
        str(path),
        "reload",
        "--yes",
        "--backup-dir",
        str(tmp_path / "bk"),
        "-o",
        "json",
        url=stock.url,
    )
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert sorted(document["deleted"]) == OLD_IDS
    assert document["reloaded"] == ENABLED
    assert (document["deleted_count"], document["reloaded_count"]) == (4, 5)
    assert len(list((tmp_path / "bk").iterdir())) == 1
    assert sorted(stock.raw()) == sorted(ENABLED)


# -- compare-and-swap during reload -----------------------------------------------------------


def test_a_row_changed_during_reload_is_re_read_and_backed_up_as_changed(
    old: StockStore,
    service: SchedulerActionsService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = backups.write_backup
    other = old.scheduler()
    attempts: list[int] = []

    def backup_then_change(rows: Any, directory: Path, stamp: str, **where: Any) -> Any:
        path = original(rows, directory, stamp, **where)
        attempts.append(len(rows))
        if len(attempts) == 1:  # another writer changes a row after our read
            other.modify_job("old_job", name="renamed by another writer")
        return path

    monkeypatch.setattr(backups, "write_backup", backup_then_change)
    try:
        result = service.reload_jobs(backup_dir=tmp_path / "backups")
    finally:
        other.shutdown(wait=False)

    assert len(attempts) == 2  # the first transaction lost the race and was retried
    assert result.written == ENABLED
    assert sorted(old.raw()) == sorted(ENABLED)
    assert result.backup_path is not None
    document = json.loads(Path(result.backup_path).read_text(encoding="utf-8"))
    [row] = [r for r in document["rows"] if r["id"] == "old_job"]
    twin = StockStore(f"sqlite:///{tmp_path / 'restored.db'}")
    twin.insert_raw("old_job", base64.b64decode(row["job_state"]), row["next_run_time"])
    assert twin.load()["old_job"].name == "renamed by another writer"


def test_a_store_that_keeps_changing_during_reload_is_a_conflict_and_nothing_is_replaced(
    old: StockStore,
    service: SchedulerActionsService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = backups.write_backup
    other = old.scheduler()
    written: list[dict[str, tuple[float | None, bytes]]] = []

    def backup_then_change(rows: Any, directory: Path, stamp: str, **where: Any) -> Any:
        path = original(rows, directory, stamp, **where)
        other.modify_job("old_job", name=f"other writer #{len(written) + 1}")
        written.append(old.raw())
        return path

    monkeypatch.setattr(backups, "write_backup", backup_then_change)
    try:
        with pytest.raises(StoreConflictError, match="changed by another process"):
            service.reload_jobs(backup_dir=tmp_path / "backups")
    finally:
        other.shutdown(wait=False)

    assert len(written) == CAS_ATTEMPTS
    assert old.raw() == written[-1]  # the other writer's last bytes, nothing of ours
    assert old.load()["old_job"].name == f"other writer #{CAS_ATTEMPTS}"


def test_unreadable_and_unimportable_rows_are_removed_and_backed_up_byte_for_byte(
    old: StockStore, service: SchedulerActionsService, tmp_path: Path
) -> None:
    old.insert_raw("corrupt", b"\x80\x05not a pickle", None)
    old.insert_raw("orphan", _orphan_state(old), None)
    before = old.raw()

    result = service.reload_jobs(backup_dir=tmp_path / "backups")

    assert {"corrupt", "orphan"} <= set(result.deleted)
    assert sorted(old.raw()) == sorted(ENABLED)
    assert result.backup_path is not None
    document = json.loads(Path(result.backup_path).read_text(encoding="utf-8"))
    restored = {
        row["id"]: (row["next_run_time"], base64.b64decode(row["job_state"]))
        for row in document["rows"]
    }
    assert restored == before


def _orphan_state(stock: StockStore) -> bytes:
    """A job state whose task module does not exist (the row of a removed task)."""
    _, job_state = stock.raw()["old_job"]
    state = pickle.loads(job_state)
    state.update(id="orphan", func="no_such_package.tasks:gone", next_run_time=None)
    return pickle.dumps(state)
