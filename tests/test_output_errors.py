"""stdout that cannot be written: a full disk, a closed descriptor, a reader gone away.

Each is a real child process with a real file descriptor: exit 5 with one line on stderr
for a write error or a closed stdout (nothing done), exit 141 and silence when the reader
of a pipe went away (as a shell reports a command killed by SIGPIPE). No traceback.
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

from tests.conftest import REPO, StockStore
from whalefall_sched.cli.group import BROKEN_PIPE, INTERRUPTED
from whalefall_sched.errors import ExitCode

TIMEOUT = 60
FULL = "Error: cannot write to stdout: No space left on device\n"
CLOSED = "Error: cannot write to stdout: it is closed; nothing was done\n"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}


def _child(
    *args: str, stdout: Any, close: tuple[int, ...] = (), **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """``python -m whalefall_sched ARGS`` with ``stdout``; the descriptors in ``close``
    closed in the child before it starts."""

    def closing() -> None:
        for fd in close:
            os.close(fd)

    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", *args],
        stdout=stdout,
        stderr=kwargs.pop("stderr", subprocess.PIPE),
        stdin=kwargs.pop("stdin", subprocess.DEVNULL),
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        preexec_fn=closing if close else None,
        check=False,
        **kwargs,
    )


@pytest.fixture
def store(sqlite_stock: StockStore) -> StockStore:
    sqlite_stock.add(
        *(
            dict(func="tests.jobs:noop", trigger="interval", minutes=5, id=f"job{i:03}")
            for i in range(3)
        )
    )
    return sqlite_stock


@pytest.fixture
def big_store(sqlite_stock: StockStore) -> StockStore:
    """Some 200 kB of JSON: more than a pipe holds."""
    sqlite_stock.add(
        *(
            dict(func="tests.jobs:noop", trigger="interval", minutes=5, id=f"job{i:03}")
            for i in range(300)
        )
    )
    return sqlite_stock


COMMANDS = [["list"], ["list", "-o", "json"], ["get", "job001"], ["status", "-o", "json"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_full_disk_is_exit_5_with_one_line(store: StockStore, command: list[str]) -> None:
    with Path("/dev/full").open("w") as full:
        result = _child("--url", store.url, *command, stdout=full)
    assert result.returncode == ExitCode.SYSTEM
    assert result.stderr == FULL


@pytest.mark.parametrize("command", [*COMMANDS, ["--help"], ["--version"]], ids=" ".join)
def test_a_closed_stdout_is_exit_5_with_one_line(store: StockStore, command: list[str]) -> None:
    result = _child("--url", store.url, *command, stdout=None, close=(1,))
    assert result.returncode == ExitCode.SYSTEM
    assert result.stderr == CLOSED


def test_nothing_is_done_when_the_result_cannot_be_reported(store: StockStore) -> None:
    before = store.fingerprint()
    result = _child("--url", store.url, "pause", "job001", stdout=None, close=(1,))
    assert (result.returncode, result.stderr) == (ExitCode.SYSTEM, CLOSED)
    assert store.fingerprint() == before


def test_a_write_error_with_stderr_closed_too_is_still_exit_5(store: StockStore) -> None:
    with Path("/dev/full").open("w") as full:
        result = _child("--url", store.url, "list", stdout=full, stderr=None, close=(2,))
    assert result.returncode == ExitCode.SYSTEM


def _pipe_without_reader() -> tuple[int, Callable[[], None]]:
    """A pipe whose read end is already closed: the first write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write, lambda: os.close(write)


@pytest.mark.parametrize("command", [*COMMANDS, ["--help"]], ids=" ".join)
def test_a_reader_gone_away_ends_quietly_with_141(store: StockStore, command: list[str]) -> None:
    write, done = _pipe_without_reader()
    try:
        result = _child("--url", store.url, *command, stdout=write)
    finally:
        done()
    assert result.returncode == BROKEN_PIPE == 141
    assert result.stderr == ""


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_list_piped_into_head_ends_quietly_with_141(
    big_store: StockStore, tmp_path: Path, unbuffered: str
) -> None:
    # unbuffered, Python's own stdout would write what the pipe takes and drop the rest
    script = (
        f"PYTHONUNBUFFERED={unbuffered} {sys.executable} -m whalefall_sched "
        f"--url '{big_store.url}' list -o json | head -c 1; "
        'echo " ${PIPESTATUS[0]}" >&2'
    )
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        cwd=tmp_path,
        check=False,
    )
    assert result.stdout == "{"  # the document is an object
    assert result.stderr == f" {BROKEN_PIPE}\n"


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_a_reader_that_reads_everything_gets_one_whole_document(
    big_store: StockStore, unbuffered: str
) -> None:
    env = {**_env(), "PYTHONUNBUFFERED": unbuffered}
    result = subprocess.run(
        [sys.executable, "-m", "whalefall_sched", "--url", big_store.url, "list", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["items"]) == 300


def test_the_readme_and_the_architecture_document_the_two_shell_exit_codes() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"| {INTERRUPTED} |" in readme
    assert f"| {BROKEN_PIPE} |" in readme
    architecture = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"| {BROKEN_PIPE} (`BROKEN_PIPE`)" in architecture
