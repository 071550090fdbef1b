"""Real database servers: ``--schema`` on PostgreSQL, and bounded connection timeouts.

The timeout tests run the installed console script in a child process against servers
that refuse, never complete the TCP handshake, or accept and never answer: each must end
with exit 5 and one line naming the store with its password masked, never hang.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sysconfig
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Invoke, StockStore
from tests.fault_log import FaultLog

ENTRY_POINT = Path(sysconfig.get_path("scripts")) / "whalefall-sched"
SCHEMA = "wfs_jobs"
PASSWORD = "s3cret-Pa55"
#: The child gets ``--timeout 2``; it is killed (and the test fails) after this long.
CHILD_TIMEOUT = 30

SCHEMA_JOBS = [
    dict(func="tests.jobs:record", trigger="cron", id="sync_accounts", hour=1, kwargs={"x": 1}),
    dict(func="tests.jobs:noop", trigger="interval", id="cleanup_logs", hours=6),
    dict(func="tests.jobs:noop", trigger="interval", id="old_only", hours=9, next_run_time=None),
]
SCHEMA_TASKS = """
default_tasks:
  - id: sync_accounts
    name: 账户同步
    function: record
    trigger_type: cron
    trigger_params: {hour: 2, minute: 30}
  - id: brand_new
    function: noop
    trigger_type: interval
    trigger_params: {hours: 4}
functions:
  record: tests.jobs:record
  noop: tests.jobs:noop
timezone: Asia/Shanghai
"""


# -- --schema on PostgreSQL ------------------------------------------------------------


@pytest.fixture
def schema_stock(store_url: str) -> StockStore:
    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    finally:
        engine.dispose()
    return StockStore(store_url, schema=SCHEMA)


def _public_has_table(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).has_table("apscheduler_jobs", schema="public")
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_schema_on_postgres(
    store_url: str, schema_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    schema_stock.add(*SCHEMA_JOBS)
    before = schema_stock.raw()

    # Without --schema the tool looks in public, finds no table, and creates nothing.
    missing = cli("list", url=store_url)
    assert missing.exit_code == 4, missing.output
    assert "not initialised" in missing.stderr

    listed = cli("--schema", SCHEMA, "list", "-o", "json", url=store_url)
    assert listed.exit_code == 0, listed.output
    assert [i["id"] for i in json.loads(listed.stdout)["items"]] == sorted(before)
    assert schema_stock.raw() == before  # reading changed nothing

    got = cli("--schema", SCHEMA, "get", "sync_accounts", "-o", "json", url=store_url)
    assert got.exit_code == 0, got.output
    job = json.loads(got.stdout)
    assert (job["func"], job["kwargs"]) == ("tests.jobs:record", {"x": 1})

    paused = cli("--schema", SCHEMA, "pause", "cleanup_logs", url=store_url)
    assert paused.exit_code == 0, paused.output
    assert schema_stock.load()["cleanup_logs"].next_run_time is None
    resumed = cli("--schema", SCHEMA, "resume", "old_only", url=store_url)
    assert resumed.exit_code == 0, resumed.output
    loaded = schema_stock.load()
    assert loaded["old_only"].next_run_time is not None
    assert loaded["sync_accounts"].next_run_time is not None
    assert schema_stock.raw()["sync_accounts"] == before["sync_accounts"]

    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(textwrap.dedent(SCHEMA_TASKS), encoding="utf-8")
    backups = tmp_path / "backups"
    rows_before_reload = schema_stock.raw()
    reloaded = cli(
        "--schema",
        SCHEMA,
        "--tasks",
        str(tasks),
        "reload",
        "--yes",
        "--backup-dir",
        str(backups),
        "-o",
        "json",
        url=store_url,
    )
    assert reloaded.exit_code == 0, reloaded.output
    result = json.loads(reloaded.stdout)
    assert sorted(result["reloaded"]) == ["brand_new", "sync_accounts"]
    loaded = schema_stock.load()
    assert sorted(loaded) == ["brand_new", "sync_accounts"]
    assert loaded["sync_accounts"].func_ref == "tests.jobs:record"
    assert str(loaded["sync_accounts"].trigger).startswith("cron[")
    assert loaded["brand_new"].func_ref == "tests.jobs:noop"

    [backup] = backups.glob("*.json")
    document = json.loads(backup.read_text(encoding="utf-8"))
    assert document["schema"] == SCHEMA
    assert sorted(row["id"] for row in document["rows"]) == sorted(rows_before_reload)

    assert not _public_has_table(store_url)  # nothing ever went to the default schema


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_schema_init_creates_the_table_in_the_schema(
    store_url: str, schema_stock: StockStore, cli: Invoke, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(textwrap.dedent(SCHEMA_TASKS), encoding="utf-8")
    args = ("--schema", SCHEMA, "--tasks", str(tasks))
    missing = cli(*args, "reload", "--yes", url=store_url)
    assert missing.exit_code == 4, missing.output
    assert f"(table {SCHEMA}.apscheduler_jobs does not exist)" in missing.stderr
    assert "whalefall-sched init" in missing.stderr
    result = cli(*args, "init", url=store_url)
    assert result.exit_code == 0, result.output
    assert sorted(schema_stock.load()) == ["brand_new", "sync_accounts"]
    assert not _public_has_table(store_url)


# -- bounded connection timeouts -------------------------------------------------------


class _SilentServer:
    """Accepts every connection and never sends a byte (a hung server or proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)
        for conn in self.held:
            conn.close()


