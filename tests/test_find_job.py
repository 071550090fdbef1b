"""Finding the job the operator meant: the nearest ids suggested for an unknown one, and a
job's exact name accepted wherever an id is (issue 7, point 4)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from whalefall_sched.errors import AmbiguousJobNameError, ExitCode, JobNotFoundError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.job_ids import nearest_ids
from whalefall_sched.services.read_service import SchedulerJobsReadService
from whalefall_sched.services.tasks_file import load_tasks_file


def _cron(job_id: str, name: str, **fields: Any) -> dict[str, Any]:
    return dict(id=job_id, name=name, func="tests.jobs:noop", trigger="cron", hour=1, **fields)


#: Ids and names like the host app's; two jobs share the name 容量.
JOBS = [
    _cron("sync_accounts", "账户同步"),
    _cron("cleanup_logs", "清理旧日志"),
    _cron("collect_database_sizes", "容量"),
    _cron("calculate_database_size_aggregations", "容量"),
]


@pytest.fixture
def jobs(sqlite_stock: StockStore) -> StockStore:
    sqlite_stock.add(*JOBS)
    return sqlite_stock


@pytest.fixture
def loaded(cli: Invoke, sqlite_url: str) -> str:
    """The five bundled jobs (whose functions the bundled tasks file lists), by ``reload``."""
    result = cli("init", url=sqlite_url)
    assert result.exit_code == 0, result.output
    return sqlite_url


def _paused(stock: StockStore) -> set[str]:
    return {job_id for job_id, (when, _) in stock.raw().items() if when is None}


# -- an unknown id -------------------------------------------------------------------------


def test_an_unknown_id_suggests_the_nearest_ids(cli: Invoke, jobs: StockStore) -> None:
    result = cli("get", "sync_acounts", url=jobs.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: job 'sync_acounts' not found in {jobs.url} (table apscheduler_jobs). "
        "Did you mean: sync_accounts?\n"
    )
    as_json = cli("get", "sync_acounts", "-o", "json", url=jobs.url)
    assert as_json.exit_code == ExitCode.NOT_FOUND
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "not_found"
    assert error["exit_code"] == ExitCode.NOT_FOUND
    assert error["suggestions"] == ["sync_accounts"]


def test_at_most_three_ids_are_suggested_nearest_first() -> None:
    ids = ["job_1", "job_2", "job_3", "job_4", "other", "JOB_0"]
    assert nearest_ids("job_0", ids) == ["JOB_0", "job_1", "job_2"]
    assert nearest_ids("SYNC_ACOUNTS", ["sync_accounts", "cleanup_logs"]) == ["sync_accounts"]
    assert nearest_ids("zzz", ids) == []


def test_an_id_near_none_says_what_it_said_before(cli: Invoke, jobs: StockStore) -> None:
    result = cli("get", "zzz", "-o", "json", url=jobs.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    error = json.loads(result.stdout)["error"]
    assert "suggestions" not in error
    assert error["message"] == (
        f"job 'zzz' not found in {jobs.url} (table apscheduler_jobs); "
        "`whalefall-sched list` shows the ids"
    )


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pause_and_resume_suggest_per_id_and_act_on_the_others(
    cli: Invoke, jobs: StockStore, command: str
) -> None:
    result = cli(command, "cleanup_logs", "cleanup_log", "-o", "json", url=jobs.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    document = json.loads(result.stdout)
    assert [r["id"] for r in document["results"]] == ["cleanup_logs"]
    [failed] = document["errors"]
    assert failed["id"] == "cleanup_log"
    assert failed["error"]["suggestions"] == ["cleanup_logs"]
    assert "Did you mean: cleanup_logs?" in result.stderr


def test_run_of_an_unknown_id_suggests_and_runs_nothing(cli: Invoke, loaded: str) -> None:
    result = cli("run", "cleanup_log", "-o", "json", url=loaded)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert json.loads(result.stdout)["error"]["suggestions"] == ["cleanup_logs"]
    assert "started" not in result.stderr


# -- a name for an id ----------------------------------------------------------------------


def test_get_accepts_a_job_s_exact_name(cli: Invoke, jobs: StockStore) -> None:
    before = jobs.fingerprint()
    result = cli("get", "账户同步", "-o", "json", url=jobs.url)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["id"], document["name"]) == ("sync_accounts", "账户同步")
    table = cli("get", "清理旧日志", url=jobs.url)
    assert table.exit_code == 0, table.output
    assert "cleanup_logs" in table.stdout
    assert jobs.fingerprint() == before  # a read by name writes nothing either


def test_pause_and_resume_accept_names(cli: Invoke, jobs: StockStore) -> None:
    paused = cli("pause", "账户同步", "cleanup_logs", "-o", "json", url=jobs.url)
    assert paused.exit_code == 0, paused.output
    document = json.loads(paused.stdout)
    assert [(r["id"], r["changed"]) for r in document["results"]] == [
        ("sync_accounts", True),
        ("cleanup_logs", True),
    ]
    assert _paused(jobs) == {"sync_accounts", "cleanup_logs"}
    resumed = cli("resume", "清理旧日志", url=jobs.url)
    assert resumed.exit_code == 0, resumed.output
    assert _paused(jobs) == {"sync_accounts"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="run needs os.fork (POSIX)")
def test_run_accepts_a_name_and_runs_as_the_job_s_id(cli: Invoke, loaded: str) -> None:
    result = cli("run", "账户同步", "--created-by", "7", "-o", "json", url=loaded)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["id"] == "sync_accounts"
    assert document["thread_name"] == "sync_accounts_manual"
    # the id's manual kwargs, worked out for the job the name resolved to
    assert document["kwargs"] == {"manual_run": True, "created_by": 7}


def test_the_id_always_wins_over_a_name(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(_cron("first", "second"), _cron("second", "third"))
    result = cli("get", "second", "-o", "json", url=sqlite_stock.url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == "second"
    paused = cli("pause", "second", url=sqlite_stock.url)
    assert paused.exit_code == 0, paused.output
    assert _paused(sqlite_stock) == {"second"}
    by_name = cli("get", "third", "-o", "json", url=sqlite_stock.url)
    assert json.loads(by_name.stdout)["id"] == "second"


def test_a_name_is_matched_exactly(cli: Invoke, jobs: StockStore) -> None:
    result = cli("get", "账户", "-o", "json", url=jobs.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "suggestions" not in json.loads(result.stdout)["error"]


@pytest.mark.parametrize("command", ["get", "pause", "resume", "run"])
def test_a_name_several_jobs_share_is_an_error_listing_their_ids(
    cli: Invoke, jobs: StockStore, command: str
) -> None:
    before = jobs.fingerprint()
    result = cli(command, "容量", "-o", "json", url=jobs.url)
    assert result.exit_code == ExitCode.USAGE, result.output
    document = json.loads(result.stdout)
    error = document["error"]
    ids = ["calculate_database_size_aggregations", "collect_database_sizes"]
    assert error["code"] == "usage"
    assert error["suggestions"] == ids
    assert error["message"] == (
        f"2 jobs in {jobs.url} (table apscheduler_jobs) are named '容量': "
        f"{', '.join(ids)}; give one of their ids"
    )
    assert result.stderr == f"Error: {error['message']}\n"
    assert jobs.fingerprint() == before


def test_an_unreadable_row_is_matched_by_its_id_only(cli: Invoke, sqlite_stock: StockStore) -> None:
    sqlite_stock.add(_cron("good", "named"))
    sqlite_stock.insert_raw("broken", b"not a pickle", 1.0)
    by_id = cli("get", "broken", "-o", "json", url=sqlite_stock.url)
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.stdout)["state"] == "STATE_UNREADABLE"
    # its name cannot be read: a name never finds it, the others still are found
    assert cli("get", "named", url=sqlite_stock.url).exit_code == 0
    near = cli("get", "brokn", "-o", "json", url=sqlite_stock.url)
    assert near.exit_code == ExitCode.NOT_FOUND
    assert json.loads(near.stdout)["error"]["suggestions"] == ["broken"]


# -- the services, on every backend --------------------------------------------------------


def test_the_services_resolve_names_on_every_backend(stock: StockStore) -> None:
    stock.add(*JOBS, _cron("Sync", "sync"))
    repository = JobStoreRepository(stock.url)
    try:
        tasks = load_tasks_file(None)
        reads = SchedulerJobsReadService(repository, tasks)
        assert reads.get_job("账户同步").id == "sync_accounts"
        # MariaDB compares ids ignoring case: 'sync' is not the id 'Sync' but its name
        assert reads.get_job("sync").id == "Sync"
        actions = SchedulerActionsService(repository, tasks)
        result = actions.pause_jobs(["清理旧日志"])
        assert [r.id for r in result.results] == ["cleanup_logs"]
        assert _paused(stock) == {"cleanup_logs"}
        with pytest.raises(AmbiguousJobNameError) as shared:
            reads.get_job("容量")
        assert list(shared.value.suggestions) == [
            "calculate_database_size_aggregations",
            "collect_database_sizes",
        ]
        with pytest.raises(JobNotFoundError) as unknown:
            reads.get_job("sync_acounts")
        assert list(unknown.value.suggestions) == ["sync_accounts"]
    finally:
        repository.close()
