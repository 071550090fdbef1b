"""Odd input ends in a documented exit code with one line, never "unexpected" (exit 5).

Numbers that are not numbers (``inf``, ``nan``, ``1e300``), names no database takes,
ids that are not valid UTF-8 or are empty, a closed stdin, files that are not what they
claim: each is a usage error (2), not found (3) or a conflict (4), and changes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Invoke, StockStore
from whalefall_sched.cli.options import MAX_NAME_BYTES, MAX_SECONDS
from whalefall_sched.errors import ExitCode
from whalefall_sched.services.actions_service import MAX_BACKUP_BYTES

#: No server answers here; a usage error is found before connecting.
SERVER_URL = "postgresql+psycopg://ops@127.0.0.1:1/whalefall"
JOB = dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a")


def _one_line(result: Any, code: int) -> str:
    """The one ``Error:`` line of a command that exited with ``code``."""
    assert result.exit_code == code, result.output
    stderr: str = result.stderr
    assert stderr.count("\n") == 1 and stderr.startswith("Error: "), stderr
    assert "unexpected" not in stderr and "Traceback" not in stderr
    return stderr


def _child(
    *args: str | bytes, preexec_fn: Callable[[], Any] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m whalefall_sched ARGS`` in a child process (argv may hold raw bytes)."""
    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL if preexec_fn is None else None,
        preexec_fn=preexec_fn,
        check=False,
    )


# -- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--timeout", "inf", "inf is not in the range 0.1<=x<=86400"),
        ("--timeout", "nan", "nan is not a number of seconds"),
        ("--timeout", "1e300", "is not in the range 0.1<=x<=86400"),
        ("--timeout", "0", "is not in the range 0.1<=x<=86400"),
        ("--wait", "-1", "is not in the range 0<=x<=86400"),
        ("--wait", "inf", "is not in the range 0<=x<=86400"),
        ("--wait", "nan", "nan is not a number of seconds"),
        ("--wait", "", "'' is not a valid float"),
    ],
)
def test_seconds_that_are_not_a_sensible_number_are_a_usage_error(
    cli: Invoke, option: str, value: str, said: str
) -> None:
    assert str(MAX_SECONDS) == "86400"
    stderr = _one_line(cli(option, value, "list", url=SERVER_URL), ExitCode.USAGE)
    assert f"Invalid value for '{option}'" in stderr and said in stderr


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("inf", "is not in the range 0.1<=x<=86400"),
        ("nan", "nan is not a number of seconds"),
        ("1e300", "is not in the range 0.1<=x<=86400"),
    ],
)
def test_a_run_timeout_that_is_not_a_sensible_number_is_a_usage_error(
    cli: Invoke, value: str, said: str
) -> None:
    stderr = _one_line(cli("run", "x", "--timeout", value, url=SERVER_URL), ExitCode.USAGE)
    assert "Invalid value for '--timeout'" in stderr and said in stderr


