"""The audit trail (issue 10): every write records one event in its own transaction;
``log`` shows them; ``get`` and ``list -o wide`` say why a paused job is paused; reads
never create the table; a stock scheduler works on a store that has it."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Invoke, StockStore
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.repository.audit import AUDIT_TABLE, AuditEntry, append
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.audit import Audit
from whalefall_sched.services.tasks_file import bundled_tasks_path, load_tasks_file

ACTOR = ("--actor", "tester@ci")


def _events(cli: Invoke, url: str, *args: str) -> list[dict[str, Any]]:
    result = cli("log", *args, "-o", "json", url=url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert next(iter(document)) == "schema_version"
    events: list[dict[str, Any]] = document["events"]
    return events


def _has_audit_table(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table(AUDIT_TABLE)
    finally:
        engine.dispose()


def _init(cli: Invoke, url: str) -> None:
    result = cli(*ACTOR, "init", url=url)
    assert result.exit_code == 0, result.output


# -- every write records exactly one event ------------------------------------------------


def test_each_write_command_records_one_event_with_its_fields(
    store_url: str, cli: Invoke, tmp_path: Path
) -> None:
    _init(cli, store_url)
    [init] = _events(cli, store_url)
    assert init["command"] == "init" and init["outcome"] == "done"
    assert init["actor"] == "tester@ci" and init["reason"] is None
    assert "sync_accounts" in init["id"] and init["detail"]["registered"] == 5
    assert init["at_utc"].endswith("Z")

    def one_more(*argv: str, exit_code: int = 0) -> dict[str, Any]:
        before = len(_events(cli, store_url, "--limit", "1000"))
        result = cli(*ACTOR, *argv, url=store_url)
        assert result.exit_code == exit_code, result.output
        events = _events(cli, store_url, "--limit", "1000")
        assert len(events) == before + 1
        return events[0]

    pause = one_more("pause", "sync_accounts", "--reason", "DB maintenance")
    assert (pause["command"], pause["id"], pause["outcome"]) == ("pause", ["sync_accounts"], "done")
    assert pause["reason"] == "DB maintenance"
    before, after = pause["detail"]["next_run_time"]
    assert before is not None and after is None

    resume = one_more("resume", "sync_accounts", "--reason", "done")
    assert resume["command"] == "resume" and resume["detail"]["next_run_time"][0] is None
    assert resume["detail"]["next_run_time"][1] is not None

    backups = tmp_path / "backups"
    reload = one_more("reload", "--yes", "--backup-dir", str(backups), "--reason", "new file")
    assert reload["command"] == "reload" and reload["reason"] == "new file"
    counts = reload["detail"]["counts"]
    assert counts["added"] == counts["removed"] == 0
    # the file is the one init wrote: only next run times moved, the diff's "unchanged"
    assert reload["outcome"] == "no-op" and reload["id"] == []
    assert counts == {"added": 0, "removed": 0, "changed": 0, "unchanged": 5}
    assert reload["detail"]["changed"] == []
    assert reload["detail"]["backup"].startswith(str(backups))

    [backup] = backups.iterdir()
    restore = one_more("restore", str(backup), "--yes", "--no-backup")
    assert restore["command"] == "restore" and restore["outcome"] in ("done", "no-op")

    run = one_more("run", "cleanup_logs", "--reason", "by hand")
    assert (run["command"], run["id"], run["outcome"]) == ("run", ["cleanup_logs"], "done")
    assert run["detail"]["exit_code"] == 0 and run["reason"] == "by hand"

    moved = one_more("reschedule", "sync_accounts", "0 30 2 * * *", "--reason", "later")
    assert (moved["command"], moved["id"], moved["outcome"]) == (
        "reschedule",
        ["sync_accounts"],
        "done",
    )
    assert moved["reason"] == "later" and moved["detail"]["next_run_time"][1] is not None

    gone = one_more("delete", "cleanup_logs", "--yes", "--no-backup", "--reason", "retired")
    assert (gone["command"], gone["id"], gone["reason"]) == ("delete", ["cleanup_logs"], "retired")
    assert gone["detail"]["deleted"] is True and gone["detail"]["next_run_time"][1] is None


def test_a_no_op_and_a_failed_write_record_nothing(store_url: str, cli: Invoke) -> None:
    _init(cli, store_url)
    cli("pause", "sync_accounts", url=store_url)
    count = len(_events(cli, store_url))
    assert cli("pause", "sync_accounts", url=store_url).exit_code == 0  # already paused
    assert cli("pause", "no_such_job", url=store_url).exit_code == 3
    assert len(_events(cli, store_url)) == count


def test_global_options_after_the_command_and_the_default_actor(
    sqlite_url: str, cli: Invoke
) -> None:
    _init(cli, sqlite_url)
    result = cli("pause", "cleanup_logs", "--reason", "after the command", url=sqlite_url)
    assert result.exit_code == 0, result.output
    event = _events(cli, sqlite_url, "cleanup_logs")[0]
    assert event["command"] == "pause" and event["reason"] == "after the command"
    assert "@" in event["actor"] and event["actor"] != "tester@ci"


@pytest.mark.parametrize(
    ("option", "value"),
    [("--reason", "x" * 501), ("--reason", "two\nlines"), ("--actor", "esc\x1b[31m")],
    ids=["too-long", "newline", "escape"],
)
def test_a_bad_reason_or_actor_is_a_usage_error_and_changes_nothing(
    sqlite_stock: StockStore, cli: Invoke, option: str, value: str
) -> None:
    sqlite_stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"})
    fingerprint = sqlite_stock.fingerprint()
    result = cli("pause", "j", option, value, url=sqlite_stock.url)
    assert result.exit_code == 2
    assert sqlite_stock.fingerprint() == fingerprint


# -- same transaction: a rolled-back or killed write leaves no event ------------------------


class InjectedError(Exception):
    """Raised on purpose inside a write's transaction."""


