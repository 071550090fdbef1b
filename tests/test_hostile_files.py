"""Files an attacker or an accident can put beside a SQLite store: a lock file that is a
FIFO or a device, symlinks planted where a backup is written, a disk that fills up.
Every case ends in bounded time, writes nothing it should not, and leaves no partial file.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, Invoke, StockStore
from whalefall_sched import files

JOB = {"func": "tests.jobs:noop", "trigger": "interval", "minutes": 5, "id": "a"}
TASKS = "default_tasks:\n  - {id: b, function: 'tests.jobs:noop', trigger_type: interval, trigger_params: {minutes: 5}}\n"  # noqa: E501


def _status_in_child(url: str) -> subprocess.CompletedProcess[str]:
    """``status -o json`` as a real process: a probe that blocks fails the timeout, not CI."""
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", "--url", url, "status", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "directory"])
def test_a_lock_path_that_is_not_a_regular_file_is_not_read(
    sqlite_stock: StockStore, tmp_path: Path, kind: str
) -> None:
    sqlite_stock.add(JOB)
    lock = tmp_path / "userdata" / "scheduler.lock"
    if kind == "fifo":
        os.mkfifo(lock)  # opening it for reading would block until a writer came
    elif kind == "dev-zero":
        lock.symlink_to("/dev/zero")  # reading it would never end
    else:
        lock.mkdir()

    result = _status_in_child(sqlite_stock.url)

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["healthy"] is True
    assert doc["lock"]["exists"] is True and doc["lock"]["held"] is None
    assert doc["lock"]["pid"] is None
    assert "not a regular file" in doc["lock"]["problem"] or kind == "directory"
    assert any("judged only by overdue jobs" in note for note in doc["notes"])


def test_the_table_names_why_the_lock_could_not_be_read(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(JOB)
    os.mkfifo(tmp_path / "userdata" / "scheduler.lock")
    result = cli("status", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert "cannot tell (not a regular file: not read)" in result.stdout


# -- backups --------------------------------------------------------------------------


@pytest.fixture
def predictable_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Make the backup's temporary names predictable, as an attacker would guess them."""
    names = ["guessed", "fresh", "spare"]
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(list(names)))
    yield names


def test_a_symlink_planted_at_the_temporary_name_is_never_followed(
    cli: Invoke,
    sqlite_stock: StockStore,
    tmp_path: Path,
    predictable_names: list[str],
) -> None:
    sqlite_stock.add(JOB)
    backup_dir = tmp_path / "bk"
    backup_dir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASKS)
    # plant a link at every name the backup of any stamp could take with the first guess
    real_mkstemp = tempfile.mkstemp
    planted: list[Path] = []

    def mkstemp_with_plant(*, prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        link = backup_dir / f"{prefix}{predictable_names[0]}{suffix}"
        if not link.exists():
            link.symlink_to(victim)
            planted.append(link)
        return real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "mkstemp", mkstemp_with_plant)
        result = cli(
            "--tasks", str(tasks), "reload", "--yes", "--backup-dir", str(backup_dir),
            url=sqlite_stock.url,
        )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert planted, "the link was planted"
    assert victim.read_text() == "precious"
    [backup] = list(backup_dir.glob("*.json"))
    assert json.loads(backup.read_text())["rows"][0]["id"] == "a"
    assert sorted(backup_dir.glob("*.tmp")) == planted  # only the planted link, untouched
    assert oct(backup.stat().st_mode & 0o777) == oct(0o600)


def test_a_disk_that_fills_up_during_the_backup_changes_nothing_and_leaves_no_file(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_stock.add(JOB)
    before = sqlite_stock.raw()
    backup_dir = tmp_path / "bk"
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASKS)

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files, "_write_all", half_then_full)
    result = cli(
        "--tasks", str(tasks), "reload", "--yes", "--backup-dir", str(backup_dir),
        url=sqlite_stock.url,
    )  # fmt: skip

    assert result.exit_code == 5, result.output
    assert "No space left on device" in result.stderr and "nothing changed" in result.stderr
    assert sqlite_stock.raw() == before
    assert list(backup_dir.iterdir()) == []
