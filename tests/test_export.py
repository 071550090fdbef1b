"""export: the store's jobs as a tasks file; ``export`` then ``reload`` rebuilds them."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Invoke, StockStore, write_tasks_file
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services.diff import job_fields
from whalefall_sched.services.tasks_file import load_tasks_file

FUNCTIONS = """
default_tasks: []
functions:
  noop: tests.jobs:noop
"""

START = datetime(2030, 1, 1, 0, 0, 7, tzinfo=UTC)

#: Every trigger kind, zones, arguments, options, paused jobs.
JOBS: list[dict[str, Any]] = [
    dict(
        id="cron_many",
        name="Many fields",
        func="tests.jobs:noop",
        trigger="cron",
        day_of_week="mon-fri",
        hour="2,14",
        minute="*/15",
        week="1-40/2",
    ),
    dict(
        id="cron_berlin",
        func="tests.jobs:record",
        trigger="cron",
        month="1-6",
        day="last",
        hour=3,
        timezone="Europe/Berlin",
        args=[1, "two", None],
        kwargs={"flag": True, "nested": {"a": [1.5]}},
    ),
    dict(
        id="cron_paused",
        func="tests.jobs:noop",
        trigger="cron",
        hour=1,
        jitter=30,
        next_run_time=None,
    ),
    dict(
        id="every_90_min",
        func="tests.jobs:noop",
        trigger="interval",
        hours=1,
        minutes=30,
        start_date=START,
        misfire_grace_time=60,
        coalesce=False,
        max_instances=3,
    ),
    dict(
        id="interval_paused",
        func="tests.jobs:noop",
        trigger="interval",
        seconds=45,
        start_date=START,
        next_run_time=None,
    ),
    dict(
        id="one_off",
        name="One-off",
        func="tests.jobs:noop",
        trigger="date",
        run_date=datetime(2099, 1, 1, 8, 0, 0, 123456, tzinfo=UTC),
    ),
]


def _states(url: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """Each job's comparable fields (trigger, function, arguments, name, options) and
    whether it is paused, decoded by the tool."""
    repo = JobStoreRepository(url)
    try:
        rows = repo.list_jobs()
    finally:
        repo.close()
    assert all(row.decoded is not None for row in rows)
    return {
        row.id: (job_fields(row.decoded or {}), (row.decoded or {})["next_run_time"] is None)
        for row in rows
    }


def test_export_then_reload_rebuilds_the_same_jobs(
    cli: Invoke, stock: StockStore, tmp_path: Path
) -> None:
    stock.add(*JOBS)
    before = _states(stock.url)
    config = write_tasks_file(tmp_path / "config.yaml", FUNCTIONS)

    exported = cli("--tasks", str(config), "export", url=stock.url)
    assert exported.exit_code == 0, exported.output
    document = yaml.safe_load(exported.stdout)
    by_id = {task["id"]: task for task in document["default_tasks"]}
    assert sorted(by_id) == sorted(job["id"] for job in JOBS)
    # the host's shape; the short name where the functions map has one
    assert by_id["cron_many"]["function"] == "noop"
    assert by_id["cron_berlin"]["function"] == "tests.jobs:record"
    assert by_id["cron_many"]["trigger_params"] == {
        "week": "1-40/2",
        "day_of_week": "mon-fri",
        "hour": "2,14",
        "minute": "*/15",
    }
    assert by_id["cron_berlin"]["trigger_params"]["timezone"] == "Europe/Berlin"
    assert by_id["cron_paused"]["paused"] is True
    assert "paused" not in by_id["cron_many"]
    assert all(task["enabled"] is True for task in by_id.values())

    # wipe the store's jobs, then rebuild them from the export
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(exported.stdout, encoding="utf-8")
    other = write_tasks_file(
        tmp_path / "other.yaml",
        "default_tasks:\n  - {id: x, function: 'tests.jobs:noop', trigger_type: cron, "
        "trigger_params: {hour: 1}}\n",
    )
    assert cli("--tasks", str(other), "reload", "--yes", url=stock.url).exit_code == 0
    reloaded = cli("--tasks", str(tasks), "reload", "--yes", "-o", "json", url=stock.url)
    assert reloaded.exit_code == 0, reloaded.output
    assert _states(stock.url) == before
    # and stock APScheduler loads every job, paused ones paused
    loaded = stock.load()
    assert loaded["cron_paused"].next_run_time is None
    assert loaded["interval_paused"].next_run_time is None
    assert loaded["every_90_min"].next_run_time is not None
    assert loaded["cron_berlin"].args == (1, "two", None)


def test_export_json_is_the_same_data_and_reloads(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(*JOBS)
    before = _states(sqlite_stock.url)
    as_yaml = yaml.safe_load(cli("export", url=sqlite_stock.url).stdout)
    result = cli("export", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert next(iter(document)) == "schema_version"
    assert document["skipped"] == []
    assert document["default_tasks"] == as_yaml["default_tasks"]
    path = tmp_path / "tasks.json"
    path.write_text(result.stdout, encoding="utf-8")
    assert cli("--tasks", str(path), "reload", "--yes", url=sqlite_stock.url).exit_code == 0
    assert _states(sqlite_stock.url) == before


def test_export_to_a_file_refuses_to_overwrite(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(JOBS[0])
    target = tmp_path / "out.yaml"
    first = cli("export", "-f", str(target), url=sqlite_stock.url)
    assert first.exit_code == 0, first.output
    assert "exported 1 job(s)" in first.stderr
    assert yaml.safe_load(target.read_text())["default_tasks"][0]["id"] == "cron_many"
    target.write_text("mine\n")
    refused = cli("export", "-f", str(target), url=sqlite_stock.url)
    assert refused.exit_code == 2
    assert "exists" in refused.stderr
    assert target.read_text() == "mine\n"
    forced = cli("export", "-f", str(target), "--force", url=sqlite_stock.url)
    assert forced.exit_code == 0
    assert "cron_many" in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.yaml")] == []


def test_export_to_a_missing_directory_is_a_system_failure(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(JOBS[0])
    target = tmp_path / "no-such-dir" / "out.yaml"
    result = cli("export", "-f", str(target), url=sqlite_stock.url)
    assert result.exit_code == 5, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write ")
    assert "No such file or directory" in lines[0]
    assert not target.parent.exists()


def test_export_to_a_directory_that_cannot_be_written_is_a_system_failure(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_stock.add(JOBS[0])
    target = tmp_path / "out.yaml"

    def denied(*args: Any, **kwargs: Any) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)  # root writes anywhere: deny it so
    result = cli("export", "-f", str(target), url=sqlite_stock.url)
    assert result.exit_code == 5, result.output
    assert result.stderr.splitlines() == [
        f"Error: cannot write {target}: Permission denied; nothing written"
    ]
    assert not target.exists()


def test_without_hard_links_export_refuses_rather_than_replace(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_stock.add(JOBS[0])
    target = tmp_path / "out.yaml"

    def appeared_then_no_links(src: Any, dst: Any, **kwargs: Any) -> None:
        Path(dst).write_text("theirs\n")  # another process wins the race ...
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))  # ... on a file system without links

    monkeypatch.setattr(os, "link", appeared_then_no_links)
    result = cli("export", "-f", str(target), url=sqlite_stock.url)
    assert result.exit_code == 5, result.output
    assert "without risk of replacing another file" in result.stderr
    assert target.read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.yaml")] == []


def test_an_unreadable_row_is_skipped_and_the_export_ends_with_an_error_and_exit_4(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(JOBS[0])
    sqlite_stock.insert_raw("corrupt", b"not a pickle", 1.0)
    result = cli("export", url=sqlite_stock.url)
    assert result.exit_code == 4
    ids = [t["id"] for t in yaml.safe_load(result.stdout)["default_tasks"]]
    assert ids == ["cron_many"]
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("Error:")]
    assert errors == ["Error: 1 job(s) not exported: corrupt (the other 1 job(s) were exported)"]
    assert lines[-2] == errors[0]  # the error, then why
    assert lines[-1].startswith("  - corrupt: cannot be decoded")
    assert not any(line.startswith("warning:") for line in lines)

    as_json = cli("export", "-o", "json", url=sqlite_stock.url)
    assert as_json.exit_code == 4
    document = json.loads(as_json.stdout)
    assert [s["id"] for s in document["skipped"]] == ["corrupt"]
    assert [t["id"] for t in document["default_tasks"]] == ["cron_many"]
    error = document["error"]
    assert error["code"] == "conflict" and error["exit_code"] == 4
    assert error["message"] == errors[0].removeprefix("Error: ")
    assert error["problems"][0].startswith("corrupt: cannot be decoded")
    assert as_json.stderr.splitlines()[-2] == errors[0]

    # written to a file too, then the same error
    target = tmp_path / "out.json"
    to_file = cli("export", "-o", "json", "-f", str(target), url=sqlite_stock.url)
    assert to_file.exit_code == 4
    assert json.loads(target.read_text())["error"]["code"] == "conflict"
    assert to_file.stderr.splitlines()[-2] == errors[0]


def test_a_whole_export_has_a_null_error(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(JOBS[0])
    result = cli("export", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["error"] is None


def test_export_of_a_missing_store_is_the_not_initialised_conflict(
    cli: Invoke, sqlite_url: str
) -> None:
    result = cli("export", url=sqlite_url)
    assert result.exit_code == 4
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_description_comes_from_the_tasks_file(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(
        dict(id="sync_accounts", func="tests.jobs:noop", trigger="cron", hour=1),
    )
    bundled = load_tasks_file(None).task("sync_accounts")
    assert bundled is not None and bundled.description
    document = yaml.safe_load(cli("export", url=sqlite_stock.url).stdout)
    assert document["default_tasks"][0]["description"] == bundled.description


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("paused: 'yes'", "`paused` must be true or false"),
        ("args: 1", "`args` must be a list"),
        ("kwargs: [1]", "`kwargs` must be a mapping"),
        ("job_defaults: {max_instances: 0}", "max_instances must be a positive integer"),
    ],
)
def test_own_task_keys_are_validated(tmp_path: Path, raw: str, problem: str) -> None:
    path = write_tasks_file(
        tmp_path / "t.yaml",
        "default_tasks:\n  - id: a\n    function: 'tests.jobs:noop'\n    trigger_type: cron\n"
        f"    trigger_params: {{hour: 1}}\n    {raw}\n",
    )
    problems = load_tasks_file(path).problems(verify_imports=False)
    assert any(problem in p for p in problems), problems


def test_a_paused_task_is_registered_paused_and_a_disabled_one_not_at_all(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.create()
    path = write_tasks_file(
        tmp_path / "t.yaml",
        """
        default_tasks:
          - {id: held, function: 'tests.jobs:noop', trigger_type: cron,
             trigger_params: {hour: 1}, paused: true}
          - {id: dropped, function: 'tests.jobs:noop', trigger_type: cron,
             trigger_params: {hour: 1}, enabled: false, paused: true}
          - {id: runs, function: 'tests.jobs:noop', trigger_type: interval,
             trigger_params: {minutes: 5}}
        """,
    )
    assert cli("--tasks", str(path), "reload", "--yes", url=sqlite_stock.url).exit_code == 0
    raw = sqlite_stock.raw()
    assert sorted(raw) == ["held", "runs"]
    assert raw["held"][0] is None
    assert raw["runs"][0] is not None
    assert sqlite_stock.load()["held"].next_run_time is None
    # a date in the far future keeps next_run_time comparisons meaningful
    assert raw["runs"][0] < (datetime.now(UTC) + timedelta(minutes=6)).timestamp()
