"""Decode and encode ``job_state`` without importing task functions or running foreign code.

APScheduler 3 stores ``pickle.dumps(job.__getstate__())``: a dict whose ``func`` is a
``module:qualname`` string, so the task function is only imported when a ``Job`` is
rebuilt. We never rebuild a ``Job``; we read the dict. The unpickler below resolves
only the classes a job state legitimately holds. Anything else (``os.system``,
``builtins.eval``, an arbitrary class in ``args``) makes the row unreadable instead of
running it.

The unpickler is the pure-Python one (``pickle._Unpickler``), whose opcodes can be
overridden one by one: ``BUILD`` and the container opcodes refuse to touch a class, a
function, a module or a shared time zone, so a row cannot change APScheduler's classes
(or pytz's cached zones) for the rest of the process. Size limits keep one row from
exhausting memory or breaking the rendering of every other row.

Every opcode is accounted while the row loads, so a row of a few MiB cannot make the
decoder build millions of objects, copy a shared value again and again, or hash a
shared tuple (or colliding keys) for ever: each limit below is checked as it is
reached, and the error names the limit.
"""

from __future__ import annotations

import _compat_pickle
import datetime as dt
import functools
import io
import pickle
import reprlib
import struct
import sys
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from decimal import Decimal
from typing import Any, ClassVar

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

#: Largest ``job_state`` decoded at all (stock states are a few KiB).
MAX_STATE_BYTES = 4 * 1024 * 1024
#: Deepest nesting of containers and objects a decoded state may have.
MAX_DEPTH = 64
#: Most values (containers, objects and leaves, shared ones counted each time they are
#: reached) a decoded state may hold.
MAX_NODES = 100_000
#: Largest int a decoded state may hold: ``str()`` refuses ints over 4,300 digits, which
#: would break rendering the whole store.
MAX_INT_BITS = 14_000

# Limits checked while a row loads (stock states stay far below each of them).
#: Most values pushed while loading: every new value and every reference to a shared
#: one (a shared tuple counts as the values it expands to, as hashing walks them all).
MAX_LOAD_VALUES = 1_000_000
#: Most objects created while loading (an empty set costs about 200 bytes).
MAX_LOAD_OBJECTS = 200_000
#: Most characters of str and bytes decoded or referenced while loading, and reached
#: by the shape check (a shared string counts each time, as rendering prints it).
MAX_TEXT_CHARS = 8 * 1024 * 1024
#: Most memo entries (``PUT``/``MEMOIZE``) a row may make.
MAX_MEMO = 200_000
#: Most values waiting on the unpickler's stack, all marks included.
MAX_STACK = 2 * MAX_NODES
#: Most marks open at once (stock pickles open one per nesting level).
MAX_MARKS = 2 * MAX_DEPTH
#: Most distinct keys with one same hash: more would make every insert compare them all.
MAX_SAME_HASH = 16
#: Most triggers, at any depth, a combining trigger may rebuild.
MAX_TRIGGERS = 1_000

_LATIN_1 = frozenset({"latin1", "latin-1"})

#: Values the shape check skips without a look.
_SCALARS = frozenset({str, int, float, bool, type(None), bytes})

#: Values the shape check does not look into.
_LEAVES = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    type(None),
    Decimal,
    uuid.UUID,
    dt.date,
    dt.time,
    dt.timedelta,
    dt.tzinfo,
)


class UnreadableStateError(ValueError):
    """``job_state`` cannot be decoded safely; the message says why."""


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 2
#: Longest message an unreadable row gets (a crafted row may name huge values).
_MAX_MESSAGE = 500


def _short(value: Any) -> str:
    """A ``repr`` of a row's value short enough for a message."""
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a crafted value's repr may fail in any way
        return f"<{type(value).__name__}>"


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


_STOCK: dict[int, Callable[[Any], None]] = pickle._Unpickler.dispatch


def _ops(*opcodes: bytes) -> frozenset[int]:
    return frozenset(op[0] for op in opcodes)


