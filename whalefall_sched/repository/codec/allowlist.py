"""What a job state may resolve: the allowed classes, their stand-ins, and the checks
that keep a row from changing a class or a shared time zone for the rest of the process.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
import types
from collections.abc import Callable
from typing import Any

from whalefall_sched.repository.codec.limits import (
    _LATIN_1,
    MAX_DEPTH,
    MAX_TRIGGERS,
    UnreadableStateError,
    _short,
)

#: The checking subclasses ``_combining_class`` made (BUILD counts what they rebuild).
_CHECKED_COMBINING: set[type] = set()


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
        ("builtins", "bytes"),
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


def _bytearray(*args: Any) -> bytearray:
    """``bytearray`` as pickle calls it: from bytes, or from a latin-1 ``str`` (protocols < 3).

    ``bytearray(n)`` would allocate ``n`` bytes from a row of a few bytes.
    """
    if not args:
        return bytearray()
    if len(args) == 1 and isinstance(args[0], bytes):
        return bytearray(args[0])
    if len(args) == 2 and isinstance(args[0], str) and args[1] in _LATIN_1:
        return bytearray(args[0], "latin-1")
    raise UnreadableStateError("bytearray() of anything but bytes is not allowed in a job state")


def _empty_bytes(*args: Any) -> bytes:
    """``bytes`` as pickle protocols < 3 call it: ``bytes()`` for ``b""``.

    ``bytes(n)`` would allocate ``n`` bytes.
    """
    if args:
        raise UnreadableStateError("bytes() with arguments is not allowed in a job state")
    return b""


def _codecs_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    """``_codecs.encode`` as pickle protocols < 3 call it: a ``str`` to latin-1 bytes.

    Other codecs (``hex``, ``base64``...) could be chained to double a value per call.
    """
    if isinstance(obj, str) and encoding in _LATIN_1 and errors == "strict":
        return obj.encode("latin-1")
    raise UnreadableStateError(
        f"_codecs.encode to {_short(encoding)} is not allowed in a job state"
    )


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` restricted to base ``object`` (what pickle writes for a
    plain Python class); another base would run that base's ``__new__`` and ``__init__``.
    """
    if base is not object:
        raise UnreadableStateError(
            f"copyreg._reconstructor with base {_short(base)} is not allowed in a job state"
        )
    if not isinstance(cls, type):
        raise UnreadableStateError(
            f"copyreg._reconstructor of {_short(cls)} is not allowed in a job state"
        )
    return object.__new__(cls)


def _pytz_unpickle(
    zone: Any, utcoffset: Any = None, dstoffset: Any = None, tzname: Any = None
) -> Any:
    """``pytz._p`` (pytz's own unpickler) without growing pytz's process-wide caches.

    Stock pytz keeps a ``timedelta`` for every offset and a zone instance for every
    (offset, DST, name) a pickle names, and scans them all on each later miss: a row
    naming thousands slows every later decode, for the life of the process. A state
    the zone no longer has is rebuilt here without being kept.
    """
    import pytz

    tz: Any = pytz.timezone(zone)
    if utcoffset is None:
        return tz
    if type(utcoffset) is not int or type(dstoffset) is not int:
        raise UnreadableStateError(
            f"pytz offsets {_short(utcoffset)}, {_short(dstoffset)} are not allowed in a job state"
        )
    offsets = (dt.timedelta(seconds=utcoffset), dt.timedelta(seconds=dstoffset))
    known = tz._tzinfos.get((*offsets, tzname))
    if known is not None:
        return known
    for localized in tz._tzinfos.values():
        if (localized._utcoffset, localized._dst) == offsets:
            return localized
    return type(tz)((*offsets, tzname), tz._tzinfos)


def _pytz_fixed_offset(offset: Any) -> Any:
    """``pytz.FixedOffset`` of whole minutes only: pytz keeps one zone per offset for the
    life of the process, so a row of distinct float offsets would grow it for ever."""
    import pytz

    if type(offset) is not int:
        raise UnreadableStateError(
            f"pytz.FixedOffset({_short(offset)}) is not allowed in a job state"
        )
    return pytz.FixedOffset(offset)


def _substitute(func: Any) -> Callable[..., Any] | None:
    """A stand-in for a call that would grow a process-wide cache, or None.

    Looked up at call time, so ``find_class`` still returns (and messages still name)
    the real callables.
    """
    pytz = sys.modules.get("pytz")
    if pytz is not None and func is getattr(pytz, "_p", None):
        return _pytz_unpickle
    if pytz is not None and func is getattr(pytz, "FixedOffset", None):
        return _pytz_fixed_offset
    for module in ("zoneinfo", "zoneinfo._zoneinfo"):
        zone_class = getattr(sys.modules.get(module), "ZoneInfo", None)
        unpickle = getattr(zone_class, "_unpickle", None)
        if unpickle is not None and type(func) is type(unpickle) and func == unpickle:
            return functools.partial(_cached_zone, zone_class)
    return None


