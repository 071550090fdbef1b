"""`restore`: a reload's backup goes back byte for byte, all or nothing, itself backed up."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.conftest import Invoke, StockStore


def _seed(stock: StockStore, *, corrupt: bool = False) -> None:
    stock.add(
        dict(func="tests.jobs:record", trigger="cron", hour=3, week="*/2", id="a", name="A"),
        dict(func="tests.jobs:record", trigger="interval", minutes=7, id="b", kwargs={"x": 1}),
    )
    if corrupt:
        stock.insert_raw("corrupt", b"\x80\x05not really", 12.5)


def _reload(cli: Invoke, url: str, backups: Path) -> Path:
    result = cli("reload", "--yes", "--backup-dir", str(backups), "-o", "json", url=url)
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["backup_path"])


def test_restore_puts_back_every_row_byte_for_byte(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    _seed(stock)
    before = stock.raw()
    backup = _reload(cli, stock.url, tmp_path / "backups")
    assert stock.raw() != before

    result = cli(
        "restore",
        str(backup),
        "--yes",
        "--backup-dir",
        str(tmp_path / "b2"),
        "-o",
        "json",
        url=stock.url,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["restored"] == ["a", "b"]
    assert doc["restored_count"] == 2
    assert doc["deleted_count"] == 5  # the bundled example's five jobs
    assert stock.raw() == before
    # The rows the restore replaced were saved too, so the restore can be undone.
    assert Path(doc["backup_path"]).parent == tmp_path / "b2"
    undo = json.loads(Path(doc["backup_path"]).read_text())
    assert len(undo["rows"]) == 5


def test_a_backup_with_an_undecodable_row_is_refused_unless_it_is_left_out(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    _seed(stock, corrupt=True)
    before = stock.raw()
    backup = _reload(cli, stock.url, tmp_path / "backups")  # the backup holds the bad row
    after_reload = stock.raw()

    refused = cli("restore", str(backup), "--yes", url=stock.url)
    assert refused.exit_code == 2, refused.output
    assert "'corrupt': cannot be decoded safely" in refused.stderr
    assert "--skip-invalid" in refused.stderr
    assert stock.raw() == after_reload

    result = cli("restore", str(backup), "--yes", "--skip-invalid", "-o", "json", url=stock.url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["restored"] == ["a", "b"]
    assert doc["notes"][0] == "left out 1 invalid row(s): corrupt"
    assert stock.raw() == {k: v for k, v in before.items() if k != "corrupt"}


def test_dry_run_changes_nothing(cli: Invoke, stock: StockStore, tmp_path: Path) -> None:
    _seed(stock)
    backup = _reload(cli, stock.url, tmp_path / "backups")
    after_reload = stock.fingerprint()
    result = cli("restore", str(backup), "--dry-run", "-o", "json", url=stock.url)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["restored"] == ["a", "b"]
    assert stock.fingerprint() == after_reload


def test_a_restore_dry_run_does_not_say_next_run_times_are_recomputed(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    _seed(stock)
    backup = _reload(cli, stock.url, tmp_path / "backups")
    result = cli("restore", str(backup), "--dry-run", url=stock.url)
    assert result.exit_code == 0, result.output
    assert "recomputed" not in result.stdout  # the backup's own next run times go back
    assert result.stdout.splitlines()[-1] == "Dry run: nothing changed."


def test_not_a_backup_is_exit_2_and_changes_nothing(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _seed(sqlite_stock)
    before = sqlite_stock.fingerprint()
    for content in (
        "not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": "whalefall-sched-backup/1", "rows": [{"id": "x"}]}),
    ):
        bogus = tmp_path / "bogus.json"
        bogus.write_text(content)
        result = cli("restore", str(bogus), "--yes", url=sqlite_stock.url)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: ")
        assert sqlite_stock.fingerprint() == before


def test_refuses_without_yes_when_no_terminal(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _seed(sqlite_stock)
    backup = _reload(cli, sqlite_stock.url, tmp_path / "backups")
    before = sqlite_stock.fingerprint()
    result = cli("restore", str(backup), url=sqlite_stock.url)
    assert result.exit_code == 4
    assert "pass --yes" in result.stderr
    assert sqlite_stock.fingerprint() == before


def test_a_backup_of_another_table_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _seed(sqlite_stock)
    backup = _reload(cli, sqlite_stock.url, tmp_path / "backups")
    before = sqlite_stock.fingerprint()
    result = cli("--table", "other_jobs", "restore", str(backup), "--yes", url=sqlite_stock.url)
    assert result.exit_code == 2
    assert "backup of table 'apscheduler_jobs'" in result.stderr
    assert sqlite_stock.fingerprint() == before


def test_a_backup_holding_an_id_twice_is_refused(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _seed(sqlite_stock)
    backup = _reload(cli, sqlite_stock.url, tmp_path / "backups")
    document = json.loads(backup.read_text())
    document["rows"].append(document["rows"][0])
    backup.write_text(json.dumps(document))
    result = cli("restore", str(backup), "--yes", url=sqlite_stock.url)
    assert result.exit_code == 2
    assert "holds id(s) twice: a" in result.stderr


def test_backups_go_beside_the_store_readable_by_the_owner_only(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    _seed(sqlite_stock)
    store_dir = Path(sqlite_stock.url.removeprefix("sqlite:///")).parent
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    result = cli("reload", "--yes", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    backup = Path(json.loads(result.stdout)["backup_path"])
    assert backup.is_absolute()
    assert backup.parent == store_dir / "backups"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
    assert not (elsewhere / "userdata").exists()
