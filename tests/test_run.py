"""run: a job's function in a thread named <id>_manual; manual kwargs; app context."""

from __future__ import annotations

import json
import logging
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from tests import flask_app
from tests.conftest import Invoke, StockStore, TaskModule, write_tasks_file
from whalefall_sched.errors import JobNotFoundError, StoreConflictError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.action_dto import ManualRunResult
from whalefall_sched.services.tasks_file import TasksFile, load_tasks_file
from whalefall_sched.services.wake_up import wake_up_notes

BUILTIN_INJECTING = ("sync_accounts", "calculate_database_size_aggregations")

#: A tasks file whose built-in ids are the seed's two plus cleanup_logs.
TABLE_4_1_TASKS = """
default_tasks:
  - id: sync_accounts
    function: sync_accounts
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: cleanup_logs
    function: cleanup_old_logs
    trigger_type: cron
    trigger_params: {hour: 2}
  - id: calculate_database_size_aggregations
    function: calculate_database_size_aggregations
    trigger_type: cron
    trigger_params: {hour: 4}
functions:
  sync_accounts: tests.jobs:record
  cleanup_old_logs: tests.jobs:record
  calculate_database_size_aggregations: tests.jobs:record
"""

STORE_JOBS: list[dict[str, Any]] = [
    dict(
        func="tests.jobs:record",
        trigger="cron",
        id=job_id,
        hour=3,
        args=["positional"],
        kwargs={"own": job_id},
    )
    for job_id in (
        "sync_accounts",
        "calculate_database_size_aggregations",
        "cleanup_logs",
        "custom_job",
    )
] + [
    dict(func="tests.jobs:fail", trigger="cron", id="failing_job", hour=3),
    dict(func="tests.flask_app:record_app_context", trigger="cron", id="app_job", hour=3),
]


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file tests.jobs:record appends to."""
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("WFS_TEST_RECORD", str(path))
    return path


def _calls(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _tasks(tmp_path: Path, text: str) -> TasksFile:
    return load_tasks_file(write_tasks_file(tmp_path / f"tasks-{uuid.uuid4().hex[:6]}.yaml", text))


@pytest.fixture
def jobs(stock: StockStore) -> StockStore:
    stock.add(*STORE_JOBS)
    return stock


@pytest.fixture
def service_tasks(tmp_path: Path) -> TasksFile:
    """``service`` runs with the seed's table 4.1."""
    return _tasks(tmp_path, TABLE_4_1_TASKS)


