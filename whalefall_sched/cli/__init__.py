"""CLI layer: option parsing, rendering and exit codes."""

# Importing the command modules registers their commands on ``app``, in this order
# (shell completion lists the commands in it): pause and resume, run, reload and restore
# come last.
# isort: off
from whalefall_sched.cli import (  # noqa: F401
    commands_change,
    commands_export,
    commands_init,
    commands_log,
    commands_read,
    commands_runs,
    commands_timeline,
    commands_write,
    commands_run,
    commands_replace,
)

# isort: on
from whalefall_sched.cli.app import app, main

__all__ = ["app", "main"]
