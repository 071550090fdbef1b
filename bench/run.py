"""whalefall-sched beside stock APScheduler: start-up, listing, reload, memory, decoding.

Run: ``uv run python bench/run.py [--quick] [--db sqlite|postgres|mysql] [--runs N]``.

It builds its stores with stock APScheduler (``SQLAlchemyJobStore``, ``add_job``), runs
the tool and stock APScheduler in the same run, each as a whole process, alternating
them run by run, and prints one table: what, goal, tool, stock/baseline, ratio, met?
Times are medians of the runs; peak memory is the child's peak RSS
(``resource.getrusage(RUSAGE_CHILDREN)`` read in a fresh wrapper process per run).
It asserts nothing: timings vary too much between machines to be a test.

``--quick`` uses smaller stores (2k for 20k, 10k for 100k) and fewer runs. On a server
(``--db postgres|mysql``) the tables are ``bench_*`` tables of the ``test`` database,
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = str(Path(sysconfig.get_path("scripts")) / "whalefall-sched")
PYTHON = sys.executable
TIMEZONE = "Asia/Shanghai"
FUNC = "whalefall_sched.examples.tasks:sync_accounts"
SERVER_URLS = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/test",
}

# -- building stores and files with stock APScheduler ----------------------------------

#: Run in a child process: add N stock jobs to a table (the functions need not run).
_BUILD = textwrap.dedent(
    """
    import sys
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.job import Job
    from apscheduler.triggers.cron import CronTrigger
    url, table, n, func, tz = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    scheduler = BackgroundScheduler(timezone=tz)
    store = SQLAlchemyJobStore(url=url, tablename=table)
    store.start(scheduler, "default")
    store.remove_all_jobs()
    from datetime import datetime
    now = datetime.now(scheduler.timezone)
    with store.engine.begin() as conn:
        rows = []
        for i in range(n):
            trigger = CronTrigger(minute=i % 60, hour=(now.hour + 12) % 24, timezone=tz)
            job = Job(scheduler, id=f"job_{i:06d}", func=func, trigger=trigger, executor="default",
                      args=(), kwargs={"created_by": i}, name=f"Job {i}", misfire_grace_time=300,
                      coalesce=True, max_instances=1,
                      next_run_time=trigger.get_next_fire_time(None, now))
            import pickle
            rows.append({"id": job.id, "next_run_time": job.next_run_time.timestamp(),
                         "job_state": pickle.dumps(job.__getstate__(), store.pickle_protocol)})
            if len(rows) == 5000:
                conn.execute(store.jobs_t.insert(), rows); rows = []
        if rows:
            conn.execute(store.jobs_t.insert(), rows)
    """
)

#: Run in a child process: stock get_all_jobs, printed as JSON as ``list -o json`` does.
_STOCK_LIST = textwrap.dedent(
    """
    import json, sys
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    store = SQLAlchemyJobStore(url=sys.argv[1], tablename=sys.argv[2])
    store.start(BackgroundScheduler(timezone=sys.argv[3]), "default")
    jobs = store.get_all_jobs()
    json.dump([{"id": j.id, "name": j.name, "func": j.func_ref, "trigger": str(j.trigger),
                "next_run_time": j.next_run_time.isoformat() if j.next_run_time else None}
               for j in jobs], sys.stdout)
    """
)

#: Run in a child process: what stock code does for a reload: remove_all_jobs, add_job each.
_STOCK_RELOAD = textwrap.dedent(
    """
    import sys, yaml
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    url, table, tasks_path = sys.argv[1], sys.argv[2], sys.argv[3]
    document = yaml.safe_load(open(tasks_path, encoding="utf-8"))
    store = SQLAlchemyJobStore(url=url, tablename=table)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=document["timezone"])
    scheduler.start(paused=True)
    scheduler.remove_all_jobs()
    functions = document["functions"]
    for task in document["default_tasks"]:
        scheduler.add_job(functions[task["function"]], task["trigger_type"], id=task["id"],
                          name=task["name"], **task["trigger_params"])
    scheduler.shutdown(wait=False)
    """
)

#: Run in a child process: run argv[1:], print the peak RSS of that one child in KiB.
_PEAK = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_SCHED_")}
    env["NO_COLOR"] = "1"
    return env


def build_store(url: str, table: str, jobs: int) -> None:
    """A table of ``jobs`` cron jobs written by stock APScheduler (none due soon)."""
    subprocess.run(
        [PYTHON, "-c", _BUILD, url, table, str(jobs), FUNC, TIMEZONE], check=True, env=_env()
    )


def write_tasks(path: Path, tasks: int) -> Path:
    """A tasks file of ``tasks`` cron tasks, none due within hours."""
    import yaml

    hour = (datetime.now() + timedelta(hours=12)).hour
    document = {
        "default_tasks": [
            {
                "id": f"task_{i:05d}",
                "name": f"Task {i}",
                "function": "sync_accounts",
                "trigger_type": "cron",
                "trigger_params": {"second": 0, "minute": i % 60, "hour": hour},
                "enabled": True,
                "description": "bench",
            }
            for i in range(tasks)
        ],
        "functions": {"sync_accounts": FUNC},
        "timezone": TIMEZONE,
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def drop_table(url: str, table: str) -> None:
    from sqlalchemy import MetaData, Table, create_engine

    engine = create_engine(url)
    Table(table, MetaData()).drop(engine, checkfirst=True)
    engine.dispose()


# -- timing ----------------------------------------------------------------------------


def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env or _env(), stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def paired(
    runs: int, tool: Callable[[], float], stock: Callable[[], float] | None
) -> tuple[float, float | None]:
    """Medians of ``runs`` runs of each, alternating (after one warm-up run of each)."""
    tool()
    if stock is not None:
        stock()
    tools: list[float] = []
    stocks: list[float] = []
    for _ in range(runs):
        tools.append(tool())
        if stock is not None:
            stocks.append(stock())
    return statistics.median(tools), (statistics.median(stocks) if stocks else None)


def peak_kib(argv: Sequence[str]) -> int:
    """The peak RSS of one run of ``argv``, in KiB."""
    out = subprocess.run(
        [PYTHON, "-c", _PEAK, *argv], env=_env(), capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


# -- the table -------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    goal: str
    tool: str
    stock: str
    ratio: str
    met: str


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def print_table(rows: list[Row]) -> None:
    headers = ("what", "goal", "tool", "stock/baseline", "ratio", "met?")
    cells = [headers, *((r.what, r.goal, r.tool, r.stock, r.ratio, r.met) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def _has_option(command: str, option: str) -> bool:
    out = subprocess.run(
        [CONSOLE_SCRIPT, command, "--help"],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return option in out.stdout


def decode_costs(rounds: int = 3000) -> dict[str, float]:
    """Seconds per row of one stock state, each way alternated in this process: the
    codec (``decode_state``), the codec with the fast path off (the restricted
    unpickler alone, as before), a whole row (``decode_row``: the codec and the job
    shape check), and plain ``pickle.loads`` (only on bytes made here)."""
    from unittest import mock

    from apscheduler.triggers.cron import CronTrigger

    from whalefall_sched.repository.codec import decode_state
    from whalefall_sched.repository.rows import decode_row

    tz = __import__("zoneinfo").ZoneInfo(TIMEZONE)
    state = {
        "version": 1,
        "id": "sync_accounts",
        "func": FUNC,
        "trigger": CronTrigger(second=0, minute=0, hour=1, timezone=tz),
        "executor": "default",
        "args": (),
        "kwargs": {"instance_ids": [1, 2, 3]},
        "name": "账户同步",
        "misfire_grace_time": 300,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": datetime(2026, 11, 28, 1, tzinfo=tz),
    }
    data = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
    when = state["next_run_time"].timestamp()

    def restricted(data: bytes) -> Any:
        with mock.patch("whalefall_sched.repository.codec.try_fast", return_value=None):
            return decode_state(data)

    ways: dict[str, Callable[[], Any]] = {
        "decode_state": lambda: decode_state(data),
        "restricted": lambda: restricted(data),
        "decode_row": lambda: decode_row("sync_accounts", when, data),
        "pickle.loads": lambda: pickle.loads(data),
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(7):
        for name, way in ways.items():
            start = time.perf_counter()
            for _ in range(rounds):
                way()
            samples[name].append((time.perf_counter() - start) / rounds)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:  # noqa: PLR0915 - one table, row by row
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller stores, fewer runs")
    parser.add_argument("--db", choices=("sqlite", "postgres", "mysql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    big = 2_000 if args.quick else 20_000
    sizes = (1_000, 2_000, 10_000) if args.quick else (1_000, 20_000, 100_000)
    reload_tasks = 2_000
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="whalefall-bench-") as scratch_dir:
        scratch = Path(scratch_dir)

        def url_for(name: str) -> str:
            if args.db == "sqlite":
                return f"sqlite:///{scratch / name}.db"
            return SERVER_URLS[args.db]

        tables: list[tuple[str, str]] = []

        def store(name: str, jobs: int) -> tuple[str, str]:
            url, table = url_for(name), f"bench_{name}"
            print(f"building {jobs:,} stock jobs ({table})...", file=sys.stderr)
            build_store(url, table, jobs)
            tables.append((url, table))
            return url, table

        def tool(url: str, table: str, *argv: str) -> list[str]:
            return [CONSOLE_SCRIPT, "--url", url, "--table", table, *argv]

        try:
            print("timing --help...", file=sys.stderr)
            help_s, pass_s = paired(
                runs,
                lambda: _run([CONSOLE_SCRIPT, "--help"]),
                lambda: _run([PYTHON, "-c", "pass"]),
            )
            rows.append(
                Row(
                    "`--help`",
                    "≤ 100 ms",
                    ms(help_s),
                    f"{ms(pass_s)} (python -c pass)",
                    f"{help_s / pass_s:.1f}x",
                    "yes" if help_s <= 0.1 else "no",
                )
            )

            small = store("small", 5)
            large = store("large", big)
            for label, (url, table) in (("5", small), (f"{big // 1000}k", large)):
                words = f"whalefall-sched --url {url} --table {table} pause "
                env = {
                    **_env(),
                    "_WHALEFALL_SCHED_COMPLETE": "complete_bash",
                    "COMP_WORDS": words,
                    "COMP_CWORD": "6",
                }
                print(f"timing completion at {label} jobs...", file=sys.stderr)
                done, base = paired(
                    runs,
                    lambda env=env: _run([CONSOLE_SCRIPT], env),
                    lambda: _run([PYTHON, "-c", "pass"]),
                )
                assert base is not None
                rows.append(
                    Row(
                        f"`pause <TAB>` (completion), {label} jobs",
                        "≤ 150 ms",
                        ms(done),
                        f"{ms(base)} (python -c pass)",
                        f"{done / base:.1f}x",
                        "yes" if done <= 0.15 else "no",
                    )
                )

            print("timing a small list...", file=sys.stderr)
            listed, base = paired(
                runs, lambda: _run(tool(*small, "list")), lambda: _run([PYTHON, "-c", "pass"])
            )
            assert base is not None
            rows.append(
                Row(
                    "`list`, 5 jobs",
                    "≤ 250 ms",
                    ms(listed),
                    f"{ms(base)} (python -c pass)",
                    f"{listed / base:.1f}x",
                    _met(listed <= 0.25),
                )
            )

            print(f"timing list -o json at {big:,} jobs...", file=sys.stderr)
            ours, theirs = paired(
                runs,
                lambda: _run(tool(*large, "list", "-o", "json")),
                lambda: _run([PYTHON, "-c", _STOCK_LIST, *large, TIMEZONE]),
            )
            assert theirs is not None
            rows.append(
                Row(
                    f"`list -o json`, {big // 1000}k jobs",
                    "≤ 1.0x stock",
                    ms(ours),
                    f"{ms(theirs)} (get_all_jobs)",
                    f"{ours / theirs:.2f}x",
                    _met(ours <= theirs),
                )
            )

            print(f"timing reload of {reload_tasks:,} tasks...", file=sys.stderr)
            tasks = write_tasks(scratch / "tasks.yaml", reload_tasks)
            ours_url, ours_table = url_for("reload_tool"), "bench_reload_tool"
            stock_url, stock_table = url_for("reload_stock"), "bench_reload_stock"
            tables += [(ours_url, ours_table), (stock_url, stock_table)]
            # reload replaces the jobs of an existing store: init creates it first
            _run([*tool(ours_url, ours_table, "--tasks", str(tasks)), "init", "-o", "json"])
            ours, theirs = paired(
                runs,
                lambda: _run(
                    [
                        *tool(ours_url, ours_table, "--tasks", str(tasks)),
                        *("reload", "--yes", "--no-backup", "-o", "json"),
                    ]
                ),
                lambda: _run([PYTHON, "-c", _STOCK_RELOAD, stock_url, stock_table, str(tasks)]),
            )
            assert theirs is not None
            rows.append(
                Row(
                    f"`reload`, {reload_tasks:,} tasks",
                    "≥ 20x faster",
                    ms(ours),
                    f"{ms(theirs)} (remove_all_jobs + add_job)",
                    f"{theirs / ours:.1f}x faster",
                    _met(theirs / ours >= 20),
                )
            )

            if _has_option("list", "--limit"):
                peaks = []
                for jobs in sizes:
                    url, table = store(f"mem{jobs}", jobs)
                    peaks.append(peak_kib(tool(url, table, "list", "-o", "json", "--limit", "100")))
                    if args.db != "sqlite":
                        drop_table(url, table)
                flat = peaks[-1] <= peaks[0] * 1.5
                rows.append(
                    Row(
                        "peak memory, `list -o json --limit 100`, "
                        + " / ".join(f"{n // 1000}k" for n in sizes),
                        "flat",
                        " / ".join(f"{p / 1024:.0f} MiB" for p in peaks),
                        "—",
                        f"{peaks[-1] / peaks[0]:.2f}x from {sizes[0] // 1000}k",
                        _met(flat),
                    )
                )
            else:
                skipped = "skipped: this `list` has no --limit"
                what = "peak memory, `list -o json --limit 100`"
                rows.append(Row(what, "flat", "—", "—", "—", skipped))

            print("timing decoding per row...", file=sys.stderr)
            costs = decode_costs(1000 if args.quick else 3000)
            plain = costs["pickle.loads"]
            for name, what in (
                ("decode_state", "decode one stock row (codec)"),
                ("restricted", "... with the fast path off (before)"),
                ("decode_row", "... and the job shape check (a whole row)"),
            ):
                rows.append(
                    Row(
                        what,
                        "—",
                        f"{costs[name] * 1e6:.0f} µs",
                        f"{plain * 1e6:.0f} µs (pickle.loads)",
                        f"{costs[name] / plain:.1f}x",
                        "—",
                    )
                )
        finally:
            if args.db != "sqlite":
                for url, table in tables:
                    drop_table(url, table)
    print(f"\n{args.db}, {runs} runs each (medians), {time.strftime('%Y-%m-%d %H:%M')}\n")
    print_table(rows)
    return 0


def _met(ok: bool) -> str:
    return "yes" if ok else "no"


if __name__ == "__main__":
    sys.exit(main())
