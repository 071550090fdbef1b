"""CLI layer: option parsing, rendering and exit codes."""

# Importing the command modules registers their commands on ``app``.
from whalefall_sched.cli import commands_init, commands_read, commands_write  # noqa: F401
from whalefall_sched.cli.app import app, main

__all__ = ["app", "main"]
