"""A new schedule as ``reschedule`` is given it (``--cron``, ``--interval``, ``--date``):
parsed as the host's ``PUT /jobs/<id>`` parses it and built into an APScheduler trigger,
a usage error naming what is wrong."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from whalefall_sched.errors import InvalidInputError

#: The host's field order for 7, 6 and 5 cron fields (``_collect_cron_fields``); with 5
#: fields ``second`` is ``"0"``. ``week`` is never given (APScheduler's default ``*``).
CRON_LAYOUTS: dict[int, tuple[str, ...]] = {
    7: ("second", "minute", "hour", "day", "month", "day_of_week", "year"),
    6: ("second", "minute", "hour", "day", "month", "day_of_week"),
    5: ("minute", "hour", "day", "month", "day_of_week"),
}
_INTERVAL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INTERVAL_PART = re.compile(r"(\d+)([smhdw])")
#: The longest interval: a hundred years (APScheduler's arithmetic stays in range).
MAX_INTERVAL = timedelta(days=36500)


@dataclass(frozen=True)
class TriggerSpec:
    """A new schedule as given: a cron expression, an interval or a one-shot date."""

    kind: Literal["cron", "interval", "date"]
    text: str


def cron_fields(expression: str) -> dict[str, str]:
    """The cron fields of a 5-, 6- or 7-field expression, exactly as the host's PUT
    splits it (whitespace; 5 fields get ``second`` ``"0"``). The values are not checked
    here (:func:`build_trigger` does, naming the field)."""
    parts = expression.split()
    layout = CRON_LAYOUTS.get(len(parts))
    if layout is None:
        raise InvalidInputError(
            f"cron expression {expression!r} has {len(parts)} field(s); give 5 (minute hour "
            "day month day_of_week), 6 (second first) or 7 (second first, year last)"
        )
    fields = dict(zip(layout, parts, strict=True))
    if len(parts) == 5:
        fields = {"second": "0", **fields}
    return fields


def parse_interval(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or a sum such as ``1h30m``; a bare number
    is seconds."""
    value = text.strip().lower()
    if value.isdigit():
        seconds = int(value)
    elif value and _INTERVAL_PART.sub("", value) == "":
        seconds = sum(int(n) * _INTERVAL_UNITS[u] for n, u in _INTERVAL_PART.findall(value))
    else:
        raise InvalidInputError(
            f"--interval {text!r} is not a duration; give e.g. 90s, 15m, 2h, 1d or 1h30m"
        )
    if seconds <= 0 or timedelta(seconds=seconds) > MAX_INTERVAL:
        raise InvalidInputError(f"--interval {text!r} must be more than 0s and at most 36500d")
    return timedelta(seconds=seconds)


def parse_date(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date or time; without an offset it is in ``zone``."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInputError(
            f"--date {text!r} is not an ISO 8601 time; give e.g. 2026-08-01T03:00 "
            "or 2026-08-01T03:00+08:00"
        ) from None
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def build_trigger(spec: TriggerSpec, zone: tzinfo) -> Any:
    """The APScheduler trigger of ``spec`` in ``zone``; a usage error naming what is wrong
    (for cron, the field)."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if spec.kind == "interval":
        return IntervalTrigger(
            seconds=int(parse_interval(spec.text).total_seconds()), timezone=zone
        )
    if spec.kind == "date":
        return DateTrigger(run_date=parse_date(spec.text, zone), timezone=zone)
    fields = cron_fields(spec.text)
    for name, value in fields.items():
        try:
            CronTrigger(timezone=zone, **{name: value})
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(
                f"cron expression {spec.text!r}: field {name} {value!r} is invalid: {exc}"
            ) from None
    try:
        return CronTrigger(timezone=zone, **fields)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"cron expression {spec.text!r} is invalid: {exc}") from None
