"""run: whatever the task does, a result and a documented exit code, and a prompt end.

The task runs in a child process of its own (docs/architecture.md). Tests through
CliRunner fork the test process itself, so a task's ``os._exit`` reaching the caller would
end the test run; process behaviour the caller can see from outside (exit status, a
process that lingers, signals) is checked on the real command in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke, StockStore
from tests.task_modules import TaskJob, task_jobs
from whalefall_sched.cli.exit_codes import ExitCode
from whalefall_sched.repository import JobStoreRepository
from whalefall_sched.services import SchedulerActionsService
from whalefall_sched.services.tasks_file import load_tasks_file

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="run needs os.fork (POSIX)")

#: A subprocess that is still running after this long has lingered (the tasks that would
#: keep it alive sleep 30 s); no test asserts a tighter time than this.
LINGER = 20
#: The keys of a run's JSON document before the timeout and isolation keys were added
#: (the seed's ``job_id`` is ``id``, as in every other document).
SEED_KEYS = [
    "schema_version",
    "id",
    "thread_name",
    "succeeded",
    "duration_seconds",
    "func",
    "args",
    "kwargs",
]


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return "\nState:\tZ" in status


def _wait_gone(pid: int, within: float = LINGER) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


@pytest.fixture
def task_job(sqlite_stock: StockStore, tmp_path: Path) -> Iterator[Callable[[str], TaskJob]]:
    yield from task_jobs(sqlite_stock, tmp_path)


def _cli(cli: Invoke, job: TaskJob, *args: str) -> Any:
    return cli(*job.argv(*args))


def _real(job: TaskJob, *args: str, timeout: float = LINGER) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess; a linger past ``timeout`` fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "whalefall_sched", *job.argv(*args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _started_pid(stderr_line: str) -> int:
    assert stderr_line.startswith("started task_job_manual (pid "), stderr_line
    return int(stderr_line.rsplit("pid ", 1)[1].rstrip(")\n"))


# -- the task ends badly: exit 1, the result says how ---------------------------------------

FAILURES = {
    "os._exit(0)": (
        "import os\n\ndef task():\n    os._exit(0)\n",
        "the task ended its process with exit status 0 (os._exit(0) or the like) "
        "before it returned",
    ),
    "os._exit(3)": (
        "import os\n\ndef task():\n    os._exit(3)\n",
        "the task ended its process with exit status 3 (os._exit(3) or the like) "
        "before it returned",
    ),
    "KeyboardInterrupt": (
        "def task():\n    raise KeyboardInterrupt\n",
        "KeyboardInterrupt (no message)",
    ),
    "SystemExit": (
        "import sys\n\ndef task():\n    sys.exit(3)\n",
        "SystemExit: the task called sys.exit(3)",
    ),
    "SIGKILL": (
        "import os, signal\n\ndef task():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
        "the task's process was killed by SIGKILL before the task returned",
    ),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_task_that_does_not_return_failed_with_a_result(
    cli: Invoke, task_job: Callable[[str], TaskJob], case: str
) -> None:
    source, message = FAILURES[case]
    job = task_job(source)

    as_json = _cli(cli, job, "-o", "json")

    assert as_json.exit_code == ExitCode.RUN_FAILED, as_json.output
    document = json.loads(as_json.stdout)
    assert list(document)[: len(SEED_KEYS)] == SEED_KEYS
    assert document["succeeded"] is False
    assert document["timed_out"] is False
    assert document["thread_name"] == "task_job_manual"
    assert document["error"] == {"code": "run_failed", "message": message, "exit_code": 1}
    assert "Traceback" not in as_json.output
    # announced before the function was called: even an os._exit cannot get ahead of it
    assert f"started task_job_manual (pid {document['pid']})" in as_json.stderr

    table = _cli(cli, job)
    assert table.exit_code == ExitCode.RUN_FAILED, table.output
    assert table.stdout.startswith("failed task_job_manual after ")
    assert message in " ".join(table.stdout.split())


@pytest.mark.parametrize("case", ["os._exit(0)", "os._exit(3)", "KeyboardInterrupt"])
def test_the_real_command_reports_a_task_that_does_not_return(
    task_job: Callable[[str], TaskJob], case: str
) -> None:
    source, message = FAILURES[case]
    job = task_job(source)

    result = _real(job, "-o", "json")

    assert result.returncode == ExitCode.RUN_FAILED, result.stderr
    document = json.loads(result.stdout)
    assert document["error"]["message"] == message
    assert "Traceback" not in result.stderr
    assert f"started task_job_manual (pid {document['pid']})" in result.stderr
    assert _gone(document["pid"])


# -- threads the task leaves behind ---------------------------------------------------------

STRAGGLER = """
import threading
import time


