"""The class references the fast path (``fast.py``) lets through, and the C unpickler
that resolves only them: the pre-scan knows each by its tag, and ``find_class`` returns
the same stand-ins the restricted unpickler substitutes (a second gate).
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from typing import Any

from whalefall_sched.repository.codec.allowlist import (
    _ALLOWED,
    _cached_zone,
    _pytz_fixed_offset,
    _pytz_unpickle,
)
from whalefall_sched.repository.codec.limits import UnreadableStateError

#: The classes ``NEWOBJ`` may make (each rebuilt by ``BUILD`` with a dict).
_CLASSES = frozenset(
    key
    for key in _ALLOWED
    if key[0].startswith("apscheduler.triggers") and key[0] != "apscheduler.triggers.combining"
)
#: The callables ``REDUCE`` may call: dates and time zones.
_CALLS = frozenset(
    {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pytz", "_p"),
        ("pytz", "_UTC"),
        ("pytz", "FixedOffset"),
        ("zoneinfo", "ZoneInfo._unpickle"),
    }
)
_GETATTR = ("builtins", "getattr")
_ZONE = ("zoneinfo", "ZoneInfo")
_ZONE_UNPICKLE = ("zoneinfo", "ZoneInfo._unpickle")
assert (_CLASSES | _CALLS) <= _ALLOWED


class _Global(tuple[str, str]):
    """A class reference's tag: (module, name)."""


class _FastUnpickler(pickle.Unpickler):
    """The C unpickler resolving only what the pre-scan let through."""

    def find_class(self, module: str, name: str) -> Any:
        found = _resolved().get((module, name))
        if found is None:
            raise UnreadableStateError(f"class {module}.{name} is not allowed in a job state")
        return found


#: The class references the fast path resolves (the pre-scan knows them by tag).
_GLOBAL_TAGS = frozenset(_Global(key) for key in (_CLASSES | _CALLS | {_GETATTR, _ZONE}))


def _zone_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as protocols 4-5 spell ``ZoneInfo._unpickle``: the cached-zone stand-in."""
    import zoneinfo

    if obj is zoneinfo.ZoneInfo and name == "_unpickle":
        return functools.partial(_cached_zone, zoneinfo.ZoneInfo)
    raise UnreadableStateError(f"attribute {name!r} is not allowed in a job state")


@functools.cache
def _resolved() -> dict[tuple[str, str], Any]:
    """Each class reference of :data:`_GLOBAL_TAGS` resolved (stand-ins where the
    restricted unpickler substitutes one); a module that does not import is left out."""
    import importlib
    import zoneinfo

    stand_ins: dict[tuple[str, str], Callable[..., Any]] = {
        _GETATTR: _zone_getattr,
        _ZONE_UNPICKLE: functools.partial(_cached_zone, zoneinfo.ZoneInfo),
        ("pytz", "_p"): _pytz_unpickle,
        ("pytz", "FixedOffset"): _pytz_fixed_offset,
    }
    found: dict[tuple[str, str], Any] = {}
    for key in _GLOBAL_TAGS:
        module, name = key
        if key in stand_ins:
            if module == "pytz":
                try:
                    importlib.import_module("pytz")
                except ImportError:
                    continue
            found[key] = stand_ins[key]
            continue
        try:
            found[key] = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return found
