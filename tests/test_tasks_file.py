"""The tasks file: the host app's two shapes, this tool's own keys, and what is refused."""

from __future__ import annotations

import re
import textwrap
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from tests.conftest import REPO, Invoke, StockStore, write_tasks_file
from whalefall_sched.errors import TasksFileError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.imports import ImportRefError, import_ref
from whalefall_sched.services.tasks_file import (
    DEFAULT_MANUAL_KWARGS_IDS,
    DEFAULT_TIMEZONE,
    bundled_tasks_path,
    load_tasks_file,
)

#: The host app's reference files, beside the repository (copied verbatim below, so the
#: tests also run where they are absent).
REFERENCE = REPO.parent / "shared" / "reference"

HOST_2026_01_TEXT = """# 定时任务配置
# 这个文件定义了默认的定时任务，用户可以通过界面修改触发器参数
# 修改后会自动保存到数据库，重启应用时会从数据库加载，不会重置

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

  - id: cleanup_logs
    name: 清理旧日志
    function: cleanup_old_logs
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 2
      day: '*'
      month: '*'
      day_of_week: '*'
    enabled: true
    description: 清理30天前的日志和临时文件


  - id: monitor_partition_health
    name: 监控分区健康状态
    function: monitor_partition_health
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 30
      hour: 0
      day: '*'
      month: '*'
      day_of_week: '*'
    enabled: true
    description: 每日监控分区健康状态和性能

  - id: collect_database_sizes
    name: 容量同步
    function: collect_database_sizes
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 3
      day: '*'
      month: '*'
      day_of_week: '*'
    enabled: true
    description: 每日同步所有数据库实例的容量信息

  - id: calculate_database_size_aggregations
    name: 统计聚合
    function: calculate_database_size_aggregations
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 4
      day: '*'
      month: '*'
      day_of_week: '*'
    enabled: true
    description: 每日计算数据库大小的日、周、月、季度统计聚合
"""  # noqa: RUF001 - verbatim host file

HOST_CURRENT_TEXT = """default_tasks:
  - id: sync_accounts
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 1

  - id: calculate_account
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 2

  - id: sync_databases
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 3

  - id: calculate_database
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 4

  - id: sync_veeam_backups
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 5

  - id: sync_cluster_status
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 6

  - id: email_alert
    trigger_type: cron
    trigger_params:
      second: 0
      minute: 0
      hour: 9
"""

FUNCTIONS_2026_01 = """
functions:
  sync_accounts: tests.jobs:record
  cleanup_old_logs: tests.jobs:noop
  monitor_partition_health: tests.jobs:noop
  collect_database_sizes: tests.jobs:noop
  calculate_database_size_aggregations: tests.jobs:record
"""

CURRENT_IDS = [
    "sync_accounts",
    "calculate_account",
    "sync_databases",
    "calculate_database",
    "sync_veeam_backups",
    "sync_cluster_status",
    "email_alert",
]


@pytest.fixture
def host_2026_01(tmp_path: Path) -> Path:
    """The host app's 2026-01 tasks file, unchanged."""
    path = tmp_path / "host" / "whalefall-scheduler_tasks.2026-01.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HOST_2026_01_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def host_current(tmp_path: Path) -> Path:
    """The host app's later tasks file, unchanged."""
    path = tmp_path / "host" / "whalefall-scheduler_tasks.current.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HOST_CURRENT_TEXT, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("whalefall-scheduler_tasks.2026-01.yaml", HOST_2026_01_TEXT),
        ("whalefall-scheduler_tasks.current.yaml", HOST_CURRENT_TEXT),
    ],
)
def test_the_copies_are_the_host_files_verbatim(name: str, text: str) -> None:
    reference = REFERENCE / name
    if not reference.exists():
        pytest.skip(f"{reference} not present")
    assert reference.read_text(encoding="utf-8") == text


def _write(tmp_path: Path, text: str, name: str = "tasks.yaml") -> Path:
    return write_tasks_file(tmp_path / name, text)


def _with_functions(tmp_path: Path, source: Path, functions: str) -> Path:
    """A copy of ``source`` with only a ``functions:`` map appended."""
    return _write(tmp_path, source.read_text(encoding="utf-8") + "\n" + functions, source.name)


# -- the host app's 2026-01 file ----------------------------------------------------------------


