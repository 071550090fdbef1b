"""``list``: one row per job in a real terminal of 60, 80 and 200 columns and through pipes;
``-o wide|name|tsv``, ``--no-headers``, ``--tz``, ``--color`` and ``NO_COLOR``.

The terminal cases run the installed console script with a pseudo-terminal as stdout,
sized with TIOCSWINSZ; the stores are written by ``reload`` and by stock APScheduler.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from tests.conftest import Invoke, StockStore
from tests.overdue import add_overdue_job
from tests.terminal import Run, run_on_terminal
from whalefall_sched.cli.list_layout import DROP_ORDER
from whalefall_sched.cli.list_tsv import TSV_COLUMNS, tsv_value
from whalefall_sched.cli.times import local_zone, parse_zone, time_left

SCRIPT = Path(sys.executable).parent / "whalefall-sched"
BUNDLED = {
    "calculate_database_size_aggregations": "统计聚合",
    "cleanup_logs": "清理旧日志",
    "collect_database_sizes": "容量同步",
    "monitor_partition_health": "监控分区健康状态",
    "sync_accounts": "账户同步",
}
#: Jobs added by stock APScheduler beside the bundled ones.
EXTRA = ("every_ninety_minutes", "late", "on_weeks", "once", "paused_job", "zz_broken")
ALL_IDS = sorted([*BUNDLED, *EXTRA])
STATES = {"running", "paused", "unreadable"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: A coloured span: its code and its text.
COLOURED = re.compile(r"\x1b\[([0-9;]+)m(.*?)\x1b\[0m")
#: A NEXT cell, between the gaps of its column.
NEXT_CELL = re.compile(r"  (?:\d{4}-)?\d\d-\d\d \d\d:\d\d  ")
HOSTILE_NAME = "tab\there\nnew\\line\x1b[2J"


# -- helpers -------------------------------------------------------------------------


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env.pop("FORCE_COLOR", None)
    return {**env, **(extra or {})}


def on_terminal(url: str, *args: str, columns: int, env: dict[str, str] | None = None) -> Run:
    """The console script with a pseudo-terminal of ``columns`` as stdin and stdout."""
    return run_on_terminal([str(SCRIPT), "--url", url, *args], columns=columns, env=_env(env))


def piped(url: str, *args: str, stdin_terminal: bool, env: dict[str, str] | None = None) -> Run:
    """The console script with stdout a pipe; stdin a 60-column terminal, or no terminal
    at all (a session of its own, stdin /dev/null)."""
    master = slave = None
    if stdin_terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    try:
        done = subprocess.run(
            [str(SCRIPT), "--url", url, *args],
            stdin=slave if slave is not None else subprocess.DEVNULL,
            capture_output=True,
            env=_env(env),
            start_new_session=not stdin_terminal,
            timeout=60,
            check=False,
        )
    finally:
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def cells(text: str) -> int:
    """Terminal cells of ``text`` (escapes removed)."""
    text = ANSI.sub("", text)
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def column_at(line: str, word: str) -> int:
    """The cell where ``word`` starts in ``line``."""
    return cells(line[: line.index(word)])


def rows_by_id(run: Run) -> dict[str, str]:
    """Each job's line, by the id that starts it (the header left out)."""
    rows = {}
    for line in run.lines[1:]:
        job_id = line.split(" ", 1)[0]
        assert job_id not in rows, f"{job_id} on two lines"
        rows[job_id] = line
    return rows


def assert_one_row_per_job(run: Run, ids: list[str] = ALL_IDS) -> None:
    assert run.returncode == 0, run.stderr
    assert ANSI.sub("", run.lines[0]).startswith("ID  ")
    assert sorted(rows_by_id(run)) == sorted(ids)
    assert len(run.lines) == len(ids) + 1
    for line in run.lines[1:]:
        assert STATES & set(ANSI.sub("", line).split()), f"no whole STATE in {line!r}"
        assert line == line.rstrip(), "trailing spaces"


# -- the store -----------------------------------------------------------------------


