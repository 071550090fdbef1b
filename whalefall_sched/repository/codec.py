"""Decode and encode ``job_state`` without importing task functions or running foreign code.

APScheduler 3 stores ``pickle.dumps(job.__getstate__())``: a dict whose ``func`` is a
``module:qualname`` string, so the task function is only imported when a ``Job`` is
rebuilt. We never rebuild a ``Job``; we read the dict. The unpickler below resolves
only the classes a job state legitimately holds. Anything else (``os.system``,
``builtins.eval``, an arbitrary class in ``args``) makes the row unreadable instead of
running it.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from typing import Any

#: (module, qualified name) pairs the unpickler may resolve.
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        # triggers, cron fields and expressions
        ("apscheduler.triggers.cron", "CronTrigger"),
        ("apscheduler.triggers.interval", "IntervalTrigger"),
        ("apscheduler.triggers.date", "DateTrigger"),
        ("apscheduler.triggers.calendarinterval", "CalendarIntervalTrigger"),
        ("apscheduler.triggers.cron.fields", "BaseField"),
        ("apscheduler.triggers.cron.fields", "WeekField"),
        ("apscheduler.triggers.cron.fields", "DayOfMonthField"),
        ("apscheduler.triggers.cron.fields", "DayOfWeekField"),
        ("apscheduler.triggers.cron.fields", "MonthField"),
        ("apscheduler.triggers.cron.expressions", "AllExpression"),
        ("apscheduler.triggers.cron.expressions", "RangeExpression"),
        ("apscheduler.triggers.cron.expressions", "MonthRangeExpression"),
        ("apscheduler.triggers.cron.expressions", "WeekdayRangeExpression"),
        ("apscheduler.triggers.cron.expressions", "WeekdayPositionExpression"),
        ("apscheduler.triggers.cron.expressions", "LastDayOfMonthExpression"),
        # date and time
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        # time zones
        ("zoneinfo", "ZoneInfo"),
        ("zoneinfo", "ZoneInfo._unpickle"),
        ("zoneinfo._zoneinfo", "ZoneInfo"),
        ("zoneinfo._zoneinfo", "ZoneInfo._unpickle"),
        ("pytz", "_p"),
        ("pytz", "_UTC"),
        ("pytz", "FixedOffset"),
        # builtin containers and values
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "complex"),
        ("builtins", "object"),
        ("collections", "OrderedDict"),
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
        # old pickle protocols (0-2) spell objects and bytes with these
        ("copyreg", "_reconstructor"),
        ("_codecs", "encode"),
    }
)

#: Combining triggers keep their children as ``(class reference, state)`` and import
#: the reference in ``__setstate__``; only these references may appear there.
_TRIGGER_REFS: frozenset[str] = frozenset(
    f"{module}:{name}" for module, name in _ALLOWED if module.startswith("apscheduler.triggers")
)

#: What ``getattr`` may fetch during unpickling (protocols below 4 spell
#: ``ZoneInfo._unpickle`` as ``getattr(ZoneInfo, "_unpickle")``).
_ALLOWED_GETATTR: frozenset[tuple[str, str]] = frozenset({("zoneinfo", "ZoneInfo._unpickle")})

_COMBINING = frozenset({"AndTrigger", "OrTrigger"})
_COMBINING_REFS = frozenset(f"apscheduler.triggers.combining:{name}" for name in _COMBINING)


class UnreadableStateError(ValueError):
    """``job_state`` cannot be decoded safely; the message says why."""


def _restricted_getattr(obj: Any, name: str) -> Any:
    target = (
        getattr(obj, "__module__", ""),
        f"{getattr(obj, '__qualname__', '')}.{name}",
    )
    if target not in _ALLOWED_GETATTR:
        raise UnreadableStateError(f"attribute {name!r} of {obj!r} is not allowed in a job state")
    return getattr(obj, name)


def _check_child_refs(state: dict[str, Any]) -> None:
    """Refuse a combining trigger state naming any class but a trigger, at any depth.

    A nested combining trigger is rebuilt by APScheduler's own ``__setstate__``, which
    imports its children's references unchecked, so those are checked here first.
    """
    for entry in state.get("triggers", []):
        ref = entry[0] if isinstance(entry, tuple) and entry else None
        if ref in _COMBINING_REFS and len(entry) == 2 and isinstance(entry[1], dict):
            _check_child_refs(entry[1])
        elif ref not in _TRIGGER_REFS:
            raise UnreadableStateError(f"trigger class {ref!r} is not allowed in a job state")


def _combining_class(name: str) -> type:
    """A combining trigger whose ``__setstate__`` checks its children's class refs first."""
    from apscheduler.triggers import combining

    base: type = getattr(combining, name)

    def setstate(self: Any, state: dict[str, Any]) -> None:
        _check_child_refs(state)
        self.__class__ = base
        base.__setstate__(self, state)  # type: ignore[attr-defined]

    # Empty __slots__ keeps the layout of the slotted base, so __class__ can be swapped back.
    namespace = {"__setstate__": setstate, "__module__": base.__module__, "__slots__": ()}
    return type(name, (base,), namespace)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocols 0-2 spell Python 3 names the Python 2 way (``copy_reg``, ``__builtin__``);
        # map them as pickle itself does, then check the Python 3 name.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if module == "builtins" and name == "getattr":
            return _restricted_getattr
        if module == "apscheduler.triggers.combining" and name in _COMBINING:
            return _combining_class(name)
        if (module, name) not in _ALLOWED:
            raise UnreadableStateError(f"class {module}.{name} is not allowed in a job state")
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise UnreadableStateError(f"cannot load {module}.{name}: {exc}") from exc


def decode_state(data: bytes) -> dict[str, Any]:
    """Return the job state dict stored in ``data``.

    Raises :class:`UnreadableStateError` for corrupt bytes, a forbidden class, a state
    version above 1 or a dict that lacks the keys every APScheduler 3 job state has.
    """
    try:
        state = _RestrictedUnpickler(io.BytesIO(bytes(data))).load()
    except UnreadableStateError:
        raise
    except Exception as exc:  # corrupt bytes can raise nearly anything
        raise UnreadableStateError(f"corrupt job_state: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise UnreadableStateError(f"job_state holds a {type(state).__name__}, not a dict")
    version = state.get("version", 1)
    if not isinstance(version, int) or version > 1:
        raise UnreadableStateError(f"job state version {version!r} is newer than 1")
    missing = [key for key in ("id", "func", "trigger") if key not in state]
    if missing:
        raise UnreadableStateError(f"job state lacks {', '.join(missing)}")
    return state


def encode_state(state: dict[str, Any], protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
    """Pickle a job state dict the way ``SQLAlchemyJobStore`` does."""
    return pickle.dumps(state, protocol)
