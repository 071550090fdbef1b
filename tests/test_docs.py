"""The README cannot drift from the app: commands, options, variables, exit codes, set-up."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import click
import pytest
import typer

from tests.conftest import REPO
from whalefall_sched.cli import app
from whalefall_sched.cli.exit_codes import ExitCode

README = (REPO / "README.md").read_text(encoding="utf-8")


def _root() -> click.Group:
    root = typer.main.get_command(app)
    assert isinstance(root, click.Group)
    return root


ROOT = _root()

#: Commands whose README section is written with "Shared stores and a live scheduler";
#: strict, so the mark must go as soon as the section documents them.
PENDING: dict[str, str] = {}


def _section(title: str) -> str:
    """The body of the ``## title`` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _commands() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=PENDING[name], strict=True))
        if name in PENDING
        else name
        for name in sorted(ROOT.commands)
    ]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_a_section_with_an_example(command: str) -> None:
    heading = f"### `whalefall-sched {command}`"
    assert heading in README, f"README lacks a '{heading}' section"
    body = README.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    assert f"$ whalefall-sched {command}" in body, f"no example of `{command}` with its output"


@pytest.mark.parametrize("command", sorted(ROOT.commands))
def test_every_command_option_is_documented(command: str) -> None:
    if command in PENDING:
        pytest.skip(PENDING[command])
    for param in ROOT.commands[command].params:
        if isinstance(param, click.Option) and "--help" not in param.opts:
            long_names = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
            assert any(o in README for o in long_names), f"`{command} {long_names}` undocumented"


def test_the_output_formats_are_as_the_readme_says() -> None:
    """Each command's ``-o`` choices: ``table|json``, or named where the README lists them."""
    sentence = " ".join(README.split("Every command takes `-h`/`--help`", 1)[1].split())
    sentence = sentence.split(".", 1)[0]
    for name, command in ROOT.commands.items():
        [output] = [p for p in command.params if "--output" in getattr(p, "opts", [])]
        assert isinstance(output.type, click.Choice)
        choices = list(output.type.choices)
        if choices == ["table", "json"]:
            assert f"`{name}`" not in sentence, name
            continue
        described = sentence.split(f"`{name}` (", 1)[1].split(")", 1)[0]
        assert re.findall(r"`(\w+)`", described) == choices, (name, described)
        assert f"`{output.default}`, the default" in described, (name, described)


GLOBAL_OPTIONS = [p for p in ROOT.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("option", GLOBAL_OPTIONS, ids=lambda p: p.name or "")
def test_every_global_option_and_variable_is_documented(option: click.Option) -> None:
    section = _section("Global options and environment variables")
    for opt in option.opts:
        assert f"`{opt}" in section, f"global option {opt} is not in the options table"
    if option.envvar:
        assert isinstance(option.envvar, str)
        assert f"`{option.envvar}`" in section, f"{option.envvar} is not in the options table"


def test_the_documented_variables_exist() -> None:
    documented = set(
        re.findall(r"WHALEFALL_SCHED_[A-Z_]+", _section("Global options and environment variables"))
    )
    real = {p.envvar for p in GLOBAL_OPTIONS if p.envvar}
    real |= {
        p.envvar
        for command in ROOT.commands.values()
        for p in command.params
        if isinstance(p, click.Option) and p.envvar
    }
    assert documented <= real


@pytest.mark.parametrize("code", list(ExitCode), ids=lambda c: c.name)
def test_every_exit_code_is_in_the_table(code: ExitCode) -> None:
    rows = re.findall(r"^\| (\d) \| (.+) \|$", _section("Output, errors and exit codes"), re.M)
    assert str(int(code)) in {number for number, _ in rows}
    assert len(rows) == len(ExitCode)


def _setup_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", _section("Set-up"), re.S)
    assert len(blocks) == 1, "the Set-up section has one code block"
    return [
        line.strip()
        for line in blocks[0].splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_setup_is_exactly_two_commands() -> None:
    first, second = _setup_commands()
    assert "whalefall-sched init" in first
    assert "whalefall-sched list" in first
    assert second == "uv run pytest"


def test_setup_first_command_creates_the_store_and_shows_the_jobs(tmp_path: Path) -> None:
    """Run it as written, with this environment's console script standing in for uv run."""
    first = _setup_commands()[0]
    script = str(Path(sysconfig.get_path("scripts")) / "whalefall-sched")
    command = first.replace("uv run whalefall-sched", shlex.quote(script))
    assert "uv run" not in command
    result = subprocess.run(
        ["sh", "-c", command],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "userdata" / "scheduler.db").is_file()
    for job_id in ("sync_accounts", "cleanup_logs", "monitor_partition_health"):
        assert job_id in result.stdout
    # list's table comes last: its header, then one line per job
    lines = result.stdout.splitlines()
    header = max(i for i, line in enumerate(lines) if line.startswith("ID ") and "STATE" in line)
    assert len(lines[header + 1 :]) == 5


def test_readme_does_not_document_a_command_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### `whalefall-sched (\w+)`", README, re.M))
    assert documented <= set(ROOT.commands)


def test_readme_examples_are_real_output() -> None:
    """Every console example, run again in order, prints what the README shows (times,
    numbers and ids masked): ``uv run scripts/readme-examples`` rewrites them."""
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "readme-examples"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