@pytest.fixture
def store(cli: Invoke, sqlite_stock: StockStore) -> str:
    """The five bundled jobs (``reload``), and from stock APScheduler: an interval job, a
    date job, a job restricted to ISO weeks in UTC, a paused job, an overdue job and an
    unreadable row."""
    result = cli("init", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    sqlite_stock.add(
        dict(
            id="every_ninety_minutes",
            name="账户同步每九十分钟",
            func="tests.jobs:noop",
            trigger="interval",
            minutes=90,
        ),
        dict(
            id="once",
            func="tests.jobs:noop",
            trigger="date",
            run_date=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        dict(
            id="on_weeks",
            name=HOSTILE_NAME,
            func="tests.jobs:noop",
            trigger="cron",
            hour=2,
            week="1-10",
            timezone="UTC",
        ),
        dict(id="paused_job", func="tests.jobs:noop", trigger="cron", hour=3, next_run_time=None),
    )
    add_overdue_job(
        sqlite_stock.url,
        "late",
        datetime.now(UTC) - timedelta(hours=2),
        CronTrigger(hour=4, timezone="Asia/Shanghai"),
    )
    sqlite_stock.insert_raw("zz_broken", b"not a pickle", 1_000_000.0)
    return sqlite_stock.url


@pytest.fixture
def loaded_only(cli: Invoke, sqlite_url: str) -> str:
    """The five bundled jobs, registered by ``reload``."""
    result = cli("init", url=sqlite_url)
    assert result.exit_code == 0, result.output
    return sqlite_url


# -- a real terminal -----------------------------------------------------------------


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_a_terminal_gets_one_row_per_job_fitted_to_its_width(store: str, columns: int) -> None:
    run = on_terminal(store, "list", "--tz", "UTC", columns=columns)
    assert_one_row_per_job(run)
    for line in run.lines:
        assert cells(line) <= columns, line
    header = ANSI.sub("", run.lines[0]).split()
    assert header[0] == "ID" and "STATE" in header and "LEFT" in header
    # columns go in DROP_ORDER, ID and STATE never
    dropped = [c for c in DROP_ORDER if c not in header]
    assert dropped == list(DROP_ORDER[: len(dropped)])
    if columns == 200:
        assert header == [
            "ID", "NAME", "TYPE", "SEC", "MIN", "HOUR", "DAY", "MONTH", "DOW", "YEAR",
            "WEEK", "NEXT", "(UTC)", "LEFT", "STATE", "BUILTIN",
        ]  # fmt: skip
        rows = rows_by_id(run)
        for job_id, name in BUNDLED.items():
            assert name in rows[job_id]  # no name cut at 200 columns
        assert "interval[1:30:00]" in rows["every_ninety_minutes"]
        assert "date[2031-01-02 03:04:05 UTC]" in rows["once"]
    else:
        assert "BUILTIN" not in header and "NAME" not in header  # the first, the 11th
    if columns == 80:
        assert "NEXT" in header
    if columns == 60:
        assert header == ["ID", "LEFT", "STATE"]


def test_the_name_is_cut_first_and_the_columns_stay_aligned(store: str) -> None:
    full = on_terminal(store, "list", "--tz", "UTC", "--color", "never", columns=400)
    widest = max(cells(line) for line in full.lines)
    for columns in (widest - 4, widest - 14):
        run = on_terminal(store, "list", "--tz", "UTC", "--color", "never", columns=columns)
        assert_one_row_per_job(run)
        assert run.lines[0].split() == full.lines[0].split()  # no column dropped
        assert max(cells(line) for line in run.lines) <= columns
        rows = rows_by_id(run)
        assert "…" in rows["on_weeks"]  # the longest name
        type_at, next_at, state_at = (column_at(run.lines[0], w) for w in ("TYPE", "NEXT", "STATE"))
        for job_id, line in rows.items():
            if job_id in BUNDLED:
                assert column_at(line, "  cron  ") + 2 == type_at, line
            when = NEXT_CELL.search(line)
            if when:
                assert cells(line[: when.start()]) + 2 == next_at, line
            state = next(word for word in line.split() if word in STATES)
            assert column_at(line, f"  {state}") + 2 == state_at, line


def test_cjk_names_do_not_break_the_alignment(store: str) -> None:
    run = on_terminal(store, "list", "--tz", "UTC", "--color", "never", columns=200)
    header = run.lines[0]
    rows = rows_by_id(run)
    for job_id, name in BUNDLED.items():
        line = rows[job_id]
        assert column_at(line, name) == column_at(header, "NAME")
        assert column_at(line, "  cron  ") + 2 == column_at(header, "TYPE"), line
        assert column_at(line, "  running  ") + 2 == column_at(header, "STATE"), line
    narrow = on_terminal(store, "list", "--tz", "UTC", "--color", "never", columns=112)
    assert "NAME" in narrow.lines[0]
    state_at = column_at(narrow.lines[0], "STATE")
    for line in narrow.lines[1:]:
        state = next(word for word in line.split() if word in STATES)
        assert column_at(line, f"  {state}") + 2 == state_at, line


def test_columns_wins_over_the_terminal_size(store: str) -> None:
    run = on_terminal(store, "list", "--tz", "UTC", columns=200, env={"COLUMNS": "80"})
    assert_one_row_per_job(run)
    assert max(cells(line) for line in run.lines) <= 80
    assert "BUILTIN" not in run.lines[0]


def test_wide_on_a_narrow_terminal_shows_every_column_one_line_per_job(store: str) -> None:
    run = on_terminal(store, "list", "-o", "wide", "--tz", "UTC", columns=60)
    assert_one_row_per_job(run)
    header = ANSI.sub("", run.lines[0]).split()
    for column in ("NAME", "WEEK", "BUILTIN", "ZONE", "EXECUTOR", "FUNC", "DESCRIPTION"):
        assert column in header
    assert header[-1] == "REASON"  # an unreadable row is listed
    rows = rows_by_id(run)
    assert "每日同步所有数据库实例的账户信息" in rows["sync_accounts"]
    assert "whalefall_sched.examples.tasks:sync_accounts" in rows["sync_accounts"]
    assert "Asia/Shanghai" in rows["sync_accounts"] and " UTC " in rows["on_weeks"]
    assert "corrupt job_state" in rows["zz_broken"]


# -- pipes ---------------------------------------------------------------------------


@pytest.mark.parametrize("stdin_terminal", [True, False], ids=["stdin-terminal", "no-terminal"])
def test_a_pipe_gets_every_column_uncut_whatever_stdin_and_columns_are(
    store: str, stdin_terminal: bool
) -> None:
    run = piped(store, "list", "--tz", "UTC", stdin_terminal=stdin_terminal, env={"COLUMNS": "60"})
    assert_one_row_per_job(run)
    assert not ANSI.search(run.stdout)
    header = run.lines[0].split()
    assert header[:3] == ["ID", "NAME", "TYPE"] and header[-3:] == ["LEFT", "STATE", "BUILTIN"]
    assert max(cells(line) for line in run.lines) > 60
    rows = rows_by_id(run)
    for job_id, name in BUNDLED.items():
        assert name in rows[job_id]
    # what `list | grep aggregations` finds: one whole line
    found = [line for line in run.lines if "aggregations" in line]
    assert len(found) == 1 and found[0].startswith("calculate_database_size_aggregations ")
    assert "note: 1 job(s) unreadable" in run.stderr


def test_names_ids_only_for_xargs(store: str) -> None:
    for run in (
        piped(store, "list", "-o", "name", stdin_terminal=False),
        on_terminal(store, "list", "-o", "name", columns=60),
    ):
        assert run.returncode == 0, run.stderr
        assert run.lines == ALL_IDS
        assert not ANSI.search(run.stdout)
    paused = piped(store, "list", "-o", "name", "--state", "paused", stdin_terminal=False)
    assert paused.lines == ["paused_job"]


def test_tsv_has_stable_escaped_columns(store: str) -> None:
    run = piped(store, "list", "-o", "tsv", "--tz", "UTC", stdin_terminal=False)
    assert run.returncode == 0, run.stderr
    header, *lines = run.lines
    assert header.split("\t") == list(TSV_COLUMNS)
    records = [dict(zip(TSV_COLUMNS, line.split("\t"), strict=True)) for line in lines]
    assert [r["id"] for r in records] == ALL_IDS
    by_id = {r["id"]: r for r in records}
    weeks = by_id["on_weeks"]
    assert weeks["name"] == "tab\\there\\nnew\\\\line\\x1b[2J"  # one field, one line
    assert (weeks["hour"], weeks["week"], weeks["timezone"]) == ("2", "1-10", "UTC")
    assert weeks["next_run_time"].endswith("T02:00:00+00:00")
    assert int(weeks["left_seconds"]) > 0
    sync = by_id["sync_accounts"]
    assert (sync["state"], sync["is_builtin"], sync["trigger"]) == ("running", "yes", "")
    assert sync["next_run_time"].endswith("T17:00:00+00:00")  # 01:00 in Asia/Shanghai
    assert by_id["every_ninety_minutes"]["trigger"] == "interval[1:30:00]"
    assert by_id["paused_job"]["next_run_time"] == by_id["paused_job"]["left_seconds"] == ""
    assert int(by_id["late"]["left_seconds"]) < 0
    assert by_id["zz_broken"]["state"] == "unreadable"
    assert by_id["zz_broken"]["unreadable_reason"].startswith("corrupt job_state")
    bare = piped(store, "list", "-o", "tsv", "--no-headers", stdin_terminal=False)
    assert [line.split("\t")[0] for line in bare.lines] == ALL_IDS


def test_tsv_value_escapes_what_would_break_a_row() -> None:
    assert tsv_value(None) == ""
    assert tsv_value(3) == "3"
    assert tsv_value("a\tb\nc\rd\\e\u202e") == "a\\tb\\nc\\rd\\\\e\\u202e"
    assert tsv_value("账户同步") == "账户同步"


@pytest.mark.parametrize("output", ["table", "wide", "tsv"])
def test_no_headers(store: str, output: str) -> None:
    run = piped(store, "list", "-o", output, "--no-headers", stdin_terminal=False)
    assert run.returncode == 0, run.stderr
    assert [line.split()[0] for line in run.lines] == ALL_IDS


# -- time zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "label", "sync", "weeks"),
    [
        ("UTC", "NEXT (UTC)", "17:00", "02:00"),
        ("Asia/Shanghai", "NEXT (Asia/Shanghai)", "01:00", "10:00"),
        ("job", "NEXT (job zone)", "01:00", "02:00"),
    ],
)
def test_tz_says_its_zone_in_the_header(
    store: str, zone: str, label: str, sync: str, weeks: str
) -> None:
    run = piped(store, "list", "--tz", zone, stdin_terminal=False)
    assert_one_row_per_job(run)
    assert label in run.lines[0]
    rows = rows_by_id(run)
    next_at = column_at(run.lines[0], "NEXT")
    for job_id, clock in (("sync_accounts", sync), ("on_weeks", weeks)):
        shown = rows[job_id][next_at:].split("  ")[0]
        assert shown.endswith(f" {clock}"), (job_id, shown)
    assert rows["paused_job"][next_at:].split()[:2] == ["-", "-"]  # NEXT and LEFT
    assert rows["late"][next_at:].split()[2] == "overdue"
    wide = piped(store, "list", "-o", "wide", "--tz", zone, stdin_terminal=False)
    assert "ZONE" in wide.lines[0]
    assert "Asia/Shanghai" in rows_by_id(wide)["sync_accounts"]


def test_next_is_the_json_time_in_the_zone_shown(store: str, cli: Invoke) -> None:
    items = json.loads(cli("list", "-o", "json", url=store).stdout)["items"]
    when = datetime.fromisoformat(next(i for i in items if i["id"] == "once")["next_run_time"])
    run = piped(store, "list", "--tz", "America/New_York", stdin_terminal=False)
    shown = when.astimezone(ZoneInfo("America/New_York"))
    assert f"{shown:%Y-%m-%d %H:%M}" in rows_by_id(run)["once"]
    assert "NEXT (America/New_York)" in run.lines[0]


def test_the_default_zone_is_the_local_one_named(store: str) -> None:
    run = piped(store, "list", stdin_terminal=False, env={"TZ": "Asia/Shanghai"})
    assert "NEXT (Asia/Shanghai)" in run.lines[0]
    assert " 01:00 " in rows_by_id(run)["sync_accounts"]


def test_local_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    assert local_zone().label == "Europe/Paris" == parse_zone("local").label
    monkeypatch.setenv("TZ", "")
    assert local_zone().label == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "x\x1b[2J", "America"])