class _FullBacklog:
    """Listens with a full accept queue and never accepts: new SYNs go unanswered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port: int = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(filler)
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            with pytest.raises(OSError):  # the queue is full: a connect gets nowhere
                probe.connect(("127.0.0.1", self.port))
        finally:
            probe.close()

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


@dataclass(frozen=True)
class DeadPort:
    port: int
    kind: str


@pytest.fixture(params=["refused", "full-backlog", "silent"])
def dead_port(request: pytest.FixtureRequest) -> Iterator[DeadPort]:
    """A local port where no database answers, in each of three ways."""
    if request.param == "refused":
        yield DeadPort(1, "refused")  # nothing listens on port 1
        return
    server = _FullBacklog() if request.param == "full-backlog" else _SilentServer()
    try:
        yield DeadPort(server.port, request.param)
    finally:
        server.close()


@pytest.mark.parametrize("command", ["list", "pause"])
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_unreachable_server_is_exit_5_never_a_hang(
    dead_port: DeadPort, scheme: str, command: str, tmp_path: Path, fault_log: FaultLog
) -> None:
    assert ENTRY_POINT.exists(), f"console script not installed at {ENTRY_POINT}"
    port = dead_port.port
    fault = f"server {dead_port.kind} on 127.0.0.1:{port}, {command} --timeout 2"
    backend = "postgres" if scheme.startswith("postgresql") else "mysql"
    url = f"{scheme}://operator:{PASSWORD}@127.0.0.1:{port}/jobs"
    args = ["list"] if command == "list" else ["pause", "sync_accounts"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_SCHED_")}
    env.pop("FORCE_COLOR", None)
    try:
        result = subprocess.run(
            [str(ENTRY_POINT), "--url", url, "--timeout", "2", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        fault_log.record(fault, backend, 0, f"still running after {CHILD_TIMEOUT}s", "HANG")
        pytest.fail(f"{command} on {scheme} port {port} still running after {CHILD_TIMEOUT}s")
    output = result.stdout + result.stderr
    masked = PASSWORD not in output
    fault_log.record(
        fault,
        backend,
        0,
        f"exit {result.returncode}: {result.stderr.strip()}; password "
        f"{'masked' if masked else 'SHOWN'}",
        "ok" if result.returncode == 5 and masked and "Traceback" not in output else "FAIL",
    )
    assert result.returncode == 5, output
    assert PASSWORD not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"Error: job store {scheme}://operator:***@127.0.0.1:{port}/")
    assert "Traceback" not in output
    assert result.stdout == ""
