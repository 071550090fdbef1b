"""completions/: committed scripts match the app, and completing actually works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO, Invoke

GENERATOR = REPO / "scripts" / "gen-completions"
COMPLETIONS = REPO / "completions"
FILES = ("whalefall-sched.bash", "_whalefall-sched", "whalefall-sched.fish")
STALE = "completions/ is stale: run `uv run scripts/gen-completions` and commit the result"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scripts as the generator writes them now."""
    out = tmp_path_factory.mktemp("completions")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--output-dir", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_generator_writes_one_script_per_shell(fresh: Path) -> None:
    assert sorted(p.name for p in fresh.iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_committed_script_is_up_to_date(fresh: Path, name: str) -> None:
    committed = COMPLETIONS / name
    assert committed.exists(), STALE
    assert committed.read_text(encoding="utf-8") == (fresh / name).read_text(encoding="utf-8"), (
        STALE
    )


def test_no_stray_files_in_completions() -> None:
    assert sorted(p.name for p in COMPLETIONS.iterdir()) == sorted(FILES), STALE


def test_scripts_call_the_console_script() -> None:
    for name in FILES:
        text = (COMPLETIONS / name).read_text(encoding="utf-8")
        assert "_WHALEFALL_SCHED_COMPLETE=complete_" in text
        assert "whalefall-sched" in text


def _complete(words: str, cword: int) -> list[str]:
    """What the bash script's helper gets from the console script for ``words``."""
    env = dict(os.environ)
    env.update(_WHALEFALL_SCHED_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    script = Path(sysconfig.get_path("scripts")) / "whalefall-sched"
    result = subprocess.run(
        [str(script)], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_completes_commands_and_options() -> None:
    assert _complete("whalefall-sched pa", 1) == ["pause"]
    assert _complete("whalefall-sched list --st", 2) == ["--state"]


def test_completes_job_ids_from_the_store(cli: Invoke, sqlite_url: str) -> None:
    assert cli("init", url=sqlite_url).exit_code == 0
    assert _complete(f"whalefall-sched --url {sqlite_url} pause sy", 4) == ["sync_accounts"]
    assert _complete(f"whalefall-sched --url {sqlite_url} get c", 4) == [
        "calculate_database_size_aggregations",
        "cleanup_logs",
        "collect_database_sizes",
    ]


def test_job_id_completion_is_silent_without_a_store(sqlite_url: str) -> None:
    assert _complete(f"whalefall-sched --url {sqlite_url} get ", 4) == []
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_completes_in_bash() -> None:
    bin_dir = sysconfig.get_path("scripts")
    program = (
        f"source {COMPLETIONS / 'whalefall-sched.bash'}\n"
        "COMP_WORDS=(whalefall-sched resu); COMP_CWORD=1\n"
        "_whalefall_sched_completion whalefall-sched\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["resume"]
