"""CLI layer: option parsing, rendering and exit codes."""

# Importing the command modules registers their commands on ``app``.
from whalefall_sched.cli import (  # noqa: F401
    commands_change,
    commands_export,
    commands_init,
    commands_log,
    commands_read,
    commands_runs,
    commands_timeline,
    commands_write,
)
from whalefall_sched.cli.app import app, main

__all__ = ["app", "main"]
