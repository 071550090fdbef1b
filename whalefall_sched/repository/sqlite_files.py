"""The files around a SQLite store: WAL and journal files a read must not create or
recover in place, and the host app's ``scheduler.lock``, read without taking it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlalchemy import Connection

_T = TypeVar("_T")


def in_wal_mode(path: Path) -> bool:
    """Whether a SQLite file's header says it is in WAL mode."""
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
    except OSError:
        return False
    return header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def idle_wal_database(path: Path) -> bool:
    """A WAL-mode file that no connection has open and whose -wal holds nothing."""
    if Path(f"{path}-shm").exists() or not in_wal_mode(path):
        return False
    wal = Path(f"{path}-wal")
    return not wal.exists() or wal.stat().st_size == 0


def unfinished_wal(path: Path) -> bool:
    """A WAL-mode file nobody has open whose -wal still holds pages (after a crash)."""
    wal = Path(f"{path}-wal")
    return (
        not Path(f"{path}-shm").exists()
        and wal.exists()
        and wal.stat().st_size > 0
        and in_wal_mode(path)
    )


def hot_journal(path: Path) -> bool:
    """Whether a rollback journal lies beside the file (a writer may have been killed)."""
    return Path(f"{path}-journal").exists()


@contextmanager
def private_copy(path: Path) -> Iterator[Path]:
    """A copy of the file and its journal or -wal in a temporary directory, removed
    afterwards: opened read-write there, it is recovered there, never the store itself."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="whalefall-sched-") as scratch:
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        for suffix in ("-journal", "-wal"):
            if Path(f"{path}{suffix}").exists():
                shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
        yield copy


def read_recovered_copy(
    path: Path,
    query: Callable[[Connection], _T],
    errors: Callable[[], AbstractContextManager[None]],
) -> _T:
    """Run ``query`` on a private copy of the file and its journal, recovered there.

    A SQLite writer killed mid-transaction leaves a hot journal (or, in WAL mode, a -wal
    file nobody has open) that only a read-write open recovers. The store itself is
    never written: the copy is, in a temporary directory removed afterwards.
    """
    from sqlalchemy import create_engine

    with private_copy(path) as copy:
        engine = create_engine(f"sqlite:///{copy}")
        try:
            with errors(), engine.connect() as conn:
                return query(conn)
        finally:
            engine.dispose()


#: A lock file holds a pid: more than this is not read.
LOCK_READ_LIMIT = 64


@dataclass(frozen=True)
class SchedulerLock:
    """The host app's scheduler lock file beside a SQLite store."""

    path: Path
    exists: bool
    #: True/False from the kernel's lock table; None where it cannot be told.
    held: bool | None
    #: The holder's pid (or, when not held, the pid recorded in the file).
    pid: int | None
    #: Why ``held`` is None, when the lock file itself is the reason.
    problem: str | None = None


def probe_scheduler_lock(lock: Path) -> SchedulerLock:
    """Who holds ``lock``, read passively from ``/proc/locks``.

    Taking the lock, even for an instant, could make a starting host app believe another
    scheduler runs.
    """
    read = _read_lock_file(lock)
    if isinstance(read, SchedulerLock):
        return read
    st, pid_text = read
    recorded = int(pid_text) if pid_text.isdigit() else None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = Path("/proc/locks").read_text(encoding="utf-8").splitlines()
    except OSError:
        return SchedulerLock(lock, exists=True, held=None, pid=recorded)
    holders = [int(f[4]) for f in (line.split() for line in lines) if len(f) > 5 and f[5] == key]
    if holders:
        return SchedulerLock(lock, exists=True, held=True, pid=holders[0])
    return SchedulerLock(lock, exists=True, held=False, pid=recorded)


def _read_lock_file(lock: Path) -> tuple[os.stat_result, str] | SchedulerLock:
    """The lock file's identity and text, or the finished answer when it cannot be read.

    Only a regular file is read, without blocking and at most ``LOCK_READ_LIMIT`` bytes:
    a FIFO or a device planted at the lock's path can neither hang nor flood the probe.
    """

    def unknown(problem: str) -> SchedulerLock:
        return SchedulerLock(lock, exists=True, held=None, pid=None, problem=problem)

    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return SchedulerLock(lock, exists=False, held=False, pid=None)
    except OSError as exc:
        return unknown(f"cannot open it: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return unknown("not a regular file: not read")
        text = os.read(fd, LOCK_READ_LIMIT).decode("utf-8", errors="replace").strip()
    except OSError as exc:
        return unknown(f"cannot read it: {exc.strerror or exc}")
    finally:
        os.close(fd)
    return st, text
