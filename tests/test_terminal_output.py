"""What reaches a terminal from hostile stores and files: no raw control characters, no
unbounded fields; JSON stays exact, lone surrogates included.

Names, ids, arguments and descriptions holding escape sequences, OSC titles, carriage
returns, C1 controls, bidi overrides and lone surrogates are shown as visible escapes in
every table and every stderr line; a newline in a field does not break a table's row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import REPO, Invoke, StockStore
from whalefall_sched.cli.json_output import json_text
from whalefall_sched.cli.render_types import ColorMode
from whalefall_sched.cli.terminal import (
    CRON_FIELD_CHARS,
    FIELD_CHARS,
    LINE_CHARS,
    LIST_FIELD_CHARS,
    clip,
    printable,
    use_color,
)

#: One of each kind of character that can take over a terminal or hide text.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\x9b\u202e\u2066\x7f\x00\u2028\t\n"
#: Characters a terminal must never receive raw from whalefall-sched's human output.
FORBIDDEN = frozenset(c for c in HOSTILE if not c.isprintable())


def _raw_controls(text: str) -> set[str]:
    """The characters of ``text`` a terminal would act on (tables keep their own newlines)."""
    return {
        c
        for c in text
        if c != "\n" and (c in FORBIDDEN or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp"))
    }


def _child(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m whalefall_sched ARGS`` in a child process; output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", *args],
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


# -- the two functions ----------------------------------------------------------------


def test_printable_escapes_each_kind_and_keeps_ordinary_text() -> None:
    assert printable(HOSTILE + "\udc9b") == (
        "\\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b\\u202e\\u2066\\x7f\\x00\\u2028\\t\\n\\udc9b"
    )
    ordinary = "账户同步 sync_accounts (é, ß, 👩\u200d💻, \u3000, a\\b)"
    assert printable(ordinary) == ordinary
    assert printable("\U000e0001tag") == "\\U000e0001tag"


def test_clip_says_how_much_was_cut() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("x" * 1_000_003, 3) == "xxx…[1,000,000 more characters]"


class _Stdout:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("mode", "env", "tty", "coloured"),
    [
        (ColorMode.auto, {}, True, True),
        (ColorMode.auto, {}, False, False),
        (ColorMode.auto, {"NO_COLOR": "1"}, True, False),
        (ColorMode.auto, {"NO_COLOR": ""}, True, True),  # empty: as if unset
        (ColorMode.auto, {"TERM": "dumb"}, True, False),
        (ColorMode.auto, {"TERM": "unknown"}, True, False),
        (ColorMode.auto, {"FORCE_COLOR": "1"}, False, True),
        (ColorMode.auto, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
        (ColorMode.auto, {"FORCE_COLOR": "1", "TERM": "dumb"}, True, False),
        (ColorMode.always, {"NO_COLOR": "1", "TERM": "dumb"}, False, True),
        (ColorMode.never, {"FORCE_COLOR": "1"}, True, False),
    ],
)
def test_one_colour_rule(
    monkeypatch: pytest.MonkeyPatch,
    mode: ColorMode,
    env: dict[str, str],
    tty: bool,
    coloured: bool,
) -> None:
    for key in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "stdout", _Stdout(tty))
    assert use_color(mode) is coloured


@pytest.mark.parametrize("command", [["list"], ["timeline"]])
def test_both_drawn_commands_follow_force_color_and_term(
    cli: Invoke, sqlite_stock: StockStore, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in cli(*command, url=sqlite_stock.url).stdout
    monkeypatch.setenv("TERM", "dumb")
    assert "\x1b[" not in cli(*command, url=sqlite_stock.url).stdout


def test_json_keeps_every_string_exact_and_encodable() -> None:
    document = {"id": "a\x1b", "name": "n\udc9b\ud800" + HOSTILE, "账户": "同步"}
    text = json_text(document)
    text.encode("utf-8")  # no lone surrogate left raw
    assert json.loads(text) == document
    assert "账户" in text  # non-ASCII text stays readable
    assert json.loads(json_text(document, ascii_only=True)) == document
    json_text(document, ascii_only=True).encode("ascii")


# -- tables and stderr lines, from a hostile store ---------------------------------------


@pytest.fixture
def hostile(sqlite_stock: StockStore) -> StockStore:
    """Two paused jobs whose every text field is hostile (paused: one line per row)."""
    sqlite_stock.add(
        dict(
            func="tests.jobs:record",
            trigger="cron",
            hour="1",
            id="evil" + HOSTILE.replace("\x00", "") + "end",
            name="name" + HOSTILE,
            args=["arg" + HOSTILE + "\udc9b"],  # a name may not hold a surrogate, an arg may
            kwargs={"key\x1b": "value\x9b\n"},
            next_run_time=None,
        ),
        dict(
            func="tests.jobs:noop",
            trigger="cron",
            hour="1",
            id="plain",
            name="line one\nline two\nline three",
            next_run_time=None,
        ),
    )
    return sqlite_stock


def test_list_shows_hostile_fields_as_escapes_one_line_per_job(
    cli: Invoke, hostile: StockStore
) -> None:
    result = cli("list", url=hostile.url)
    assert result.exit_code == 0, result.output
    assert _raw_controls(result.stdout) == set()
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b\\u202e" in result.stdout
    assert "name\\x1b[2J" in result.stdout
    assert "line one\\nline two\\nline three" in result.stdout
    # a header and one line per job, nothing else (the table has no footer)
    header, *rows = result.stdout.splitlines()
    assert header.startswith("ID ") and len(rows) == 2, result.stdout
    assert rows[0].startswith("evil\\x1b[2J")
    assert all(row.split()[-2:] == ["paused", "no"] for row in rows), rows


def test_get_shows_every_field_escaped(cli: Invoke, hostile: StockStore, tmp_path: Path) -> None:
    job_id = "evil" + HOSTILE.replace("\x00", "") + "end"
    result = cli("get", job_id, url=hostile.url)
    assert result.exit_code == 0, result.output
    assert _raw_controls(result.stdout) == set()
    for shown in ("evil\\x1b[2J", "name\\x1b[2J", "arg\\u001b[2J", "\\udc9b", "key\\u001b"):
        assert shown in result.stdout, shown
    # the description, from the tasks file
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "default_tasks:\n  - {id: plain, function: 'tests.jobs:noop', trigger_type: cron,\n"
        '     description: "desc\\e[2J\\e]0;pwned\\a\\u202e"}\n',
        encoding="utf-8",
    )
    plain = cli("--tasks", str(tasks), "get", "plain", url=hostile.url)
    assert plain.exit_code == 0, plain.output
    assert "desc\\x1b[2J\\x1b]0;pwned\\x07\\u202e" in plain.stdout
    assert _raw_controls(plain.stdout) == set()


def test_json_of_a_hostile_store_is_exact(cli: Invoke, hostile: StockStore) -> None:
    result = cli("list", "-o", "json", url=hostile.url)
    assert result.exit_code == 0, result.output
    evil = json.loads(result.stdout)["items"][0]
    assert evil["name"] == "name" + HOSTILE
    assert evil["args"] == ["arg" + HOSTILE + "\udc9b"]
    assert evil["kwargs"] == {"key\x1b": "value\x9b\n"}


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_a_lone_surrogate_reaches_a_real_stdout_as_an_escape(
    sqlite_stock: StockStore, encoding: str
) -> None:
    sqlite_stock.add(
        dict(func="tests.jobs:record", trigger="cron", id="同步", name="同步", args=["x\ud800"])
    )
    env = {"PYTHONIOENCODING": encoding}
    result = _child("--url", sqlite_stock.url, "list", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    result.stdout.decode(encoding)  # what the terminal's encoding can hold
    [item] = json.loads(result.stdout)["items"]
    assert (item["name"], item["args"]) == ("同步", ["x\ud800"])
    table = _child("--url", sqlite_stock.url, "get", "同步", env=env)
    assert table.returncode == 0, table.stderr
    text = table.stdout.decode(encoding)
    assert '["x\\ud800"]' in text and _raw_controls(text) == set()
    if encoding == "ascii":  # what the terminal cannot show is escaped too
        assert "\\u540c\\u6b65" in text


def test_stderr_lines_are_escaped(cli: Invoke, hostile: StockStore, tmp_path: Path) -> None:
    # a warning naming a file, an Error: line naming a task, a problem line per task
    odd_path = tmp_path / "t\x1b]0;pwned\x07.yaml"
    warned = cli("--tasks", str(odd_path), "list", url=hostile.url)
    assert warned.exit_code == 0, warned.output
    assert "t\\x1b]0;pwned\\x07.yaml" in warned.stderr
    odd_path.write_text(
        'default_tasks:\n  - {id: "x\\e[31m", function: nope, trigger_type: cron}\n',
        encoding="utf-8",
    )
    failed = cli("--tasks", str(odd_path), "reload", "--dry-run", url=hostile.url)
    assert failed.exit_code == 2, failed.output
    assert "\\x1b]0;pwned" in failed.stderr and "task x\\x1b[31m:" in failed.stderr
    for result in (warned, failed):
        assert _raw_controls(result.stderr) == set()


def test_a_usage_error_naming_hostile_input_is_escaped(cli: Invoke) -> None:
    result = cli("list", "--state", "x\x1b[2J\u202e")
    assert result.exit_code == 2
    assert "x\\x1b[2J\\u202e" in result.stderr and _raw_controls(result.stderr) == set()


def test_the_note_of_a_run_names_the_thread_escaped(cli: Invoke, sqlite_stock: StockStore) -> None:
    job_id = "r\x1b[2Jun"
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id=job_id))
    result = cli("run", job_id, "--allow-any-function", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert "started r\\x1b[2Jun_manual" in result.stderr
    assert _raw_controls(result.stderr + result.stdout) == set()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_log_records_are_escaped(debug: bool) -> None:
    import logging

    from whalefall_sched.cli.logs import _Formatter

    try:
        raise RuntimeError("boom\x1b]0;pwned\x07")
    except RuntimeError:
        record = logging.LogRecord(
            "whalefall_sched.x", logging.ERROR, __file__, 1, "job %s failed", ("f\x1bail",),
            sys.exc_info(),
        )  # fmt: skip
    text = _Formatter(debug).format(record)
    assert "job f\\x1bail failed" in text
    assert ("boom\\x1b]0;pwned\\x07" in text) is debug  # the traceback only with --debug
    assert _raw_controls(text) == set()


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_error_lines_and_tracebacks_are_escaped(
    cli: Invoke, sqlite_url: str, tmp_path: Path, debug: list[str]
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        'default_tasks:\n  - {id: "x\\e[31m", function: nope, trigger_type: cron}\n',
        encoding="utf-8",
    )
    failed = cli(*debug, "--tasks", str(tasks), "reload", "--yes", url=sqlite_url)
    assert failed.exit_code == 2, failed.output
    assert "task x\\x1b[31m:" in failed.stderr
    if debug:
        assert "Traceback" in failed.stderr and "TasksFileError" in failed.stderr
    assert _raw_controls(failed.stderr + failed.stdout) == set()


def test_completion_leaves_out_ids_a_shell_could_not_take_back(sqlite_stock: StockStore) -> None:
    import click
    import typer.main

    from whalefall_sched.cli import app
    from whalefall_sched.cli.options import _complete_job_id

    sqlite_stock.add(
        dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="plain"),
        dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="pl\nain"),
        dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="pl\x1bain"),
    )
    ctx = click.Context(typer.main.get_command(app), info_name="whalefall-sched")
    ctx.params = {"url": sqlite_stock.url}
    assert _complete_job_id(ctx, "pl") == ["plain"]


# -- bounded fields ------------------------------------------------------------------------


def test_a_megabyte_name_of_newlines_is_cut_in_the_table_and_whole_in_json(
    sqlite_stock: StockStore,
) -> None:
    size = 1_000_000
    sqlite_stock.add(
        dict(func="tests.jobs:noop", trigger="cron", hour=1, id="big", name="\n" * size),
        dict(func="tests.jobs:noop", trigger="cron", hour=2, id="small", name="small"),
    )
    table = _child("--url", sqlite_stock.url, "list", env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    text = table.stdout.decode()
    assert f"…[{size - LIST_FIELD_CHARS:,} more characters]" in text
    assert len(text) < 5 * LIST_FIELD_CHARS * 2 + 2000  # the cut name, escaped, and the rest
    assert "small" in text
    document = _child("--url", sqlite_stock.url, "list", "-o", "json")
    assert document.returncode == 0, document.stderr
    assert json.loads(document.stdout)["items"][0]["name"] == "\n" * size


def test_each_table_cuts_long_fields_and_says_how_much(
    cli: Invoke, sqlite_stock: StockStore
) -> None:
    # "q" appears nowhere else in these tables: counting it counts what was shown
    minute = ",".join(str(m) for m in range(60))
    sqlite_stock.add(
        dict(
            func="tests.jobs:record",
            trigger="cron",
            minute=minute,
            id="long",
            name="q" * 5000,
            args=["q" * 5000],
        )
    )
    listed = cli("list", url=sqlite_stock.url)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("q") == LIST_FIELD_CHARS
    flat = "".join(listed.stdout.split())  # folded cells joined again
    assert f"…[{5000 - LIST_FIELD_CHARS:,}morecharacters]" in flat
    assert f"…[{len(minute) - CRON_FIELD_CHARS:,} more characters]" in listed.stdout
    shown = cli("get", "long", url=sqlite_stock.url)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("q") == FIELD_CHARS + FIELD_CHARS - len('["')
    flat = "".join(shown.stdout.split())
    assert f"…[{5000 - FIELD_CHARS:,}morecharacters]" in flat
    assert f"…[{len(json.dumps(['q' * 5000])) - FIELD_CHARS:,}morecharacters]" in flat


def test_an_error_line_is_cut(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    result = cli("get", "x" * 10_000, url=sqlite_stock.url)
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert len(line) < LINE_CHARS + 100 and "more characters]" in line


def test_a_long_list_of_problems_is_cut_on_stderr_and_whole_in_json(
    cli: Invoke, sqlite_url: str, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "default_tasks:\n"
        + "".join(f"  - {{id: t{i}, function: nope, trigger_type: cron}}\n" for i in range(150)),
        encoding="utf-8",
    )
    result = cli("--tasks", str(tasks), "reload", "--dry-run", "-o", "json", url=sqlite_url)
    assert result.exit_code == 2
    assert len(json.loads(result.stdout)["error"]["problems"]) == 150
    lines = result.stderr.splitlines()
    assert len(lines) == 1 + 100 + 1
    assert lines[-1] == "  ... and 50 more (-o json lists every problem)"


def test_rich_markup_and_emoji_codes_in_a_name_are_shown_as_written(
    cli: Invoke, sqlite_stock: StockStore
) -> None:
    name = "[bold red]x[/] :smile: \\[y]"
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="m", name=name))
    result = cli("get", "m", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert name in result.stdout