def _cached_zone(zone_class: Any, key: Any, *_from_cache: Any) -> Any:
    """``ZoneInfo._unpickle`` always from the cache: uncached (``ZoneInfo.no_cache``) it
    reads and parses the zone file at each call; the cached zone behaves the same."""
    return zone_class(key)


#: Allowed names resolved to a restricted stand-in rather than the real callable.
_STAND_INS: dict[tuple[str, str], Callable[..., Any]] = {
    ("builtins", "bytearray"): _bytearray,
    ("builtins", "bytes"): _empty_bytes,
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor,
}


def _restricted_getattr(obj: Any, name: str) -> Any:
    target = (
        getattr(obj, "__module__", ""),
        f"{getattr(obj, '__qualname__', '')}.{name}",
    )
    if target not in _ALLOWED_GETATTR:
        raise UnreadableStateError(
            f"attribute {_short(name)} of {_short(obj)} is not allowed in a job state"
        )
    return getattr(obj, name)


def _check_child_refs(state: Any) -> int:
    """Refuse a combining trigger state naming any class but a trigger, at any depth.

    A nested combining trigger is rebuilt by APScheduler's own ``__setstate__``, which
    imports its children's references unchecked, so those are checked here first.
    Returns how many triggers the rebuild makes: a child state shared at every level
    counts each time, as the rebuild makes it each time, so a row of a few bytes cannot
    make the rebuild exponential.
    """
    pending: list[tuple[Any, int]] = [(state, 1)]
    count = 0
    while pending:
        current, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise UnreadableStateError(f"combining triggers nest deeper than {MAX_DEPTH} levels")
        for entry in current.get("triggers", []):
            count += 1
            if count > MAX_TRIGGERS:
                raise UnreadableStateError(
                    f"combining trigger rebuilds more than {MAX_TRIGGERS} triggers"
                )
            ref = entry[0] if isinstance(entry, tuple) and entry else None
            if not isinstance(ref, str):
                raise UnreadableStateError(
                    f"trigger class {_short(ref)} is not allowed in a job state"
                )
            if ref in _COMBINING_REFS and len(entry) == 2 and isinstance(entry[1], dict):
                pending.append((entry[1], depth + 1))
            elif ref not in _TRIGGER_REFS:
                raise UnreadableStateError(
                    f"trigger class {_short(ref)} is not allowed in a job state"
                )
    return count


@functools.cache
def _combining_class(name: str) -> type:
    """A combining trigger whose ``__setstate__`` checks its children's class refs first.

    Made once per name: a row naming the class again and again gets the same class.
    """
    from apscheduler.triggers import combining

    base: type = getattr(combining, name)

    def setstate(self: Any, state: dict[str, Any]) -> None:
        _check_child_refs(state)
        self.__class__ = base
        base.__setstate__(self, state)  # type: ignore[attr-defined]

    # Empty __slots__ keeps the layout of the slotted base, so __class__ can be swapped back.
    namespace = {"__setstate__": setstate, "__module__": base.__module__, "__slots__": ()}
    checked = type(name, (base,), namespace)
    _CHECKED_COMBINING.add(checked)
    return checked


def _is_dunder(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _shared_kind(inst: Any) -> str | None:
    """What ``inst`` is if it outlives the row (a class, a module, a shared zone...)."""
    if isinstance(inst, type):
        return f"class {inst.__module__}.{inst.__qualname__}"
    if isinstance(inst, types.ModuleType):
        return f"module {inst.__name__}"
    if isinstance(inst, dt.tzinfo):
        return f"time zone {inst}"
    if callable(inst):
        return f"callable {getattr(inst, '__qualname__', type(inst).__name__)}"
    return None


def _check_build(inst: Any, state: Any) -> None:
    """Refuse a ``BUILD`` that would change anything but a fresh instance's plain attributes.

    ``BUILD`` sets attributes: on a class (or function, module, shared time zone) that
    would last for the whole process; a dunder key could replace ``__class__``, add an
    instance ``__setstate__`` or the like.
    """
    what = _shared_kind(inst)
    if what:
        raise UnreadableStateError(f"setting attributes of {what} is not allowed in a job state")
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    for part in parts:
        if isinstance(part, dict):
            for key in part:
                if _is_dunder(key):
                    raise UnreadableStateError(
                        f"state key {_short(key)} ({type(inst).__name__}) "
                        "is not allowed in a job state"
                    )


def _refuse_container(opcode: str, target: Any, kind: type) -> None:
    if not isinstance(target, kind):
        raise UnreadableStateError(
            f"{opcode} on a {type(target).__name__} is not allowed in a job state"
        )
