"""Host profiles (issue 9, point 1): the 2026-07 host read from its checkout, the 2026-01
host unchanged. Stores are written by the tool and loaded by stock APScheduler; what the
2026-07 host would write is built with a stock scheduler (``tests/hosts.py``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from tests.hosts import (
    BUILTIN_IDS,
    BUILTINS,
    RECORD_VARIABLE,
    Checkout,
    comparable,
    forget_app_modules,
    host_job_states,
    read_records,
    registry_source,
    target,
    tasks_yaml,
    write_checkout_2026_07,
)
from whalefall_sched.errors import TasksFileError
from whalefall_sched.services.host_profile import (
    MANUAL_KWARGS_IDS_2026_01,
    detect_host_profile,
)
from whalefall_sched.services.host_registry import (
    MAX_REGISTRY_BYTES,
    RegistryError,
    read_registry,
)
from whalefall_sched.services.tasks_file import DEFAULT_MANUAL_KWARGS_IDS, load_tasks_file

HOST_FIELDS = ["task_id", "task_name", "editable_fields"]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Checkout]:
    """A 2026-07 checkout of this test's own; ``sys.path`` and ``app`` forgotten after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    forget_app_modules()
    yield write_checkout_2026_07(tmp_path / "whalefall")
    forget_app_modules()


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _line_of(source: str, needle: str) -> int:
    """The 1-based line of ``source`` holding ``needle``."""
    return next(n for n, line in enumerate(source.splitlines(), 1) if needle in line)


# -- the registry, read as literals ------------------------------------------------------------


def test_the_registry_is_read_without_running_it(checkout: Checkout) -> None:
    registry = read_registry(checkout.registry)
    assert list(registry) == BUILTIN_IDS
    for task_id, task in registry.items():
        name, _, description = BUILTINS[task_id]
        assert (task.task_name, task.function_name) == (name, task_id)
        assert (task.function_target, task.description) == (target(task_id), description)
        assert task.editable_fields == ("trigger",)  # the dataclass's default
    assert not checkout.marker.exists()


def test_positional_arguments_dict_entries_and_explicit_editable_fields(tmp_path: Path) -> None:
    entries = (
        "    'a': BuiltinSchedulerTask('A', 'fa', 'm:fa', 'about a', ('trigger', 'name')),\n"
        "    'b': {'task_name': 'B', 'function_name': 'fb', 'function_target': 'm:fb',\n"
        "          'description': 'about b', 'editable_fields': ['trigger']},\n"
    )
    path = tmp_path / "scheduler_jobs.py"
    path.write_text(registry_source(entries), encoding="utf-8")
    registry = read_registry(path)
    assert registry["a"].editable_fields == ("trigger", "name")
    assert registry["a"].function_target == "m:fa"
    assert registry["b"].task_name == "B"
    assert registry["b"].editable_fields == ("trigger",)


MARKER_CALL = "open(__file__ + '.ran', 'w').write('ran')"

REFUSED: list[tuple[str, str, str, str]] = [
    # (entries, prelude, text on the refused line, what the message says)
    (
        f"    'a': BuiltinSchedulerTask(task_name={MARKER_CALL}, function_name='a',\n"
        "        function_target='m:a', description='d'),\n",
        "",
        "task_name=open",
        "task_name of task 'a' is a function call, not a literal",
    ),
    (
        "    'a': BuiltinSchedulerTask(task_name=NAME, function_name='a',\n"
        "        function_target='m:a', description='d'),\n",
        "NAME = 'x'",
        "task_name=NAME",
        "task_name of task 'a' is a name (NAME), not a literal",
    ),
    (
        "    'a': make_task('a'),\n",
        "",
        "make_task('a')",
        "task 'a' is a function call (make_task), not a call of a dataclass of this module",
    ),
    (
        "    **OTHER_TASKS,\n",
        "OTHER_TASKS = {}",
        "**OTHER_TASKS",
        "unpacks another mapping",
    ),
    (
        "",
        "from app.elsewhere import BUILTIN_SCHEDULER_TASKS",
        "from app.elsewhere",
        "BUILTIN_SCHEDULER_TASKS is imported, not written here",
    ),
    (
        "    'a': BuiltinSchedulerTask(task_name=f'{1}', function_name='a',\n"
        "        function_target='m:a', description='d'),\n",
        "",
        "task_name=f'",
        "is an f-string",
    ),
    (
        "    'a': BuiltinSchedulerTask(task_name='A', function_name='a', description='d'),\n",
        "",
        "task_name='A'",
        "task 'a': missing function_target",
    ),
]


