"""Backups of the rows a replacement removes or rewrites, restorable byte for byte.

A backup is one JSON document: the format marker, when, the store (password masked), the
table and schema, and each row's three columns (``job_state`` in base64). A row whose
columns held other types than the table declares (SQLite) is saved as far as it can be,
with ``unreadable`` saying why; such a row is never restored.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whalefall_sched.errors import InvalidInputError, StoreSystemError
from whalefall_sched.files import write_atomically
from whalefall_sched.repository.rows import StoredJob, decode_row

BACKUP_FORMAT = "whalefall-sched-backup/1"
_COLUMNS = {"id", "next_run_time", "job_state"}


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
        "rows": [_document_row(row) for row in rows],
    }
    data = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # a stamp to the microsecond names a new file; whatever is at the name (a planted
        # symlink) is replaced, never followed
        write_atomically(path, data, overwrite=True)
    except OSError as exc:
        raise StoreSystemError(
            f"cannot write the backup under {directory}: {exc.strerror or exc}; "
            "nothing changed (use --backup-dir or --no-backup)"
        ) from exc
    return path


def _document_row(row: StoredJob) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": row.id,
        "next_run_time": row.next_run_time,
        "job_state": base64.b64encode(row.job_state).decode("ascii"),
    }
    if row.column_problem is not None:
        document["unreadable"] = row.column_problem
    return document


def read_backup(
    path: Path, *, table: str, schema: str | None, where: str, default_dir: Path
) -> list[StoredJob]:
    """The rows of a backup of ``table`` (decoded where possible).

    ``where`` names the store in messages; ``default_dir`` is where backups are written
    by default, for the hint when ``path`` cannot be read.
    """
    hint = f"reload and delete save backups in {default_dir.absolute()}"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError as exc:
        raise InvalidInputError(f"backup {path} is nested too deeply to be a backup") from exc
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read backup {path}: {exc.strerror or exc} ({hint})"
        ) from exc
    except ValueError as exc:
        raise InvalidInputError(f"backup {path} is not JSON: {exc} ({hint})") from exc
    if not isinstance(document, dict) or document.get("format") != BACKUP_FORMAT:
        raise InvalidInputError(f"{path} is not a whalefall-sched backup ({BACKUP_FORMAT}); {hint}")
    found_table, found_schema = document.get("table"), document.get("schema")
    if (found_table, found_schema) != (table, schema):
        label = f"{found_schema}.{found_table}" if found_schema else found_table
        raise InvalidInputError(
            f"{path} is a backup of table {label!r}, not of {where}; "
            "pass the matching --table/--schema"
        )
    raw_rows = document.get("rows")
    if not isinstance(raw_rows, list):
        raise InvalidInputError(f"backup {path} has no list of rows")
    rows = [_row(path, index, raw) for index, raw in enumerate(raw_rows)]
    ids = [row.id for row in rows]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise InvalidInputError(f"backup {path} holds id(s) twice: {', '.join(duplicates)}")
    return rows


def _row(path: Path, index: int, raw: Any) -> StoredJob:
    """One row of a backup, its three columns checked for type before decoding."""
    where = f"backup {path}, row {index + 1}"
    if not isinstance(raw, dict) or set(raw) - {"unreadable"} != _COLUMNS:
        raise InvalidInputError(f"{where}: want exactly id, next_run_time and job_state")
    job_id, next_run_time, job_state = raw["id"], raw["next_run_time"], raw["job_state"]
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInputError(f"{where}: id must be a non-empty string, not {job_id!r:.40}")
    if next_run_time is not None and (
        isinstance(next_run_time, bool)
        or not isinstance(next_run_time, int | float)
        or not math.isfinite(next_run_time)
    ):
        raise InvalidInputError(
            f"{where} ({job_id!r}): next_run_time must be a number of seconds or null"
        )
    if not isinstance(job_state, str):
        raise InvalidInputError(f"{where} ({job_id!r}): job_state must be base64 text")
    try:
        data = base64.b64decode(job_state, validate=True)
    except ValueError as exc:
        raise InvalidInputError(f"{where} ({job_id!r}): job_state is not base64: {exc}") from exc
    row = decode_row(job_id, None if next_run_time is None else float(next_run_time), data)
    if "unreadable" in raw:
        if not isinstance(raw["unreadable"], str):
            raise InvalidInputError(f"{where} ({job_id!r}): unreadable must be text")
        reason = f"unreadable when backed up: {raw['unreadable']:.200}"
        return StoredJob(row.id, row.next_run_time, row.job_state, None, reason)
    return row
