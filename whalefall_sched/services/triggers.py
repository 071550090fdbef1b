"""How a trigger is described to an operator (the rule: docs/architecture.md)."""

from __future__ import annotations

from typing import Any

#: The cron fields, in display order: the one list (the tasks file's cron fields and the
#: table's columns derive from it); ``week`` is an addition to the host API's seven.
CRON_ARG_KEYS = (
    "second",
    "minute",
    "hour",
    "day",
    "month",
    "day_of_week",
    "year",
    "week",
)
#: APScheduler's order of ``CronTrigger.fields``.
_FIELD_INDEX = {
    "year": 0,
    "month": 1,
    "day": 2,
    "week": 3,
    "day_of_week": 4,
    "hour": 5,
    "minute": 6,
    "second": 7,
}
#: The fallback when ``fields`` is neither a dict nor a list of 8 or more.
CRON_DEFAULTS = {
    "second": "0",
    "minute": "0",
    "hour": "0",
    "day": "*",
    "month": "*",
    "day_of_week": "*",
    "year": "",
    "week": "*",
}


def trigger_type(trigger: Any) -> str:
    """``cron``, ``interval``, ``date``, or the lower-case class name without "trigger"."""
    name = type(trigger).__name__.lower()
    return name.removesuffix("trigger") or name


def cron_trigger_args(trigger: Any) -> dict[str, str]:
    """The cron fields of ``trigger`` (the rule: docs/architecture.md).

    ``fields`` a dict: read each key; a list of 8 or more: read by APScheduler's index;
    anything else: the defaults.
    """
    fields = getattr(trigger, "fields", None)
    if isinstance(fields, dict):
        return {key: str(fields.get(key, CRON_DEFAULTS[key])) for key in CRON_ARG_KEYS}
    if isinstance(fields, list) and len(fields) >= 8:
        return {key: str(fields[_FIELD_INDEX[key]]) for key in CRON_ARG_KEYS}
    return dict(CRON_DEFAULTS)


def trigger_args(trigger: Any) -> dict[str, str]:
    """Cron fields for a cron trigger, ``{"description": str(trigger)}`` for any other."""
    if trigger_type(trigger) == "cron":
        return cron_trigger_args(trigger)
    return {"description": str(trigger)}