#: Opcodes that push a value they make (a call's result is charged by the call).
_MAKING = _ops(
    pickle.FLOAT, pickle.BINFLOAT, pickle.INT, pickle.BININT, pickle.BININT1,
    pickle.BININT2, pickle.LONG, pickle.LONG1, pickle.LONG4, pickle.STRING,
    pickle.BINSTRING, pickle.SHORT_BINSTRING, pickle.UNICODE, pickle.BINUNICODE,
    pickle.SHORT_BINUNICODE, pickle.BINUNICODE8, pickle.BINBYTES, pickle.SHORT_BINBYTES,
    pickle.BINBYTES8, pickle.BYTEARRAY8, pickle.EMPTY_LIST, pickle.LIST, pickle.EMPTY_DICT,
    pickle.DICT, pickle.EMPTY_SET, pickle.FROZENSET, pickle.GLOBAL, pickle.STACK_GLOBAL,
    pickle.READONLY_BUFFER,
)  # fmt: skip
#: Opcodes that push a value every row shares (no new object).
_SHARED = _ops(pickle.NONE, pickle.NEWTRUE, pickle.NEWFALSE, pickle.EMPTY_TUPLE)
#: Opcodes that push another reference to a value already made.
_REFERENCING = _ops(pickle.DUP, pickle.GET, pickle.BINGET, pickle.LONG_BINGET)
_TUPLES = _ops(pickle.TUPLE, pickle.TUPLE1, pickle.TUPLE2, pickle.TUPLE3)
_MEMOIZING = _ops(pickle.PUT, pickle.BINPUT, pickle.LONG_BINPUT, pickle.MEMOIZE)
_TEXT = (str, bytes, bytearray)


def _followed_by(
    load: Callable[[Any], None], account: Callable[[Any], None]
) -> Callable[[Any], None]:
    """An opcode that runs ``load``, then accounts what it did."""

    def opcode(self: Any) -> None:
        load(self)
        account(self)

    return opcode


