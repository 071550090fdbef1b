"""Bulk selection for pause and resume: ids, ``-`` from stdin, ``--match``, ``--state``,
``--all``; nothing matched is exit 3, more than a handful asked first, each id reported
on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO, Invoke, StockStore
from whalefall_sched.cli import confirm
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.cli.selection_options import CONFIRM_ABOVE, MAX_STDIN_BYTES
from whalefall_sched.errors import InvalidInputError, JobNotFoundError, StoreConflictError
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.selection import select_jobs
from whalefall_sched.services.tasks_file import load_tasks_file

SYNC = ["sync_a", "sync_b", "sync_c", "sync_d"]


def _job(job_id: str, **extra: Any) -> dict[str, Any]:
    return dict(func="tests.jobs:noop", trigger="interval", id=job_id, hours=1, **extra)


#: Four sync_ jobs (one more than asks), a case twin the glob must not match, others.
JOBS = [
    *(_job(job_id, name=f"Sync {job_id[-1]}") for job_id in SYNC),
    _job("Sync_e"),
    _job("cleanup_logs", name="清理旧日志"),
    _job("idle", next_run_time=None),
]


@pytest.fixture
def store(sqlite_stock: StockStore) -> StockStore:
    sqlite_stock.add(*JOBS)
    return sqlite_stock


def _paused(store: StockStore) -> set[str]:
    return {job_id for job_id, (when, _) in store.raw().items() if when is None}


def _doc(result: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# -- selecting ---------------------------------------------------------------------------


def test_match_pauses_every_matching_id_case_sensitively(cli: Invoke, store: StockStore) -> None:
    result = cli("pause", "--match", "sync_*", "--yes", "-o", "json", url=store.url)
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _doc(result)["results"]] == SYNC
    assert _paused(store) == {*SYNC, "idle"}


def test_ids_names_and_patterns_are_a_union_in_order(cli: Invoke, store: StockStore) -> None:
    result = cli(
        "pause", "idle", "清理旧日志", "--match", "sync_[ab]", "--match", "*_e", "-y", "-o", "json",
        url=store.url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in _doc(result)["results"]]
    assert ids == ["idle", "cleanup_logs", "Sync_e", "sync_a", "sync_b"]
    assert _doc(result)["results"][0]["message"] == "already paused"


def test_state_alone_selects_every_job_in_that_state(cli: Invoke, store: StockStore) -> None:
    result = cli("resume", "--state", "paused", "-o", "json", url=store.url)
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _doc(result)["results"]] == ["idle"]
    assert _paused(store) == set()


def test_state_filters_the_ids_and_patterns(cli: Invoke, store: StockStore) -> None:
    cli("pause", "sync_a", url=store.url)
    result = cli("resume", "--match", "sync_*", "idle", "--state", "paused", "-o", "json",
                 url=store.url)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _doc(result)["results"]] == ["idle", "sync_a"]


def test_stdin_ids_one_a_line(cli: Invoke, store: StockStore) -> None:
    result = cli("pause", "-", "-o", "json", url=store.url, input="\n  sync_a \n\nsync_b\r\n\n")
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in _doc(result)["results"]] == ["sync_a", "sync_b"]
    assert _paused(store) == {"sync_a", "sync_b", "idle"}


def test_stdin_with_no_ids_matches_nothing(cli: Invoke, store: StockStore) -> None:
    before = store.fingerprint()
    result = cli("pause", "-", url=store.url, input="\n \n")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr.splitlines() == [
        f"Error: no job matches - (0 id(s) read from stdin) in sqlite:///{store.url[10:]} "
        "(table apscheduler_jobs)"
    ]
    assert store.fingerprint() == before


def test_a_selection_matching_nothing_is_exit_3(cli: Invoke, store: StockStore) -> None:
    before = store.fingerprint()
    result = cli("pause", "--match", "sync_*", "--state", "paused", url=store.url)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: no job matches --match 'sync_*' --state paused in {store.url} "
        "(table apscheduler_jobs)"
    ]
    as_json = cli("pause", "--match", "nothing*", "-o", "json", url=store.url)
    assert as_json.exit_code == ExitCode.NOT_FOUND
    assert _doc(as_json)["error"]["code"] == "not_found"
    assert store.fingerprint() == before


@pytest.mark.parametrize(
    "args",
    [
        ["pause", "--all", "sync_a"],
        ["pause", "--all", "--match", "sync_*"],
        ["resume", "-", "--all"],
        ["pause"],
        ["resume", "--yes"],
    ],
    ids=["all-with-id", "all-with-match", "all-with-stdin", "nothing", "nothing-but-yes"],
)
def test_usage_errors_change_nothing(cli: Invoke, store: StockStore, args: list[str]) -> None:
    before = store.fingerprint()
    result = cli(*args, "-o", "json", url=store.url, input="sync_a\n")
    assert result.exit_code == ExitCode.USAGE, result.output
    assert _doc(result)["error"]["code"] == "usage"
    assert len(result.stderr.splitlines()) == 1
    assert store.fingerprint() == before


# -- confirming ----------------------------------------------------------------------------


def test_more_than_a_handful_is_refused_without_a_terminal(cli: Invoke, store: StockStore) -> None:
    before = store.fingerprint()
    result = cli("pause", "--all", url=store.url)
    assert result.exit_code == ExitCode.CONFLICT
    assert result.stderr.splitlines() == [
        "Error: pause of 7 jobs needs confirmation; no terminal to ask on, so nothing was "
        "changed (pass --yes)"
    ]
    as_json = cli("pause", "--match", "sync_*", "-o", "json", url=store.url)
    assert as_json.exit_code == ExitCode.CONFLICT
    assert _doc(as_json)["error"]["code"] == "conflict"
    assert store.fingerprint() == before

    accepted = cli("pause", "--all", "-y", url=store.url)
    assert accepted.exit_code == 0, accepted.output
    assert _paused(store) == {job["id"] for job in JOBS}


def test_a_handful_is_not_asked(cli: Invoke, store: StockStore) -> None:
    assert CONFIRM_ABOVE == 3
    result = cli("pause", "--match", "sync_[abc]", url=store.url)
    assert result.exit_code == 0, result.output
    assert _paused(store) == {"sync_a", "sync_b", "sync_c", "idle"}


@pytest.mark.parametrize("answer", ["y", "n"])
def test_a_terminal_is_shown_the_ids_and_asked(
    cli: Invoke, store: StockStore, monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    monkeypatch.setattr(confirm, "_can_ask", lambda: True)
    before = store.fingerprint()
    result = cli("pause", "--match", "sync_*", url=store.url, input=f"{answer}\n")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("about to pause 4 jobs in ")
    assert lines[1:5] == [f"  {job_id}" for job_id in SYNC]
    assert lines[5].startswith("Pause these 4 jobs? [y/N]")
    if answer == "y":
        assert result.exit_code == 0, result.output
        assert _paused(store) == {*SYNC, "idle"}
    else:
        assert result.exit_code == ExitCode.CONFLICT
        assert lines[-1] == "Error: pause not confirmed; nothing was changed"
        assert store.fingerprint() == before


# -- each id on its own ----------------------------------------------------------------------


def test_each_id_reported_on_its_own_with_an_unreadable_row(cli: Invoke, store: StockStore) -> None:
    store.insert_raw("sync_bad", b"\x80\x05not a pickle", 1e9)
    result = cli("pause", "sync_acounts", "--match", "sync_*", "--yes", "-o", "json", url=store.url)
    document = _doc(result)
    assert [r["id"] for r in document["results"]] == SYNC
    failed = {e["id"]: e["error"]["code"] for e in document["errors"]}
    assert failed == {"sync_acounts": "not_found", "sync_bad": "conflict"}
    # the first failed id decides the exit code: the unknown one, given first
    assert result.exit_code == ExitCode.NOT_FOUND
    assert document["error"] == document["errors"][0]["error"]
    assert "Did you mean: sync_a" in document["errors"][0]["error"]["message"]
    assert _paused(store) == {*SYNC, "idle"}
    assert store.raw()["sync_bad"] == (1e9, b"\x80\x05not a pickle")
    assert len(result.stderr.splitlines()) == 2


def test_state_never_selects_an_unreadable_row(cli: Invoke, store: StockStore) -> None:
    store.insert_raw("sync_bad_paused", b"garbage", None)
    store.insert_raw("sync_bad_running", b"garbage", 1e9)
    resumed = cli("resume", "--state", "paused", "-o", "json", url=store.url)
    assert resumed.exit_code == 0, resumed.output
    assert [r["id"] for r in _doc(resumed)["results"]] == ["idle"]
    assert _doc(resumed)["errors"] == []
    paused = cli("pause", "--match", "sync_bad*", "--state", "running", url=store.url)
    assert paused.exit_code == ExitCode.NOT_FOUND
    assert store.raw()["sync_bad_paused"] == (None, b"garbage")
    assert store.raw()["sync_bad_running"] == (1e9, b"garbage")


# -- the service, on every backend ---------------------------------------------------------


def test_bulk_pause_by_match_through_the_service(
    stock: StockStore, repo: JobStoreRepository
) -> None:
    stock.add(*JOBS)
    stock.insert_raw("sync_bad", b"garbage", None)
    service = SchedulerActionsService(repo, load_tasks_file(None))

    selection = select_jobs(repo, patterns=["sync_*"])
    assert selection.ids == sorted([*SYNC, "sync_bad"])
    result = service.pause_jobs(selection.ids, selection.failed)
    assert [r.id for r in result.results] == SYNC
    assert [job_id for job_id, _ in result.errors] == ["sync_bad"]
    assert isinstance(result.errors[0][1], StoreConflictError)
    assert _paused(stock) == {*SYNC, "idle", "sync_bad"}
    # Sync_e differs only in case: MariaDB's collation would match it, the glob does not
    assert stock.raw()["Sync_e"][0] is not None

    assert select_jobs(repo, state="paused").ids == ["idle", *SYNC]
    assert select_jobs(repo, state="running").ids == ["Sync_e", "cleanup_logs"]
    named = select_jobs(repo, ["Sync a", "nope"], state="paused")
    assert named.ids == ["sync_a", "nope"]
    assert isinstance(named.failed["nope"], JobNotFoundError)
    with pytest.raises(JobNotFoundError, match=r"no job matches --match 'x\*' --state running"):
        select_jobs(repo, patterns=["x*"], state="running")
    with pytest.raises(InvalidInputError):
        select_jobs(repo, ["sync_a"], all_=True)


# -- a real process, ids from a pipe -------------------------------------------------------


def test_ids_from_a_pipe_in_real_processes(store: StockStore) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    wfs = f"{sys.executable} -m whalefall_sched --url {store.url}"
    pipeline = (
        f"set -o pipefail; {wfs} list -o name --state running | grep '^sync_' "
        f"| {wfs} pause - --yes -o json"
    )
    result = subprocess.run(
        ["bash", "-c", pipeline], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in json.loads(result.stdout)["results"]] == SYNC
    assert _paused(store) == {*SYNC, "idle"}

    refused = subprocess.run(
        ["bash", "-c", f"{wfs} list -o name | {wfs} resume -"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == ExitCode.CONFLICT
    assert "no terminal to ask on" in refused.stderr
    assert _paused(store) == {*SYNC, "idle"}


def test_stdin_past_its_limit_is_a_usage_error(cli: Invoke, store: StockStore) -> None:
    before = store.fingerprint()
    lines = "sync_a\n" * (MAX_STDIN_BYTES // 7 + 1)
    result = cli("pause", "-", "--yes", url=store.url, input=lines)
    assert result.exit_code == ExitCode.USAGE
    assert f"more than {MAX_STDIN_BYTES:,} bytes" in result.stderr
    assert store.fingerprint() == before
