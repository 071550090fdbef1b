"""run: only the functions the tasks file names run, unless --allow-any-function."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Invoke, StockStore
from tests.task_modules import TaskJob, task_jobs
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.services.tasks_file import load_tasks_file


@pytest.fixture
def task_job(sqlite_stock: StockStore, tmp_path: Path) -> Iterator[Callable[[str], TaskJob]]:
    yield from task_jobs(sqlite_stock, tmp_path)


@pytest.fixture
def crafted(stock: StockStore, tmp_path: Path) -> tuple[StockStore, Path]:
    """A row naming ``os:system``, added with stock ``add_job``; the marker its command makes."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex[:8]}"
    stock.add(
        dict(
            func="os:system",
            args=[f"touch {marker}"],
            trigger="interval",
            minutes=5,
            id="crafted",
        )
    )
    return stock, marker


def test_a_crafted_row_naming_os_system_is_refused(
    cli: Invoke, crafted: tuple[StockStore, Path]
) -> None:
    stock, marker = crafted
    before = stock.fingerprint()

    result = cli("run", "crafted", "-o", "json", url=stock.url)

    assert result.exit_code == ExitCode.CONFLICT, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "conflict"
    assert "'os:system'" in error["message"]
    assert "--allow-any-function" in error["message"]
    assert result.stderr == f"Error: {error['message']}\n"  # one line
    assert "started" not in result.stderr
    assert not marker.exists()
    assert stock.fingerprint() == before


def test_allow_any_function_runs_it_with_a_note(
    cli: Invoke, crafted: tuple[StockStore, Path]
) -> None:
    stock, marker = crafted

    result = cli("run", "crafted", "--allow-any-function", "-o", "json", url=stock.url)

    assert result.exit_code == 0, result.output
    assert marker.exists()
    document = json.loads(result.stdout)
    assert document["func"] == "os:system"
    [note] = document["notes"]
    assert "'os:system'" in note and "--allow-any-function" in note
    assert f"note: {note}" in result.stderr


def test_a_refused_function_is_not_even_imported(
    cli: Invoke, task_job: Callable[[str], TaskJob]
) -> None:
    job = task_job(
        """
        import pathlib

        pathlib.Path("imported").write_text("the module ran")


        def task():
            pass
        """
    )
    Path("imported").unlink()  # stock add_job imported it once
    job.tasks.write_text("default_tasks: []\n", encoding="utf-8")  # the file lists nothing

    result = cli(*job.argv())

    assert result.exit_code == ExitCode.CONFLICT, result.output
    assert f"{job.func_ref!r}" in result.stderr
    assert not Path("imported").exists()


def test_a_function_a_task_names_runs_without_the_flag(
    cli: Invoke, task_job: Callable[[str], TaskJob]
) -> None:
    job = task_job("def task():\n    return 1\n")
    job.tasks.write_text(
        "default_tasks:\n"
        f"  - {{id: other, function: '{job.func_ref}', trigger_type: cron,"
        " trigger_params: {hour: 1}}\n",
        encoding="utf-8",
    )
    result = cli(*job.argv("-o", "json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["notes"] == []


def test_a_function_the_config_file_maps_runs_without_the_flag(
    cli: Invoke, task_job: Callable[[str], TaskJob], tmp_path: Path
) -> None:
    job = task_job("def task():\n    return 1\n")
    job.tasks.write_text("default_tasks: []\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"functions:\n  extra: {job.func_ref}\n", encoding="utf-8")

    refused = cli(*job.argv())
    allowed = cli("--config", str(config), *job.argv())

    assert refused.exit_code == ExitCode.CONFLICT, refused.output
    assert allowed.exit_code == 0, allowed.output


def test_the_bundled_tasks_files_functions_are_listed() -> None:
    tasks = load_tasks_file(None)
    assert "whalefall_sched.examples.tasks:sync_accounts" in tasks.func_refs()
    assert "os:system" not in tasks.func_refs()