@pytest.mark.parametrize(
    ("entries", "prelude", "line_text", "message"),
    REFUSED,
    ids=["call", "name", "factory", "unpacking", "import", "f-string", "missing"],
)
def test_a_registry_that_is_not_literal_is_refused_naming_file_and_line(
    tmp_path: Path, entries: str, prelude: str, line_text: str, message: str
) -> None:
    path = tmp_path / "scheduler_jobs.py"
    source = registry_source(entries, prelude=prelude)
    path.write_text(source, encoding="utf-8")
    with pytest.raises(RegistryError) as caught:
        read_registry(path)
    text = str(caught.value)
    assert "\n" not in text
    assert f"{path}:{_line_of(source, line_text)}:" in text
    assert message in text
    assert not list(tmp_path.glob("*.ran")) and not (tmp_path / "REGISTRY_EXECUTED").exists()


@pytest.mark.parametrize(
    ("after", "line_text"),
    [
        ("BUILTIN_SCHEDULER_TASKS['x'] = BuiltinSchedulerTask('x', 'x', 'm:x', 'd')", "['x'] ="),
        ("BUILTIN_SCHEDULER_TASKS.update({})", ".update("),
        ("BUILTIN_SCHEDULER_TASKS = {}", "BUILTIN_SCHEDULER_TASKS = {}"),
    ],
    ids=["item-set", "update", "assigned-twice"],
)
def test_a_registry_changed_after_its_definition_is_refused(
    tmp_path: Path, after: str, line_text: str
) -> None:
    path = tmp_path / "scheduler_jobs.py"
    source = registry_source() + after + "\n"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(RegistryError, match=rf"{path}:{_line_of(source, line_text)}: "):
        read_registry(path)


def test_a_registry_over_the_size_limit_or_not_python_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scheduler_jobs.py"
    path.write_text("#" * (MAX_REGISTRY_BYTES + 1), encoding="utf-8")
    with pytest.raises(RegistryError, match="over the size limit"):
        read_registry(path)
    path.write_text("x = 1\nBUILTIN_SCHEDULER_TASKS = {\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=rf"{path}:\d+: not valid Python"):
        read_registry(path)
    path.write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"no `BUILTIN_SCHEDULER_TASKS = \{\.\.\.\}`"):
        read_registry(path)


# -- detection -------------------------------------------------------------------------------


def test_the_generation_is_detected_from_the_app_path(checkout: Checkout, tmp_path: Path) -> None:
    assert detect_host_profile([]).generation == "2026-01"
    assert detect_host_profile([str(tmp_path / "elsewhere")]).generation == "2026-01"
    profile = detect_host_profile([str(tmp_path / "elsewhere"), str(checkout.root)])
    assert profile.generation == "2026-07"
    assert profile.registry_path == checkout.registry
    assert profile.tasks_path == checkout.tasks_file
    assert profile.builtin_ids == frozenset(BUILTIN_IDS)
    assert profile.manual_kwargs_ids(frozenset(BUILTIN_IDS)) == frozenset(BUILTIN_IDS)
    forced = detect_host_profile([str(checkout.root)], "2026-01")
    assert (forced.generation, forced.source) == ("2026-01", "config")
    assert forced.manual_kwargs_ids(frozenset(BUILTIN_IDS)) == MANUAL_KWARGS_IDS_2026_01
    assert frozenset(DEFAULT_MANUAL_KWARGS_IDS) == MANUAL_KWARGS_IDS_2026_01


def test_the_host_s_own_tasks_file_needs_no_config(checkout: Checkout) -> None:
    tasks = load_tasks_file(None, app_paths=[str(checkout.root)])
    assert tasks.path == checkout.tasks_file
    assert tasks.host.generation == "2026-07"
    assert tasks.problems(app_paths=[str(checkout.root)]) == []
    assert [t.id for t in tasks.tasks] == BUILTIN_IDS
    for task in tasks.tasks:
        assert task.name == BUILTINS[task.id][0]
        assert task.description == BUILTINS[task.id][2]
        assert task.func_ref == target(task.id)
    assert tasks.builtin_ids == frozenset(BUILTIN_IDS)
    assert tasks.manual_kwargs_ids == frozenset(BUILTIN_IDS)


