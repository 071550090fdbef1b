"""Small types shared by the command module and the renderer (cheap to import)."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """``-o``: a table for people, JSON for scripts."""

    table = "table"
    json = "json"
