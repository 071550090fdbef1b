"""The console script with a probe on the due-row guard, for a race met on purpose.

    python -m tests.live.cli_probed PROBE --url URL COMMAND...

Runs the CLI exactly as ``python -m whalefall_sched`` does, except that each time the
due-row guard finds rows due and starts waiting for a scheduler to move them on, it
appends ``{"wall", "due": [ids]}`` as a JSON line to ``PROBE``. A test then knows that
the command has read the store while a live scheduler held a row, whatever the time
the command took to start, and only then lets the scheduler go on.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from whalefall_sched.repository.due_row_guard import DueRowGuard
from whalefall_sched.repository.rows import StoredJob


def install(probe: Path) -> None:
    """Log every wait of the guard to ``probe`` before it starts."""
    wait = DueRowGuard._wait_until_moved

    def probed(self: DueRowGuard, jobs: Sequence[StoredJob], deadline: float) -> bool:
        line = json.dumps({"wall": time.time(), "due": sorted(job.id for job in jobs)})
        with probe.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return wait(self, jobs, deadline)

    DueRowGuard._wait_until_moved = probed  # type: ignore[method-assign]


def main() -> None:
    probe = Path(sys.argv[1])
    del sys.argv[1]
    install(probe)
    from whalefall_sched.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