def test_config_overrides_the_generation_and_the_manual_kwargs(
    checkout: Checkout, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("manual_kwargs_ids: [sync_accounts]\n", encoding="utf-8")
    tasks = load_tasks_file(None, config, app_paths=[str(checkout.root)])
    assert tasks.host.generation == "2026-07"
    assert tasks.manual_kwargs_ids == frozenset({"sync_accounts"})
    config.write_text("host_generation: 2026-01\n", encoding="utf-8")
    january = load_tasks_file(checkout.tasks_file, config, app_paths=[str(checkout.root)])
    assert january.host.generation == "2026-01"
    assert january.problems()[0].startswith("task sync_accounts: no function")
    config.write_text("host_generation: 2026-07\n", encoding="utf-8")
    with pytest.raises(TasksFileError, match="needs the host's registry: pass --app-path"):
        load_tasks_file(checkout.tasks_file, config)
    config.write_text("host_generation: 2025\n", encoding="utf-8")
    with pytest.raises(TasksFileError, match="host_generation: want one of 2026-01, 2026-07"):
        load_tasks_file(checkout.tasks_file, config, app_paths=[str(checkout.root)])


def test_what_the_2026_07_host_refuses_is_a_problem(checkout: Checkout, tmp_path: Path) -> None:
    january_keys = (
        tasks_yaml(["sync_accounts"]) + "    name: 账户同步\n    function: sync_accounts\n"
    )
    path = tmp_path / "tasks.yaml"
    path.write_text(january_keys, encoding="utf-8")
    problems = load_tasks_file(path, app_paths=[str(checkout.root)]).problems(verify_imports=False)
    assert problems == [
        "task sync_accounts: key(s) function, name not allowed by the 2026-07 host's tasks "
        f"schema (names, functions and descriptions come from its registry {checkout.registry}); "
        "or set host_generation: 2026-01"
    ]
    path.write_text(tasks_yaml(["cleanup_logs"]), encoding="utf-8")
    problems = load_tasks_file(path, app_paths=[str(checkout.root)]).problems()
    assert problems[0] == (
        f"task cleanup_logs: not in the host's registry {checkout.registry} "
        "(the 2026-07 host refuses the whole file for it)"
    )
    path.write_text(tasks_yaml(["email_alert"]) + "      week: 2\n", encoding="utf-8")
    [problem] = load_tasks_file(path, app_paths=[str(checkout.root)]).problems(verify_imports=False)
    assert "the 2026-07 host builds cron triggers from second, minute" in problem
    assert problem.endswith("it would ignore week")


# -- reload and init write what the host writes ----------------------------------------------


def _assert_host_rows(stock: StockStore, checkout: Checkout) -> None:
    """The store's rows load in stock APScheduler as the 2026-07 host's own rows."""
    expected = host_job_states(checkout)
    sys.path.insert(0, str(checkout.root))
    loaded = stock.load()
    assert sorted(loaded) == sorted(expected)
    for job_id, job in loaded.items():
        state = job.__getstate__()
        assert comparable(state) == comparable(expected[job_id]), job_id
        assert state["name"] == BUILTINS[job_id][0]
        assert state["func"] == target(job_id)
        assert (state["args"], state["kwargs"]) == ((), {})
        assert (
            job.trigger.get_next_fire_time(None, state["next_run_time"]) == (state["next_run_time"])
        )


def test_reload_writes_the_rows_the_2026_07_host_writes(
    cli: Invoke, stock: StockStore, checkout: Checkout
) -> None:
    stock.create()
    reloaded = _json(
        cli("--app-path", str(checkout.root), "reload", "--yes", "-o", "json", url=stock.url)
    )
    assert sorted(reloaded["reloaded"]) == sorted(BUILTIN_IDS)
    _assert_host_rows(stock, checkout)
    assert not checkout.marker.exists()


def test_init_writes_the_rows_the_2026_07_host_writes(
    cli: Invoke, stock: StockStore, checkout: Checkout
) -> None:
    _json(cli("--app-path", str(checkout.root), "init", "-o", "json", url=stock.url))
    _assert_host_rows(stock, checkout)
    assert not checkout.marker.exists()


# -- list and get ----------------------------------------------------------------------------


def test_list_and_get_carry_the_host_s_task_fields(
    cli: Invoke, stock: StockStore, checkout: Checkout
) -> None:
    sys.path.insert(0, str(checkout.root))
    stock.add(
        dict(
            func=target("calculate_account"),
            trigger="cron",
            hour=2,
            id="calculate_account",
            name="calculate_account",
        ),
        dict(
            func=target("email_alert"),
            trigger="interval",
            minutes=5,
            id="custom",
            name="my own job",
        ),
    )
    app = ("--app-path", str(checkout.root))
    items = {i["id"]: i for i in _json(cli(*app, "list", "-o", "json", url=stock.url))["items"]}
    builtin, custom = items["calculate_account"], items["custom"]
    assert list(builtin)[-3:] == HOST_FIELDS
    assert builtin["task_id"] == "calculate_account"
    assert builtin["task_name"] == "统计账户分类"
    assert builtin["editable_fields"] == ["trigger"]
    assert builtin["name"] == "calculate_account"  # as stored: a reload renames it
    assert builtin["description"] == BUILTINS["calculate_account"][2]
    assert builtin["is_builtin"] is True
    assert builtin["func"] == target("calculate_account")
    assert list(custom)[-3:] == HOST_FIELDS
    assert (custom["task_id"], custom["task_name"], custom["editable_fields"]) == (
        "custom",
        "my own job",
        [],
    )
    assert custom["is_builtin"] is False
    for item in items.values():
        detail = _json(cli(*app, "get", item["id"], "-o", "json", url=stock.url))
        assert {k: detail[k] for k in item} == item
        assert list(detail)[-3:] == HOST_FIELDS
    # the 2026-01 host has no such fields: they are left out
    january = _json(cli("list", "-o", "json", url=stock.url))["items"]
    assert all(not set(HOST_FIELDS) & set(item) for item in january)
    assert not set(HOST_FIELDS) & set(_json(cli("get", "custom", "-o", "json", url=stock.url)))


# -- run -------------------------------------------------------------------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_manual_run_of_any_built_in_job_gets_the_manual_kwargs(
    cli: Invoke,
    stock: StockStore,
    checkout: Checkout,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv(RECORD_VARIABLE, str(record))
    stock.create()
    app = ("--app-path", str(checkout.root))
    _json(cli(*app, "reload", "--yes", "-o", "json", url=stock.url))
    result = _json(
        cli(*app, "run", "calculate_account", "--created-by", "7", "-o", "json", url=stock.url)
    )
    assert result["kwargs"] == {"manual_run": True, "created_by": 7}
    assert read_records(record) == [
        {"task": "calculate_account", "args": [], "manual_run": True, "created_by": 7, "kwargs": {}}
    ]
    config = tmp_path / "config.yaml"
    config.write_text("manual_kwargs_ids: [sync_accounts]\n", encoding="utf-8")
    result = _json(
        cli(
            *app,
            "--config",
            str(config),
            "run",
            "calculate_account",
            "--created-by",
            "7",
            "-o",
            "json",
            url=stock.url,
        )
    )
    assert result["kwargs"] == {}
    assert read_records(record)[-1]["manual_run"] is False


# -- a registry that is not literal stops everything that needs it -------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_reload_with_a_refused_registry_exits_2_and_runs_nothing(
    cli: Invoke, stock: StockStore, checkout: Checkout
) -> None:
    entries = (
        f"    'sync_accounts': BuiltinSchedulerTask(task_name={MARKER_CALL},\n"
        "        function_name='sync_accounts', function_target='m:f', description='d'),\n"
    )
    source = registry_source(entries)
    checkout.registry.write_text(source, encoding="utf-8")
    stock.create()
    before = stock.fingerprint()
    app = ("--app-path", str(checkout.root))
    result = cli(*app, "reload", "--yes", url=stock.url)
    assert result.exit_code == 2
    line = _line_of(source, "task_name=open")
    assert f"{checkout.registry}:{line}: task_name of task 'sync_accounts' is a function call" in (
        result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert stock.fingerprint() == before
    assert not checkout.marker.exists()
    assert not list(checkout.registry.parent.glob("*.ran"))
    # reads go on, saying what is unknown
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="x"))
    listed = cli(*app, "list", "-o", "json", url=stock.url)
    assert listed.exit_code == 0
    assert "warning:" in listed.stderr and f"{checkout.registry}:{line}" in listed.stderr
