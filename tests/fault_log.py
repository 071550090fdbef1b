"""The fault log: one line per fault tried, with what was observed and the verdict.

Lines go to ``$WHALEFALL_SCHED_FAULT_LOG`` when set (``.ci/run`` sets it and prints the
file at the end), else to ``fault-log.txt`` in the test's scratch directory. Each test also
prints its lines, so ``pytest -rA`` shows them in its summary.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

ENV = "WHALEFALL_SCHED_FAULT_LOG"
#: Read when the tests are collected: the tests' environment is scrubbed of the
#: WHALEFALL_SCHED_* variables (so none leaks into the CLI) before each test runs.
_CONFIGURED = os.environ.get(ENV)
_lock = threading.Lock()


@dataclass
class FaultLog:
    """Appends ``fault | backend | run | observed | verdict`` lines to the log file."""

    path: Path
    lines: list[str] = field(default_factory=list)

    @classmethod
    def at(cls, fallback_dir: Path) -> FaultLog:
        """The log named by the environment, else one in ``fallback_dir``."""
        configured = os.environ.get(ENV) or _CONFIGURED
        return cls(Path(configured) if configured else fallback_dir / "fault-log.txt")

    def record(self, fault: str, backend: str, run: int | str, observed: str, verdict: str) -> None:
        """Append one line (flattened to a single line) and keep it for the summary."""
        fields = [fault, backend, str(run), observed, verdict]
        line = " | ".join(" ".join(str(f).split()) for f in fields)
        self.lines.append(line)
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def summary(self) -> str:
        """Every line this test wrote, with the file they went to."""
        verdicts: dict[str, int] = {}
        for line in self.lines:
            verdict = line.rsplit(" | ", 1)[-1]
            verdicts[verdict] = verdicts.get(verdict, 0) + 1
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(verdicts.items()))
        return "\n".join(
            [f"fault log ({self.path}): {len(self.lines)} line(s); {counts}", *self.lines]
        )
