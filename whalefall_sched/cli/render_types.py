"""Small types shared by the commands and the writers (cheap to import)."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """``-o``: a table for people, JSON for scripts."""

    table = "table"
    json = "json"


class ListOutput(StrEnum):
    """``list -o``: the table, all its columns, ids only, tab-separated values, or JSON."""

    table = "table"
    wide = "wide"
    name = "name"
    tsv = "tsv"
    json = "json"

    @property
    def error_format(self) -> OutputFormat:
        """How an error of this command is shown: JSON for ``-o json``, else a line."""
        return OutputFormat.json if self is ListOutput.json else OutputFormat.table


#: ``--color``'s help, the same for every command (the rule: :func:`.terminal.use_color`).
COLOR_HELP = "auto (a terminal; NO_COLOR, TERM=dumb and FORCE_COLOR are followed), always, never."


class ColorMode(StrEnum):
    """``--color``: ``always``, ``never``, or ``auto`` (:func:`.terminal.use_color`)."""

    auto = "auto"
    always = "always"
    never = "never"
