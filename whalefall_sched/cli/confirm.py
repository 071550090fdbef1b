"""Asking before a write: the one confirmation every write command goes through.

A write that asks lists what it is about to change on stderr, asks on the terminal, and
is refused (exit 4, nothing changed) where there is no terminal to ask on or the answer
is no. ``--yes`` skips the question (the commands decide that).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from whalefall_sched.cli.terminal import err_line, printable

if TYPE_CHECKING:
    from whalefall_sched.cli.settings import Settings

#: The most ids the confirmation lists; the rest are counted.
CONFIRM_LISTS = 200


def _confirm_selection(settings: Settings, action: str, job_ids: list[str]) -> None:
    """List the ids and ask before writing them; refuse (exit 4) where there is no
    terminal to ask on, as ``reload`` does."""
    from whalefall_sched.errors import StoreConflictError

    count = len(job_ids)
    if not _can_ask():
        raise StoreConflictError(
            f"{action} of {count} jobs needs confirmation; no terminal to ask on, "
            "so nothing was changed (pass --yes)"
        )
    where = settings.repository().where
    err_line(f"about to {action} {count} jobs in {where}:")
    for job_id in job_ids[:CONFIRM_LISTS]:
        err_line(f"  {printable(job_id)}")
    if count > CONFIRM_LISTS:
        err_line(f"  ... and {count - CONFIRM_LISTS} more")
    if not typer.confirm(printable(f"{action.capitalize()} these {count} jobs?"), err=True):
        raise StoreConflictError(f"{action} not confirmed; nothing was changed")


def confirm_on_terminal(question: str, action: str, what: str) -> None:
    """Ask ``question`` on the terminal; refuse (exit 4, nothing changed) where there is
    no terminal to ask on, or when the answer is no. ``what`` says why ``action`` asks."""
    from whalefall_sched.errors import StoreConflictError

    _need_terminal(action, what)
    if not typer.confirm(printable(question), err=True):
        raise StoreConflictError(f"{action} not confirmed; nothing was changed")


def _need_terminal(action: str, what: str, hint: str = "") -> None:
    """Refuse (exit 4, nothing changed) where there is no terminal to ask on."""
    from whalefall_sched.errors import StoreConflictError

    if not _can_ask():
        raise StoreConflictError(
            f"{action} {what} and needs confirmation; no terminal to ask on, "
            f"so nothing was changed (pass --yes{hint})"
        )


def _can_ask() -> bool:
    """Whether there is a terminal to ask for confirmation on (stdin)."""
    return not (sys.stdin is None or sys.stdin.closed or not sys.stdin.isatty())
