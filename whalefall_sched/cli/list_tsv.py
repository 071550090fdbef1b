"""``list -o tsv``: :data:`TSV_COLUMNS`, tab-separated, one line per job, every value
escaped (:func:`tsv_value`) so no value can break a row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from whalefall_sched.cli.list_columns import _Clock, state_label
from whalefall_sched.cli.terminal import printable
from whalefall_sched.services.dto import SchedulerJobListItem
from whalefall_sched.services.triggers import CRON_ARG_KEYS

#: The columns of ``-o tsv``, in order (documented in the README; add only at the end).
TSV_COLUMNS = (
    "id",
    "name",
    "state",
    "trigger_type",
    *CRON_ARG_KEYS,
    "trigger",
    "next_run_time",
    "left_seconds",
    "timezone",
    "is_builtin",
    "executor",
    "func",
    "description",
    "unreadable_reason",
)


def tsv_value(value: Any) -> str:
    """One TSV field: empty for None; a backslash doubled, then tab, newline, carriage
    return and every other control or invisible character as its backslash escape
    (``\\t``, ``\\n``, ``\\x1b``, ``\\u202e``), so no value can break a row."""
    if value is None:
        return ""
    text = str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    return printable(text)


def tsv_lines(
    items: Iterable[SchedulerJobListItem], clock: _Clock, *, headers: bool = True
) -> Iterator[str]:
    """The header line (unless ``headers`` is False), then one line per job."""
    if headers:
        yield "\t".join(TSV_COLUMNS)
    for item in items:
        when = clock.when(item)
        cron = item.trigger_type == "cron"
        builtin = {True: "yes", False: "no", None: None}[item.is_builtin]
        values: list[Any] = [
            item.id,
            item.name,
            state_label(item.state),
            item.trigger_type,
            *(item.trigger_args.get(key) if cron else None for key in CRON_ARG_KEYS),
            None if cron else item.trigger_args.get("description"),
            None if when is None else when.isoformat(timespec="seconds"),
            None if when is None else clock.seconds_left(when),
            item.timezone,
            builtin,
            item.executor,
            item.func_ref or item.func,
            item.description,
            item.unreadable_reason,
        ]
        yield "\t".join(tsv_value(v) for v in values)