def test_an_unknown_zone_is_one_usage_line(store: str, zone: str) -> None:
    run = piped(store, "list", "--tz", zone, stdin_terminal=False)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1
    assert run.stderr.startswith("Error: Invalid value for '--tz': unknown time zone")
    assert "\x1b" not in run.stderr


def test_time_left_reads_like_list_timers() -> None:
    assert time_left(3600 + 41 * 60 + 5) == "1h 41min"
    assert time_left(21 * 3600) == "21h"
    assert time_left(2 * 86400 + 3 * 3600 + 59) == "2d 3h"
    assert time_left(5 * 86400) == "5d"
    assert time_left(4 * 60 + 59) == "4min 59s"
    assert time_left(120) == "2min"
    assert time_left(0) == "0s"
    assert time_left(-1) == "overdue"


# -- colour --------------------------------------------------------------------------


def _colours(stdout: str) -> set[tuple[str, str]]:
    return {(code, text.strip()) for code, text in COLOURED.findall(stdout)}


def test_colour_on_a_terminal_is_the_state_and_the_header_only(store: str) -> None:
    run = on_terminal(store, "list", "--tz", "UTC", columns=200)
    assert_one_row_per_job(run)
    colours = _colours(run.stdout)
    header = {text for code, text in colours if code == "1"}
    assert len(header) == 1 and header.pop().startswith("ID ")
    assert {(c, t) for c, t in colours if c != "1"} == {
        ("32", "running"),
        ("33", "paused"),
        ("31", "unreadable"),
    }
    # nothing else is coloured: without the coloured spans no escape is left
    assert not ANSI.search(COLOURED.sub("", run.stdout))


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ([], {"NO_COLOR": "1"}, False),
        (["--color", "never"], {}, False),
        (["--color", "always"], {"NO_COLOR": "1"}, True),  # the option wins over NO_COLOR
        (["--color", "auto"], {}, True),
    ],
    ids=["NO_COLOR", "never", "always-beats-NO_COLOR", "auto"],
)
def test_colour_options_on_a_terminal(
    store: str, args: list[str], env: dict[str, str], coloured: bool
) -> None:
    run = on_terminal(store, "list", *args, columns=120, env=env)
    assert_one_row_per_job(run)
    assert bool(ANSI.search(run.stdout)) is coloured


