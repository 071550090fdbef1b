"""reload and restore as a diff (added, removed and why, changed field by field,
unchanged, paused -> running), and ``reload --keep-paused`` (issue 10)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore, write_tasks_file
from whalefall_sched.repository import JobStoreRepository

TASKS = """
default_tasks:
  - id: sync_accounts
    name: 账户同步
    function: record
    trigger_type: cron
    trigger_params: {hour: 3, minute: 0}
  - id: same
    name: Same
    function: noop
    trigger_type: cron
    trigger_params: {hour: 5}
  - id: held
    name: Held
    function: noop
    trigger_type: interval
    trigger_params: {hours: 2}
  - id: brand_new
    function: noop
    trigger_type: interval
    trigger_params: {minutes: 5}
  - id: switched_off
    function: noop
    trigger_type: cron
    trigger_params: {hour: 9}
    enabled: false
functions:
  record: tests.jobs:record
  noop: tests.jobs:noop
"""

#: Before the reload: one schedule moved (02:00 -> 03:00), one the same, one paused,
#: one disabled in the file, one gone from it.
OLD: list[dict[str, Any]] = [
    dict(id="sync_accounts", name="账户同步", func="tests.jobs:record", trigger="cron", hour=2),
    dict(id="same", name="Same", func="tests.jobs:noop", trigger="cron", hour=5),
    dict(
        id="held",
        name="Held",
        func="tests.jobs:noop",
        trigger="interval",
        hours=2,
        next_run_time=None,
    ),
    dict(id="switched_off", func="tests.jobs:noop", trigger="cron", hour=9),
    dict(id="gone", func="tests.jobs:record", trigger="cron", hour=4, kwargs={"x": 1}),
]


@pytest.fixture
def tasks(tmp_path: Path) -> Path:
    return write_tasks_file(tmp_path / "tasks.yaml", TASKS)


@pytest.fixture
def old(stock: StockStore) -> StockStore:
    stock.add(*OLD)
    return stock


def _json(cli: Invoke, url: str, *args: str, code: int = 0) -> dict[str, Any]:
    result = cli(*args, "-o", "json", url=url)
    assert result.exit_code == code, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_dry_run_is_a_diff_on_every_database(cli: Invoke, old: StockStore, tasks: Path) -> None:
    before = old.fingerprint()
    diff = _json(cli, old.url, "--tasks", str(tasks), "reload", "--dry-run")["diff"]
    assert diff["added"] == ["brand_new"]
    assert diff["removed"] == [
        {"id": "gone", "reason": "not in the tasks file"},
        {"id": "switched_off", "reason": "disabled in the tasks file (enabled: false)"},
    ]
    changed = {c["id"]: c["fields"] for c in diff["changed"]}
    assert changed == {"sync_accounts": {"trigger.hour": {"old": "2", "new": "3"}}}
    # held is paused and otherwise the same: not changed, but resumed
    assert diff["unchanged"] == ["same"]
    assert diff["resumed"] == ["held"]
    assert (
        diff["summary"] == "1 added, 1 changed, 2 removed, 1 unchanged, 1 paused job would resume"
    )
    assert old.fingerprint() == before


def test_the_human_diff(cli: Invoke, old: StockStore, tasks: Path) -> None:
    result = cli("--tasks", str(tasks), "reload", "--dry-run", url=old.url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "+ brand_new  added" in lines
    assert "- gone  removed: not in the tasks file" in lines
    assert "- switched_off  removed: disabled in the tasks file (enabled: false)" in lines
    assert "~ sync_accounts  changed" in lines
    assert "    trigger.hour: 2 -> 3" in lines
    assert "! held  paused -> running" in lines
    assert "= 1 unchanged (--show-unchanged lists them)" in lines
    assert "a next run time alone is not a change" in result.stdout
    assert lines[-1] == "Dry run: nothing changed."
    shown = cli("--tasks", str(tasks), "reload", "--dry-run", "--show-unchanged", url=old.url)
    assert "= same  unchanged" in shown.stdout.splitlines()


def test_the_report_uses_the_same_words_and_keeps_the_old_keys(
    cli: Invoke, old: StockStore, tasks: Path
) -> None:
    document = _json(cli, old.url, "--tasks", str(tasks), "reload", "--yes")
    # the keys scripts read stay as they were
    assert sorted(document["deleted"]) == sorted(job["id"] for job in OLD)
    assert sorted(document["reloaded"]) == ["brand_new", "held", "same", "sync_accounts"]
    assert document["dry_run"] is False
    assert (
        document["diff"]["summary"]
        == "1 added, 1 changed, 2 removed, 1 unchanged, 1 paused job resumed"
    )
    assert document["diff"]["resumed"] == ["held"]
    assert old.raw()["held"][0] is not None

    # the table: kept ids are changed or unchanged, never "deleted"
    again = cli("--tasks", str(tasks), "reload", "--yes", url=old.url)
    assert again.exit_code == 0
    assert "Deleted" not in again.stdout
    assert again.stdout.splitlines()[-2] == "Reloaded: 4 unchanged."


def test_an_unreadable_row_is_shown_as_replaced(
    cli: Invoke, sqlite_stock: StockStore, tasks: Path
) -> None:
    sqlite_stock.add(OLD[1])
    sqlite_stock.insert_raw("held", b"\x80\x04not a pickle", 1.0)
    diff = _json(cli, sqlite_stock.url, "--tasks", str(tasks), "reload", "--dry-run")["diff"]
    (changed,) = diff["changed"]
    assert changed["id"] == "held"
    assert changed["fields"] == {}
    assert changed["unreadable"]
    human = cli("--tasks", str(tasks), "reload", "--dry-run", url=sqlite_stock.url)
    assert "~ held  unreadable -> replaced" in human.stdout


def test_keep_paused_writes_the_row_stock_pause_job_writes(
    cli: Invoke, old: StockStore, tasks: Path
) -> None:
    dry = _json(cli, old.url, "--tasks", str(tasks), "reload", "--dry-run", "--keep-paused")
    assert dry["diff"]["resumed"] == []
    assert dry["diff"]["unchanged"] == ["held", "same"]

    _json(cli, old.url, "--tasks", str(tasks), "reload", "--yes", "--keep-paused")
    raw = old.raw()
    assert raw["held"][0] is None
    assert raw["same"][0] is not None
    ours = _decoded(old.url, "held")
    assert ours["next_run_time"] is None

    # stock APScheduler: resume, then pause the same job; its row is ours
    scheduler = old.scheduler()
    try:
        scheduler.resume_job("held")
        scheduler.pause_job("held")
    finally:
        scheduler.shutdown(wait=False)
    stock_row = _decoded(old.url, "held")
    assert old.raw()["held"][0] is None
    assert {k: repr(v) for k, v in stock_row.items()} == {k: repr(v) for k, v in ours.items()}


def _decoded(url: str, job_id: str) -> dict[str, Any]:
    repo = JobStoreRepository(url)
    try:
        decoded = repo.get_job(job_id).decoded
    finally:
        repo.close()
    assert decoded is not None
    return decoded


def test_restore_keeps_the_backups_states(
    cli: Invoke, old: StockStore, tasks: Path, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    before = old.raw()
    document = _json(
        cli, old.url, "--tasks", str(tasks), "reload", "--yes", "--backup-dir", str(backups)
    )
    assert old.raw()["held"][0] is not None  # resumed by the reload
    diff = _json(cli, old.url, "restore", document["backup_path"], "--dry-run")["diff"]
    assert diff["paused"] == ["held"]
    assert diff["added"] == ["gone", "switched_off"]
    assert diff["removed"] == [{"id": "brand_new", "reason": "not in the backup"}]
    assert [c["id"] for c in diff["changed"]] == ["sync_accounts"]
    _json(cli, old.url, "restore", document["backup_path"], "--yes")
    assert old.raw() == before
    assert old.raw()["held"][0] is None


def test_the_prompt_shows_the_diff_and_the_summary(
    cli: Invoke, old: StockStore, tasks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import whalefall_sched.cli.confirm as confirm

    class Terminal:
        closed = False

        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(confirm, "sys", types.SimpleNamespace(stdin=Terminal()))
    before = old.fingerprint()
    refused = cli("--tasks", str(tasks), "reload", url=old.url, input="n\n")
    assert refused.exit_code == 4
    assert "~ sync_accounts  changed" in refused.stderr
    assert (
        "1 added, 1 changed, 2 removed, 1 unchanged, 1 paused job would resume. Proceed? [y/N]"
        in refused.stderr
    )
    assert old.fingerprint() == before
    accepted = cli("--tasks", str(tasks), "reload", url=old.url, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Reloaded: 1 added, 1 changed, 2 removed" in accepted.stdout


def test_a_kept_row_with_the_new_row_s_bytes_is_unchanged_without_decoding() -> None:
    from datetime import UTC, datetime

    from apscheduler.triggers.cron import CronTrigger

    from whalefall_sched.repository.rows import StoredJob, encode_row
    from whalefall_sched.services.diff import replacement_diff

    state = {
        "version": 1,
        "id": "a",
        "func": "tests.jobs:noop",
        "trigger": CronTrigger(hour=1, timezone="UTC"),
        "executor": "default",
        "args": (),
        "kwargs": {},
        "name": "a",
        "misfire_grace_time": 300,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": datetime(2030, 1, 1, 1, tzinfo=UTC),
    }
    new = encode_row(state)
    old = StoredJob(new.id, new.next_run_time, new.job_state)  # as read: undecoded

    def refuse(_: Any) -> Any:
        raise AssertionError("decoded a row whose bytes did not change")

    diff = replacement_diff([old], [new], removal_reason=str, decode=refuse)
    assert diff.unchanged == ["a"] and diff.changed == []
