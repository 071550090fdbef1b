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
"""

from __future__ import annotations

import _compat_pickle
import datetime as dt
import io
import pickle
import struct
import types
import uuid
from collections.abc import Callable, Collection
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
    raise UnreadableStateError(f"_codecs.encode to {encoding!r} is not allowed in a job state")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` restricted to base ``object`` (what pickle writes for a
    plain Python class); another base would run that base's ``__new__`` and ``__init__``.
    """
    if base is not object:
        raise UnreadableStateError(
            f"copyreg._reconstructor with base {base!r} is not allowed in a job state"
        )
    if not isinstance(cls, type):
        raise UnreadableStateError(
            f"copyreg._reconstructor of {cls!r} is not allowed in a job state"
        )
    return object.__new__(cls)


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
                        f"state key {key!r} ({type(inst).__name__}) is not allowed in a job state"
                    )


def _refuse_container(opcode: str, target: Any, kind: type) -> None:
    if not isinstance(target, kind):
        raise UnreadableStateError(
            f"{opcode} on a {type(target).__name__} is not allowed in a job state"
        )


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with ``find_class`` and the mutating opcodes restricted.

    Overridden opcodes read ``self.stack`` and call ``self.pop_mark``/``self.read``, as the
    stock ones do (``pickle._Unpickler`` sets them up in ``load``).
    """

    dispatch: ClassVar[dict[int, Callable[[Any], None]]] = dict(pickle._Unpickler.dispatch)
    stack: list[Any]
    append: Callable[[Any], None]
    read: Callable[[int], bytes]
    readinto: Callable[[bytearray], int]
    pop_mark: Callable[[], list[Any]]

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._size = len(data)

    def _load_build(self) -> None:
        _check_build(self.stack[-2], self.stack[-1])
        pickle._Unpickler.dispatch[pickle.BUILD[0]](self)  # type: ignore[arg-type]

    def _load_append(self) -> None:
        _refuse_container("APPEND", self.stack[-2], list)
        self.stack[-2].append(self.stack.pop())

    def _load_appends(self) -> None:
        items = self.pop_mark()
        _refuse_container("APPENDS", self.stack[-1], list)
        self.stack[-1].extend(items)

    def _load_setitem(self) -> None:
        _refuse_container("SETITEM", self.stack[-3], dict)
        value = self.stack.pop()
        key = self.stack.pop()
        self.stack[-1][key] = value

    def _load_setitems(self) -> None:
        items = self.pop_mark()
        _refuse_container("SETITEMS", self.stack[-1], dict)
        target = self.stack[-1]
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _load_additems(self) -> None:
        items = self.pop_mark()
        _refuse_container("ADDITEMS", self.stack[-1], set)
        self.stack[-1].update(items)

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

    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.APPEND[0]] = _load_append
    dispatch[pickle.APPENDS[0]] = _load_appends
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    dispatch[pickle.ADDITEMS[0]] = _load_additems
    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    for _ext in (pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_ext[0]] = _refuse_extension
    del _ext

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
    are counted each time they are reached, as rendering expands them each time; a value
    that contains itself is refused as too deep.
    """
    pending: list[tuple[Any, int]] = [(state, 1)]
    nodes = 1
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
            if kind not in _SCALARS:
                pending.append((child, depth + 1))


def decode_state(data: bytes) -> dict[str, Any]:
    """Return the job state dict stored in ``data``.

    Raises :class:`UnreadableStateError` for corrupt bytes, a forbidden class or
    operation, a state over the size, depth or count limits, a state version above 1 or
    a dict that lacks the keys every APScheduler 3 job state has.
    """
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
        raise UnreadableStateError(f"job state version {version!r} is newer than 1")
    missing = [key for key in ("id", "func", "trigger") if key not in state]
    if missing:
        raise UnreadableStateError(f"job state lacks {', '.join(missing)}")
    return state


def encode_state(state: dict[str, Any], protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
    """Pickle a job state dict the way ``SQLAlchemyJobStore`` does."""
    return pickle.dumps(state, protocol)
