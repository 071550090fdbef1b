"""The command line's promises, in-process through Typer's CliRunner.

Help for every command, one JSON document with ``-o json`` (errors included), the
exit codes 0-5 with one-line errors, no traceback without ``--debug``, no password
on screen, options over environment variables, colour rules and 80-column tables.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import typer
from rich.cells import cell_len

from tests.conftest import HOST_LIST_FIELDS, Invoke, StockStore, TaskModule, write_tasks_file
from whalefall_sched import __version__
from whalefall_sched.cli import app
from whalefall_sched.cli.exit_codes import ExitCode

BUNDLED_IDS = [
    "calculate_database_size_aggregations",
    "cleanup_logs",
    "collect_database_sizes",
    "monitor_partition_health",
    "sync_accounts",
]
UNREACHABLE_URL = "postgresql+psycopg://u:secret@127.0.0.1:1/x"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: SGR codes that set a foreground or background colour (bold and reset are not colour).
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def _group() -> click.Group:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    return group


COMMANDS = sorted(_group().commands)


def _json(result: Any) -> Any:
    """The one JSON document on stdout (json.loads rejects anything after it)."""
    return json.loads(result.stdout)


def _items(result: Any) -> Any:
    """The items of a ``list -o json`` document."""
    return _json(result)["items"]


def _error_lines(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def _assert_one_line_error(result: Any) -> str:
    lines = _error_lines(result)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def loaded(cli: Invoke, sqlite_url: str) -> str:
    """A SQLite store holding the five bundled example jobs, registered by ``init``."""
    result = cli("init", url=sqlite_url)
    assert result.exit_code == 0, result.output
    return sqlite_url


def _cron(job_id: str, **fields: Any) -> dict[str, Any]:
    return dict(id=job_id, name=job_id, func="tests.jobs:noop", trigger="cron", **fields)


def _write_tasks(path: Path, *ids: str, func: str = "tests.jobs:noop") -> Path:
    lines = ["default_tasks:"]
    for task_id in ids:
        lines += [
            f"  - id: {task_id}",
            f"    function: {task_id}",
            "    trigger_type: cron",
            "    trigger_params: {second: 0, minute: 0, hour: 5}",
        ]
    lines.append("functions:")
    lines += [f"  {task_id}: '{func}'" for task_id in ids]
    return write_tasks_file(path, "\n".join(lines) + "\n")


# -- help and version ------------------------------------------------------------------


def test_every_command_is_listed_in_the_root_help(cli: Invoke) -> None:
    result = cli("--help")
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.stdout
    for option in ("--url", "--table", "--schema", "--tasks", "--app-path", "--version"):
        assert option in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_naming_each_option(cli: Invoke, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert f"whalefall-sched {command}" in result.stdout
    for param in _group().commands[command].params:
        if isinstance(param, click.Option):
            for opt in [*param.opts, *param.secondary_opts]:
                assert opt in result.stdout, f"{command} --help does not mention {opt}"
        else:
            assert param.human_readable_name.upper() in result.stdout


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"whalefall-sched {__version__}\n"


# -- -o json: exactly one document ---------------------------------------------------------


def test_list_json(cli: Invoke, loaded: str) -> None:
    result = cli("list", "-o", "json", url=loaded)
    assert result.exit_code == 0, result.output
    items = _items(result)
    assert [i["id"] for i in items] == BUNDLED_IDS
    assert items[0].keys() >= HOST_LIST_FIELDS


def test_get_json(cli: Invoke, loaded: str) -> None:
    result = cli("get", "sync_accounts", "-o", "json", url=loaded)
    assert result.exit_code == 0, result.output
    job = _json(result)
    assert job["id"] == "sync_accounts"
    assert job["func"] == "whalefall_sched.examples.tasks:sync_accounts"
    assert job["trigger"].startswith("cron[")
    assert (job["misfire_grace_time"], job["max_instances"], job["coalesce"]) == (300, 1, True)


def test_pause_resume_json(cli: Invoke, loaded: str) -> None:
    paused = cli("pause", "sync_accounts", "-o", "json", url=loaded)
    assert paused.exit_code == 0, paused.output
    doc = _json(paused)
    assert doc["errors"] == []
    assert [(r["id"], r["state"], r["next_run_time"]) for r in doc["results"]] == [
        ("sync_accounts", "STATE_PAUSED", None)
    ]
    resumed = cli("resume", "sync_accounts", "-o", "json", url=loaded)
    assert resumed.exit_code == 0, resumed.output
    [result] = _json(resumed)["results"]
    assert result["state"] == "STATE_RUNNING"
    assert datetime.fromisoformat(result["next_run_time"]) > datetime.now(UTC)


def test_run_json(cli: Invoke, loaded: str) -> None:
    result = cli("run", "sync_accounts", "--created-by", "7", "-o", "json", url=loaded)
    assert result.exit_code == 0, result.output
    doc = _json(result)
    assert doc["succeeded"] is True
    assert doc["thread_name"] == "sync_accounts_manual"
    assert doc["kwargs"] == {"manual_run": True, "created_by": 7}
    assert "started sync_accounts_manual" in result.stderr


def test_reload_json(cli: Invoke, loaded: str) -> None:
    result = cli("reload", "--yes", "--no-backup", "-o", "json", url=loaded)
    assert result.exit_code == 0, result.output
    doc = _json(result)
    assert sorted(doc["deleted"]) == BUNDLED_IDS
    assert sorted(doc["reloaded"]) == BUNDLED_IDS
    assert (doc["deleted_count"], doc["reloaded_count"]) == (5, 5)


ERROR_CASES = {
    "list-uninitialised": (["list"], ExitCode.CONFLICT, "conflict"),
    "get-unknown": (["get", "nope"], ExitCode.NOT_FOUND, "not_found"),
    "pause-unknown": (["pause", "nope"], ExitCode.NOT_FOUND, "not_found"),
    "resume-unknown": (["resume", "nope"], ExitCode.NOT_FOUND, "not_found"),
    "run-unknown": (["run", "nope"], ExitCode.NOT_FOUND, "not_found"),
    "reload-no-yes": (["reload"], ExitCode.CONFLICT, "conflict"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_json_error_document(cli: Invoke, sqlite_url: str, case: str) -> None:
    args, exit_code, code = ERROR_CASES[case]
    if case != "list-uninitialised":
        cli("init", url=sqlite_url)
    result = cli(*args, "-o", "json", url=sqlite_url)
    assert result.exit_code == exit_code, result.output
    error = _json(result)["error"]
    assert error["code"] == code
    assert error["exit_code"] == exit_code
    assert error["message"]
    assert _assert_one_line_error(result) == f"Error: {error['message']}"


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--state", "bogus", "-o", "json"],
        ["get", "--output", "json"],
        ["pause", "--output=json"],
        ["run", "x", "--created-by", "me", "-ojson"],
    ],
    ids=["bad-choice", "missing-argument", "missing-ids", "bad-int"],
)
def test_json_error_document_for_a_usage_error(cli: Invoke, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == ExitCode.USAGE, result.output
    error = _json(result)["error"]
    assert (error["code"], error["exit_code"]) == ("usage", 2)
    assert _assert_one_line_error(result).startswith(f"Error: {error['message']}")


def test_usage_error_without_json_leaves_stdout_empty(cli: Invoke) -> None:
    result = cli("list", "--state", "bogus", "-o", "table")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""


def test_json_error_for_an_invalid_tasks_file(cli: Invoke, sqlite_url: str) -> None:
    bad = Path("bad.yaml")
    bad.write_text("default_tasks: [\n", encoding="utf-8")
    result = cli("--tasks", str(bad), "reload", "--yes", "-o", "json", url=sqlite_url)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert _json(result)["error"]["code"] == "usage"
    _assert_one_line_error(result)


def test_json_error_for_an_unreachable_database(cli: Invoke) -> None:
    result = cli("--timeout", "1", "list", "-o", "json", url=UNREACHABLE_URL)
    assert result.exit_code == ExitCode.SYSTEM, result.output
    error = _json(result)["error"]
    assert (error["code"], error["exit_code"]) == ("system_error", 5)
    assert "secret" not in result.output


# -- exit codes, one-line errors -------------------------------------------------------------


def test_exit_0(cli: Invoke, loaded: str) -> None:
    assert cli("list", url=loaded).exit_code == 0


def test_exit_1_when_the_job_function_raises(
    cli: Invoke, sqlite_stock: StockStore, sqlite_url: str
) -> None:
    sqlite_stock.add(_cron("breaks", hour=3) | {"func": "tests.jobs:fail"})
    result = cli("run", "breaks", "--allow-any-function", url=sqlite_url)
    assert result.exit_code == ExitCode.RUN_FAILED, result.output
    assert "failed breaks_manual" in result.stdout
    assert "task failed on purpose" in result.stdout
    assert "Traceback" not in result.output
    as_json = cli("run", "breaks", "--allow-any-function", "-o", "json", url=sqlite_url)
    assert as_json.exit_code == ExitCode.RUN_FAILED
    doc = _json(as_json)
    assert doc["succeeded"] is False
    assert doc["error"]["code"] == "run_failed"
    assert doc["error"]["exit_code"] == ExitCode.RUN_FAILED
    assert "task failed on purpose" in doc["error"]["message"]


def test_exit_2_for_a_bad_option(cli: Invoke, loaded: str) -> None:
    result = cli("list", "--state", "bogus", url=loaded)
    assert result.exit_code == ExitCode.USAGE
    line = _assert_one_line_error(result)
    assert "--state" in line
    assert result.stdout == ""


def test_exit_2_for_an_unknown_command(cli: Invoke) -> None:
    result = cli("frobnicate")
    assert result.exit_code == ExitCode.USAGE
    _assert_one_line_error(result)


def test_exit_2_for_an_invalid_tasks_file_lists_every_problem(
    cli: Invoke, loaded: str, sqlite_stock: StockStore
) -> None:
    tasks = Path("tasks.yaml")
    tasks.write_text(
        "default_tasks:\n"
        "  - id: no_function\n"
        "    trigger_type: cron\n"
        "    trigger_params: {hour: 1}\n"
        "  - id: bad_cron\n"
        "    function: f\n"
        "    trigger_type: cron\n"
        "    trigger_params: {hour: 25}\n"
        "functions: {f: 'tests.jobs:noop'}\n",
        encoding="utf-8",
    )
    before = sqlite_stock.fingerprint()
    result = cli("--tasks", str(tasks), "reload", "--yes", url=loaded)
    assert result.exit_code == ExitCode.USAGE, result.output
    # One Error line, then one line per problem, each naming its task.
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: tasks file tasks.yaml is invalid (2 problems)"
    assert lines[1].startswith("  - task no_function: no function")
    assert lines[2].startswith("  - task bad_cron: bad trigger_params")
    assert len(lines) == 3
    as_json = cli("--tasks", str(tasks), "reload", "--yes", "-o", "json", url=loaded)
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "usage" and len(error["problems"]) == 2
    assert sqlite_stock.fingerprint() == before


def test_exit_3_for_an_unknown_job(cli: Invoke, loaded: str) -> None:
    result = cli("get", "nope", url=loaded)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "'nope'" in _assert_one_line_error(result)


def test_exit_4_when_the_store_is_not_initialised(cli: Invoke, sqlite_url: str) -> None:
    result = cli("list", url=sqlite_url)
    assert result.exit_code == ExitCode.CONFLICT
    line = _assert_one_line_error(result)
    assert "job store not initialised" in line
    assert "(the file does not exist)" in line
    assert "run `whalefall-sched init`" in line
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_exit_4_for_reload_without_yes_and_no_terminal(
    cli: Invoke, loaded: str, sqlite_stock: StockStore
) -> None:
    before = sqlite_stock.fingerprint()
    result = cli("reload", url=loaded, input="y\n")
    assert result.exit_code == ExitCode.CONFLICT
    assert "--yes" in _assert_one_line_error(result)
    assert sqlite_stock.fingerprint() == before


def test_exit_4_for_resume_without_a_future_fire_time(
    cli: Invoke, sqlite_stock: StockStore, sqlite_url: str
) -> None:
    ended = datetime.now(UTC) - timedelta(days=1)
    sqlite_stock.add(_cron("ended", minute="*", end_date=ended))
    before = sqlite_stock.raw()
    assert before["ended"][0] is None  # stock stores it paused: no next fire time
    result = cli("resume", "ended", url=sqlite_url)
    assert result.exit_code == ExitCode.CONFLICT
    assert "no future fire time" in _assert_one_line_error(result)
    assert sqlite_stock.raw() == before


def test_exit_5_for_an_unreachable_database(cli: Invoke) -> None:
    result = cli("--timeout", "1", "list", url=UNREACHABLE_URL)
    assert result.exit_code == ExitCode.SYSTEM
    line = _assert_one_line_error(result)
    assert "127.0.0.1" in line
    assert "secret" not in result.output
    assert "u:***@" in line


def test_password_is_not_printed_even_with_debug(cli: Invoke) -> None:
    result = cli("--debug", "--timeout", "1", "get", "x", url=UNREACHABLE_URL)
    assert result.exit_code == ExitCode.SYSTEM
    assert "secret" not in result.output


def test_traceback_only_with_debug(cli: Invoke) -> None:
    plain = cli("--timeout", "1", "list", url=UNREACHABLE_URL)
    assert "Traceback" not in plain.output
    debug = cli("--debug", "--timeout", "1", "list", url=UNREACHABLE_URL)
    assert debug.exit_code == ExitCode.SYSTEM
    assert "Traceback" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("Error: ")


# -- global options as environment variables ------------------------------------------------


def test_url_from_the_environment_and_the_option_wins(
    cli: Invoke, loaded: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WHALEFALL_SCHED_URL", loaded)
    from_env = cli("list", "-o", "json")
    assert from_env.exit_code == 0, from_env.output
    assert [i["id"] for i in _items(from_env)] == BUNDLED_IDS
    other = f"sqlite:///{tmp_path / 'other.db'}"
    from_option = cli("list", url=other)
    assert from_option.exit_code == ExitCode.CONFLICT
    assert "other.db" in from_option.stderr


def test_table_from_the_environment_and_the_option_wins(
    cli: Invoke, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    StockStore(sqlite_url, table="custom_jobs").add(_cron("in_custom", hour=1))
    monkeypatch.setenv("WHALEFALL_SCHED_TABLE", "custom_jobs")
    from_env = cli("list", "-o", "json", url=sqlite_url)
    assert from_env.exit_code == 0, from_env.output
    assert [i["id"] for i in _items(from_env)] == ["in_custom"]
    from_option = cli("--table", "apscheduler_jobs", "list", url=sqlite_url)
    assert from_option.exit_code == ExitCode.CONFLICT
    assert "apscheduler_jobs" in from_option.stderr


def test_schema_from_the_environment_and_the_option_wins(
    cli: Invoke, loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's schemas are its attached databases; the file itself is `main`.
    monkeypatch.setenv("WHALEFALL_SCHED_SCHEMA", "main")
    from_env = cli("list", "-o", "json", url=loaded)
    assert from_env.exit_code == 0, from_env.output
    assert len(_items(from_env)) == 5
    monkeypatch.setenv("WHALEFALL_SCHED_SCHEMA", "nosuch")
    assert cli("list", url=loaded).exit_code != 0
    from_option = cli("--schema", "main", "list", "-o", "json", url=loaded)
    assert from_option.exit_code == 0, from_option.output


def test_tasks_from_the_environment_and_the_option_wins(
    cli: Invoke, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHALEFALL_SCHED_TASKS", str(_write_tasks(Path("env.yaml"), "from_env")))
    from_env = cli("init", "--dry-run", "-o", "json", url=sqlite_url)
    assert from_env.exit_code == 0, from_env.output
    assert _json(from_env)["registered"] == ["from_env"]
    option = _write_tasks(Path("opt.yaml"), "from_option")
    from_option = cli("--tasks", str(option), "init", "--dry-run", "-o", "json", url=sqlite_url)
    assert from_option.exit_code == 0, from_option.output
    assert _json(from_option)["registered"] == ["from_option"]


@pytest.fixture
def host_module(task_module: TaskModule) -> tuple[Path, str]:
    """A task module that imports only with its directory on sys.path (unique name)."""
    module, directory = task_module(
        "from pathlib import Path\n\n\ndef work():\n    Path('worked').write_text('yes')\n",
        prefix="hostapp",
    )
    return directory, module


def _store_with_host_job(cli: Invoke, sqlite_url: str, module: str) -> None:
    tasks = _write_tasks(Path("host.yaml"), "host_job", func=f"{module}:work")
    result = cli(
        "--tasks",
        str(tasks),
        "init",
        "--no-verify-imports",
        url=sqlite_url,
    )
    assert result.exit_code == 0, result.output


def test_app_path_missing_is_a_conflict_with_a_hint(
    cli: Invoke, sqlite_url: str, host_module: tuple[Path, str]
) -> None:
    _, module = host_module
    _store_with_host_job(cli, sqlite_url, module)
    result = cli("run", "host_job", "--allow-any-function", url=sqlite_url)
    assert result.exit_code == ExitCode.CONFLICT
    line = _assert_one_line_error(result)
    assert module in line
    assert "--app-path" in line
    assert not Path("worked").exists()


def test_app_path_from_the_environment(
    cli: Invoke, sqlite_url: str, host_module: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, module = host_module
    _store_with_host_job(cli, sqlite_url, module)
    monkeypatch.setenv("WHALEFALL_SCHED_APP_PATH", f"/nonexistent:{directory}")
    result = cli("run", "host_job", "--allow-any-function", url=sqlite_url)
    assert result.exit_code == 0, result.output
    assert Path("worked").read_text() == "yes"


def test_app_path_option_wins_over_the_environment(
    cli: Invoke, sqlite_url: str, host_module: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, module = host_module
    _store_with_host_job(cli, sqlite_url, module)
    monkeypatch.setenv("WHALEFALL_SCHED_APP_PATH", "/nonexistent")
    result = cli(
        "--app-path", str(directory), "run", "host_job", "--allow-any-function", url=sqlite_url
    )
    assert result.exit_code == 0, result.output
    assert Path("worked").read_text() == "yes"


# -- list ---------------------------------------------------------------------------------


def test_list_state_filter(cli: Invoke, loaded: str) -> None:
    assert cli("pause", "cleanup_logs", "sync_accounts", url=loaded).exit_code == 0
    paused = cli("list", "--state", "paused", "-o", "json", url=loaded)
    assert paused.exit_code == 0, paused.output
    assert [i["id"] for i in _items(paused)] == ["cleanup_logs", "sync_accounts"]
    assert {i["state"] for i in _items(paused)} == {"STATE_PAUSED"}
    running = cli("list", "--state", "running", "-o", "json", url=loaded)
    assert [i["id"] for i in _items(running)] == [
        "calculate_database_size_aggregations",
        "collect_database_sizes",
        "monitor_partition_health",
    ]
    table = cli("list", "--state", "paused", url=loaded)
    assert "cleanup_logs" in table.stdout
    assert "monitor_partition_health" not in table.stdout


def test_non_terminal_output_has_no_ansi_escapes(cli: Invoke, loaded: str) -> None:
    for args in (["list"], ["get", "sync_accounts"], ["pause", "sync_accounts"]):
        result = cli(*args, url=loaded)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output


def test_no_color_removes_colour_even_when_colour_is_forced(
    cli: Invoke, loaded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = cli("list", url=loaded)
    assert COLOUR.search(forced.stdout), "FORCE_COLOR should colour the STATE column"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = cli("list", url=loaded)
    assert plain.exit_code == 0, plain.output
    assert not COLOUR.search(plain.stdout)


def test_list_not_on_a_terminal_is_one_whole_line_per_job_whatever_columns_says(
    cli: Invoke, loaded: str, sqlite_stock: StockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fit to 60, 80 and 200 columns of a real terminal: tests/test_list_output.py.
    sqlite_stock.add(
        _cron("a_cron_job_restricted_to_some_iso_weeks_of_the_year", hour=6, week="1-10"),
        dict(id="every_ninety_minutes", func="tests.jobs:noop", trigger="interval", minutes=90),
        dict(
            id="once",
            func="tests.jobs:noop",
            trigger="date",
            run_date=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
    )
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("list", url=loaded)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    ids = [
        *BUNDLED_IDS,
        "a_cron_job_restricted_to_some_iso_weeks_of_the_year",
        "every_ninety_minutes",
        "once",
    ]
    assert sorted(row.split()[0] for row in rows) == sorted(ids)
    assert header.split()[:3] == ["ID", "NAME", "TYPE"] and header.split()[-1] == "BUILTIN"
    assert cell_len(rows[0]) > 80  # nothing dropped or cut for a width it does not have
    for row in rows:
        assert row.split()[-2:] == ["running", "yes" if row.split()[0] in BUNDLED_IDS else "no"]


def test_a_cron_job_restricting_week_shows_a_week_column(
    cli: Invoke, sqlite_stock: StockStore, sqlite_url: str
) -> None:
    sqlite_stock.add(_cron("daily", hour=1), _cron("weeks", hour=2, week="1-10"))
    result = cli("list", url=sqlite_url)
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert "WEEK" in header.split()
    week_at = header.index("WEEK")
    weeks_row = next(r for r in rows if r.startswith("weeks"))
    assert weeks_row[week_at:].split()[0] == "1-10"


def test_no_week_column_when_no_job_restricts_week(cli: Invoke, loaded: str) -> None:
    result = cli("list", url=loaded)
    assert "WEEK" not in result.stdout.splitlines()[0]


# -- pause / resume several ids ----------------------------------------------------------------


def _states(cli: Invoke, url: str) -> dict[str, str]:
    return {i["id"]: i["state"] for i in _items(cli("list", "-o", "json", url=url))}


def test_pause_several_ids_one_unknown_acts_on_the_others(cli: Invoke, loaded: str) -> None:
    result = cli("pause", "cleanup_logs", "nope", "sync_accounts", url=loaded)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "'nope'" in _assert_one_line_error(result)
    states = _states(cli, loaded)
    assert states["cleanup_logs"] == states["sync_accounts"] == "STATE_PAUSED"
    assert states["collect_database_sizes"] == "STATE_RUNNING"


def test_resume_several_ids_one_unknown_acts_on_the_others(cli: Invoke, loaded: str) -> None:
    cli("pause", "cleanup_logs", "sync_accounts", url=loaded)
    result = cli("resume", "cleanup_logs", "nope", "sync_accounts", "-o", "json", url=loaded)
    assert result.exit_code == ExitCode.NOT_FOUND
    doc = _json(result)
    assert [r["id"] for r in doc["results"]] == ["cleanup_logs", "sync_accounts"]
    assert [e["id"] for e in doc["errors"]] == ["nope"]
    assert doc["error"]["exit_code"] == ExitCode.NOT_FOUND
    assert set(_states(cli, loaded).values()) == {"STATE_RUNNING"}


def test_pausing_a_paused_job_is_a_no_op_that_says_so(cli: Invoke, loaded: str) -> None:
    cli("pause", "sync_accounts", url=loaded)
    again = cli("pause", "sync_accounts", "-o", "json", url=loaded)
    assert again.exit_code == 0, again.output
    [result] = _json(again)["results"]
    assert result["changed"] is False
    assert "already" in result["message"]
