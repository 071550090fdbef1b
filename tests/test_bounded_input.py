"""Hostile tasks and config files end in bounded work with exit 2 naming the limit hit.

The YAML limits (size, depth, aliases, nodes, number length), the bounded fire-time
search, and the ids a store could not keep apart. Bounded-ness is checked by counts and
limits; where a regression would hang or eat memory, the command runs in a child process
with a generous timeout and an address-space cap, so it fails the test, not the machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import REPO, Invoke, StockStore
from whalefall_sched.services import safe_yaml
from whalefall_sched.services.fire_times import (
    FILE_STEPS,
    TRIGGER_STEPS,
    FireTimeSearch,
    FireTimeSearchLimitError,
)
from whalefall_sched.services.tasks_file import MAX_ID_LENGTH, load_tasks_file

#: A child that takes this long is hung: far above any honest run on a loaded machine.
TIMEOUT = 60
#: The child's address space: a regression blows this, not the machine's memory.
MEMORY_CAP = 2 * 1024**3

LOADERS = [safe_yaml.PureLoader] + ([safe_yaml.Loader] if yaml.__with_libyaml__ else [])

#: The issue's 9-level alias bomb: some 600 bytes standing for 9**9 nodes.
ALIAS_BOMB = "\n".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x]",
        *(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "default_tasks: [{id: t, function: 'tests.jobs:noop', trigger_type: cron, name: *i}]",
    ]
)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _child(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m whalefall_sched ARGS`` with a memory cap and a timeout."""
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        preexec_fn=_cap_memory,
        check=False,
    )


