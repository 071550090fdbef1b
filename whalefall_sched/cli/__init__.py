"""CLI layer: option parsing, rendering and exit codes."""

from whalefall_sched.cli.app import app, main

__all__ = ["app", "main"]
