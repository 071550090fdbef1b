"""What a decoded job state must look like before anything reads it.

:mod:`.codec` decides what may be unpickled at all; this module checks that the dict it
returns is what stock APScheduler 3 writes: ``Job.__getstate__`` with the types
``Job._modify`` enforces, and a trigger whose internals are what the trigger's own
constructor and ``__setstate__`` produce (cron fields within their ranges, sane time
zones, an interval above zero...). A state that passes can be listed, shown and have its
next fire time computed without raising or looping; one that fails is unreadable, with
the first problem found as the reason. Every check is cheap: the codec has already
bounded the state's size and depth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any

#: The keys of every job state besides ``version`` (checked by the codec).
JOB_KEYS = (
    "id",
    "func",
    "trigger",
    "executor",
    "args",
    "kwargs",
    "name",
    "misfire_grace_time",
    "coalesce",
    "max_instances",
    "next_run_time",
)

#: The attributes each cron expression class sets in its constructor.
_EXPRESSION_ATTRS = {
    "AllExpression": {"step"},
    "RangeExpression": {"step", "first", "last"},
    "MonthRangeExpression": {"step", "first", "last"},
    "WeekdayRangeExpression": {"step", "first", "last"},
    "WeekdayPositionExpression": {"step", "option_num", "weekday"},
    "LastDayOfMonthExpression": {"step"},
}
_FIELD_ATTRS = {"name", "is_default", "expressions"}
#: A fixed instant (2000-01-01 UTC) at which a time zone is asked for its offset.
_PROBE_TIMESTAMP = 946_684_800

_MISSING: Any = object()

_Check = Callable[[Any, str], None]


class _ShapeError(Exception):
    """One problem with a state; the message names the field."""


def shape_problem(state: dict[str, Any]) -> str | None:
    """Why ``state`` is not a job state stock APScheduler 3 writes, or None."""
    try:
        _check_job(state)
    except _ShapeError as exc:
        return str(exc)
    return None


def _check_job(state: dict[str, Any]) -> None:
    missing = [key for key in JOB_KEYS if key not in state]
    if missing:
        raise _ShapeError(f"job state lacks {', '.join(missing)}")
    for key in ("id", "executor", "name"):
        _text(state[key], key)
    func = _text(state["func"], "func")
    module, _, attribute = func.partition(":")
    if not module or not attribute:
        raise _ShapeError(f"func {func!r:.80} is not a 'module:name' reference")
    _kind(state["args"], (tuple, list), "args")
    for key in _kind(state["kwargs"], dict, "kwargs"):
        _text(key, "a kwargs key")
    if state["misfire_grace_time"] is not None:
        _int(state["misfire_grace_time"], "misfire_grace_time", 0)
    _kind(state["coalesce"], bool, "coalesce")
    _int(state["max_instances"], "max_instances", 1)
    if state["next_run_time"] is not None:
        _aware(state["next_run_time"], "next_run_time")
    _trigger(state["trigger"], "trigger")


# -- values --------------------------------------------------------------------------


def _kind(value: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise _ShapeError(f"{what} is {type(value).__name__}, not {names}")
    return value


def _text(value: Any, what: str) -> str:
    text: str = _kind(value, str, what)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _ShapeError(f"{what} is not valid Unicode (lone surrogate at {exc.start})") from None
    return text


def _int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _ShapeError(f"{what} is {type(value).__name__}, not int")
    if value < minimum:
        raise _ShapeError(f"{what} is {value}, below {minimum}")
    return value


def _jitter(value: Any, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _ShapeError(f"{what} is {type(value).__name__}, not a number")
    if not math.isfinite(value):
        raise _ShapeError(f"{what} is {value}, not a finite number")


def _aware(value: Any, what: str) -> datetime:
    """A datetime with a working time zone (its offset and timestamp computable)."""
    when: datetime = _kind(value, datetime, what)
    if when.tzinfo is None:
        raise _ShapeError(f"{what} has no time zone")
    try:
        offset = when.utcoffset()
        when.timestamp()
    except Exception as exc:  # a crafted zone can raise nearly anything
        raise _ShapeError(f"{what} has a broken time zone ({type(exc).__name__}: {exc})") from exc
    if offset is None:
        raise _ShapeError(f"{what} has a time zone without an offset")
    return when


def _zone(value: Any, what: str) -> tzinfo:
    """A time zone that gives an offset and converts a time."""
    zone: tzinfo = _kind(value, tzinfo, what)
    try:
        offset = datetime(2000, 1, 1, tzinfo=zone).utcoffset()
        datetime.fromtimestamp(_PROBE_TIMESTAMP, zone).utcoffset()
    except Exception as exc:  # a crafted zone can raise nearly anything
        raise _ShapeError(f"{what} is a broken time zone ({type(exc).__name__}: {exc})") from exc
    if offset is None:
        raise _ShapeError(f"{what} is a time zone without an offset")
    return zone


def _names(attrs: Any) -> str:
    """Attribute names for a reason, sorted and cut short."""
    return (", ".join(sorted(map(str, attrs))) or "nothing")[:120]


def _attr(obj: Any, name: str, what: str) -> Any:
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        raise _ShapeError(f"{what} lacks {name}")
    return value


def _optional_aware(obj: Any, name: str, what: str) -> None:
    value = _attr(obj, name, what)
    if value is not None:
        _aware(value, f"{what}.{name}")


# -- triggers --------------------------------------------------------------------------


@cache
def _trigger_checks() -> dict[type, _Check]:
    from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
    from apscheduler.triggers.combining import AndTrigger, OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    return {
        CronTrigger: _cron,
        IntervalTrigger: _interval,
        DateTrigger: _date,
        CalendarIntervalTrigger: _calendar,
        AndTrigger: _combining,
        OrTrigger: _combining,
    }


def _trigger(trigger: Any, what: str) -> None:
    from apscheduler.triggers.combining import BaseCombiningTrigger

    check = _trigger_checks().get(type(trigger))
    if check is not None:
        check(trigger, what)
    elif isinstance(trigger, BaseCombiningTrigger):
        # the codec's stand-in class: its __setstate__ (which restores the class) never ran
        raise _ShapeError(f"{what} ({type(trigger).__name__}) was never given its state")
    else:
        raise _ShapeError(f"{what} is {type(trigger).__name__}, not an APScheduler 3 trigger")


def _date(trigger: Any, what: str) -> None:
    _aware(_attr(trigger, "run_date", what), f"{what}.run_date")


def _interval(trigger: Any, what: str) -> None:
    interval: timedelta = _kind(_attr(trigger, "interval", what), timedelta, f"{what}.interval")
    if interval <= timedelta(0):
        raise _ShapeError(f"{what}.interval is {interval}, not above zero")
    length = _attr(trigger, "interval_length", what)
    if length != interval.total_seconds():
        raise _ShapeError(f"{what}.interval_length {length!r:.40} disagrees with its interval")
    _zone(_attr(trigger, "timezone", what), f"{what}.timezone")
    _aware(_attr(trigger, "start_date", what), f"{what}.start_date")
    _optional_aware(trigger, "end_date", what)
    _jitter(_attr(trigger, "jitter", what), f"{what}.jitter")


def _calendar(trigger: Any, what: str) -> None:
    units = ("years", "months", "weeks", "days")
    amounts = [_int(_attr(trigger, unit, what), f"{what}.{unit}", 0) for unit in units]
    if not any(amounts):
        raise _ShapeError(f"{what} has an interval of zero")
    zone = _zone(_attr(trigger, "timezone", what), f"{what}.timezone")
    for name, required in (("start_date", True), ("end_date", False)):
        value = _attr(trigger, name, what)
        if (value is not None or required) and type(value) is not date:
            raise _ShapeError(f"{what}.{name} is {type(value).__name__}, not date")
    clock = _kind(_attr(trigger, "_time", what), time, f"{what}._time")
    if clock.tzinfo is not zone or clock.microsecond or clock.fold:
        raise _ShapeError(f"{what}._time {clock!r:.80} is not a whole second in its time zone")
    _jitter(_attr(trigger, "jitter", what), f"{what}.jitter")


def _combining(trigger: Any, what: str) -> None:
    children = _kind(_attr(trigger, "triggers", what), list, f"{what}.triggers")
    if not children:
        raise _ShapeError(f"{what} combines no triggers")
    _jitter(_attr(trigger, "jitter", what), f"{what}.jitter")
    for index, child in enumerate(children):
        _trigger(child, f"{what}.triggers[{index}]")


def _cron(trigger: Any, what: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    _zone(_attr(trigger, "timezone", what), f"{what}.timezone")
    _optional_aware(trigger, "start_date", what)
    _optional_aware(trigger, "end_date", what)
    _jitter(_attr(trigger, "jitter", what), f"{what}.jitter")
    fields = _kind(_attr(trigger, "fields", what), list, f"{what}.fields")
    names = CronTrigger.FIELD_NAMES
    if len(fields) != len(names):
        raise _ShapeError(f"{what} has {len(fields)} cron fields, not {len(names)}")
    for name, field in zip(names, fields, strict=True):
        _cron_field(field, name, f"{what}.fields[{name}]")


def _cron_field(field: Any, name: str, what: str) -> None:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.cron.fields import BaseField

    expected = CronTrigger.FIELDS_MAP[name]
    # month was a plain BaseField before MonthField (month names) existed
    if type(field) is not expected and not (name == "month" and type(field) is BaseField):
        raise _ShapeError(f"{what} is {type(field).__name__}, not {expected.__name__}")
    attrs = getattr(field, "__dict__", {})
    if set(attrs) != _FIELD_ATTRS:
        raise _ShapeError(f"{what} holds {_names(attrs)}, not {_names(_FIELD_ATTRS)}")
    if attrs["name"] != name:
        raise _ShapeError(f"{what} is named {attrs['name']!r:.40}")
    _kind(attrs["is_default"], bool, f"{what}.is_default")
    expressions = _kind(attrs["expressions"], list, f"{what}.expressions")
    if not expressions:
        raise _ShapeError(f"{what} has no expressions")
    for expression in expressions:
        _cron_expression(expression, type(field).COMPILERS, name, what)


def _cron_expression(expression: Any, compilers: list[type], name: str, what: str) -> None:
    from apscheduler.triggers.cron.fields import MAX_VALUES, MIN_VALUES

    kind = type(expression)
    if kind not in compilers:
        raise _ShapeError(f"{what} holds a {kind.__name__}, not one of its expressions")
    attrs = getattr(expression, "__dict__", {})
    if set(attrs) != _EXPRESSION_ATTRS[kind.__name__]:
        raise _ShapeError(f"{what} holds a {kind.__name__} with {_names(attrs)}")
    low, high = MIN_VALUES[name], MAX_VALUES[name]
    step = attrs["step"]
    if step is not None and _int(step, f"{what} step", 1) > high - low:
        raise _ShapeError(f"{what}: step {step} is above the field's range ({high - low})")
    if "first" in attrs:
        _cron_range(attrs["first"], attrs["last"], step, (low, high), what)
    if "option_num" in attrs:
        _int(attrs["option_num"], f"{what} position", 0)
        _int(attrs["weekday"], f"{what} weekday", 0)
        if attrs["option_num"] > 5 or attrs["weekday"] > 6:
            raise _ShapeError(f"{what}: position {attrs['option_num']}, weekday {attrs['weekday']}")


def _cron_range(
    first: Any, last: Any, step: int | None, bounds: tuple[int, int], what: str
) -> None:
    """A range within the field's bounds, as ``RangeExpression.validate_range`` checks it."""
    low, high = bounds
    _int(first, f"{what} first value", low)
    if first > high:
        raise _ShapeError(f"{what}: {first} is above the maximum {high}")
    if last is not None:
        _int(last, f"{what} last value", first)
        if last > high:
            raise _ShapeError(f"{what}: {last} is above the maximum {high}")
    # `last or high`, as stock computes it
    if step is not None and step > (last or high) - first:
        raise _ShapeError(f"{what}: step {step} is above the range's span")