#: The checking subclasses ``_combining_class`` made (BUILD counts what they rebuild).
_CHECKED_COMBINING: set[type] = set()


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with ``find_class`` and the mutating opcodes restricted.

    Overridden opcodes read ``self.stack`` and call ``self.pop_mark``/``self.read``, as the
    stock ones do (``pickle._Unpickler`` sets them up in ``load``). Every opcode that
    pushes, memoizes, marks, hashes or calls is accounted against the load limits.
    """

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(_STOCK)
    stack: list[Any]
    metastack: list[list[Any]]
    memo: dict[int, Any]
    append: Callable[[Any], None]
    read: Callable[[int], bytes]
    readinto: Callable[[bytearray], int]

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._size = len(data)
        self._values = 0
        self._objects = 0
        self._text = 0
        #: Values on the stacks saved by open marks.
        self._below = 0
        #: id -> (expanded size, depth, tuple) of the tuples holding tuples.
        self._tuples: dict[int, tuple[int, int, tuple[Any, ...]]] = {}
        #: hash -> the key, or the distinct keys, inserted with that hash.
        self._hashes: dict[int, Any] = {}

    # -- accounting ----------------------------------------------------------------

    def _charge(self, values: int, objects: int = 0, text: int = 0) -> None:
        self._values += values
        self._objects += objects
        self._text += text
        if self._values > MAX_LOAD_VALUES:
            raise UnreadableStateError(
                f"job state pushes more than {MAX_LOAD_VALUES} values while loading "
                "(a shared value counts at each reference)"
            )
        if self._objects > MAX_LOAD_OBJECTS:
            raise UnreadableStateError(
                f"job state makes more than {MAX_LOAD_OBJECTS} objects while loading"
            )
        if self._text > MAX_TEXT_CHARS:
            raise UnreadableStateError(
                f"job state decodes more than {MAX_TEXT_CHARS // 2**20} MiB of strings and "
                "bytes (a shared one counts at each reference)"
            )

    def _check_stack(self) -> None:
        # Every value on the stack was pushed: the values limit bounds the stack too,
        # this one refuses earlier.
        if len(self.stack) + self._below > MAX_STACK:
            raise UnreadableStateError(f"job state stacks more than {MAX_STACK} values")
        if self._values > MAX_LOAD_VALUES:
            self._charge(0)

    def _expansion(self, value: tuple[Any, ...]) -> tuple[int, int]:
        """How many values hashing ``value`` visits (shared inner tuples each time), and
        how deep it nests."""
        known = self._tuples.get(id(value))
        return known[:2] if known is not None and known[2] is value else (1 + len(value), 1)

    def _made(self) -> None:
        value = self.stack[-1]
        kind = type(value)
        self._values += 1
        self._objects += 1
        if kind in _TEXT:
            self._text += len(value)
        elif kind is int and value.bit_length() > MAX_INT_BITS:
            raise UnreadableStateError(
                f"job state holds an int of {value.bit_length()} bits, too long to print"
            )
        if self._objects > MAX_LOAD_OBJECTS or self._text > MAX_TEXT_CHARS:
            self._charge(0)
        if len(self.stack) + self._below > MAX_STACK or self._values > MAX_LOAD_VALUES:
            self._check_stack()

    def _shared(self) -> None:
        self._values += 1
        if len(self.stack) + self._below > MAX_STACK or self._values > MAX_LOAD_VALUES:
            self._check_stack()

    def _referenced(self) -> None:
        value = self.stack[-1]
        kind = type(value)
        if kind is tuple:
            self._values += self._expansion(value)[0]
        else:
            self._values += 1
            if kind in _TEXT:
                self._text += len(value)
        if self._values > MAX_LOAD_VALUES or self._text > MAX_TEXT_CHARS:
            self._charge(0)
        if len(self.stack) + self._below > MAX_STACK or self._values > MAX_LOAD_VALUES:
            self._check_stack()

    def _made_tuple(self) -> None:
        # Hashing a tuple walks every inner tuple, recursively and with no cache.
        value = self.stack[-1]
        size = 1
        depth = 1
        for item in value:
            if type(item) is tuple:
                inner, inner_depth = self._expansion(item)
                size += inner
                depth = max(depth, inner_depth + 1)
            else:
                size += 1
        if size > MAX_NODES:
            raise UnreadableStateError(
                f"job state holds more than {MAX_NODES} values (a tuple expands to {size})"
            )
        if depth > MAX_DEPTH:
            raise UnreadableStateError(f"job state nests deeper than {MAX_DEPTH} levels")
        if depth > 1:
            self._tuples[id(value)] = (size, depth, value)
        self._charge(1, 1)
        self._check_stack()

    def _memoized(self) -> None:
        if len(self.memo) > MAX_MEMO:
            raise UnreadableStateError(f"job state memoizes more than {MAX_MEMO} values")

    # The opcodes most frequent in stock states account inline, not through a wrapper.

    def _load_binget(self) -> None:
        self.append(self.memo[self.read(1)[0]])
        self._referenced()

    def _load_short_binunicode(self) -> None:
        self.append(str(self.read(self.read(1)[0]), "utf-8", "surrogatepass"))
        self._made()

    def _load_memoize(self) -> None:
        memo = self.memo
        memo[len(memo)] = self.stack[-1]
        if len(memo) > MAX_MEMO:
            self._memoized()

    def _check_keys(self, keys: Iterable[Any]) -> None:
        """Refuse a row inserting more than ``MAX_SAME_HASH`` distinct keys of one hash.

        Equal hashes make a dict or set compare each new key with every earlier one:
        ints (``1 + k * (2**61 - 1)``), floats, tuples... can be crafted to collide.
        """
        seen = self._hashes
        for key in keys:
            digest = hash(key)
            earlier = seen.get(digest, seen)
            if earlier is seen:
                seen[digest] = key
            elif type(earlier) is list:
                if not any(other is key or other == key for other in earlier):
                    earlier.append(key)
                    if len(earlier) > MAX_SAME_HASH:
                        raise UnreadableStateError(
                            f"job state holds more than {MAX_SAME_HASH} distinct keys "
                            "with one same hash"
                        )
            elif earlier is not key and earlier != key:
                seen[digest] = [earlier, key]

    def _reach(self, value: Any) -> int:
        """How many values ``value`` holds, walked as the shape check walks them."""
        left = MAX_LOAD_OBJECTS - self._objects
        count = 0
        pending = [value]
        while pending:
            children = _children(pending.pop())
            if not children:
                continue
            count += len(children)
            if count > left:
                self._charge(0, count)
            pending.extend(child for child in children if type(child) not in _SCALARS)
        return count

    def _call(self, func: Any, args: Any, kwargs: Any = None, *, new: bool = False) -> Any:
        """``func(*args, **kwargs)`` (``func.__new__(func, ...)`` when ``new``), accounted.

        What the call returns is charged with everything it holds, so calling a class
        whose constructor builds many objects (a cron field parsing a long expression)
        again and again is refused.
        """
        if type(args) is not tuple or not (kwargs is None or type(kwargs) is dict):
            raise UnreadableStateError("call arguments that are not a tuple are not allowed")
        if func is OrderedDict and not new and (args or kwargs):
            raise UnreadableStateError("OrderedDict() with arguments is not allowed in a job state")
        if (func is set or func is frozenset) and args:
            if len(args) != 1 or type(args[0]) not in (list, tuple, set, frozenset):
                raise UnreadableStateError(
                    f"{func.__name__}() of anything but one list is not allowed in a job state"
                )
            self._check_keys(args[0])
        kwargs = kwargs or {}
        if new:
            result = func.__new__(func, *args, **kwargs)
        else:
            result = (_substitute(func) or func)(*args, **kwargs)
        kind = type(result)
        if kind is int and result.bit_length() > MAX_INT_BITS:
            raise UnreadableStateError(
                f"job state holds an int of {result.bit_length()} bits, too long to print"
            )
        # A bare instance (object.__new__) holds nothing yet: its BUILD is charged.
        bare = func is _reconstructor or (new and getattr(func, "__new__", None) is object.__new__)
        held = 0 if bare else self._reach(result)
        self._charge(1 + held, 1 + held, len(result) if kind in _TEXT else 0)
        return result

    # -- opcodes -------------------------------------------------------------------

    def _load_mark(self) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise UnreadableStateError(f"job state opens more than {MAX_MARKS} marks at once")
        self._below += len(self.stack)
        _STOCK[pickle.MARK[0]](self)

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.metastack.pop()
        self._below -= len(self.stack)
        self.append = self.stack.append
        return items

    def _load_reduce(self) -> None:
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args)

    def _load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args, new=True))

    def _load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._call(cls, args, kwargs, new=True))

    def _instantiate(self, klass: Any, args: list[Any]) -> None:
        # INST and OBJ: as the stock unpickler, a call unless a class with no arguments.
        if args or not isinstance(klass, type) or hasattr(klass, "__getinitargs__"):
            self.append(self._call(klass, tuple(args)))
        else:
            self.append(self._call(klass, (), new=True))

    def _load_build(self) -> None:
        inst, state = self.stack[-2], self.stack[-1]
        _check_build(inst, state)
        parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
        size = sum(len(part) for part in parts if isinstance(part, dict))
        if type(inst) in _CHECKED_COMBINING:
            size += _check_child_refs(state)
        self._charge(size, size)
        _STOCK[pickle.BUILD[0]](self)

    def _load_append(self) -> None:
        _refuse_container("APPEND", self.stack[-2], list)
        self.stack[-2].append(self.stack.pop())

    def _load_appends(self) -> None:
        items = self.pop_mark()
        _refuse_container("APPENDS", self.stack[-1], list)
        self.stack[-1].extend(items)

    def _load_setitem(self) -> None:
        _refuse_container("SETITEM", self.stack[-3], dict)
        self._check_keys((self.stack[-2],))
        value = self.stack.pop()
        key = self.stack.pop()
        self.stack[-1][key] = value

    def _load_setitems(self) -> None:
        items = self.pop_mark()
        _refuse_container("SETITEMS", self.stack[-1], dict)
        self._check_keys(items[0::2])
        target = self.stack[-1]
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _load_additems(self) -> None:
        items = self.pop_mark()
        _refuse_container("ADDITEMS", self.stack[-1], set)
        self._check_keys(items)
        self.stack[-1].update(items)

    def _load_dict(self) -> None:
        items = self.pop_mark()
        self._check_keys(items[0::2])
        self.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})

    def _load_frozenset(self) -> None:
        items = self.pop_mark()
        self._check_keys(items)
        self.append(frozenset(items))

    def _load_bytearray8(self) -> None:
        # The stock opcode allocates the announced length before reading it.
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self._size:
            raise UnreadableStateError(
                f"corrupt job_state: BYTEARRAY8 of {length} bytes in {self._size} bytes"
            )
        value = bytearray(length)
        if self.readinto(value) != length or len(value) != length:
            raise UnreadableStateError("corrupt job_state: BYTEARRAY8 is truncated")
        self.append(value)

    def _refuse_extension(self) -> None:
        # EXT* resolve through copyreg's process-wide registry and cache, which may hold
        # an object another unpickler loaded without find_class.
        raise UnreadableStateError("pickle extension codes are not allowed in a job state")

    dispatch[pickle.MARK[0]] = _load_mark
    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.DICT[0]] = _load_dict
    dispatch[pickle.FROZENSET[0]] = _load_frozenset
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.MEMOIZE[0]] = _load_memoize
    dispatch[pickle.BINGET[0]] = _load_binget
    dispatch[pickle.SHORT_BINUNICODE[0]] = _load_short_binunicode
    for _ext in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_ext[0]] = _refuse_extension
    del _ext

    for _opcodes, _account in (
        (_MAKING - _ops(pickle.SHORT_BINUNICODE), _made),
        (_SHARED, _shared),
        (_REFERENCING - _ops(pickle.BINGET), _referenced),
        (_TUPLES, _made_tuple),
        (_MEMOIZING - _ops(pickle.MEMOIZE), _memoized),
    ):
        for _op in _opcodes:
            dispatch[_op] = _followed_by(dispatch[_op], _account)
    del _opcodes, _account, _op

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
        if (module, name) in _STAND_INS:
            return _STAND_INS[module, name]
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise UnreadableStateError(f"cannot load {module}.{name}: {exc}") from exc


def _children(value: Any) -> Collection[Any] | None:
    """What the shape check looks into: container items, an object's attributes."""
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list | tuple | set | frozenset):
        return value
    if isinstance(value, _LEAVES) or callable(value):  # callable: a class reference
        return None
    children = list(getattr(value, "__dict__", {}).values())
    for cls in type(value).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{cls.__name__.lstrip('_')}{name}"  # noqa: PLW2901 - mangled
            if hasattr(value, name):
                children.append(getattr(value, name))
    return children