def test_a_reload_that_rolls_back_leaves_no_event_and_no_change(
    stock: StockStore, repo: JobStoreRepository
) -> None:
    stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "old_job"})
    before = stock.raw()
    service = SchedulerActionsService(repo, load_tasks_file(None), audit=Audit("t", "why"))

    def explode(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT") and AUDIT_TABLE in statement:
            raise InjectedError("interrupted at the event, after every job row was written")

    sa.event.listen(sa.Engine, "before_cursor_execute", explode)
    try:
        with pytest.raises(InjectedError):
            service.reload_jobs(backup_dir=None)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", explode)
    assert stock.raw() == before
    assert repo.audit_events() == []  # the table was made before the transaction, empty
    # the store and the trail work afterwards
    service.reload_jobs(backup_dir=None)
    [event] = repo.audit_events() or []
    assert event.command == "reload" and event.reason == "why"


def test_a_write_killed_inside_its_transaction_leaves_neither_change_nor_event(
    store_url: str, stock: StockStore
) -> None:
    stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"})
    before = stock.raw()
    child = textwrap.dedent(
        f"""
        import os, signal
        import sqlalchemy as sa
        from whalefall_sched.repository import JobStoreRepository
        from whalefall_sched.services import SchedulerActionsService
        from whalefall_sched.services.audit import Audit
        from whalefall_sched.services.tasks_file import bundled_tasks_path, load_tasks_file

        def die(conn, cursor, statement, *_):
            if statement.lstrip().upper().startswith("INSERT") and {AUDIT_TABLE!r} in statement:
                os.kill(os.getpid(), signal.SIGKILL)

        sa.event.listen(sa.Engine, "before_cursor_execute", die)
        repo = JobStoreRepository({store_url!r})
        SchedulerActionsService(repo, load_tasks_file(None), audit=Audit("k")).pause_job("j")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert stock.raw() == before
    repo = JobStoreRepository(store_url)
    try:
        assert repo.audit_events() == []
    finally:
        repo.close()


# -- reads ------------------------------------------------------------------------------------


def test_reads_never_create_the_audit_table(store_url: str, stock: StockStore, cli: Invoke) -> None:
    stock.add(
        {"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"},
        {"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "p"},
    )
    cli("pause", "p", url=store_url)  # through stock: no event, no table yet
    engine = stock.engine()
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {AUDIT_TABLE}"))
    engine.dispose()
    fingerprint = stock.fingerprint()
    for argv in (
        ["list"],
        ["list", "-o", "wide"],
        ["list", "-o", "json"],
        ["get", "p"],
        ["get", "p", "-o", "json"],
        ["status"],
        ["log"],
        ["reload", "--dry-run"],
    ):
        result = cli(*argv, url=store_url)
        assert result.exit_code in (0, 4), (argv, result.output)
    assert not _has_audit_table(store_url)
    assert stock.fingerprint() == fingerprint


def test_log_without_an_audit_table_is_empty_with_a_note(
    sqlite_stock: StockStore, cli: Invoke
) -> None:
    sqlite_stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"})
    result = cli("log", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["events"] == [] and document["audited"] is False
    assert "note: no audit table" in result.stderr
    table = cli("log", url=sqlite_stock.url)
    assert table.exit_code == 0 and table.stdout == ""


# -- log's filters ----------------------------------------------------------------------------


def test_log_filters_by_job_since_and_limit(store_url: str, cli: Invoke) -> None:
    _init(cli, store_url)
    repo = JobStoreRepository(store_url)
    now = datetime.now(UTC)
    engine = repo.connection.engine("rw")
    try:
        with engine.begin() as conn:
            for days, job in [(30, "old_a"), (10, "mid_a"), (2, "sync_accounts"), (1, "new_b")]:
                append(
                    conn,
                    None,
                    AuditEntry("pause", "seed", f"{days}d ago"),
                    job_table="apscheduler_jobs",
                    job_ids=[job],
                    outcome="done",
                    change={},
                    now=now - timedelta(days=days),
                )
    finally:
        repo.close()
    assert cli("pause", "sync_accounts", url=store_url).exit_code == 0
    everything = _events(cli, store_url)
    # newest first, by time
    assert [e["command"] for e in everything] == ["pause", "init", *["pause"] * 4]
    assert [e["reason"] for e in everything[2:]] == ["1d ago", "2d ago", "10d ago", "30d ago"]
    week = _events(cli, store_url, "--since", "7d")
    assert {e["reason"] for e in week} >= {"2d ago", "1d ago"}
    assert not {e["reason"] for e in week} & {"10d ago", "30d ago"}
    iso = (now - timedelta(days=15)).strftime("%Y-%m-%dT%H:%M:%S")
    assert "30d ago" not in {e["reason"] for e in _events(cli, store_url, "--since", iso)}
    mine = _events(cli, store_url, "sync_accounts")
    assert all("sync_accounts" in e["id"] for e in mine)
    assert [e["command"] for e in mine] == ["pause", "init", "pause"]
    assert len(_events(cli, store_url, "--limit", "2")) == 2
    assert cli("log", "--since", "yesterday", url=store_url).exit_code == 2
    assert cli("log", "--limit", "0", url=store_url).exit_code == 2
    table = cli("log", "--limit", "3", url=store_url)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["WHEN", "ACTOR", "COMMAND", "JOBS", "OUTCOME", "REASON"]
    assert len(lines) == 4


# -- why a paused job is paused ---------------------------------------------------------------


def test_get_and_list_wide_say_who_paused_a_job_and_why(store_url: str, cli: Invoke) -> None:
    _init(cli, store_url)
    cli("--actor", "alice", "pause", "sync_accounts", "--reason", "DB maintenance", url=store_url)
    detail = json.loads(cli("get", "sync_accounts", "-o", "json", url=store_url).stdout)
    assert list(detail)[-4:] == ["paused_by", "paused_reason", "paused_at", "paused_at_utc"]
    assert detail["paused_by"] == "alice" and detail["paused_reason"] == "DB maintenance"
    assert detail["paused_at_utc"].endswith("Z")
    items = json.loads(cli("list", "-o", "json", url=store_url).stdout)["items"]
    by_id = {item["id"]: item for item in items}
    assert by_id["sync_accounts"]["paused_by"] == "alice"
    assert by_id["cleanup_logs"]["paused_by"] is None
    assert list(by_id["cleanup_logs"])[-1] == "paused_at_utc"
    wide = cli("list", "-o", "wide", url=store_url).stdout.splitlines()
    assert "PAUSED BY" in wide[0] and "REASON" in wide[0]
    row = next(line for line in wide if line.startswith("sync_accounts"))
    assert "alice" in row and "DB maintenance" in row
    assert "DB maintenance" in cli("get", "sync_accounts", url=store_url).stdout
    # a resume ends the pause
    cli("resume", "sync_accounts", url=store_url)
    detail = json.loads(cli("get", "sync_accounts", "-o", "json", url=store_url).stdout)
    assert detail["paused_by"] is None and detail["paused_reason"] is None


# -- a stock scheduler on a store with the table ------------------------------------------------


def test_a_stock_scheduler_works_on_a_store_with_the_audit_table(
    store_url: str, stock: StockStore, cli: Invoke
) -> None:
    stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"})
    assert cli("pause", "j", "--reason", "make the table", url=store_url).exit_code == 0
    assert _has_audit_table(store_url)
    from apscheduler.events import EVENT_JOB_EXECUTED

    ran = threading.Event()
    scheduler = stock.scheduler()
    try:
        assert [job.id for job in scheduler.get_jobs()] == ["j"]
        scheduler.add_listener(lambda event: ran.set(), EVENT_JOB_EXECUTED)
        scheduler.add_job("tests.jobs:noop", "date", run_date=datetime.now(UTC), id="now")
        scheduler.resume()
        assert ran.wait(30)
        scheduler.resume_job("j")
        assert scheduler.get_job("j").next_run_time is not None
    finally:
        scheduler.shutdown(wait=False)
    assert set(stock.raw()) == {"j"}


def test_an_event_s_sizes_are_bounded(sqlite_stock: StockStore) -> None:
    sqlite_stock.add({"func": "tests.jobs:noop", "trigger": "interval", "hours": 1, "id": "j"})
    repo = JobStoreRepository(sqlite_stock.url)
    try:
        ids = [f"job_{i:04d}_{'x' * 60}" for i in range(500)]
        entry = AuditEntry("reload", "a" * 1000, "r" * 1000, {"removed": ids})
        repo.record(entry, ids, "done", {})
        [event] = repo.audit_events() or []
    finally:
        repo.close()
    assert len(event.job_ids) == 100
    assert len(event.actor) == 191 and len(event.reason or "") == 500
    assert event.detail["truncated"] is True and len(event.detail["removed"]) == 10
    assert event.detail["job_count"] == 500


@contextlib.contextmanager
def _rows_only_account(url: str) -> Iterator[str]:
    """A URL for an account that may read and change the job table's rows, and nothing
    else: no right to create a table (created in the test's database, dropped after)."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"wfs_rows_{uuid.uuid4().hex[:8]}"
    database = admin.url.database
    try:
        with admin.connect() as c:
            if admin.dialect.name == "postgresql":
                c.execute(sa.text(f"CREATE ROLE {name} LOGIN"))
                c.execute(sa.text(f"REVOKE CREATE ON SCHEMA public FROM {name}"))
            else:
                c.execute(sa.text(f"CREATE USER '{name}'@'%'"))
                database = f"`{database}`"
            c.execute(
                sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON apscheduler_jobs TO {name}")
                if admin.dialect.name == "postgresql"
                else sa.text(
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {database}.apscheduler_jobs "
                    f"TO '{name}'@'%'"
                )
            )
        yield admin.url.set(username=name, password=None).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            if admin.dialect.name == "postgresql":
                c.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE usename = '{name}'"
                    )
                )
                c.execute(sa.text(f"DROP OWNED BY {name}"))
                c.execute(sa.text(f"DROP ROLE {name}"))
            else:
                c.execute(sa.text(f"DROP USER '{name}'@'%'"))
        admin.dispose()


def test_an_account_that_may_not_create_tables_still_writes_without_the_event(
    cli: Invoke, stock: StockStore
) -> None:
    if stock.url.startswith("sqlite"):
        pytest.skip("SQLite has no privileges: a file that cannot be written fails the write")
    stock.add(dict(func="tests.jobs:noop", trigger="interval", minutes=5, id="a"))
    with _rows_only_account(stock.url) as url:
        paused = cli(*ACTOR, "pause", "a", url=url)
        assert paused.exit_code == 0, paused.output
        assert paused.stderr.count("note: the audit trail could not be written (") == 1
        assert "this change is not recorded" in paused.stderr
        listed = json.loads(cli("list", "-o", "json", url=url).stdout)
        assert listed["items"][0]["next_run_time"] is None  # paused
        resumed = cli(*ACTOR, "resume", "a", "-o", "json", url=url)
        assert resumed.exit_code == 0, resumed.output
        [result] = json.loads(resumed.stdout)["results"]
        assert any("audit trail could not be written" in n for n in result["notes"])
    assert not _has_audit_table(stock.url)
    # an account that may create it records the events again
    assert cli(*ACTOR, "pause", "a", url=stock.url).exit_code == 0
    assert [e["command"] for e in _events(cli, stock.url)] == ["pause"]


def test_a_replacement_event_lists_the_jobs_the_diff_calls_changed(
    sqlite_url: str, cli: Invoke, tmp_path: Path
) -> None:
    _init(cli, sqlite_url)
    assert cli(*ACTOR, "pause", "cleanup_logs", url=sqlite_url).exit_code == 0
    tasks = tmp_path / "tasks.yaml"
    text = bundled_tasks_path().read_text("utf-8")
    tasks.write_text(text.replace("hour: 1\n", "hour: 5\n", 1), encoding="utf-8")
    reloaded = cli(*ACTOR, "--tasks", str(tasks), "reload", "--yes", "-o", "json", url=sqlite_url)
    assert reloaded.exit_code == 0, reloaded.output
    diff = json.loads(reloaded.stdout)["diff"]
    expected = sorted({c["id"] for c in diff["changed"]} | set(diff["resumed"]))
    assert expected and len(diff["unchanged"]) == 5 - len(expected)
    [event, *_] = _events(cli, sqlite_url)
    assert (event["command"], event["outcome"]) == ("reload", "done")
    assert event["id"] == event["detail"]["changed"] == expected
    assert event["detail"]["counts"]["unchanged"] == len(diff["unchanged"])