def _tasks(tmp_path: Path, text: str, name: str = "tasks.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _task(task_id: str, trigger: str, params: dict[str, Any]) -> str:
    return (
        f"  - {{id: {json.dumps(task_id)}, function: 'tests.jobs:noop', "
        f"trigger_type: {trigger}, trigger_params: {json.dumps(params)}}}\n"
    )


def _one_line_usage_error(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return str(result.stderr)


# -- the YAML limits -------------------------------------------------------------------


def test_the_alias_bomb_is_refused_at_the_node_limit_in_bounded_memory(
    sqlite_url: str, tmp_path: Path
) -> None:
    tasks = _tasks(tmp_path, ALIAS_BOMB)
    assert len(ALIAS_BOMB.encode()) < 700
    result = _child("--url", sqlite_url, "--tasks", str(tasks), "reload", "--dry-run", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"YAML limit reached at {tasks}:" in result.stderr
    assert f"over the node limit: more than {safe_yaml.MAX_NODES:,} nodes" in result.stderr


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_each_limit_allows_its_value_and_refuses_one_more(loader: type[Any]) -> None:
    def load(text: str) -> Any:
        return safe_yaml.load(text, loader)

    def refused(text: str, limit: str) -> None:
        with pytest.raises(safe_yaml.YamlLimitError, match=f"over the {limit} limit"):
            load(text)

    # aliases
    aliases = "a: &a x\nb: [{}]"
    assert len(load(aliases.format(", ".join(["*a"] * safe_yaml.MAX_ALIASES)))["b"]) == 100
    refused(aliases.format(", ".join(["*a"] * (safe_yaml.MAX_ALIASES + 1))), "alias")
    # depth: the document's own collection is the first level
    depth = safe_yaml.MAX_DEPTH
    assert load("[" * depth + "]" * depth) is not None
    refused("[" * (depth + 1) + "]" * (depth + 1), "depth")
    # an alias counts as the nodes it stands for
    big = "a: &a [" + "1," * 999 + "]\nb: [{}]"  # *a stands for 1000 nodes
    refused(big.format(", ".join(["*a"] * 100)), "node")
    # numbers
    limit = safe_yaml.MAX_NUMBER_CHARS
    assert load("n: " + "9" * limit)["n"] == int("9" * limit)
    refused("n: " + "9" * (limit + 1), "number length")
    refused("n: 1" + ":59" * 50, "number length")  # a base-60 number costs quadratic time


def test_the_node_limit_counts_every_node() -> None:
    nodes = safe_yaml.MAX_NODES  # the list itself, then its items
    assert len(safe_yaml.load("[" + "1," * (nodes - 1) + "]")) == nodes - 1
    with pytest.raises(safe_yaml.YamlLimitError, match="over the node limit"):
        safe_yaml.load("[" + "1," * nodes + "]")


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_errors_carry_their_place(loader: type[Any]) -> None:
    for text, line, column in [
        ("a: 1\nb: [*nope]\n", 1, 4),
        ("a: &a [1, *a]\n", 0, 10),
        ("when: 2026-13-45\n", 0, 6),
        ("a:\n  b: " + "[" * 70 + "]" * 70 + "\n", 1, 5 + safe_yaml.MAX_DEPTH - 2),
    ]:
        with pytest.raises(yaml.MarkedYAMLError) as caught:
            safe_yaml.load(text, loader)
        mark = caught.value.problem_mark
        assert mark is not None
        assert (mark.line, mark.column) == (line, column), (text, caught.value)


def test_the_fast_loader_is_used_when_libyaml_is_there() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(safe_yaml.Loader, yaml.CSafeLoader)
    else:
        assert safe_yaml.Loader is safe_yaml.PureLoader


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(
    sqlite_url: str, tmp_path: Path
) -> None:
    big = _tasks(tmp_path, "#" * safe_yaml.MAX_BYTES + "\ndefault_tasks: []\n")
    for tasks in (big, Path("/dev/zero")):
        result = _child(
            "--url", sqlite_url, "--tasks", str(tasks), "reload", "--dry-run", cwd=tmp_path
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"Error: tasks file {tasks} is invalid: over the size limit: "
            f"larger than {safe_yaml.MAX_BYTES:,} bytes\n"
        )


def test_a_config_file_has_the_same_limits(cli: Invoke, sqlite_url: str, tmp_path: Path) -> None:
    config = _tasks(tmp_path, ALIAS_BOMB.replace("default_tasks", "functions"), "config.yaml")
    result = cli("--config", str(config), "reload", "--dry-run", url=sqlite_url)
    stderr = _one_line_usage_error(result)
    assert f"config file {config} is invalid: YAML limit reached at {config}:" in stderr


def test_a_value_yaml_cannot_convert_is_a_usage_error_at_its_place(
    cli: Invoke, sqlite_url: str, tmp_path: Path
) -> None:
    tasks = _tasks(
        tmp_path,
        "default_tasks:\n"
        "  - {id: a, function: 'tests.jobs:noop', trigger_type: date,\n"
        "     trigger_params: {run_date: 2026-02-30}}\n",
    )
    result = cli("--tasks", str(tasks), "reload", "--dry-run", url=sqlite_url)
    stderr = _one_line_usage_error(result)
    assert f"not valid YAML at {tasks}:3:33: cannot read this value (day is out of range" in stderr


def test_list_warns_once_about_a_tasks_file_past_a_limit(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    tasks = _tasks(tmp_path, ALIAS_BOMB)
    result = cli("--tasks", str(tasks), "list", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: tasks file") and result.stderr.count("\n") == 1
    assert "over the node limit" in result.stderr
    assert json.loads(result.stdout)["items"][0]["is_builtin"] is None


# -- trigger parameters and the fire-time search -------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "params", "expected"),
    [
        ("interval", {"seconds": 1e300}, "bad trigger_params for interval"),
        ("interval", {"seconds": float("inf")}, "bad trigger_params for interval"),
        ("interval", {"seconds": float("nan")}, "bad trigger_params for interval"),
        ("interval", {"weeks": 10**20}, "bad trigger_params for interval"),
        ("cron", {"jitter": 10**30}, "bad trigger_params for cron"),
        ("cron", {"day": 31, "month": 2}, f"search limit of {TRIGGER_STEPS:,} steps"),
        ("cron", {"month": "2-11", "week": 1}, f"search limit of {TRIGGER_STEPS:,} steps"),
    ],
)
def test_a_trigger_that_cannot_be_built_or_found_is_a_task_problem(
    cli: Invoke,
    sqlite_url: str,
    tmp_path: Path,
    trigger: str,
    params: dict[str, Any],
    expected: str,
) -> None:
    text = json.dumps(params).replace("Infinity", ".inf").replace("NaN", ".nan")
    tasks = _tasks(
        tmp_path,
        "default_tasks:\n"
        f"  - {{id: a, function: 'tests.jobs:noop', trigger_type: {trigger}, "
        f"trigger_params: {text}}}\n",
    )
    result = cli("--tasks", str(tasks), "reload", "--dry-run", "-o", "json", url=sqlite_url)
    assert result.exit_code == 2, result.output
    [problem] = json.loads(result.stdout)["error"]["problems"]
    assert problem.startswith("task a: ") and expected in problem, problem


def test_many_slow_triggers_share_one_budget(sqlite_url: str, tmp_path: Path) -> None:
    count = FILE_STEPS // TRIGGER_STEPS + 5
    slow = {"month": "2-11", "week": 1}  # some 90 s each in APScheduler's own search
    tasks = _tasks(
        tmp_path, "default_tasks:\n" + "".join(_task(f"t{i}", "cron", slow) for i in range(count))
    )
    result = _child(
        "--url", sqlite_url, "--tasks", str(tasks), "reload", "--dry-run", "-o", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    problems = json.loads(result.stdout)["error"]["problems"]
    assert len(problems) == count
    per_trigger = [p for p in problems if f"search limit of {TRIGGER_STEPS:,} steps" in p]
    budget = [p for p in problems if f"search budget of {FILE_STEPS:,} steps ran out" in p]
    # each spends its limit (and a step more) until the shared budget runs out
    assert len(per_trigger) == FILE_STEPS // TRIGGER_STEPS - 1
    assert len(budget) == count - len(per_trigger)


@pytest.mark.parametrize(
    "trigger",
    [
        CronTrigger(hour=1, timezone="Asia/Shanghai"),
        CronTrigger(day=29, month=2, day_of_week="mon", timezone="UTC"),
        CronTrigger(week=1, day_of_week="mon", timezone="UTC"),
        CronTrigger(day="last", minute="*/7", timezone="Europe/Berlin"),
        CronTrigger(year=2020, timezone="UTC"),
        IntervalTrigger(minutes=5, timezone="UTC"),
        DateTrigger(datetime(2099, 1, 1, tzinfo=UTC)),
    ],
    ids=str,
)
def test_the_bounded_search_finds_what_apscheduler_finds(trigger: Any) -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    search = FireTimeSearch()
    assert search.next_fire_time(trigger, now) == trigger.get_next_fire_time(None, now)
    # a trigger that fires within a year needs at most some 700 steps (a daily walk)
    assert search.steps - search.steps_left < 1000


def test_a_combined_trigger_that_never_agrees_stops_at_the_limit() -> None:
    from apscheduler.triggers.combining import AndTrigger

    now = datetime(2026, 3, 1, tzinfo=UTC)
    odd = AndTrigger(
        [
            IntervalTrigger(seconds=2, start_date=now, timezone="UTC"),
            IntervalTrigger(seconds=2, start_date=now + timedelta(seconds=1), timezone="UTC"),
        ]
    )  # APScheduler's own search loops for ever
    search = FireTimeSearch()
    with pytest.raises(FireTimeSearchLimitError, match="search limit of 10,000 steps"):
        search.next_fire_time(odd, now)
    assert search.steps - search.steps_left <= TRIGGER_STEPS + 1


def test_a_wide_cron_field_costs_a_step_per_expression() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    wide = CronTrigger(day=31, month=2, minute=",".join(["1"] * 500), timezone="UTC")
    search = FireTimeSearch()
    with pytest.raises(FireTimeSearchLimitError):
        search.next_fire_time(wide, now)
    assert search.steps - search.steps_left <= TRIGGER_STEPS + 500


def test_resume_of_a_job_whose_search_never_ends_is_a_conflict(
    sqlite_stock: StockStore, tmp_path: Path
) -> None:
    from apscheduler.triggers.combining import AndTrigger

    now = datetime.now(UTC)
    never = AndTrigger(
        [
            IntervalTrigger(seconds=2, start_date=now, timezone="UTC"),
            IntervalTrigger(seconds=2, start_date=now + timedelta(seconds=1), timezone="UTC"),
        ]
    )
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger=never, id="odd", next_run_time=None))
    before = sqlite_stock.fingerprint()
    result = _child("--url", sqlite_stock.url, "resume", "odd", cwd=tmp_path)
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("Error: job 'odd': no fire time found within the search")
    assert result.stderr.endswith("; left paused\n") and result.stderr.count("\n") == 1
    assert sqlite_stock.fingerprint() == before


# -- ids ---------------------------------------------------------------------------------


def test_ids_differing_only_in_case_are_refused_before_any_write(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="keep"))
    before = stock.fingerprint()
    tasks = _tasks(
        tmp_path,
        "default_tasks:\n"
        + _task("Job", "interval", {"minutes": 5})
        + _task("job", "interval", {"minutes": 5})
        + _task("café", "interval", {"minutes": 5})
        + _task("CAFE ", "interval", {"minutes": 5}),
    )
    result = cli("--tasks", str(tasks), "reload", "--yes", "-o", "json", url=stock.url)
    assert result.exit_code == 2, result.output
    problems = json.loads(result.stdout)["error"]["problems"]
    assert [p.split(":")[0] for p in problems] == ["task job", "task CAFE "]
    assert "differs from task 'Job' only in case" in problems[0]
    assert "refused on every backend" in problems[0]
    assert "differs from task 'café'" in problems[1]
    assert stock.fingerprint() == before


@pytest.mark.parametrize(
    ("task_id", "problem"),
    [
        ("a\x00b", "control or invisible character (U+0000)"),
        ("a\x1b[2J", "control or invisible character (U+001B)"),
        ("a\u202eb", "control or invisible character (U+202E)"),
        ("x" * (MAX_ID_LENGTH + 1), f"id longer than {MAX_ID_LENGTH} characters"),
    ],
    ids=["nul", "escape", "bidi", "long"],
)
def test_an_id_no_store_can_keep_is_a_task_problem(
    tmp_path: Path, task_id: str, problem: str
) -> None:
    tasks = _tasks(tmp_path, "default_tasks:\n" + _task(task_id, "interval", {"minutes": 5}))
    [found] = load_tasks_file(tasks).problems(verify_imports=False)
    assert problem in found
    assert load_tasks_file(tasks).tasks == []


def test_the_longest_id_a_stock_column_keeps_is_accepted(tmp_path: Path) -> None:
    task_id = "x" * MAX_ID_LENGTH
    tasks = _tasks(tmp_path, "default_tasks:\n" + _task(task_id, "interval", {"minutes": 5}))
    assert load_tasks_file(tasks).problems(verify_imports=False) == []