def test_the_2026_01_file_parses_unchanged(host_2026_01: Path) -> None:
    raw = yaml.safe_load(host_2026_01.read_text(encoding="utf-8"))["default_tasks"]
    tasks = load_tasks_file(host_2026_01)

    assert len(tasks.tasks) == 5
    assert [t.id for t in tasks.tasks] == [r["id"] for r in raw]
    for task, entry in zip(tasks.tasks, raw, strict=True):
        assert task.name == entry["name"]
        assert task.description == entry["description"]
        assert task.function == entry["function"]
        assert task.trigger_type == entry["trigger_type"] == "cron"
        assert task.trigger_params == entry["trigger_params"]
        assert task.enabled is True
    assert tasks.task("cleanup_logs") is not None
    assert tasks.task("cleanup_logs").name == "清理旧日志"  # type: ignore[union-attr]
    assert tasks.parse_problems == []
    assert tasks.timezone == "Asia/Shanghai"
    assert tasks.builtin_ids == frozenset(r["id"] for r in raw)
    assert tasks.manual_kwargs_ids == frozenset(
        {"sync_accounts", "calculate_database_size_aggregations"}
    )
    assert tasks.app_factory is None
    assert tasks.job_defaults == {"misfire_grace_time": 300, "coalesce": True, "max_instances": 1}


def test_the_2026_01_file_alone_says_which_functions_are_unmapped(host_2026_01: Path) -> None:
    problems = load_tasks_file(host_2026_01).problems()
    assert len(problems) == 5
    for task_id, function in [
        ("sync_accounts", "sync_accounts"),
        ("cleanup_logs", "cleanup_old_logs"),
        ("monitor_partition_health", "monitor_partition_health"),
        ("collect_database_sizes", "collect_database_sizes"),
        ("calculate_database_size_aggregations", "calculate_database_size_aggregations"),
    ]:
        assert any(
            p.startswith(f"task {task_id}:")
            and f"unknown function {function!r}" in p
            and "functions:" in p
            for p in problems
        ), (task_id, problems)


def test_the_2026_01_file_validates_with_only_a_functions_map_added(
    tmp_path: Path, host_2026_01: Path
) -> None:
    tasks = load_tasks_file(_with_functions(tmp_path, host_2026_01, FUNCTIONS_2026_01))
    assert tasks.problems() == []
    assert tasks.task("cleanup_logs").func_ref == "tests.jobs:noop"  # type: ignore[union-attr]
    # cron triggers from the given fields, in the host's time zone
    trigger = tasks.build_trigger(tasks.tasks[2])
    expected = CronTrigger(
        second=0, minute=30, hour=0, day="*", month="*", day_of_week="*", timezone="Asia/Shanghai"
    )
    assert repr(trigger.__getstate__()) == repr(expected.__getstate__())


def test_the_2026_01_file_with_functions_reloads(
    sqlite_stock: StockStore, tmp_path: Path, host_2026_01: Path
) -> None:
    tasks = load_tasks_file(_with_functions(tmp_path, host_2026_01, FUNCTIONS_2026_01))
    service = SchedulerActionsService(JobStoreRepository(sqlite_stock.url), tasks)
    sqlite_stock.create()
    result = service.reload_jobs()
    assert result.written_count == 5
    loaded = sqlite_stock.load()
    assert {job_id: job.name for job_id, job in loaded.items()} == {
        "sync_accounts": "账户同步",
        "cleanup_logs": "清理旧日志",
        "monitor_partition_health": "监控分区健康状态",
        "collect_database_sizes": "容量同步",
        "calculate_database_size_aggregations": "统计聚合",
    }


def test_the_bundled_file_is_the_2026_01_file_plus_functions(host_2026_01: Path) -> None:
    bundled = load_tasks_file(None)
    host = load_tasks_file(host_2026_01)
    assert bundled.path == bundled_tasks_path()
    assert bundled.problems() == []
    for mine, theirs in zip(bundled.tasks, host.tasks, strict=True):
        assert (mine.id, mine.name, mine.description, mine.function, mine.trigger_params) == (
            theirs.id,
            theirs.name,
            theirs.description,
            theirs.function,
            theirs.trigger_params,
        )
        assert mine.func_ref is not None
        assert mine.func_ref.startswith("whalefall_sched.examples.tasks:")


# -- the later shape -------------------------------------------------------------------------


def test_the_current_shape_is_rejected_saying_each_function_is_missing(host_current: Path) -> None:
    tasks = load_tasks_file(host_current)
    assert [t.id for t in tasks.tasks] == CURRENT_IDS
    problems = tasks.problems()
    assert len(problems) == len(CURRENT_IDS)
    for task_id, problem in zip(CURRENT_IDS, problems, strict=True):
        assert problem.startswith(f"task {task_id}: no function")
        assert "functions:" in problem
        assert task_id in problem.split(":", 1)[1]  # the example names the id to map


