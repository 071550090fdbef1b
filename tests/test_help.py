"""Help that teaches, and global options on either side of the command.

Global options given after the command act as before it (the one after wins); every
command's help shows the global options it inherits, with their variables, and 2-3
examples; the top-level help lists the environment variables and the exit codes; nothing
is cut at 80 or 60 columns; a mistyped command gets one "Did you mean".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sysconfig
from pathlib import Path
from typing import cast

import click
import pytest
import typer.main
from typer.testing import CliRunner

from tests.conftest import Invoke
from whalefall_sched.cli import app
from whalefall_sched.cli.group import BROKEN_PIPE, INTERRUPTED, hoist_global_options
from whalefall_sched.cli.help_text import EXAMPLES, EXIT_CODES, global_options
from whalefall_sched.cli.settings import DEFAULT_URL
from whalefall_sched.errors import ExitCode

ENTRY_POINT = Path(sysconfig.get_path("scripts")) / "whalefall-sched"
GROUP = cast(click.Group, typer.main.get_command(app))
COMMANDS = sorted(GROUP.commands)
GLOBALS = global_options(GROUP)
GLOBAL_NAMES = {p.opts[0] for p in GLOBALS}
ENV_VARS = sorted(
    {p.envvar for p in GROUP.params if isinstance(p, click.Option) and isinstance(p.envvar, str)}
    | {
        p.envvar
        for command in GROUP.commands.values()
        for p in command.params
        if isinstance(p, click.Option) and isinstance(p.envvar, str)
    }
)


def _run(
    *args: str, columns: int = 80, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_SCHED_")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(ENTRY_POINT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=60,
    )


def _invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _hoist(*args: str) -> list[str]:
    return hoist_global_options(GROUP, click.Context(GROUP), list(args))


@pytest.fixture
def store(cli: Invoke, sqlite_url: str) -> str:
    """A SQLite store holding the bundled default jobs."""
    assert cli("init", url=sqlite_url).exit_code == 0
    return sqlite_url


# -- global options after the command ------------------------------------------------------


def test_the_global_options_are_the_root_options_that_do_not_act_at_once() -> None:
    assert {
        "--url",
        "--table",
        "--schema",
        "--tasks",
        "--config",
        "--app-path",
        "--history-url",
        "--timeout",
        "--wait",
        "--reason",
        "--actor",
        "--debug",
    } == GLOBAL_NAMES


@pytest.mark.parametrize(
    "command",
    [["list"], ["get", "cleanup_logs"], ["list", "--state", "running"]],
    ids=" ".join,
)
@pytest.mark.parametrize("form", ["separate", "equals"])
def test_url_after_the_command_reads_the_same_as_before_it(
    store: str, command: list[str], form: str
) -> None:
    before = _invoke("--url", store, *command, "-o", "json")
    url = ["--url", store] if form == "separate" else [f"--url={store}"]
    after = _invoke(*command, *url, "-o", "json")
    assert before.exit_code == after.exit_code == 0, after.output
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_every_global_option_after_the_command_is_taken(store: str, tmp_path: Path) -> None:
    result = _invoke(
        "status",
        "-o",
        "json",
        f"--url={store}",
        "--table",
        "apscheduler_jobs",
        "--schema=",
        "--tasks",
        str(tmp_path / "absent.yaml"),  # status never reads it
        "--config",
        str(tmp_path / "absent-too.yaml"),
        "--app-path",
        str(tmp_path),
        "--timeout=2",
        "--wait",
        "1",
        "--debug",
    )
    document = json.loads(result.stdout)
    assert document["reachable"] is True
    assert document["jobs"]["total"] == 5


def test_pause_and_resume_take_the_url_after_their_ids(store: str) -> None:
    paused = _invoke("pause", "sync_accounts", "--url", store)
    assert paused.exit_code == 0, paused.output
    listed = _invoke("list", "--state", "paused", "-o", "json", "--url", store)
    assert [job["id"] for job in json.loads(listed.stdout)["items"]] == ["sync_accounts"]
    resumed = _invoke("resume", f"--url={store}", "sync_accounts")
    assert resumed.exit_code == 0, resumed.output


def test_given_on_both_sides_the_option_after_the_command_wins(store: str, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'missing.db'}"
    wins = _invoke("--url", missing, "list", "-o", "json", "--url", store)
    assert wins.exit_code == 0, wins.output
    assert len(json.loads(wins.stdout)["items"]) == 5
    loses = _invoke("--url", store, "list", "--url", missing)
    assert loses.exit_code != 0
    assert "missing.db" in loses.output


def test_an_option_the_command_has_stays_the_commands() -> None:
    # run --timeout is the run's own limit, not the store's connect timeout
    assert _hoist("run", "job", "--timeout", "5", "--url", "X") == [
        "--url",
        "X",
        "run",
        "job",
        "--timeout",
        "5",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # global options before the command (with their values) are left as they are
        (["--url", "list", "list", "--table", "t"], ["--url", "list", "--table", "t", "list"]),
        # after `--`, nothing is an option
        (["get", "--", "--url", "X"], ["get", "--", "--url", "X"]),
        # a command option's value is never taken for an option
        (["list", "-o", "json", "--debug"], ["--debug", "list", "-o", "json"]),
        (["get", "--url", "--debug", "job"], ["--url", "--debug", "get", "job"]),
        # repeatable options keep their order
        (
            ["list", "--app-path", "a", "--app-path=b"],
            ["--app-path", "a", "--app-path=b", "list"],
        ),
        # an unknown command or no command: nothing moves
        (["lst", "--url", "X"], ["lst", "--url", "X"]),
        (["--url", "X"], ["--url", "X"]),
    ],
)
def test_hoisting(args: list[str], expected: list[str]) -> None:
    assert _hoist(*args) == expected


def test_a_global_option_after_the_command_without_its_value_is_one_line() -> None:
    result = _run("list", "--url")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "Error: Option '--url' requires an argument. (see `whalefall-sched --help`)"
    ]
    assert result.stdout == ""


def test_completion_reads_the_url_after_the_command(store: str) -> None:
    env = dict(os.environ)
    env.update(
        _WHALEFALL_SCHED_COMPLETE="complete_bash",
        COMP_WORDS=f"whalefall-sched pause --url={store} sy",
        COMP_CWORD="3",
    )
    result = subprocess.run(
        [str(ENTRY_POINT)], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sync_accounts"]


def test_completion_offers_the_global_options_after_the_command() -> None:
    env = dict(os.environ)
    env.update(
        _WHALEFALL_SCHED_COMPLETE="complete_bash",
        COMP_WORDS="whalefall-sched run job --t",
        COMP_CWORD="3",
    )
    result = subprocess.run(
        [str(ENTRY_POINT)], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # --timeout once: run's own
    assert sorted(result.stdout.split()) == ["--table", "--tasks", "--timeout"]


# -- each command's help -------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_shows_the_global_options_after_its_own(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.index("Options:") < text.index("Global options:") < text.index("Examples:")
    inherited = text.split("Global options:", 1)[1].split("Examples:", 1)[0]
    assert "before or after the command" in inherited
    own = {name for p in GROUP.commands[command].params for name in getattr(p, "opts", [])}
    for param in GLOBALS:
        if param.opts[0] in own:
            assert f"Before the command only ({param.opts[0]} after it is its own)" in " ".join(
                inherited.split()
            )
        assert re.search(rf"^  {re.escape(param.opts[0])}\b", inherited, re.M), param.opts[0]
        if isinstance(param.envvar, str):
            assert param.envvar in inherited
    assert "--version" not in inherited
    assert "--install-completion" not in inherited


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_declares_two_or_three_examples_shown_in_its_help(command: str) -> None:
    examples = EXAMPLES.get(command, ())
    assert 2 <= len(examples) <= 3, f"give `{command}` 2-3 examples in help_text.EXAMPLES"
    section = _invoke(command, "--help").stdout.split("Examples:", 1)[1]
    assert any(line.startswith(f"whalefall-sched {command}") for line, _ in examples)
    for line, what in examples:
        assert f"\n  {line}\n" in section
        assert f"# {what}" in " ".join(section.split())


def test_every_example_names_a_real_command() -> None:
    for lines in EXAMPLES.values():
        for line, _ in lines:
            for part in line.split("|"):
                words = part.split()
                if words and words[0] == "whalefall-sched":
                    named = [w for w in words[1:] if w in GROUP.commands]
                    assert named, f"{line!r} names no command"


def test_argument_help_is_shown() -> None:
    assert re.search(r"^  JOB_ID\s+Job id\.", _invoke("get", "--help").stdout, re.M)


# -- the top-level help --------------------------------------------------------------------


def test_every_exit_code_is_explained() -> None:
    assert set(EXIT_CODES) == {*map(int, ExitCode), INTERRUPTED, BROKEN_PIPE}


@pytest.mark.parametrize("columns", [80, 60])
def test_top_level_help_lists_variables_and_exit_codes_unbroken(columns: int) -> None:
    result = _run("--help", columns=columns)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    environment = text.split("Environment variables:", 1)[1].split("Exit codes:", 1)[0]
    for name in ENV_VARS:
        assert re.search(rf"^  {name}\s", environment, re.M), name
    codes = text.split("Exit codes:", 1)[1].split("Examples:", 1)[0]
    for code in EXIT_CODES:
        assert re.search(rf"^  {code}\s+\S", codes, re.M), code
    assert DEFAULT_URL in text
    assert "…" not in text
    assert "..." not in text.replace("[ARGS]...", "")
    assert "before or after the command" in " ".join(text.split())
    assert "Examples:" in text


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_is_whole_at_narrow_widths(command: str, columns: int) -> None:
    result = _run(command, "--help", columns=columns)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for param in GLOBALS:
        if isinstance(param.envvar, str):
            assert param.envvar in text
    assert DEFAULT_URL in text
    assert "…" not in text
    if columns == 80:
        assert max(map(len, text.splitlines())) <= 80


def test_top_level_help_fits_80_columns_and_cuts_no_command() -> None:
    text = _run("--help", columns=80).stdout
    assert max(map(len, text.splitlines())) <= 80
    commands = text.split("Commands:", 1)[1].split("\n\n", 1)[0]
    for name in COMMANDS:
        first = GROUP.commands[name].get_short_help_str(limit=10_000)
        assert first in " ".join(commands.split())


# -- a mistyped command --------------------------------------------------------------------


def test_a_mistyped_command_gets_one_did_you_mean() -> None:
    result = _run("lst")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "Error: No such command 'lst'. Did you mean 'list'? (see `whalefall-sched --help`)"
    ]
    assert result.stdout == ""


def test_an_unknown_command_like_none_gets_no_suggestion() -> None:
    result = _run("zzzz")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.splitlines() == [
        "Error: No such command 'zzzz'. (see `whalefall-sched --help`)"
    ]
