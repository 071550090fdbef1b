"""A backup is input from outside: restore writes nothing the careful reader would refuse.

A live scheduler unpickles what restore writes with no care at all, so every row is
checked first (restricted decoder, its own id, its next_run_time column) and a malformed
document is refused, each with exit 2 and the store unchanged, under --dry-run too.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore


class _RunsCode:
    """Unpickling this calls os.system, as a crafted row would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _backup(cli: Invoke, stock: StockStore, tmp_path: Path) -> Path:
    stock.add(dict(func="tests.jobs:record", trigger="interval", minutes=7, id="a"))
    result = cli(
        "reload", "--yes", "--backup-dir", str(tmp_path / "bk"), "-o", "json", url=stock.url
    )
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["backup_path"])


def _edit(backup: Path, change: Any) -> None:
    document = json.loads(backup.read_text())
    change(document)
    backup.write_text(json.dumps(document))


def _refused(cli: Invoke, stock: StockStore, backup: Path, *extra: str) -> str:
    """Restore and its dry run both exit 2 and change nothing; the error line."""
    before = stock.raw()
    for mode in ("--dry-run", "--yes"):
        result = cli("restore", str(backup), mode, *extra, url=stock.url)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
        assert stock.raw() == before
    return str(result.stderr)


def test_a_row_whose_pickle_runs_code_is_never_written(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    backup = _backup(cli, stock, tmp_path)
    marker = tmp_path / "pwned"
    evil = base64.b64encode(pickle.dumps(_RunsCode(marker))).decode()
    _edit(
        backup, lambda d: d["rows"].append({"id": "evil", "next_run_time": None, "job_state": evil})
    )

    error = _refused(cli, stock, backup)

    assert "'evil': cannot be decoded safely" in error
    assert "nothing changed" in error
    assert not marker.exists()
    assert "evil" not in stock.raw()
    # --skip-invalid restores the rest and still never writes the crafted row
    done = cli("restore", str(backup), "--yes", "--skip-invalid", url=stock.url)
    assert done.exit_code == 0, done.output
    assert sorted(stock.load()) == ["a"]  # stock APScheduler loads what is there, nothing runs
    assert not marker.exists()


@pytest.mark.parametrize("column", [1.0, 1e300, "inf"])
def test_a_next_run_time_column_that_disagrees_with_the_state_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, column: float | str
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)
    text = backup.read_text()
    document = json.loads(text)
    row = next(r for r in document["rows"] if r["id"] == "a")
    row["next_run_time"] = "__COLUMN__"
    value = "Infinity" if column == "inf" else repr(column)
    backup.write_text(json.dumps(document).replace('"__COLUMN__"', value))

    error = _refused(cli, sqlite_stock, backup)

    assert "'a'" in error
    assert any(
        says in error
        for says in ("disagrees with its state", "next_run_time must be a number", "not a time")
    )


def test_a_state_that_names_another_id_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)
    _edit(backup, lambda d: d["rows"][0].update(id="impostor"))
    assert "'impostor': its state names another id ('a')" in _refused(cli, sqlite_stock, backup)


def test_a_state_that_is_not_what_stock_apscheduler_writes_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)

    def corrupt(document: dict[str, Any]) -> None:
        row = document["rows"][0]
        state = pickle.loads(base64.b64decode(row["job_state"]))  # our own backup of stock's row
        state["kwargs"] = "not a dict"
        row["job_state"] = base64.b64encode(pickle.dumps(state)).decode()

    _edit(backup, corrupt)
    error = _refused(cli, sqlite_stock, backup)
    assert "'a': cannot be decoded safely (kwargs is str, not dict)" in error


def test_a_row_backed_up_as_unreadable_is_refused_whatever_its_bytes(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)
    _edit(backup, lambda d: d["rows"][0].update(unreadable="id column holds a blob, not text"))
    error = _refused(cli, sqlite_stock, backup)
    assert "'a': cannot be decoded safely (unreadable when backed up: id column holds" in error


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        ([{"id": None, "next_run_time": None, "job_state": ""}], "id must be a non-empty string"),
        ([{"id": 5, "next_run_time": None, "job_state": ""}], "id must be a non-empty string"),
        ([{"id": {"a": [1, [2]]}, "next_run_time": None, "job_state": ""}], "id must be"),
        ([{"id": "x", "next_run_time": True, "job_state": ""}], "must be a number"),
        ([{"id": "x", "next_run_time": None, "job_state": ["junk"]}], "must be base64 text"),
        ([{"id": "x", "next_run_time": None, "job_state": "%%%"}], "is not base64"),
        ([{"id": "x", "next_run_time": None}], "want exactly id, next_run_time and job_state"),
        (
            [{"id": "x", "next_run_time": None, "job_state": "", "other": 1}],
            "want exactly id, next_run_time and job_state",
        ),
        (
            [{"id": "x", "next_run_time": None, "job_state": "", "unreadable": ["no"]}],
            "unreadable must be text",
        ),
        ([["x", None, ""]], "want exactly id, next_run_time and job_state"),
        ({"x": 1}, "has no list of rows"),
    ],
)
def test_a_malformed_backup_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, rows: Any, says: str
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)
    _edit(backup, lambda d: d.update(rows=rows))
    assert says in _refused(cli, sqlite_stock, backup)


def test_a_deeply_nested_document_is_bad_input_not_a_crash(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _backup(cli, sqlite_stock, tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert "nested too deeply" in _refused(cli, sqlite_stock, deep)


def test_an_empty_backup_deletes_every_job_only_with_allow_empty(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    backup = _backup(cli, sqlite_stock, tmp_path)
    _edit(backup, lambda d: d.update(rows=[]))
    assert "--allow-empty" in _refused(cli, sqlite_stock, backup)
    done = cli("restore", str(backup), "--yes", "--allow-empty", url=sqlite_stock.url)
    assert done.exit_code == 0, done.output
    assert sqlite_stock.raw() == {}