def test_the_current_shape_validates_with_functions_keyed_by_id(
    tmp_path: Path, host_current: Path
) -> None:
    functions = "functions:\n" + "".join(f"  {i}: tests.jobs:noop\n" for i in CURRENT_IDS)
    tasks = load_tasks_file(_with_functions(tmp_path, host_current, functions))
    assert tasks.problems() == []
    assert tasks.builtin_ids == frozenset(CURRENT_IDS)
    now = datetime(2030, 1, 1, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    state = tasks.job_state(tasks.tasks[0], now)
    assert state["id"] == "sync_accounts"
    assert state["func"] == "tests.jobs:noop"
    assert state["name"] == "noop"  # unnamed: named after the function, as stock does
    assert state["next_run_time"] == datetime(2030, 1, 2, 1, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_cli_reload_of_the_current_shape_exits_2_naming_every_task(
    sqlite_stock: StockStore, cli: Invoke, host_current: Path
) -> None:
    result = cli("--tasks", str(host_current), "reload", "--yes", url=sqlite_stock.url)
    assert result.exit_code == 2
    for task_id in CURRENT_IDS:
        assert f"task {task_id}: no function" in result.stderr
    assert sqlite_stock.fingerprint() == "absent"


# -- this tool's keys and their defaults ---------------------------------------------------------


MINIMAL = """
default_tasks:
  - id: a
    function: 'tests.jobs:noop'
    trigger_type: cron
    trigger_params: {hour: 1}
  - id: b
    function: 'tests.jobs:noop'
    trigger_type: interval
    trigger_params: {minutes: 30}
  - id: c
    function: 'tests.jobs:noop'
    trigger_type: date
    trigger_params: {run_date: '2099-05-01 10:00:00'}
"""


def test_defaults(tmp_path: Path) -> None:
    tasks = load_tasks_file(_write(tmp_path, MINIMAL))
    assert tasks.problems() == []
    assert DEFAULT_TIMEZONE == "Asia/Shanghai"
    assert tasks.timezone == DEFAULT_TIMEZONE
    assert tasks.builtin_ids == frozenset({"a", "b", "c"})
    assert tasks.manual_kwargs_ids == frozenset(DEFAULT_MANUAL_KWARGS_IDS)
    assert set(DEFAULT_MANUAL_KWARGS_IDS) == {
        "sync_accounts",
        "calculate_database_size_aggregations",
    }
    shanghai = ZoneInfo("Asia/Shanghai")
    cron = tasks.build_trigger(tasks.tasks[0])
    assert cron.timezone == shanghai
    # built only from the fields given: same as stock CronTrigger(hour=1)
    assert repr(cron.__getstate__()) == repr(CronTrigger(hour=1, timezone=shanghai).__getstate__())
    interval = tasks.build_trigger(tasks.tasks[1])
    assert interval.interval == timedelta(minutes=30)
    assert interval.timezone == shanghai
    date = tasks.build_trigger(tasks.tasks[2])
    assert date.run_date == datetime(2099, 5, 1, 10, tzinfo=shanghai)


def test_own_keys_override_the_defaults(tmp_path: Path) -> None:
    text = MINIMAL + textwrap.dedent(
        """
        timezone: Europe/London
        builtin_ids: [a]
        manual_kwargs_ids: [a, b]
        app_factory: tests.flask_app:create_app
        job_defaults: {misfire_grace_time: 60}
        """
    )
    tasks = load_tasks_file(_write(tmp_path, text))
    assert tasks.problems() == []
    assert tasks.timezone == "Europe/London"
    assert tasks.build_trigger(tasks.tasks[0]).timezone == ZoneInfo("Europe/London")
    assert tasks.builtin_ids == frozenset({"a"})
    assert tasks.manual_kwargs_ids == frozenset({"a", "b"})
    assert tasks.app_factory == "tests.flask_app:create_app"
    assert tasks.job_defaults == {"misfire_grace_time": 60, "coalesce": True, "max_instances": 1}
    state = tasks.job_state(tasks.tasks[0], datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC")))
    assert state["misfire_grace_time"] == 60


def test_a_disabled_task_is_parsed_but_marked(tmp_path: Path) -> None:
    text = (
        MINIMAL + "  - {id: d, function: 'tests.jobs:noop', trigger_type: cron, enabled: false}\n"
    )
    tasks = load_tasks_file(_write(tmp_path, text))
    assert tasks.task("d") is not None
    assert tasks.task("d").enabled is False  # type: ignore[union-attr]
    assert tasks.problems() == []


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("timezone: Mars/Olympus_Mons\n", "timezone"),
        ("builtin_ids: sync_accounts\n", "builtin_ids"),
        ("manual_kwargs_ids: [1, 2]\n", "manual_kwargs_ids"),
        ("app_factory: not a reference\n", "app_factory"),
        ("functions: [a, b]\n", "functions"),
        ("  - {id: e, function: 'tests.jobs:noop', trigger_type: cron, enabled: maybe}\n", "e"),
        ("  - just a string\n", "task #4"),
    ],
)
def test_bad_own_keys_are_problems(tmp_path: Path, extra: str, fragment: str) -> None:
    problems = load_tasks_file(_write(tmp_path, MINIMAL + extra)).problems()
    assert problems
    assert any(p.startswith(fragment) or f"task {fragment}:" in p for p in problems), problems


# -- not a tasks file at all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("default_tasks: [unclosed\n", "not valid YAML"),
        ("key: value: other\n", "not valid YAML"),
        ("jobs:\n  - id: a\n", "no `default_tasks:`"),
        ("default_tasks: {id: a}\n", "no `default_tasks:`"),
        ("", "no `default_tasks:`"),
        ("- just\n- a list\n", "no `default_tasks:`"),
    ],
    ids=["unclosed", "bad-mapping", "no-default-tasks", "not-a-list", "empty", "top-level-list"],
)
def test_not_a_tasks_file_is_a_tasks_file_error(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(TasksFileError, match=fragment) as caught:
        load_tasks_file(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_tasks_file_is_a_tasks_file_error(tmp_path: Path) -> None:
    with pytest.raises(TasksFileError, match="cannot read"):
        load_tasks_file(tmp_path / "absent.yaml")


def test_cli_with_a_broken_tasks_file_exits_2(
    sqlite_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    path = _write(tmp_path, "default_tasks: [unclosed\n")
    result = cli("--tasks", str(path), "reload", "--yes", url=sqlite_stock.url)
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


@pytest.mark.parametrize(
    "job_defaults",
    [
        "{misfire_grace_time: abc}",
        "{misfire_grace_time: 0}",
        "{misfire_grace_time: true}",
        "{coalesce: maybe}",
        "{max_instances: 0}",
        "{max_instances: 1.5}",
        "{misfire_grace: 60}",
        "[300, true, 1]",
    ],
)
def test_job_defaults_stock_add_job_would_refuse_are_problems(
    sqlite_stock: StockStore, tmp_path: Path, job_defaults: str
) -> None:
    tasks = load_tasks_file(_write(tmp_path, MINIMAL + f"job_defaults: {job_defaults}\n"))
    problems = tasks.problems()
    assert len(problems) == 1
    assert problems[0].startswith("job_defaults:")
    service = SchedulerActionsService(JobStoreRepository(sqlite_stock.url), tasks)
    with pytest.raises(TasksFileError):
        service.reload_jobs()
    assert sqlite_stock.fingerprint() == "absent"


def test_job_defaults_stock_accepts_are_written(sqlite_stock: StockStore, tmp_path: Path) -> None:
    text = MINIMAL + "job_defaults: {misfire_grace_time: null, coalesce: false, max_instances: 3}\n"
    tasks = load_tasks_file(_write(tmp_path, text))
    assert tasks.problems() == []
    sqlite_stock.create()
    SchedulerActionsService(JobStoreRepository(sqlite_stock.url), tasks).reload_jobs()
    job = sqlite_stock.load()["a"]
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (None, False, 3)


def test_the_2026_01_file_unchanged_reloads_with_a_config_file(
    cli: Invoke, sqlite_url: str, tmp_path: Path, host_2026_01: Path
) -> None:
    original = host_2026_01.read_bytes()
    config = tmp_path / "whalefall-sched.yaml"
    config.write_text(FUNCTIONS_2026_01 + "timezone: Asia/Shanghai\n", encoding="utf-8")
    StockStore(sqlite_url).create()
    result = cli(
        "--tasks",
        str(host_2026_01),
        "--config",
        str(config),
        "reload",
        "--yes",
        "-o",
        "json",
        url=sqlite_url,
    )
    assert result.exit_code == 0, result.output
    assert sorted(yaml.safe_load(result.stdout)["reloaded"]) == sorted(
        [
            "sync_accounts",
            "cleanup_logs",
            "monitor_partition_health",
            "collect_database_sizes",
            "calculate_database_size_aggregations",
        ]
    )
    assert host_2026_01.read_bytes() == original


def test_a_config_file_overrides_the_tasks_file_keys(tmp_path: Path, host_2026_01: Path) -> None:
    with_keys = _with_functions(tmp_path, host_2026_01, FUNCTIONS_2026_01 + "timezone: UTC\n")
    config = tmp_path / "config.yaml"
    config.write_text("timezone: Europe/Berlin\nbuiltin_ids: [sync_accounts]\n", encoding="utf-8")
    tasks = load_tasks_file(with_keys, config)
    assert tasks.timezone == "Europe/Berlin"
    assert tasks.builtin_ids == frozenset({"sync_accounts"})
    assert tasks.task("cleanup_logs").func_ref == "tests.jobs:noop"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("default_tasks: []\n", "unknown key(s) default_tasks"), ("- a\n", "not a mapping")],
)
def test_a_config_file_holds_only_own_keys(
    tmp_path: Path, host_2026_01: Path, text: str, fragment: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(TasksFileError, match=re.escape(fragment)):
        load_tasks_file(host_2026_01, config)


# -- task functions that do not import -----------------------------------------------------------


def _one_task(tmp_path: Path, ref: str) -> Path:
    return _write(
        tmp_path,
        f"default_tasks:\n  - {{id: t, function: '{ref}', trigger_type: cron}}\n",
        f"tasks-{uuid.uuid4().hex[:6]}.yaml",
    )


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        ("raise RuntimeError('needs DATABASE_URL')\n", "RuntimeError: needs DATABASE_URL"),
        ("import sys\nsys.exit('no config')\n", "SystemExit: no config"),
        (
            "import wfs_dependency_not_installed\n\ndef task(): pass\n",
            "ModuleNotFoundError: No module named 'wfs_dependency_not_installed'",
        ),
    ],
    ids=["raises-at-import", "exits-at-import", "missing-dependency"],
)
def test_a_module_that_is_found_but_fails_to_import_is_a_problem_of_its_task(
    tmp_path: Path, task_module: Any, source: str, cause: str
) -> None:
    name, directory = task_module(source)
    tasks = load_tasks_file(_one_task(tmp_path, f"{name}:task"))

    [problem] = tasks.problems(app_paths=[str(directory)])

    assert problem.startswith("task t: cannot import")
    assert f"{name}:task" in problem
    assert cause in problem
    assert "--app-path" not in problem  # the module was found: the path is right
    assert "--no-verify-imports" in problem
    assert "\n" not in problem


