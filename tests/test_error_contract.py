"""The error contract, pause/resume over several ids, and the tasks file read only when needed.

Every error class carries its code and exit code and builds its JSON object the one way;
the actions service returns one result for several ids; ``pause``, ``resume``,
``status`` and ``restore`` never read the tasks file, and ``list``/``get`` survive a
broken one with a warning.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Invoke, StockStore
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.cli.list_columns import CRON_COLUMNS
from whalefall_sched.cli.result_tables import local_time, relative_time
from whalefall_sched.cli.times import time_left
from whalefall_sched.errors import (
    InternalError,
    InvalidInputError,
    JobNotFoundError,
    JobRunFailedError,
    JobRunTimedOutError,
    StoreConflictError,
    StoreSystemError,
    TasksFileError,
    WhaleFallSchedError,
    error_object,
)
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import load_tasks_file
from whalefall_sched.services.triggers import CRON_ARG_KEYS

BROKEN_YAML = "default_tasks: [unclosed\n"
#: What the YAML loader says about BROKEN_YAML, and where (libyaml's words when installed).
BROKEN_AT = "broken.yaml:2:1: " + (
    "did not find expected ',' or ']'"
    if yaml.__with_libyaml__
    else "expected ',' or ']', but got '<stream end>'"
)


def _job(job_id: str, **fields: Any) -> dict[str, Any]:
    return dict(id=job_id, name=job_id, func="tests.jobs:noop", trigger="cron", hour=3, **fields)


@pytest.fixture
def broken() -> Path:
    """A tasks file that is not valid YAML, in the working directory."""
    path = Path("broken.yaml")
    path.write_text(BROKEN_YAML, encoding="utf-8")
    return path


@pytest.fixture
def two_jobs(sqlite_stock: StockStore) -> StockStore:
    sqlite_stock.add(_job("a"), _job("b"))
    return sqlite_stock


@pytest.fixture
def never_read_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to parse a tasks file fails the test."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the tasks file was read")

    monkeypatch.setattr("whalefall_sched.services.tasks_file.load_tasks_file", refuse)


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
        (JobRunTimedOutError, "run_timeout", ExitCode.RUN_TIMED_OUT),
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
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


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
    assert list(document) == ["schema_version", "results", "errors", "error"]
    assert [r["id"] for r in document["results"]] == ["a"]
    assert document["errors"] == [{"id": "nope", "error": document["error"]}]
    assert document["error"]["code"] == "not_found"
    assert document["error"]["exit_code"] == 3
    assert result.stderr.splitlines() == [f"Error: {document['error']['message']}"]

    ok = cli("resume", "a", "b", "-o", "json", url=two_jobs.url)
    assert ok.exit_code == 0, ok.output
    assert list(json.loads(ok.stdout)) == ["schema_version", "results", "errors", "error"]


# -- the tasks file is read only by the commands that need it ---------------------------


def test_pause_resume_and_status_never_read_the_tasks_file(
    cli: Invoke, two_jobs: StockStore, never_read_tasks: None
) -> None:
    assert cli("pause", "a", url=two_jobs.url).exit_code == 0
    assert cli("resume", "a", url=two_jobs.url).exit_code == 0
    status = cli("status", "-o", "json", url=two_jobs.url)
    assert status.exit_code in (0, 4), status.output
    assert json.loads(status.stdout)["reachable"] is True


def test_restore_never_reads_the_tasks_file(
    cli: Invoke, two_jobs: StockStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reloaded = cli(
        "reload", "--yes", "--backup-dir", str(tmp_path / "b"), "-o", "json", url=two_jobs.url
    )
    assert reloaded.exit_code == 0, reloaded.output
    backup = json.loads(reloaded.stdout)["backup_path"]

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the tasks file was read")

    monkeypatch.setattr("whalefall_sched.services.tasks_file.load_tasks_file", refuse)
    restored = cli("restore", backup, "--yes", "--no-backup", "-o", "json", url=two_jobs.url)
    assert restored.exit_code == 0, restored.output
    assert json.loads(restored.stdout)["restored"] == ["a", "b"]


@pytest.mark.parametrize("command", [["pause", "a"], ["resume", "a"], ["status"]])
def test_a_broken_tasks_file_does_not_stop_commands_that_do_not_need_it(
    cli: Invoke, two_jobs: StockStore, broken: Path, command: list[str]
) -> None:
    without = cli(*command, "-o", "json", url=two_jobs.url)
    result = cli("--tasks", str(broken), *command, "-o", "json", url=two_jobs.url)
    assert result.exit_code == without.exit_code != ExitCode.USAGE, result.output
    assert "broken.yaml" not in result.stderr


def test_list_with_a_broken_tasks_file_warns_and_shows_is_builtin_unknown(
    cli: Invoke, two_jobs: StockStore, broken: Path
) -> None:
    result = cli("--tasks", str(broken), "list", "-o", "json", url=two_jobs.url)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["items"]
    assert [(i["id"], i["is_builtin"], i["description"]) for i in items] == [
        ("a", None, None),
        ("b", None, None),
    ]
    assert result.stderr.splitlines() == [
        f"warning: tasks file broken.yaml is invalid: not valid YAML at {BROKEN_AT} "
        "(while parsing a flow sequence started at 1:16); is_builtin unknown"
    ]

    table = cli("--tasks", str(broken), "list", url=two_jobs.url)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0][-1] == "BUILTIN"
    assert [(row[0], row[-1]) for row in rows if row[0] in ("a", "b")] == [("a", "?"), ("b", "?")]
    assert len(table.stderr.splitlines()) == 1


def test_get_with_a_broken_tasks_file_warns_and_shows_is_builtin_unknown(
    cli: Invoke, two_jobs: StockStore, broken: Path
) -> None:
    result = cli("--tasks", str(broken), "get", "a", "-o", "json", url=two_jobs.url)
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert (job["is_builtin"], job["description"]) == (None, None)
    assert result.stderr.startswith("warning: tasks file broken.yaml is invalid: ")
    assert result.stderr.rstrip().endswith("; is_builtin unknown")

    table = cli("--tasks", str(broken), "get", "a", url=two_jobs.url)
    assert table.exit_code == 0, table.output
    assert ["is_builtin", "?"] in [line.split() for line in table.stdout.splitlines()]


def test_list_with_a_missing_tasks_file_warns(cli: Invoke, two_jobs: StockStore) -> None:
    result = cli("--tasks", "absent.yaml", "list", "-o", "json", url=two_jobs.url)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "warning: tasks file absent.yaml is invalid: cannot read it "
        "(No such file or directory); is_builtin unknown\n"
    )


@pytest.mark.parametrize("command", [["reload", "--yes"], ["run", "a"]])
def test_reload_and_run_with_a_broken_tasks_file_still_fail(
    cli: Invoke, two_jobs: StockStore, broken: Path, command: list[str]
) -> None:
    before = two_jobs.fingerprint()
    result = cli("--tasks", str(broken), *command, "-o", "json", url=two_jobs.url)
    assert result.exit_code == ExitCode.USAGE, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "usage"
    assert BROKEN_AT in error["message"]
    assert result.stderr == f"Error: {error['message']}\n"
    assert two_jobs.fingerprint() == before


@pytest.mark.parametrize(
    ("text", "pure", "libyaml"),
    [
        (
            "default_tasks:\n  - id: a\n    name: x: y\n",
            "t.yaml:3:12: mapping values",
            "t.yaml:3:12: mapping values",
        ),
        (
            "default_tasks:\n\t- id: a\n",
            "t.yaml:2:1: found character '\\t'",
            "t.yaml:2:1: found character that cannot start any token",
        ),
        (
            'default_tasks: "\\q"\n',
            "t.yaml:1:18: found unknown escape character 'q'",
            "t.yaml:1:17: found unknown escape character",
        ),
        (
            "default_tasks: []\nx: \x07\n",
            "t.yaml:2:4: special characters are not allowed",
            "t.yaml:2:4: control characters are not allowed",
        ),
    ],
    ids=["mapping", "tab", "escape", "control-character"],
)
def test_a_yaml_syntax_error_names_file_line_and_column(text: str, pure: str, libyaml: str) -> None:
    """In PyYAML's words, or libyaml's where it is installed (and then used)."""
    where = libyaml if yaml.__with_libyaml__ else pure
    path = Path("t.yaml")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TasksFileError) as caught:
        load_tasks_file(path)
    assert str(caught.value).startswith(f"tasks file t.yaml is invalid: not valid YAML at {where}")


# -- one word per concept; docstrings that say what the functions do ---------------------


def test_the_table_columns_derive_from_the_one_cron_field_list() -> None:
    assert [key for _, key in CRON_COLUMNS] == [k for k in CRON_ARG_KEYS if k != "week"]
    assert [heading for heading, _ in CRON_COLUMNS] == [
        "SEC",
        "MIN",
        "HOUR",
        "DAY",
        "MONTH",
        "DOW",
        "YEAR",
    ]


def test_relative_time_and_local_time_say_what_their_docstrings_say() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert relative_time(now + timedelta(hours=5, minutes=26), now) == "5h 26min"
    assert relative_time(now - timedelta(minutes=3, seconds=2), now) == "3min 2s ago"
    # the LEFT column's time_left is another thing: a past time is "overdue" there
    assert time_left(-182) == "overdue"
    this_year = local_time((now + timedelta(hours=1)).isoformat(), now).split("\n")
    assert len(this_year) == 2 and this_year[1] == "1h"
    assert len(this_year[0]) == len("MM-DD HH:MM")
    next_year = local_time(datetime(2028, 1, 2, 12, tzinfo=UTC).isoformat(), now)
    assert next_year.split("\n")[0].startswith("2028-01-0")
    assert local_time(None) == "-"