def test_a_variable_holding_nan_is_a_usage_error(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHALEFALL_SCHED_TIMEOUT", "nan")
    stderr = _one_line(cli("list", url=SERVER_URL), ExitCode.USAGE)
    assert "WHALEFALL_SCHED_TIMEOUT" in stderr


# -- table and schema names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--table", "", "the name is empty"),
        ("--table", "x" * (MAX_NAME_BYTES + 1), f"longer than {MAX_NAME_BYTES} bytes"),
        ("--table", "é" * (MAX_NAME_BYTES // 2 + 1), f"longer than {MAX_NAME_BYTES} bytes"),
        ("--table", "jobs\n", "'jobs\\\\n' holds a control or invisible character"),
        ("--schema", "s\x1b[2J", "holds a control or invisible character"),
    ],
    ids=["empty", "long", "long-in-bytes", "newline", "escape"],
)
def test_a_name_no_database_takes_is_a_usage_error(
    cli: Invoke, option: str, value: str, said: str
) -> None:
    stderr = _one_line(cli(option, value, "list", url=SERVER_URL), ExitCode.USAGE)
    assert said in stderr, stderr


@pytest.mark.parametrize("name", ['a"b', "a'b", "x; drop table apscheduler_jobs", "a.b"])
def test_quotes_in_a_table_or_schema_name_are_only_a_name(
    cli: Invoke, stock: StockStore, name: str
) -> None:
    stock.add(JOB)
    before = stock.fingerprint()
    for option in ("--table", "--schema"):
        stderr = _one_line(cli(option, name, "list", url=stock.url), ExitCode.CONFLICT)
        assert "job store not initialised" in stderr
    assert stock.fingerprint() == before


def test_an_empty_schema_is_no_schema(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(JOB)
    result = cli("--schema", "", "list", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert [item["id"] for item in json.loads(result.stdout)["items"]] == ["a"]


# -- ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["get", "pause", "resume", "run"])
def test_an_id_that_is_not_utf8_is_not_found(cli: Invoke, stock: StockStore, command: str) -> None:
    stock.add(JOB)
    before = stock.fingerprint()
    bad = "a\udcff"  # what Python makes of the argv bytes b"a\xff"
    stderr = _one_line(cli(command, bad, url=stock.url), ExitCode.NOT_FOUND)
    assert "job 'a\\udcff' not found in" in stderr
    assert "the id given is not valid UTF-8 (bytes 61 ff)" in stderr
    assert "given as `list` shows it (a\\udcff)" in stderr
    assert stock.fingerprint() == before


def test_argv_bytes_that_are_not_utf8_name_no_job(sqlite_stock: StockStore) -> None:
    sqlite_stock.add(JOB)
    result = _child("--url", sqlite_stock.url, "get", b"a\x9b\xff")
    assert result.returncode == ExitCode.NOT_FOUND, result.stderr
    assert result.stderr.count("\n") == 1
    assert "(bytes 61 9b ff)" in result.stderr and "\\udc9b" in result.stderr


def test_one_id_that_is_not_utf8_does_not_stop_the_others(
    cli: Invoke, sqlite_stock: StockStore
) -> None:
    sqlite_stock.add(JOB)
    result = cli("pause", "a", "b\udcff", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == ExitCode.NOT_FOUND, result.output
    document = json.loads(result.stdout)
    assert [r["id"] for r in document["results"]] == ["a"]
    assert [e["id"] for e in document["errors"]] == ["b\udcff"]
    assert sqlite_stock.load()["a"].next_run_time is None


@pytest.mark.parametrize("command", ["get", "pause", "resume", "run"])
def test_an_empty_id_is_not_found(cli: Invoke, sqlite_stock: StockStore, command: str) -> None:
    sqlite_stock.add(JOB)
    stderr = _one_line(cli(command, "", url=sqlite_stock.url), ExitCode.NOT_FOUND)
    assert "job '' not found" in stderr


# -- stdin and files ----------------------------------------------------------------------


def test_reload_with_stdin_closed_refuses_as_with_no_terminal(sqlite_stock: StockStore) -> None:
    sqlite_stock.add(JOB)
    before = sqlite_stock.fingerprint()
    result = _child("--url", sqlite_stock.url, "reload", preexec_fn=lambda: os.close(0))
    assert result.returncode == ExitCode.CONFLICT, result.stderr
    assert result.stderr.startswith("Error: reload replaces every job and needs confirmation")
    assert result.stderr.count("\n") == 1
    assert sqlite_stock.fingerprint() == before


def test_a_tasks_file_that_is_not_utf8_is_a_usage_error(
    cli: Invoke, sqlite_url: str, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_bytes(b"default_tasks: []\n# \xff\n")
    stderr = _one_line(cli("--tasks", str(tasks), "reload", "--yes", url=sqlite_url), 2)
    assert f"tasks file {tasks} is invalid: cannot read it" in stderr


def test_a_backup_that_is_not_a_regular_file_is_refused_before_it_is_read(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(JOB)
    before = sqlite_stock.fingerprint()
    fifo = tmp_path / "backup.fifo"
    os.mkfifo(fifo)  # reading it would wait for a writer for ever
    for path in ("/dev/zero", str(fifo)):
        stderr = _one_line(cli("restore", path, "--dry-run", url=sqlite_stock.url), 2)
        assert stderr == f"Error: backup {path} is not a regular file\n"
    huge = tmp_path / "huge.json"
    with huge.open("wb") as sparse:
        sparse.truncate(MAX_BACKUP_BYTES + 1)  # no disk used
    stderr = _one_line(cli("restore", str(huge), "--yes", url=sqlite_stock.url), 2)
    assert f"over the size limit: larger than {MAX_BACKUP_BYTES:,} bytes" in stderr
    assert sqlite_stock.fingerprint() == before


def test_an_unknown_mysql_charset_in_the_url_is_a_usage_error(cli: Invoke) -> None:
    result = cli("list", url="mysql+pymysql://root@127.0.0.1:1/test?charset=nope")
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: unknown MySQL character set 'nope'")