def _check_shape(state: Any) -> None:
    """Refuse a state too deep, too large or holding an int too long to print.

    Iterative, so a state nested 100,000 levels deep is refused instead of making every
    later ``repr``/JSON rendering of the store fail with ``RecursionError``. Shared values
    (and the characters of shared strings) are counted each time they are reached, as
    rendering expands them each time; a value that contains itself is refused as too deep.
    """
    pending: list[tuple[Any, int]] = [(state, 1)]
    nodes = 1
    text = 0
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise UnreadableStateError(
                f"job state nests deeper than {MAX_DEPTH} levels (or contains itself)"
            )
        children = _children(value)
        if not children:
            continue
        nodes += len(children)
        if nodes > MAX_NODES:
            raise UnreadableStateError(f"job state holds more than {MAX_NODES} values")
        for child in children:
            kind = type(child)
            if kind is int and child.bit_length() > MAX_INT_BITS:
                raise UnreadableStateError(
                    f"job state holds an int of {child.bit_length()} bits, too long to print"
                )
            if kind in _TEXT:
                text += len(child)
                if text > MAX_TEXT_CHARS:
                    raise UnreadableStateError(
                        f"job state holds more than {MAX_TEXT_CHARS // 2**20} MiB of strings "
                        "and bytes (a shared one counted each time)"
                    )
            if kind not in _SCALARS:
                pending.append((child, depth + 1))


