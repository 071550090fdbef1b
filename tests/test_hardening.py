"""Edge cases found in review: collations, lock waits, secrets in messages, crashed WAL files."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Invoke, StockStore
from whalefall_sched.masking import mask_url, redact, url_secrets

TASKS = """
default_tasks:
  - {id: email_alert, function: noop, trigger_type: cron, trigger_params: {hour: 9}}
  - {id: emailer, function: noop, trigger_type: cron, trigger_params: {hour: 10}}
  - {id: Zeta, function: noop, trigger_type: interval, trigger_params: {minutes: 5}}
functions:
  noop: tests.jobs:noop
"""


def test_reload_ids_a_server_collation_orders_unlike_python(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    # MariaDB's default collation sorts '_' and capitals unlike Python's sorted().
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(TASKS, encoding="utf-8")
    stock.create()
    for _ in range(2):  # onto an empty store, then in place
        result = cli("--tasks", str(tasks), "reload", "--yes", "-o", "json", url=stock.url)
        assert result.exit_code == 0, result.output
    assert set(stock.load()) == {"email_alert", "emailer", "Zeta"}


@pytest.mark.parametrize("store_url", ["postgres", "mysql"], indirect=True)
def test_a_row_locked_by_another_transaction_is_a_conflict_not_a_hang(
    cli: Invoke, stock: StockStore
) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    before = stock.raw()
    engine = stock.engine()
    t = stock.table_obj()
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with engine.begin() as conn:
            conn.execute(sa.select(t.c.id).where(t.c.id == "a").with_for_update())
            locked.set()
            release.wait(60)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(30)
        result = cli("--timeout", "1", "--wait", "0", "pause", "a", url=stock.url)
    finally:
        release.set()
        holder.join(60)
        engine.dispose()
    assert result.exit_code == 4, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert stock.raw() == before


def test_url_secrets_in_the_authority_and_the_query() -> None:
    assert url_secrets("postgresql+psycopg://ops:p%40ss@h/db") == ["p%40ss", "p@ss"]
    assert mask_url("postgresql+psycopg://ops@h/db?sslmode=require&password=hunter2") == (
        "postgresql+psycopg://ops@h/db?sslmode=require&password=***"
    )
    text = "failed for hunter2 via mysql+pymysql://a:b@c/d and x://y:z@w"
    masked = redact(text, "postgresql://ops@h/db?password=hunter2")
    assert "hunter2" not in masked and ":b@" not in masked and ":z@" not in masked


def test_query_password_never_printed(cli: Invoke) -> None:
    url = "postgresql+psycopg://ops@127.0.0.1:1/x?password=hunter2"
    result = cli("--timeout", "1", "list", "-o", "json", url=url)
    assert result.exit_code == 5
    assert "hunter2" not in result.output
    assert json.loads(result.stdout)["error"]["code"] == "system_error"


def test_an_unencoded_at_sign_in_the_password_is_a_usage_error(cli: Invoke) -> None:
    result = cli("list", url="postgresql+psycopg://ops:hun@ter2@127.0.0.1:1/x")
    assert result.exit_code == 2
    assert "%40" in result.stderr
    assert "hun@ter2" not in result.output and "ter2" not in result.output


def test_a_task_error_with_a_url_password_is_masked(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(
        dict(func="tests.jobs:fail_with_url", trigger="interval", minutes=5, id="leaky")
    )
    result = cli("run", "leaky", "--allow-any-function", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 1
    assert "s3cret" not in result.output
    assert "postgresql://u:***@db/app" in json.loads(result.stdout)["error"]["message"]


def test_a_crashed_wal_store_is_read_without_creating_files(
    cli: Invoke, sqlite_stock: StockStore
) -> None:
    sqlite_stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    path = Path(sqlite_stock.url.removeprefix("sqlite:///"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("UPDATE apscheduler_jobs SET id = 'b'")  # committed into -wal only
    conn.commit()
    # Leave the -wal behind as a crash would: copy the files while the writer is open.
    crashed = path.parent.parent / "crashed"
    crashed.mkdir()
    for suffix in ("", "-wal"):
        (crashed / f"{path.name}{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
    conn.close()
    copy = crashed / path.name
    listing = sorted(p.name for p in crashed.iterdir())
    on_disk = {p.name: p.read_bytes() for p in crashed.iterdir()}
    result = cli("list", "-o", "json", url=f"sqlite:///{copy}")
    assert result.exit_code == 0, result.output
    assert [item["id"] for item in json.loads(result.stdout)["items"]] == ["b"]
    assert sorted(p.name for p in crashed.iterdir()) == listing
    assert {p.name: p.read_bytes() for p in crashed.iterdir()} == on_disk


def test_ids_are_exact_whatever_the_collation(cli: Invoke, stock: StockStore) -> None:
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="sync_accounts"))
    before = stock.fingerprint()
    for command in ("get", "pause", "resume", "run"):
        result = cli(command, "SYNC_ACCOUNTS", url=stock.url)
        assert result.exit_code == 3, (command, result.output)
    assert stock.fingerprint() == before