def task():
    threading.Thread(target=time.sleep, args=(30,), name="straggler").start()
    return "returned"
"""


def test_threads_left_running_do_not_keep_the_command_alive(
    task_job: Callable[[str], TaskJob],
) -> None:
    job = task_job(STRAGGLER)

    result = _real(job, "-o", "json")  # a 30 s linger would trip the subprocess timeout

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["succeeded"] is True
    assert document["threads_left_running"] == ["straggler"]
    note = "the task left 1 thread(s) running (straggler); they were stopped with its process"
    assert document["notes"] == [note]
    assert f"note: {note}" in result.stderr
    assert _gone(document["pid"])


def test_threads_left_running_are_noted_in_the_table_output_too(
    cli: Invoke, task_job: Callable[[str], TaskJob]
) -> None:
    result = _cli(cli, task_job(STRAGGLER))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("succeeded task_job_manual in ")
    assert "note: the task left 1 thread(s) running (straggler)" in result.stderr


# -- --timeout ---------------------------------------------------------------------------------

SLEEPER = """
import pathlib
import subprocess
import time


def task():
    # a process of the task's own, which the timeout must stop too
    child = subprocess.Popen(["sleep", "30"])
    pathlib.Path("sleeper.pid").write_text(str(child.pid))
    time.sleep(30)
"""


def test_a_run_past_its_timeout_is_killed_and_exits_6(
    cli: Invoke, task_job: Callable[[str], TaskJob]
) -> None:
    job = task_job(SLEEPER)

    result = _cli(cli, job, "--timeout", "1", "-o", "json")

    assert result.exit_code == 6, result.output
    assert ExitCode.RUN_TIMED_OUT.value == 6
    document = json.loads(result.stdout)
    assert document["succeeded"] is False
    assert document["timed_out"] is True
    assert document["timeout_seconds"] == 1.0
    pid = document["pid"]
    assert document["error"] == {
        "code": "run_timeout",
        "message": (
            f"the task was still running at the --timeout of 1s; its process (pid {pid}) was killed"
        ),
        "exit_code": 6,
    }
    assert _gone(pid)
    assert _wait_gone(int(Path("sleeper.pid").read_text()))  # its whole process group

    table = _cli(cli, job, "--timeout", "1")
    assert table.exit_code == 6
    assert table.stdout.startswith("timed out task_job_manual after ")


def test_the_real_command_ends_at_the_timeout(task_job: Callable[[str], TaskJob]) -> None:
    result = _real(task_job(SLEEPER), "--timeout", "1")
    assert result.returncode == 6, result.stderr
    assert "timed out task_job_manual" in result.stdout


def test_a_run_within_its_timeout_succeeds(cli: Invoke, task_job: Callable[[str], TaskJob]) -> None:
    result = _cli(cli, task_job("def task():\n    return 1\n"), "--timeout", "30", "-o", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["succeeded"], document["timed_out"]) == (True, False)
    assert document["timeout_seconds"] == 30.0
    assert document["error"] is None


def test_the_timeout_must_be_positive(cli: Invoke, task_job: Callable[[str], TaskJob]) -> None:
    result = _cli(cli, task_job("def task():\n    pass\n"), "--timeout", "0")
    assert result.exit_code == ExitCode.USAGE


def test_wait_for_run_in_this_process_reports_a_timeout(
    sqlite_stock: StockStore, tmp_path: Path
) -> None:
    """The host API's in-process run: the thread is abandoned, the result says so."""
    sqlite_stock.add(
        dict(func="time:sleep", args=[1.0], trigger="interval", minutes=5, id="sleepy")
    )
    repo = JobStoreRepository(sqlite_stock.url)
    try:
        service = SchedulerActionsService(repo, load_tasks_file(None))
        name = service.run_job_in_background("sleepy", allow_any_function=True)

        early = service.wait_for_run(name, timeout=0.1)
        late = service.wait_for_run(name)
    finally:
        repo.close()

    assert (early.succeeded, early.timed_out, early.exit_code) == (False, True, 6)
    assert early.error_dict() == {
        "code": "run_timeout",
        "message": (
            "the task was still running after 0.1s; its thread 'sleepy_manual' was left running"
        ),
        "exit_code": 6,
    }
    assert (late.succeeded, late.timed_out, late.exit_code) == (True, False, 0)


