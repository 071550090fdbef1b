"""The error contract and pause/resume over several ids.

Every error class carries its code and exit code and builds its JSON object the one way;
the actions service returns one result for several ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.errors import (
    InternalError,
    InvalidInputError,
    JobNotFoundError,
    JobRunFailedError,
    StoreConflictError,
    StoreSystemError,
    TasksFileError,
    WhaleFallSchedError,
    error_object,
)
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import load_tasks_file


def _job(job_id: str, **fields: Any) -> dict[str, Any]:
    return dict(id=job_id, name=job_id, func="tests.jobs:noop", trigger="cron", hour=3, **fields)


@pytest.fixture
def two_jobs(sqlite_stock: StockStore) -> StockStore:
    sqlite_stock.add(_job("a"), _job("b"))
    return sqlite_stock


# -- one error contract ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error_class", "code", "exit_code"),
    [
        (InvalidInputError, "usage", ExitCode.USAGE),
        (TasksFileError, "usage", ExitCode.USAGE),
        (JobNotFoundError, "not_found", ExitCode.NOT_FOUND),
        (StoreConflictError, "conflict", ExitCode.CONFLICT),
        (StoreSystemError, "system_error", ExitCode.SYSTEM),
        (JobRunFailedError, "run_failed", ExitCode.RUN_FAILED),
        (InternalError, "internal", ExitCode.SYSTEM),
        (WhaleFallSchedError, "error", ExitCode.SYSTEM),
    ],
)
def test_each_error_class_carries_its_code_and_exit_code(
    error_class: type[WhaleFallSchedError], code: str, exit_code: ExitCode
) -> None:
    error = error_class("it went wrong")
    assert (error.code, error.exit_code) == (code, exit_code)
    assert error.to_dict() == {"code": code, "message": "it went wrong", "exit_code": exit_code}
    assert type(error.to_dict()["exit_code"]) is int


def test_an_error_with_problems_lists_them_and_masks_every_text() -> None:
    error = TasksFileError("tasks file t.yaml is invalid", ["task a: secret", "task b: bad"])
    document = error.to_dict(lambda text: text.replace("secret", "***"))
    assert document == {
        "code": "usage",
        "message": "tasks file t.yaml is invalid (2 problems)",
        "exit_code": 2,
        "problems": ["task a: ***", "task b: bad"],
    }
    assert "problems" not in error_object("usage", "m", 2, [])


def test_the_exit_codes_are_the_documented_ones() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5]


def test_a_cli_error_is_the_error_classes_object(cli: Invoke, two_jobs: StockStore) -> None:
    result = cli("get", "nope", "-o", "json", url=two_jobs.url)
    assert result.exit_code == JobNotFoundError.exit_code
    error = json.loads(result.stdout)["error"]
    assert error == JobNotFoundError(error["message"]).to_dict()


# -- pause/resume over several ids: one result from the service -------------------------


def test_pause_jobs_returns_one_outcome_per_id(two_jobs: StockStore) -> None:
    service = SchedulerActionsService(JobStoreRepository(two_jobs.url), load_tasks_file(None))
    result = service.pause_jobs(["a", "nope", "a", "b"])
    assert [(o.id, o.outcome) for o in result.outcomes] == [
        ("a", "done"),
        ("nope", "failed"),
        ("b", "done"),
    ]
    assert result.status == "partial"
    assert result.exit_code == ExitCode.NOT_FOUND
    assert [r.id for r in result.results] == ["a", "b"]
    [(failed_id, error)] = result.errors
    assert failed_id == "nope" and isinstance(error, JobNotFoundError)

    again = service.pause_jobs(["a", "b"])
    assert (again.status, again.exit_code) == ("success", ExitCode.OK)
    assert [r.message for r in again.results] == ["already paused", "already paused"]

    none = service.resume_jobs(["x", "y"])
    assert (none.status, none.exit_code) == ("error", ExitCode.NOT_FOUND)
    assert none.results == []


def test_cli_pause_renders_the_services_result(cli: Invoke, two_jobs: StockStore) -> None:
    result = cli("pause", "a", "nope", "-o", "json", url=two_jobs.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    document = json.loads(result.stdout)
    assert list(document) == ["results", "errors", "error"]
    assert [r["id"] for r in document["results"]] == ["a"]
    assert document["errors"] == [{"id": "nope", "error": document["error"]}]
    assert document["error"]["code"] == "not_found"
    assert document["error"]["exit_code"] == 3
    assert result.stderr.splitlines() == [f"Error: {document['error']['message']}"]

    ok = cli("resume", "a", "b", "-o", "json", url=two_jobs.url)
    assert ok.exit_code == 0, ok.output
    assert list(json.loads(ok.stdout)) == ["results", "errors"]