@pytest.fixture(autouse=True)
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """--app-path puts directories on sys.path: undo it after each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def factory_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    calls: list[bool] = []
    monkeypatch.setattr(flask_app, "FACTORY_CALLS", calls)
    return calls


# -- running -------------------------------------------------------------------------------


def test_run_returns_the_thread_name_and_runs_the_function_in_that_thread(
    jobs: StockStore, service: SchedulerActionsService, calls: Path
) -> None:
    fingerprint = jobs.fingerprint()

    thread_name = service.run_job_in_background("custom_job")
    result = service.wait_for_run(thread_name)

    assert thread_name == "custom_job_manual"
    assert _calls(calls) == [
        {"args": ["positional"], "kwargs": {"own": "custom_job"}, "thread": "custom_job_manual"}
    ]
    assert result.succeeded is True
    assert result.error is None
    assert result.id == "custom_job"
    assert result.thread_name == "custom_job_manual"
    assert result.func == "tests.jobs:record"
    assert isinstance(result.duration_seconds, float)
    # a manual run leaves the store alone (next run time included)
    assert jobs.fingerprint() == fingerprint


def test_a_failing_task_is_caught_and_logged_in_its_thread(
    jobs: StockStore,
    service: SchedulerActionsService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    caplog.set_level(logging.ERROR, logger="whalefall_sched.actions")

    thread_name = service.run_job_in_background("failing_job", allow_any_function=True)
    result = service.wait_for_run(thread_name)

    assert thread_name == "failing_job_manual"
    assert result.succeeded is False
    assert result.error == "RuntimeError: task failed on purpose"
    assert uncaught == []  # never propagated out of the thread
    errors = [r for r in caplog.records if r.name == "whalefall_sched.actions"]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR
    assert "failing_job" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)
    assert errors[0].threadName == "failing_job_manual"


#: How long the task of the duration test takes: a lower bound of the reported duration.
TASK_SECONDS = 0.1


@pytest.mark.parametrize("fail", [False, True], ids=["succeeded", "failed"])
def test_the_duration_covers_the_whole_run_of_the_task(
    stock: StockStore, service: SchedulerActionsService, fail: bool
) -> None:
    stock.add(
        dict(
            func="tests.jobs:take",
            trigger="cron",
            id="slow_job",
            hour=3,
            args=[TASK_SECONDS],
            kwargs={"fail": fail},
        )
    )

    result = service.wait_for_run(
        service.run_job_in_background("slow_job", allow_any_function=True)
    )

    assert result.succeeded is not fail
    # time.sleep never returns early: a duration measured around the call is at least this
    assert result.duration_seconds >= TASK_SECONDS


def test_run_of_an_unknown_job_is_not_found(
    jobs: StockStore, service: SchedulerActionsService
) -> None:
    with pytest.raises(JobNotFoundError, match="nope"):
        service.run_job_in_background("nope")


def test_run_of_an_unreadable_row_is_a_conflict(
    jobs: StockStore, service: SchedulerActionsService, calls: Path
) -> None:
    jobs.insert_raw("corrupt", b"garbage", None)
    with pytest.raises(StoreConflictError, match="cannot be decoded"):
        service.run_job_in_background("corrupt")
    assert _calls(calls) == []


def test_wait_for_an_unknown_run_is_not_found(service: SchedulerActionsService) -> None:
    with pytest.raises(JobNotFoundError):
        service.wait_for_run("never_started_manual")


# -- task modules that do not import -------------------------------------------------------


@pytest.fixture
def outside_module(task_module: TaskModule) -> tuple[str, Path]:
    """A task module in a directory of its own that is NOT on sys.path."""
    return task_module(
        "from tests.jobs import record\n\n\n"
        "def task(*args, **kwargs):\n"
        "    return record('from the host module', *args, **kwargs)\n",
        prefix="wfs_host_tasks",
    )


def _add_outside_job(stock: StockStore, name: str, directory: Path) -> None:
    sys.path.insert(0, str(directory))
    try:
        stock.add(dict(func=f"{name}:task", trigger="cron", id="host_job", hour=3))
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)


def test_a_task_module_that_cannot_be_imported_is_a_conflict_naming_it(
    stock: StockStore, repo: JobStoreRepository, outside_module: tuple[str, Path], calls: Path
) -> None:
    name, directory = outside_module
    _add_outside_job(stock, name, directory)
    service = SchedulerActionsService(repo, load_tasks_file(None))

    with pytest.raises(StoreConflictError) as caught:
        service.run_job_in_background("host_job", allow_any_function=True)

    message = str(caught.value)
    assert f"ModuleNotFoundError: No module named {name!r}" in message
    assert "--app-path" in message
    assert "\n" not in message
    assert _calls(calls) == []


def test_app_paths_make_a_task_module_importable(
    stock: StockStore, repo: JobStoreRepository, outside_module: tuple[str, Path], calls: Path
) -> None:
    name, directory = outside_module
    _add_outside_job(stock, name, directory)
    service = SchedulerActionsService(repo, load_tasks_file(None), app_paths=[str(directory)])

    result = service.wait_for_run(
        service.run_job_in_background("host_job", allow_any_function=True)
    )

    assert result.succeeded is True
    assert _calls(calls) == [
        {"args": ["from the host module"], "kwargs": {}, "thread": "host_job_manual"}
    ]


@pytest.fixture
def host_module(task_module: TaskModule, stock: StockStore) -> Callable[[str], tuple[str, Path]]:
    """Write a task module, store ``host_job`` calling its ``task``; return (name, directory).

    The job is stored through a stand-in module of the same name, so the real module is
    first imported by the run (or the reload) under test.
    """

    def make(source: str) -> tuple[str, Path]:
        name, directory = task_module(source, prefix="wfs_host")
        _, stand_in = task_module("def task(): pass\n", name=name)
        _add_outside_job(stock, name, stand_in)
        return name, directory

    return make


def _run_host_job(repo: JobStoreRepository, directory: Path) -> ManualRunResult:
    service = SchedulerActionsService(repo, load_tasks_file(None), app_paths=[str(directory)])
    return service.wait_for_run(service.run_job_in_background("host_job", allow_any_function=True))


def test_a_task_calling_sys_exit_failed(
    repo: JobStoreRepository,
    host_module: Callable[[str], tuple[str, Path]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    caplog.set_level(logging.ERROR, logger="whalefall_sched.actions")
    _, directory = host_module("import sys\n\ndef task():\n    sys.exit(3)\n")

    result = _run_host_job(repo, directory)

    assert result.succeeded is False
    assert result.error == "SystemExit: the task called sys.exit(3)"
    assert uncaught == []
    [logged] = [r for r in caplog.records if r.name == "whalefall_sched.actions"]
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], SystemExit)


def test_a_task_raising_keyboard_interrupt_failed(
    repo: JobStoreRepository,
    host_module: Callable[[str], tuple[str, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    _, directory = host_module("def task():\n    raise KeyboardInterrupt\n")

    result = _run_host_job(repo, directory)

    assert result.succeeded is False
    assert result.error == "KeyboardInterrupt (no message)"
    assert uncaught == []  # caught and logged like any failure: no traceback


def test_an_async_task_is_run_to_completion_in_the_run_thread(
    repo: JobStoreRepository, host_module: Callable[[str], tuple[str, Path]], calls: Path
) -> None:
    _, directory = host_module(
        """
        import asyncio

        from tests.jobs import record


        async def task(*args, **kwargs):
            await asyncio.sleep(0)
            return record("awaited", *args, **kwargs)
        """
    )

    result = _run_host_job(repo, directory)

    assert result.succeeded is True, result.error
    assert _calls(calls) == [{"args": ["awaited"], "kwargs": {}, "thread": "host_job_manual"}]


def test_an_async_task_that_raises_failed(
    repo: JobStoreRepository, host_module: Callable[[str], tuple[str, Path]]
) -> None:
    _, directory = host_module("async def task():\n    raise ValueError('bad input')\n")

    result = _run_host_job(repo, directory)

    assert result.succeeded is False
    assert result.error == "ValueError: bad input"


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("raise RuntimeError('needs DATABASE_URL')\n", "RuntimeError: needs DATABASE_URL"),
        (
            "import wfs_dependency_not_installed\n\ndef task(): pass\n",
            "ModuleNotFoundError: No module named 'wfs_dependency_not_installed'",
        ),
        ("def other(): pass\n", "has no attribute 'task'"),
    ],
    ids=["raises-at-import", "missing-dependency", "missing-attribute"],
)
def test_a_task_module_that_is_found_but_does_not_import_names_the_real_cause(
    repo: JobStoreRepository,
    host_module: Callable[[str], tuple[str, Path]],
    calls: Path,
    source: str,
    cause: str,
) -> None:
    name, directory = host_module(source)
    service = SchedulerActionsService(repo, load_tasks_file(None), app_paths=[str(directory)])

    with pytest.raises(StoreConflictError) as caught:
        service.run_job_in_background("host_job", allow_any_function=True)

    message = str(caught.value)
    assert f"{name}:task" in message
    assert cause in message
    assert "--app-path" not in message  # the module was found: the path is right
    assert "\n" not in message
    assert _calls(calls) == []


def test_cli_run_of_a_module_raising_at_import_exits_4(
    cli: Invoke, stock: StockStore, host_module: Callable[[str], tuple[str, Path]]
) -> None:
    _, directory = host_module("raise RuntimeError('needs DATABASE_URL')\n")
    result = cli(
        "--app-path", str(directory), "run", "host_job", "--allow-any-function", url=stock.url
    )
    assert result.exit_code == 4, result.output
    assert "RuntimeError: needs DATABASE_URL" in result.stderr
    assert "unexpected" not in result.stderr


def test_cli_run_of_a_task_calling_sys_exit_exits_1(
    cli: Invoke, stock: StockStore, host_module: Callable[[str], tuple[str, Path]]
) -> None:
    _, directory = host_module("import sys\n\ndef task():\n    sys.exit(3)\n")
    result = cli(
        "--app-path",
        str(directory),
        "run",
        "host_job",
        "--allow-any-function",
        "-o",
        "json",
        url=stock.url,
    )
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["succeeded"] is False


# -- manual-run kwargs (decision table: docs/architecture.md) -------------------------------


def _run(service: SchedulerActionsService, job_id: str, created_by: int | None = None) -> None:
    result = service.wait_for_run(service.run_job_in_background(job_id, created_by))
    assert result.succeeded, result.error


@pytest.mark.parametrize("job_id", BUILTIN_INJECTING)
@pytest.mark.parametrize("created_by", [7, None])
def test_table_4_1_builtin_sync_jobs_get_manual_run_and_created_by_added(
    jobs: StockStore,
    service: SchedulerActionsService,
    calls: Path,
    job_id: str,
    created_by: int | None,
) -> None:
    _run(service, job_id, created_by)
    assert _calls(calls) == [
        {
            "args": ["positional"],
            "kwargs": {"own": job_id, "manual_run": True, "created_by": created_by},
            "thread": f"{job_id}_manual",
        }
    ]
    # added for this run only: the stored kwargs are unchanged
    assert jobs.load()[job_id].kwargs == {"own": job_id}


def test_table_4_1_another_builtin_job_runs_with_its_kwargs_unchanged(
    jobs: StockStore, service: SchedulerActionsService, calls: Path
) -> None:
    assert "cleanup_logs" in service._tasks.builtin_ids
    _run(service, "cleanup_logs", created_by=7)
    assert _calls(calls) == [
        {"args": ["positional"], "kwargs": {"own": "cleanup_logs"}, "thread": "cleanup_logs_manual"}
    ]


def test_table_4_1_a_non_builtin_job_runs_with_its_kwargs_unchanged(
    jobs: StockStore, service: SchedulerActionsService, calls: Path
) -> None:
    assert "custom_job" not in service._tasks.builtin_ids
    _run(service, "custom_job", created_by=7)
    assert _calls(calls)[0]["kwargs"] == {"own": "custom_job"}


@pytest.mark.parametrize(
    "tasks_text",
    [
        # the id is not in the tasks file at all
        """
        default_tasks:
          - {id: cleanup_logs, function: tests.jobs:record, trigger_type: cron,
             trigger_params: {hour: 2}}
        """,
        # the id is in the file but builtin_ids leaves it out
        TABLE_4_1_TASKS + "builtin_ids: [cleanup_logs]\n",
    ],
    ids=["absent-from-file", "not-in-builtin_ids"],
)
def test_table_4_1_a_non_builtin_job_with_a_manual_kwargs_id_gets_nothing_added(
    jobs: StockStore, repo: JobStoreRepository, tmp_path: Path, calls: Path, tasks_text: str
) -> None:
    tasks = _tasks(tmp_path, tasks_text)
    assert "sync_accounts" in tasks.manual_kwargs_ids
    assert "sync_accounts" not in tasks.builtin_ids
    service = SchedulerActionsService(repo, tasks)

    _run(service, "sync_accounts", created_by=7)

    assert _calls(calls)[0]["kwargs"] == {"own": "sync_accounts"}


def test_manual_kwargs_ids_are_read_from_the_tasks_file(
    jobs: StockStore, repo: JobStoreRepository, tmp_path: Path, calls: Path
) -> None:
    tasks = _tasks(tmp_path, TABLE_4_1_TASKS + "manual_kwargs_ids: [cleanup_logs]\n")
    service = SchedulerActionsService(repo, tasks)

    _run(service, "cleanup_logs", created_by=3)
    _run(service, "sync_accounts", created_by=3)

    recorded = {c["thread"]: c["kwargs"] for c in _calls(calls)}
    assert recorded == {
        "cleanup_logs_manual": {"own": "cleanup_logs", "manual_run": True, "created_by": 3},
        "sync_accounts_manual": {"own": "sync_accounts"},
    }


def test_manual_kwargs_decision_table(tmp_path: Path, store_url: str) -> None:
    service = SchedulerActionsService(
        JobStoreRepository(store_url), _tasks(tmp_path, TABLE_4_1_TASKS)
    )
    assert service.manual_kwargs("sync_accounts", 5) == {"manual_run": True, "created_by": 5}
    assert service.manual_kwargs("calculate_database_size_aggregations", None) == {
        "manual_run": True,
        "created_by": None,
    }
    assert service.manual_kwargs("cleanup_logs", 5) == {}
    assert service.manual_kwargs("custom_job", 5) == {}


# -- app context ----------------------------------------------------------------------------


def test_with_an_app_factory_the_job_runs_in_a_fresh_app_context(
    jobs: StockStore, repo: JobStoreRepository, calls: Path, factory_calls: list[bool]
) -> None:
    service = SchedulerActionsService(
        repo, load_tasks_file(None), app_factory="tests.flask_app:create_app"
    )

    result = service.wait_for_run(service.run_job_in_background("app_job", allow_any_function=True))

    assert result.succeeded, result.error
    assert factory_calls == [False]  # init_scheduler_on_start=False
    [entry] = _calls(calls)
    assert entry["has_app_context"] is True
    assert entry["app_name"] == flask_app.APP_NAME
    assert entry["init_scheduler_on_start"] is False
    assert entry["marker"] == "built by tests.flask_app:create_app"
    assert entry["thread"] == "app_job_manual"


def test_the_tasks_files_app_factory_is_used(
    jobs: StockStore,
    repo: JobStoreRepository,
    tmp_path: Path,
    calls: Path,
    factory_calls: list[bool],
) -> None:
    tasks = _tasks(tmp_path, TABLE_4_1_TASKS + "app_factory: tests.flask_app:create_app\n")
    service = SchedulerActionsService(repo, tasks)

    service.wait_for_run(service.run_job_in_background("app_job", allow_any_function=True))

    assert factory_calls == [False]
    assert _calls(calls)[0]["app_name"] == flask_app.APP_NAME


def test_a_current_app_context_is_reused_and_the_factory_not_called(
    jobs: StockStore, repo: JobStoreRepository, calls: Path, factory_calls: list[bool]
) -> None:
    service = SchedulerActionsService(
        repo, load_tasks_file(None), app_factory="tests.flask_app:create_app"
    )
    caller = Flask("callers_app")
    caller.config["MARKER"] = "the caller's app"

    with caller.app_context():
        result = service.wait_for_run(
            service.run_job_in_background("app_job", allow_any_function=True)
        )

    assert result.succeeded, result.error
    assert factory_calls == []
    [entry] = _calls(calls)
    assert entry["has_app_context"] is True
    assert entry["app_name"] == "callers_app"
    assert entry["marker"] == "the caller's app"
    assert entry["thread"] == "app_job_manual"


def test_without_a_factory_the_function_runs_directly(
    jobs: StockStore, repo: JobStoreRepository, calls: Path, factory_calls: list[bool]
) -> None:
    service = SchedulerActionsService(repo, load_tasks_file(None))

    result = service.wait_for_run(service.run_job_in_background("app_job", allow_any_function=True))

    assert result.succeeded, result.error
    assert factory_calls == []
    [entry] = _calls(calls)
    assert entry["has_app_context"] is False
    assert entry["thread"] == "app_job_manual"


def test_an_app_factory_that_cannot_be_imported_is_a_conflict(
    jobs: StockStore, repo: JobStoreRepository, calls: Path
) -> None:
    service = SchedulerActionsService(
        repo, load_tasks_file(None), app_factory="wfs_no_such_app_module:create_app"
    )
    with pytest.raises(StoreConflictError, match=r"app factory.*wfs_no_such_app.*--app-path"):
        service.run_job_in_background("app_job", allow_any_function=True)
    # a missing module inside a package that is found: the path is right, no hint
    service = SchedulerActionsService(
        repo, load_tasks_file(None), app_factory="tests.no_such_module:create_app"
    )
    with pytest.raises(StoreConflictError) as caught:
        service.run_job_in_background("app_job", allow_any_function=True)
    assert "No module named 'tests.no_such_module'" in str(caught.value)
    assert "--app-path" not in str(caught.value)
    assert _calls(calls) == []


# -- CLI ------------------------------------------------------------------------------------


def test_cli_run_exits_0_on_success_and_1_on_failure(
    jobs: StockStore, cli: Invoke, calls: Path
) -> None:
    ok = cli("run", "custom_job", "--allow-any-function", "-o", "json", url=jobs.url)
    assert ok.exit_code == 0, ok.output
    document = json.loads(ok.stdout)
    assert document["succeeded"] is True
    assert document["thread_name"] == "custom_job_manual"
    assert "custom_job_manual" in ok.stderr

    failed = cli("run", "failing_job", "--allow-any-function", "-o", "json", url=jobs.url)
    assert failed.exit_code == 1, failed.output
    document = json.loads(failed.stdout)
    assert document["succeeded"] is False
    assert document["error"] == {
        "code": "run_failed",
        "message": "RuntimeError: task failed on purpose",
        "exit_code": 1,
    }
    assert "Traceback" not in failed.stdout

    table = cli("run", "failing_job", "--allow-any-function", url=jobs.url)
    assert table.exit_code == 1

    assert cli("run", "nope", url=jobs.url).exit_code == 3
    assert [c["thread"] for c in _calls(calls)] == ["custom_job_manual"]


def test_cli_run_created_by_and_tasks_file(
    jobs: StockStore, cli: Invoke, calls: Path, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TABLE_4_1_TASKS, encoding="utf-8")
    result = cli("--tasks", str(tasks), "run", "sync_accounts", "--created-by", "42", url=jobs.url)
    assert result.exit_code == 0, result.output
    assert _calls(calls)[0]["kwargs"] == {
        "own": "sync_accounts",
        "manual_run": True,
        "created_by": 42,
    }


def test_cli_run_app_path_and_app_factory(
    stock: StockStore,
    cli: Invoke,
    calls: Path,
    outside_module: tuple[str, Path],
    factory_calls: list[bool],
) -> None:
    name, directory = outside_module
    _add_outside_job(stock, name, directory)
    stock.add(*STORE_JOBS)

    missing = cli("run", "host_job", "--allow-any-function", url=stock.url)
    assert missing.exit_code == 4
    assert "--app-path" in missing.stderr

    found = cli(
        "--app-path", str(directory), "run", "host_job", "--allow-any-function", url=stock.url
    )
    assert found.exit_code == 0, found.output

    in_app = cli(
        "run",
        "app_job",
        "--app-factory",
        "tests.flask_app:create_app",
        "--allow-any-function",
        url=stock.url,
    )
    assert in_app.exit_code == 0, in_app.output
    assert factory_calls == []  # called in the run's own process, not in this one
    entries = _calls(calls)
    assert entries[0]["args"] == ["from the host module"]
    assert entries[1]["app_name"] == flask_app.APP_NAME
    assert entries[1]["init_scheduler_on_start"] is False


# -- wake-up notes ----------------------------------------------------------------------------


def test_wake_up_notes_are_one_note_for_every_job_due_before_the_wake_up(
    service: SchedulerActionsService,
) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    planned = datetime(2026, 1, 2, 3, 0, tzinfo=shanghai)  # 2026-01-01T19:00:00+00:00
    changed = {
        # 10 min before the wake-up, past a 300 s grace: skipped
        "b_late": (planned - timedelta(minutes=10), 300),
        # 2 min before it, within the grace
        "a_soon": (planned - timedelta(minutes=2), 300),
        # no grace: runs however late
        "c_no_grace": (planned - timedelta(hours=1), None),
        # after the wake-up: the scheduler sees it in time
        "d_after": (planned + timedelta(minutes=1), 300),
    }

    notes = wake_up_notes(service._repo, changed, planned.timestamp())

    assert len(notes) == 1
    [note] = notes
    assert "'a_soon' (due 2026-01-01T18:58:00+00:00)" in note
    assert "'b_late' (due 2026-01-01T18:50:00+00:00)" in note
    assert "'c_no_grace' (due 2026-01-01T18:00:00+00:00)" in note
    assert "d_after" not in note
    assert "at 2026-01-01T19:00:00+00:00" in note
    assert "+08:00" not in note  # one zone throughout
    assert "wakes" in note
    assert "whalefall_sched.integration.watch_store" in note
    misfire = note.split("misfire grace", 1)[1]
    assert "'b_late'" in misfire
    assert "a_soon" not in misfire and "c_no_grace" not in misfire


def test_wake_up_notes_without_a_planned_wake_up(
    service: SchedulerActionsService, jobs: StockStore
) -> None:
    due = datetime(2026, 1, 2, 3, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    changed: dict[str, tuple[datetime, int | None]] = {
        job.id: (due, 300) for job in service._repo.list_jobs()
    }

    [note] = wake_up_notes(service._repo, changed)

    assert "only when a job is added or it restarts" in note
    assert note.count("(due 2026-01-01T19:00:00+00:00)") == len(changed)
    assert "watch_store" in note and "misfire grace" in note


def test_no_wake_up_note_when_every_job_is_due_after_the_wake_up(
    service: SchedulerActionsService,
) -> None:
    planned = datetime(2026, 1, 2, tzinfo=ZoneInfo("UTC"))
    assert wake_up_notes(service._repo, {"a": (planned + timedelta(seconds=1), 300)}, 0.0) == []
