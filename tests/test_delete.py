"""delete: what the host's ``DELETE /jobs/<id>`` does, with confirmation and a backup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import Invoke, StockStore

JOBS: list[dict[str, Any]] = [
    dict(func="tests.jobs:noop", trigger="cron", id="sync_accounts", hour=1, minute=30),
    dict(func="tests.jobs:noop", trigger="cron", id="cleanup_logs", hour=2, next_run_time=None),
    dict(func="tests.jobs:noop", trigger="interval", id="custom_job", hours=2, name="Custom"),
]


def test_delete_removes_the_jobs_and_backs_up_every_row(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(*JOBS)
    before = stock.raw()
    backups = tmp_path / "bk"
    result = cli(
        "delete", "custom_job", "cleanup_logs", "--yes", "--backup-dir", str(backups),
        "-o", "json", url=stock.url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc)[:3] == ["schema_version", "deleted", "backup_path"]
    assert doc["deleted"] == ["custom_job", "cleanup_logs"] and doc["error"] is None
    assert sorted(stock.raw()) == ["sync_accounts"]
    assert stock.raw()["sync_accounts"] == before["sync_accounts"]
    # what stock APScheduler reads afterwards: the one job left
    assert sorted(stock.load()) == ["sync_accounts"]
    # the backup holds every row; restore puts every job of it back, byte for byte
    backup = Path(doc["backup_path"])
    assert backup.parent == backups
    restored = cli("restore", str(backup), "--yes", "--no-backup", url=stock.url)
    assert restored.exit_code == 0, restored.output
    assert stock.raw() == before


def test_delete_by_name_and_without_backup(cli: Invoke, stock: StockStore, tmp_path: Path) -> None:
    stock.add(*JOBS)
    result = cli("delete", "Custom", "-y", "--no-backup", "-o", "json", url=stock.url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["deleted"] == ["custom_job"] and doc["backup_path"] is None
    assert "custom_job" not in stock.raw()


def test_no_terminal_and_no_yes_refuses_with_nothing_changed(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(*JOBS)
    before = stock.fingerprint()
    result = cli("delete", "custom_job", "--backup-dir", str(tmp_path / "bk"), url=stock.url)
    assert result.exit_code == 4
    assert "no terminal to ask on" in result.stderr and "--yes" in result.stderr
    assert stock.fingerprint() == before
    assert not (tmp_path / "bk").exists()


def test_unknown_ids_exit_3_with_suggestions_and_the_others_are_deleted(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(*JOBS)
    before = stock.fingerprint()
    only_unknown = cli("delete", "custom_jb", "-y", "-o", "json", url=stock.url)
    assert only_unknown.exit_code == 3
    doc = json.loads(only_unknown.stdout)
    assert doc["deleted"] == [] and doc["backup_path"] is None
    assert doc["error"]["suggestions"] == ["custom_job"]
    assert stock.fingerprint() == before  # nothing deleted, no backup taken

    mixed = cli(
        "delete", "nope", "custom_job", "-y", "--backup-dir", str(tmp_path / "bk"),
        "-o", "json", url=stock.url,
    )  # fmt: skip
    assert mixed.exit_code == 3
    doc = json.loads(mixed.stdout)
    assert doc["deleted"] == ["custom_job"]
    assert [e["id"] for e in doc["errors"]] == ["nope"]
    assert sorted(stock.raw()) == ["cleanup_logs", "sync_accounts"]


def test_an_unreadable_row_can_be_deleted(cli: Invoke, stock: StockStore) -> None:
    stock.add(*JOBS)
    stock.insert_raw("broken", b"not a pickle", 1.0)
    result = cli("delete", "broken", "-y", "--no-backup", url=stock.url)
    assert result.exit_code == 0, result.output
    assert "broken" not in stock.raw()


def test_delete_on_a_missing_store_is_one_conflict(cli: Invoke, sqlite_url: str) -> None:
    result = cli("delete", "a", "b", "-y", url=sqlite_url)
    assert result.exit_code == 4
    assert result.stderr.count("not initialised") == 1
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_table_output_names_the_backup(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(*JOBS)
    result = cli("delete", "custom_job", "-y", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert "Deleted (1)" in result.stdout and "custom_job" in result.stdout
    assert "restore" in result.stdout and ".json" in result.stdout
