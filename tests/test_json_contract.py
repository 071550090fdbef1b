"""The JSON contract for scripts (issue 7, point 5): every document an object with
``schema_version`` first, the same key for the same thing, each time also as UTC
``<field>_utc``, ``get`` with every ``list`` field, the shape kept when the store cannot
be reached, and ``list -o json`` streamed, byte for byte what one ``json.dumps`` writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from tests.overdue import add_overdue_job
from whalefall_sched.cli.json_output import JobList, json_chunks, json_document, json_text
from whalefall_sched.errors import ExitCode
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services.dto import SCHEMA_VERSION, utc_z
from whalefall_sched.services.read_service import SchedulerJobsReadService
from whalefall_sched.services.tasks_file import load_tasks_file

UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
#: A time as the host API writes it: ISO 8601 with an offset.
WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
#: Values that are the job's own data, not the document's fields.
DATA_KEYS = {"args", "kwargs", "trigger_args"}
UNREACHABLE = "postgresql+psycopg://operator@127.0.0.1:1/x"


@pytest.fixture
def store(sqlite_stock: StockStore) -> StockStore:
    """Jobs with a time zone, a paused one, one overdue, one with microseconds."""
    soon = datetime.now(UTC) + timedelta(hours=1, microseconds=123456)
    sqlite_stock.add(
        dict(id="cron", name="c", func="tests.jobs:noop", trigger="cron", hour=1),
        dict(
            id="paused",
            name="p",
            func="tests.jobs:noop",
            trigger="cron",
            hour=2,
            next_run_time=None,
        ),
        dict(id="micro", name="m", func="tests.jobs:noop", trigger="date", run_date=soon),
    )
    add_overdue_job(sqlite_stock.url, "late", datetime.now(UTC) - timedelta(hours=2))
    return sqlite_stock


def _doc(cli: Invoke, *args: str, url: str, code: int = 0) -> dict[str, Any]:
    result = cli(*args, "-o", "json", url=url)
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object in a document, with where it is (data of the jobs left out)."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            if key not in DATA_KEYS:
                yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _check_contract(document: dict[str, Any]) -> None:
    """What every document holds to: schema_version first; ``id``, never ``job_id``;
    each time beside its ``_utc`` twin, the same instant in whole seconds."""
    assert next(iter(document)) == "schema_version"
    assert document["schema_version"] == SCHEMA_VERSION
    for where, obj in _walk(document):
        assert "job_id" not in obj, where
        keys = list(obj)
        for index, (key, value) in enumerate(obj.items()):
            if isinstance(value, str) and WITH_OFFSET.match(value):
                twin = f"{key}_utc"
                assert keys[index + 1 : index + 2] == [twin], f"{where}.{key} has no {twin}"
                utc = datetime.fromisoformat(value).astimezone(UTC).replace(microsecond=0)
                assert obj[twin] == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
            if key.endswith("_utc"):
                assert keys[index - 1] == key.removesuffix("_utc"), where
                own = obj[key.removesuffix("_utc")]
                if isinstance(value, list):  # a list of times beside its UTC twin
                    assert len(value) == len(own), where
                    assert all(UTC_Z.match(v) for v in value), f"{where}.{key}: {value!r}"
                    continue
                assert value is None or UTC_Z.match(value), f"{where}.{key}: {value!r}"
                if value is None:
                    assert own is None


# -- every command ---------------------------------------------------------------------


def test_every_read_document_keeps_the_contract(cli: Invoke, store: StockStore) -> None:
    listed = _doc(cli, "list", url=store.url)
    assert list(listed) == ["schema_version", "items"]
    assert [i["id"] for i in listed["items"]] == ["cron", "late", "micro", "paused"]
    _check_contract(listed)
    for item in listed["items"]:
        detail = _doc(cli, "get", item["id"], url=store.url)
        _check_contract(detail)
        # get carries every list field, with the same value
        assert {k: detail[k] for k in item} == item
        _check_contract(_doc(cli, "get", item["id"], "--next", "2", url=store.url))
    timeline = _doc(cli, "timeline", url=store.url)
    _check_contract(timeline)
    assert [job["id"] for job in timeline["jobs"]] == [i["id"] for i in listed["items"]]
    status = _doc(cli, "status", url=store.url, code=ExitCode.CONFLICT)  # "late" is overdue
    _check_contract(status)
    assert status["next_wakeup_utc"] is not None
    [late] = status["overdue"]
    assert late["id"] == "late" and UTC_Z.match(late["next_run_time_utc"])


def test_every_write_document_keeps_the_contract(
    cli: Invoke, store: StockStore, tmp_path: Path
) -> None:
    paused = _doc(cli, "pause", "cron", url=store.url)
    _check_contract(paused)
    assert list(paused) == ["schema_version", "results", "errors", "error"]
    assert paused["error"] is None
    resumed = _doc(cli, "resume", "cron", "paused", url=store.url)
    _check_contract(resumed)
    assert all(r["next_run_time_utc"] for r in resumed["results"])
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "default_tasks:\n  - {id: t, name: t, function: 'tests.jobs:noop', "
        "trigger_type: cron, trigger_params: {hour: 1}, enabled: true}\n",
        encoding="utf-8",
    )
    dry = _doc(cli, "--tasks", str(tasks), "reload", "--dry-run", url=store.url)
    _check_contract(dry)
    reloaded = _doc(cli, "--tasks", str(tasks), "reload", "--yes", url=store.url)
    _check_contract(reloaded)
    restored = _doc(cli, "restore", reloaded["backup_path"], "--yes", url=store.url)
    _check_contract(restored)
    assert restored["restored"] == ["cron", "late", "micro", "paused"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="run needs os.fork")
def test_run_says_id_as_every_other_command(
    cli: Invoke, sqlite_stock: StockStore, tmp_path: Path
) -> None:
    sqlite_stock.add(dict(id="r", func="tests.jobs:noop", trigger="cron", hour=1))
    ran = _doc(cli, "run", "r", "--allow-any-function", url=sqlite_stock.url)
    _check_contract(ran)
    assert list(ran)[:3] == ["schema_version", "id", "thread_name"]
    assert ran["id"] == "r"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["get", "nope"], id="not-found"),
        pytest.param(["list", "--state", "nope"], id="usage-while-parsing"),
        pytest.param(["get"], id="missing-argument"),
    ],
)
def test_an_error_document_is_schema_version_then_the_error(
    cli: Invoke, store: StockStore, args: list[str]
) -> None:
    result = cli(*args, "-o", "json", url=store.url)
    assert result.exit_code in (ExitCode.NOT_FOUND, ExitCode.USAGE), result.output
    document = json.loads(result.stdout)
    assert list(document) == ["schema_version", "error"]
    assert document["schema_version"] == SCHEMA_VERSION
    assert document["error"]["exit_code"] == result.exit_code


def test_list_on_a_store_that_is_not_there_writes_only_the_error(
    cli: Invoke, sqlite_url: str
) -> None:
    result = cli("list", "-o", "json", url=sqlite_url)
    assert result.exit_code == ExitCode.CONFLICT
    document = json.loads(result.stdout)  # one document: no envelope was begun
    assert list(document) == ["schema_version", "error"]


# -- the shape of an unreachable store ------------------------------------------------------


def test_status_of_an_unreachable_store_keeps_the_shape(cli: Invoke, store: StockStore) -> None:
    reachable = _doc(cli, "status", url=store.url, code=ExitCode.CONFLICT)
    result = cli("--timeout", "1", "status", "-o", "json", url=UNREACHABLE)
    assert result.exit_code == ExitCode.SYSTEM
    unreachable = json.loads(result.stdout)
    _check_contract(unreachable)
    assert list(unreachable) == list(reachable)
    assert unreachable["jobs"] == dict.fromkeys(reachable["jobs"])  # unknown counts: null
    assert (unreachable["unreadable"], unreachable["overdue"]) == ([], [])
    assert unreachable["next_wakeup"] is unreachable["next_wakeup_utc"] is None
    assert unreachable["error"]["code"] == "system_error"


def test_pause_of_an_unreachable_store_keeps_the_shape(cli: Invoke) -> None:
    result = cli("--timeout", "1", "pause", "a", "-o", "json", url=UNREACHABLE)
    assert result.exit_code == ExitCode.SYSTEM
    document = json.loads(result.stdout)
    assert list(document) == ["schema_version", "results", "errors", "error"]
    assert document["errors"][0]["error"] == document["error"]


# -- the _utc twin -------------------------------------------------------------------------


def test_utc_z_is_utc_whole_seconds_ending_in_z() -> None:
    assert utc_z("2026-12-03T01:00:00+08:00") == "2026-12-02T17:00:00Z"
    assert utc_z("2026-12-02T17:00:00.999999+00:00") == "2026-12-02T17:00:00Z"
    assert utc_z("2026-01-01T00:30:00-05:30") == "2026-01-01T06:00:00Z"
    assert utc_z("0001-01-01T00:00:00+00:00") == "0001-01-01T00:00:00Z"
    assert utc_z("0001-01-01T05:00:00+08:00") is None  # before year 1 in UTC
    assert utc_z(None) is None


def test_utc_z_takes_a_datetime_too_with_the_same_guard() -> None:
    eight = timezone(timedelta(hours=8))
    assert utc_z(datetime(2026, 12, 3, 1, 0, 0, 999999, tzinfo=eight)) == "2026-12-02T17:00:00Z"
    assert utc_z(datetime(1, 1, 1, 5, tzinfo=eight)) is None  # before year 1 in UTC
    assert utc_z(datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2)))) is None
    # the timeline's JSON uses the same one
    from whalefall_sched.services.timeline_dto import JobFireTimes

    early = JobFireTimes("a", "STATE_RUNNING", [datetime(1, 1, 1, 5, tzinfo=eight)])
    assert early.utc_times() == [None]


def test_the_host_api_s_own_time_keeps_its_offset(cli: Invoke, store: StockStore) -> None:
    listed = _doc(cli, "list", url=store.url)
    by_id = {i["id"]: i for i in listed["items"]}
    assert by_id["cron"]["next_run_time"].endswith("+08:00")  # the scheduler's zone
    assert by_id["micro"]["next_run_time"].split("+")[0].count(".") == 1  # microseconds kept
    assert by_id["micro"]["next_run_time_utc"].count(".") == 0


# -- list -o json, streamed ----------------------------------------------------------------

DOCUMENTS = [
    {"id": "a", "nested": {"empty": [], "none": {}, "list": [1, [2, {}]]}, "x": None},
    {"id": "同步", "text": 'line\nnext "quoted" \\ \u2028', "n": 1.5},
    {"id": "lone\ud800", "args": ["x\udc9b"]},
]


@pytest.mark.parametrize("count", [0, 1, 3])
@pytest.mark.parametrize("ascii_only", [False, True])
def test_the_stream_is_byte_for_byte_one_json_dumps(count: int, ascii_only: bool) -> None:
    items = DOCUMENTS[:count]
    head = {"schema_version": SCHEMA_VERSION}
    streamed = "".join(json_chunks(head, "items", iter(items), ascii_only=ascii_only))
    whole = {**head, "items": items}
    assert streamed == json_text(whole, ascii_only=ascii_only)
    if count < 3:  # no lone surrogate: exactly what json.dumps writes
        assert streamed == json.dumps(whole, indent=2, ensure_ascii=ascii_only)
    assert json.loads(streamed) == whole


def test_the_stream_holds_one_item_at_a_time() -> None:
    pulled: list[int] = []

    def items() -> Iterator[dict[str, int]]:
        for n in range(1000):
            pulled.append(n)
            yield {"n": n}

    chunks = json_chunks({"schema_version": 1}, "items", items())
    head = next(chunks)
    assert head.endswith('"items": ') and pulled == [0]  # the first item read, none kept
    for index, _ in enumerate(chunks):
        assert len(pulled) <= index + 2  # each item read just before it is written


def test_the_cli_streams_what_json_dumps_of_the_document_writes(
    cli: Invoke, store: StockStore
) -> None:
    result = cli("list", "-o", "json", url=store.url)
    assert result.exit_code == 0, result.output
    repository = JobStoreRepository(store.url)
    try:
        items = SchedulerJobsReadService(repository, load_tasks_file(None)).list_jobs()
    finally:
        repository.close()
    document = json_document(JobList(items))
    assert result.stdout == json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_a_streamed_list_keeps_lone_surrogates_and_ascii_escapes(
    sqlite_stock: StockStore, encoding: str
) -> None:
    sqlite_stock.add(
        dict(func="tests.jobs:record", trigger="cron", id="同步", name="同步", args=["x\ud800"])
    )
    result = subprocess.run(
        [sys.executable, "-m", "whalefall_sched", "--url", sqlite_stock.url, "list", "-o", "json"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": encoding},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode(encoding)
    [item] = json.loads(text)["items"]
    assert (item["name"], item["args"]) == ("同步", ["x\ud800"])
    assert "\\ud800" in text
    expected = json_text(json.loads(text), ascii_only=encoding == "ascii") + "\n"
    assert text == expected