def decode_state(data: bytes) -> dict[str, Any]:
    """Return the job state dict stored in ``data``.

    Raises :class:`UnreadableStateError` for corrupt bytes, a forbidden class or
    operation, a state over the size, depth, count or load limits, a state version above
    1 or a dict that lacks the keys every APScheduler 3 job state has. The message says
    which, in at most a few hundred characters.
    """
    try:
        return _decode(data)
    except UnreadableStateError as exc:
        message = str(exc)
        if len(message) <= _MAX_MESSAGE:
            raise
        half = (_MAX_MESSAGE - 3) // 2
        raise UnreadableStateError(f"{message[:half]}...{message[-half:]}") from exc


def _decode(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_STATE_BYTES:
        raise UnreadableStateError(
            f"job_state is {len(data)} bytes, over the {MAX_STATE_BYTES // 2**20} MiB limit"
        )
    try:
        state = _RestrictedUnpickler(bytes(data)).load()
    except UnreadableStateError:
        raise
    except Exception as exc:  # corrupt bytes can raise nearly anything
        raise UnreadableStateError(f"corrupt job_state: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise UnreadableStateError(f"job_state holds a {type(state).__name__}, not a dict")
    _check_shape(state)
    version = state.get("version", 1)
    if not isinstance(version, int) or version > 1:
        raise UnreadableStateError(f"job state version {_short(version)} is newer than 1")
    missing = [key for key in ("id", "func", "trigger") if key not in state]
    if missing:
        raise UnreadableStateError(f"job state lacks {', '.join(missing)}")
    return state


def encode_state(state: dict[str, Any], protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
    """Pickle a job state dict the way ``SQLAlchemyJobStore`` does."""
    return pickle.dumps(state, protocol)