@pytest.mark.parametrize(("args", "coloured"), [([], False), (["--color", "always"], True)])
def test_colour_in_a_pipe_only_when_asked(store: str, args: list[str], coloured: bool) -> None:
    run = piped(store, "list", *args, stdin_terminal=True)
    assert_one_row_per_job(run)
    assert bool(ANSI.search(run.stdout)) is coloured


# -- the rest of the contract --------------------------------------------------------


def test_unreadable_rows_get_a_row_and_a_note(store: str, cli: Invoke) -> None:
    result = cli("list", url=store)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("zz_broken "))
    assert "unreadable" in row.split()
    assert result.stderr.splitlines() == [
        "note: 1 job(s) unreadable: `list -o wide` or `get ID` shows why "
        "(each row is left as it is)"
    ]
    assert cli("list", "-o", "wide", url=store).stderr == ""


def test_no_jobs_is_a_note_and_no_table(cli: Invoke, loaded_only: str) -> None:
    # the bundled jobs are all running: no paused job
    result = cli("list", "--state", "paused", url=loaded_only)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No jobs.\n")
    wide = cli("list", "--state", "paused", "-o", "wide", url=loaded_only)
    assert (wide.exit_code, wide.stdout, wide.stderr) == (0, "", "No jobs.\n")
    names = cli("list", "--state", "paused", "-o", "name", url=loaded_only)
    assert (names.exit_code, names.stdout, names.stderr) == (0, "", "")
    tsv = cli("list", "--state", "paused", "-o", "tsv", url=loaded_only)
    assert tsv.stdout.splitlines() == ["\t".join(TSV_COLUMNS)]


def test_json_is_unchanged_by_the_table_options(cli: Invoke, store: str) -> None:
    items = json.loads(cli("list", "-o", "json", url=store).stdout)["items"]
    assert [i["id"] for i in items] == ALL_IDS
    assert all("timezone" not in item for item in items)
    zoned = cli("list", "-o", "json", "--tz", "UTC", "--no-headers", url=store)
    assert json.loads(zoned.stdout)["items"] == items


@pytest.mark.parametrize("output", ["wide", "name", "tsv"])
def test_other_commands_keep_table_and_json_only(cli: Invoke, store: str, output: str) -> None:
    for args in (["get", "sync_accounts"], ["status"], ["pause", "sync_accounts"]):
        result = cli(*args, "-o", output, url=store)
        assert result.exit_code == 2, (args, result.output)
        assert f"'{output}' is not one of 'table', 'json'" in result.stderr