def test_a_module_not_on_the_path_is_a_problem_with_the_app_path_hint(
    tmp_path: Path, task_module: Any
) -> None:
    name, directory = task_module("def task(): pass\n")
    tasks = load_tasks_file(_one_task(tmp_path, f"{name}:task"))

    [problem] = tasks.problems()
    assert f"ModuleNotFoundError: No module named {name!r}" in problem
    assert "--app-path" in problem

    assert tasks.problems(app_paths=[str(directory)]) == []


def test_a_missing_attribute_names_the_module_and_attribute(tmp_path: Path) -> None:
    tasks = load_tasks_file(_one_task(tmp_path, "tests.jobs:absent"))
    [problem] = tasks.problems()
    assert "module 'tests.jobs' has no attribute 'absent'" in problem
    assert "--app-path" not in problem


def test_cli_reload_of_a_module_raising_at_import_exits_2_listing_it_under_its_task(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, task_module: Any
) -> None:
    name, directory = task_module("raise RuntimeError('needs DATABASE_URL')\n")
    path = _one_task(tmp_path, f"{name}:task")
    argv = ["--tasks", str(path), "--app-path", str(directory), "reload", "--yes"]
    result = cli(*argv, url=sqlite_stock.url)
    assert result.exit_code == 2, result.output
    assert "task t: cannot import" in result.stderr
    assert "RuntimeError: needs DATABASE_URL" in result.stderr
    assert "unexpected" not in result.stderr
    assert sqlite_stock.fingerprint() == "absent"


def test_import_ref_resolves_dotted_attributes_and_refuses_a_bad_reference() -> None:
    assert import_ref("tests.jobs:record.__name__") == "record"
    with pytest.raises(ImportRefError, match="want 'module:attr'"):
        import_ref("tests.jobs.record")
