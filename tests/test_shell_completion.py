"""The committed completion scripts in real bash, zsh and fish: pause offers running
jobs, resume paused ones, restore the store's backups newest first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, Invoke

COMPLETIONS = REPO / "completions"
SCRIPTS = Path(sysconfig.get_path("scripts"))
RUNNING = ["calculate_database_size_aggregations", "collect_database_sizes",
           "monitor_partition_health", "sync_accounts"]  # fmt: skip
PAUSED = ["cleanup_logs"]


def _shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (.ci/run installs it)")
    return path


@pytest.fixture
def store(cli: Invoke, tmp_path: Path) -> list[str]:
    """The default store in the working directory, one job paused, two backups taken
    (returned newest first)."""
    assert cli("init").exit_code == 0
    assert cli("pause", "cleanup_logs").exit_code == 0
    for _ in range(2):
        assert cli("reload", "--yes").exit_code == 0
        assert cli("pause", "cleanup_logs").exit_code == 0
    backups = sorted((tmp_path / "userdata" / "backups").glob("*.json"))
    assert len(backups) == 2
    now = time.time()
    os.utime(backups[0], (now - 60, now - 60))
    os.utime(backups[1], (now, now))
    # newest first: not the alphabetical order a shell would sort them in
    return [f"userdata/backups/{backups[1].name}", f"userdata/backups/{backups[0].name}"]


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{SCRIPTS}{os.pathsep}{os.environ['PATH']}"}


def _bash(line: str) -> list[str]:
    words = line.split(" ")
    script = (
        f"source {COMPLETIONS / 'whalefall-sched.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_whalefall_sched_completion whalefall-sched\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        [_shell("bash"), "--norc", "--noprofile", "-c", script],
        capture_output=True, text=True, env=_env(), check=True, timeout=60,
    )  # fmt: skip
    return [x for x in result.stdout.splitlines() if x]


def _fish(line: str) -> list[str]:
    script = f"source {COMPLETIONS / 'whalefall-sched.fish'}; complete -C '{line}'"
    result = subprocess.run(
        [_shell("fish"), "--no-config", "-c", script],
        capture_output=True, text=True, env=_env(), check=True, timeout=60,
    )  # fmt: skip
    return [x.split("\t")[0] for x in result.stdout.splitlines() if x]


#: Drives an interactive zsh on a pseudo-terminal: fpath and compinit as the README
#: says, compadd recorded, one TAB after the line.
ZSH_DRIVER = r"""
zmodload zsh/zpty
out=$1; comps=$2; line=$3
zpty -b z "zsh -f -i"
zpty -w z "PS1='> '; fpath=($comps \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "compadd() { print -rl -- CALL \"\$@\" >> $out; builtin compadd \"\$@\"; }"
zpty -w -n z "$line"$'\t'
for i in {1..300}; do [[ -s $out ]] && break; sleep 0.1; done
sleep 0.3
zpty -d z
"""


def _zsh(line: str, tmp_path: Path) -> list[str]:
    driver = tmp_path / "drive.zsh"
    driver.write_text(ZSH_DRIVER, encoding="utf-8")
    out = tmp_path / "compadd.txt"
    subprocess.run(
        [_shell("zsh"), "-f", str(driver), str(out), str(COMPLETIONS), line],
        capture_output=True, text=True, env=_env(), check=True, timeout=90,
    )  # fmt: skip
    # the candidates: the arguments after the lone '-' of the first compadd call with one
    recorded = out.read_text(encoding="utf-8").split("CALL\n") if out.exists() else []
    for call in recorded:
        args = call.splitlines()
        if "-" in args:
            return args[args.index("-") + 1 :]
    return []


@pytest.mark.parametrize("shell", ["bash", "fish"])
def test_pause_resume_restore_complete_by_state(shell: str, store: list[str]) -> None:
    complete = _bash if shell == "bash" else _fish
    assert complete("whalefall-sched pause ") == RUNNING
    assert complete("whalefall-sched resume ") == PAUSED
    assert complete("whalefall-sched get ") == sorted(RUNNING + PAUSED)
    assert complete("whalefall-sched restore ") == store
    assert complete("whalefall-sched list --state ") == ["running", "paused", "unreadable"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [("whalefall-sched resume ", PAUSED), ("whalefall-sched pause sy", ["sync_accounts"])],
)
def test_zsh_from_fpath_completes_on_the_first_tab(
    store: list[str], tmp_path: Path, line: str, expected: list[str]
) -> None:
    assert _zsh(line, tmp_path) == expected


def test_zsh_restore_offers_the_backups_newest_first(store: list[str], tmp_path: Path) -> None:
    assert _zsh("whalefall-sched restore ", tmp_path) == store
