"""Start-up time of ``whalefall-sched --help`` and ``list``, relative to ``python -c pass``.

Run: ``uv run python bench/startup.py [--runs N]``. Every command is timed in this
same run, so the ratios compare like with like on this machine. It prints numbers
and asserts nothing: timings vary too much between machines to be a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

CONSOLE_SCRIPT = str(Path(sysconfig.get_path("scripts")) / "whalefall-sched")


def timed(argv: list[str], cwd: Path, runs: int) -> list[float]:
    """Wall-clock seconds of each of ``runs`` runs of ``argv`` (after one warm-up run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEFALL_SCHED_")}
    samples: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
        if i:  # the first run warms the file cache and byte-code
            samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        subprocess.run(
            [CONSOLE_SCRIPT, "init"],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            check=True,
        )
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "whalefall-sched --help": [CONSOLE_SCRIPT, "--help"],
            "whalefall-sched list": [CONSOLE_SCRIPT, "list"],
        }
        medians = {
            name: statistics.median(timed(argv, cwd, args.runs)) for name, argv in commands.items()
        }
    baseline = medians["python -c pass"]
    print(f"{'command':<26} {'median':>9} {'x baseline':>11}   ({args.runs} runs each)")
    for name, median in medians.items():
        print(f"{name:<26} {median * 1000:>7.1f}ms {median / baseline:>10.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