# -- the process around the task -----------------------------------------------------------------


def test_what_the_task_writes_to_stdout_goes_to_stderr(
    task_job: Callable[[str], TaskJob],
) -> None:
    job = task_job(
        """
        import os
        import subprocess


        def task():
            print("printed by the task")
            os.write(1, b"written to fd 1\\n")
            subprocess.run(["echo", "from a subprocess"], check=True)
        """
    )

    result = _real(job, "-o", "json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["succeeded"] is True  # stdout is the result alone
    for line in ("printed by the task", "written to fd 1", "from a subprocess"):
        assert line in result.stderr


def test_ctrl_c_stops_the_task_and_exits_130(task_job: Callable[[str], TaskJob]) -> None:
    job = task_job("import time\n\ndef task():\n    time.sleep(30)\n")
    with subprocess.Popen(
        [sys.executable, "-m", "whalefall_sched", *job.argv()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        child = _started_pid(proc.stderr.readline())
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=LINGER)
        finally:
            proc.kill()
    assert proc.returncode == 130
    assert _wait_gone(child)


def test_a_killed_command_takes_its_task_with_it(task_job: Callable[[str], TaskJob]) -> None:
    job = task_job("import time\n\ndef task():\n    time.sleep(30)\n")
    with subprocess.Popen(
        [sys.executable, "-m", "whalefall_sched", *job.argv()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        child = _started_pid(proc.stderr.readline())
        proc.kill()
        proc.wait(timeout=LINGER)
    assert _wait_gone(child)


def test_an_interrupted_run_process_is_reported_as_failed(
    task_job: Callable[[str], TaskJob],
) -> None:
    """SIGINT sent to the run's process itself (not to the command) ends the run."""
    job = task_job("import time\n\ndef task():\n    time.sleep(30)\n")
    with subprocess.Popen(
        [sys.executable, "-m", "whalefall_sched", *job.argv("-o", "json")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        child = _started_pid(proc.stderr.readline())
        os.kill(child, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=LINGER)
        finally:
            proc.kill()
    assert proc.returncode == ExitCode.RUN_FAILED, err
    error = json.loads(out)["error"]
    assert error["message"] == "the run's process failed: KeyboardInterrupt"
    assert "Traceback" not in err
    assert _wait_gone(child)


def test_run_job_calls_the_function_in_a_thread_named_id_manual_of_its_own_process(
    sqlite_stock: StockStore, task_job: Callable[[str], TaskJob], tmp_path: Path
) -> None:
    job = task_job(
        """
        import json
        import os
        import pathlib
        import threading


        def task(*args, **kwargs):
            where = {"pid": os.getpid(), "thread": threading.current_thread().name}
            pathlib.Path("where.json").write_text(json.dumps(where))
        """
    )
    repo = JobStoreRepository(sqlite_stock.url)
    started: list[tuple[str, int]] = []
    try:
        service = SchedulerActionsService(
            repo, load_tasks_file(job.tasks), app_paths=[str(job.directory)]
        )
        result = service.run_job("task_job", on_start=lambda *seen: started.append(seen))
    finally:
        repo.close()

    assert result.succeeded, result.error
    assert result.pid is not None
    where = json.loads(Path("where.json").read_text())
    assert where == {"pid": result.pid, "thread": "task_job_manual"}
    assert result.pid != os.getpid()
    assert started == [("task_job_manual", result.pid)]
    assert _gone(result.pid)
