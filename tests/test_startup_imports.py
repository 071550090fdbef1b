"""Start-up imports: `--help` and shell completion import no SQLAlchemy, APScheduler or
YAML, and the read path does not import the actions service (real child processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Invoke

#: Runs the console script's entry point, then prints the top-level modules imported.
WRAPPER = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
sys.argv = ["whalefall-sched", *sys.argv[1:]]
from whalefall_sched.console import main
main()
"""
HEAVY = ("sqlalchemy", "apscheduler", "yaml")


def _modules(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=120,
    )
    line = next(x for x in result.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def _complete(words: str, cword: int) -> dict[str, str]:
    return {
        "_WHALEFALL_SCHED_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_imports_no_database_scheduler_or_yaml(tmp_path: Path) -> None:
    assert _heavy(_modules(["--help"], tmp_path)) == []


@pytest.mark.parametrize(
    ("words", "cword"),
    [
        ("whalefall-sched pause ", 2),
        ("whalefall-sched resume ", 2),
        ("whalefall-sched get ", 2),
        ("whalefall-sched restore ", 2),
        ("whalefall-sched list --state ", 3),
        ("whalefall-sched pa", 1),
    ],
)
def test_completion_imports_no_database_scheduler_or_yaml(
    cli: Invoke, tmp_path: Path, words: str, cword: int
) -> None:
    assert cli("init").exit_code == 0  # the default store under tmp_path
    modules = _modules([], tmp_path, _complete(words, cword))
    assert _heavy(modules) == []
    assert "whalefall_sched.services.actions_service" not in modules


def test_list_on_sqlite_imports_no_sqlalchemy_nor_the_actions_service(
    cli: Invoke, tmp_path: Path
) -> None:
    assert cli("init").exit_code == 0
    modules = _modules(["list", "-o", "json"], tmp_path)
    assert "sqlalchemy" not in modules
    assert "whalefall_sched.services.actions_service" not in modules


def test_services_package_imports_neither_service_eagerly() -> None:
    code = (
        "import sys, whalefall_sched.services as s; "
        "print('whalefall_sched.services.actions_service' in sys.modules, "
        "s.SchedulerActionsService.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["False", "SchedulerActionsService"]
