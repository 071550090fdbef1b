"""Files the tool writes (an export, a backup): whole or not at all, never clobbering by
accident.

Plain file handling only (no SQL, no pickle), so the cli, services and repository layers
can all use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, so a reader never
    sees half a file; the file is readable by its owner only (job arguments can hold
    secrets).

    The temporary file has a fresh name, created exclusively and never through a symlink
    (``mkstemp``: ``O_EXCL | O_NOFOLLOW``, mode 0600). With ``overwrite`` it is renamed
    over ``path`` (a symlink there is replaced, not followed). Without, it is hard-linked
    to ``path``, which fails if ``path`` exists, even if it appeared a moment ago; where
    hard links are not supported the write is refused rather than risk replacing a file.

    Raises :class:`FileExistsError` when ``path`` exists and not ``overwrite``, and
    :class:`OSError` when anything cannot be written; either way nothing is left behind.
    """
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
    directory = path.parent if str(path.parent) else Path()
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(name)
    written = False  # renamed onto path: nothing left to remove
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            tmp.replace(path)
            written = True
            return
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            raise
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot create it without risk of replacing another file ({exc.strerror or exc})",
                str(path),
            ) from exc
    finally:
        if not written:  # a failed write (a full disk, say) leaves no partial file
            with contextlib.suppress(OSError):
                tmp.unlink()


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
