"""Backups of the rows a replacement removes or rewrites, restorable byte for byte.

A backup is one JSON document: the format marker, when, the store (password masked), the
table and schema, and each row's three columns (``job_state`` in base64).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from whalefall_sched.errors import InvalidInputError, StoreSystemError
from whalefall_sched.repository.rows import StoredJob, decode_row

BACKUP_FORMAT = "whalefall-sched-backup/1"


def write_backup(
    rows: Sequence[StoredJob],
    directory: Path,
    stamp: str,
    *,
    store: str,
    table: str,
    schema: str | None,
) -> Path:
    """Save raw rows to ``<directory>/<table>-<stamp>.json``, readable by the owner only.

    ``store`` is the store's masked URL. Job arguments can hold secrets, hence the modes.
    """
    path = (directory / f"{table}-{stamp}.json").absolute()
    document = {
        "format": BACKUP_FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "store": store,
        "table": table,
        "schema": schema,
        "rows": [
            {
                "id": row.id,
                "next_run_time": row.next_run_time,
                "job_state": base64.b64encode(row.job_state).decode("ascii"),
            }
            for row in rows
        ],
    }
    data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    tmp: Path | None = None
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A fresh name, created exclusively and never through a symlink (mkstemp uses
        # O_EXCL | O_NOFOLLOW, mode 0600): nothing planted in the directory is written.
        fd, name = tempfile.mkstemp(prefix=f"{path.name}.", suffix=".tmp", dir=directory)
        tmp = Path(name)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename replaces whatever is at the final name (a symlink too) without following it
        tmp.replace(path)
        tmp = None
    except OSError as exc:
        raise StoreSystemError(
            f"cannot write the backup under {directory}: {exc.strerror or exc}; "
            "nothing changed (use --backup-dir or --no-backup)"
        ) from exc
    finally:
        if tmp is not None:  # e.g. the disk filled up (ENOSPC): leave no partial file
            with contextlib.suppress(OSError):
                tmp.unlink()
    return path


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_backup(
    path: Path, *, table: str, schema: str | None, where: str, default_dir: Path
) -> list[StoredJob]:
    """The rows of a backup of ``table`` (decoded where possible).

    ``where`` names the store in messages; ``default_dir`` is where backups are written
    by default, for the hint when ``path`` cannot be read.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read backup {path}: {exc.strerror or exc} "
            f"(reload saves them in {default_dir.absolute()})"
        ) from exc
    except ValueError as exc:
        raise InvalidInputError(f"backup {path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise InvalidInputError(f"{path} is not a whalefall-sched backup ({BACKUP_FORMAT})")
    found_table, found_schema = document.get("table"), document.get("schema")
    if (found_table, found_schema) != (table, schema):
        label = f"{found_schema}.{found_table}" if found_schema else found_table
        raise InvalidInputError(
            f"{path} is a backup of table {label!r}, not of {where}; "
            "pass the matching --table/--schema"
        )
    try:
        rows = [
            decode_row(
                str(row["id"]),
                None if row["next_run_time"] is None else float(row["next_run_time"]),
                base64.b64decode(row["job_state"], validate=True),
            )
            for row in document["rows"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"backup {path} has a malformed row: {exc}") from exc
    ids = [row.id for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidInputError(f"backup {path} holds id(s) twice: {', '.join(duplicates)}")
    return rows
