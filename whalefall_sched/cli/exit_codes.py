"""Exit codes: stable, documented, and the same for every command.

Each error class carries its own (``WhaleFallSchedError.exit_code``); the enum lives
beside them in :mod:`whalefall_sched.errors` and is re-exported here for the CLI.
"""

from __future__ import annotations

from whalefall_sched.errors import ExitCode

__all__ = ["ExitCode"]
