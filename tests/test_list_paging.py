"""list --limit/--offset and the streamed read path behind it, on every backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerJobsReadService
from whalefall_sched.services.dto import STATE_PAUSED, STATE_RUNNING, STATE_UNREADABLE

RUNNING = [f"job{i:03d}" for i in range(0, 30, 2)]
PAUSED = [f"job{i:03d}" for i in range(1, 30, 2)]
#: rows that cannot be decoded: one with a next_run_time column, one without
BROKEN = {"broken_a": 1_900_000_000.0, "broken_b": None}


def _job(job_id: str, paused: bool) -> dict[str, Any]:
    job: dict[str, Any] = dict(
        id=job_id, name=job_id, func="tests.jobs:noop", trigger="cron", hour=1
    )
    if paused:
        job["next_run_time"] = None
    return job


@pytest.fixture
def filled(stock: StockStore) -> StockStore:
    stock.add(*(_job(i, False) for i in RUNNING), *(_job(i, True) for i in PAUSED))
    for job_id, when in BROKEN.items():
        stock.insert_raw(job_id, b"not a pickle", when)
    return stock


@pytest.fixture
def read(filled: StockStore) -> Iterator[SchedulerJobsReadService]:
    repo = JobStoreRepository(filled.url)
    yield SchedulerJobsReadService(repo)
    repo.close()


ALL = sorted([*RUNNING, *PAUSED, *BROKEN])


def test_list_jobs_is_an_iterator_in_id_order(read: SchedulerJobsReadService) -> None:
    items = read.list_jobs()
    assert iter(items) is items
    assert [i.id for i in items] == ALL
    assert list(items) == []  # consumed once


@pytest.mark.parametrize(("offset", "limit"), [(0, 5), (5, 5), (28, 10), (40, 3), (0, 0)])
def test_limit_and_offset_slice_the_sorted_jobs(
    read: SchedulerJobsReadService, offset: int, limit: int
) -> None:
    got = [i.id for i in read.list_jobs(limit=limit, offset=offset)]
    assert got == ALL[offset : offset + limit]


def test_state_filters_never_show_an_unreadable_row_as_running_or_paused(
    read: SchedulerJobsReadService,
) -> None:
    assert [i.id for i in read.list_jobs(STATE_RUNNING)] == RUNNING
    assert [i.id for i in read.list_jobs(STATE_PAUSED)] == PAUSED
    assert [i.id for i in read.list_jobs(STATE_UNREADABLE)] == sorted(BROKEN)
    assert [i.id for i in read.list_jobs(STATE_PAUSED, offset=3, limit=4)] == PAUSED[3:7]
    assert [i.id for i in read.list_jobs(STATE_UNREADABLE, limit=1)] == ["broken_a"]


def test_ids_and_states_need_no_decoding(filled: StockStore) -> None:
    repo = JobStoreRepository(filled.url)
    try:
        rows = repo.job_ids_and_states()
    finally:
        repo.close()
    assert [job_id for job_id, _ in rows] == ALL
    paused = {job_id for job_id, is_paused in rows if is_paused}
    assert paused == {*PAUSED, "broken_b"}


def test_cli_list_limit_offset(cli: Invoke, filled: StockStore) -> None:
    result = cli("list", "--offset", "2", "--limit", "3", "-o", "json", url=filled.url)
    assert result.exit_code == 0, result.output
    assert [i["id"] for i in json.loads(result.stdout)["items"]] == ALL[2:5]
    result = cli("list", "--state", "paused", "--limit", "2", "-o", "json", url=filled.url)
    assert [i["id"] for i in json.loads(result.stdout)["items"]] == PAUSED[:2]


def test_cli_list_refuses_a_negative_limit(cli: Invoke, filled: StockStore) -> None:
    result = cli("list", "--limit", "-1", url=filled.url)
    assert result.exit_code == 2
