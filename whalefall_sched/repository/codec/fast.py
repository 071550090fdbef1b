"""The fast path of the decoder: a pre-scan of the opcodes, then the C unpickler.

The restricted unpickler (``unpickler.py``) runs every opcode in Python: about ten
times the cost of ``pickle.loads``. Most rows are what stock APScheduler writes with
protocol 4 or 5, a small set of opcodes in a small set of patterns. :func:`try_fast`
walks such a row's opcodes once, tracking what each stack slot and memo entry *is*
(a string, a class reference, a fresh trigger instance, a dict...) without building
anything, and hands the row to the C unpickler only when the walk proves that the
restricted unpickler would accept it and build the very same values:

- only the opcodes below, protocol 4 or 5, one frame spanning the whole row (or none),
  ``STOP`` as the last byte, and at most :data:`FAST_MAX_BYTES` bytes: so no load
  limit of ``limits.py`` can be reached but the characters of text (counted here as
  the restricted unpickler counts them) and the marks open at once (counted too);
- a class reference (``STACK_GLOBAL``) only from :data:`_GLOBALS` (a subset of the
  allow-list), used only as the callable of ``REDUCE`` (dates, time zones) or the class
  of ``NEWOBJ`` (APScheduler's triggers, cron fields and expressions), never as a value;
- ``BUILD`` only on an instance ``NEWOBJ`` made, with a dict built in place (not one
  fetched from the memo again, which would copy it once per reference);
- dict keys only strings, none of them a dunder; ``APPEND``/``SETITEM`` only on lists
  and dicts; no tuple fetched from the memo (a shared tuple hashes for ever).

Anything else returns None, and the caller runs the restricted unpickler, so every
refusal (and its message) stays the restricted unpickler's. The C unpickler's own
``find_class`` resolves only :data:`_GLOBALS`, with the same stand-ins, as a second gate
(``fast_globals.py``: those class references and that unpickler).
"""

from __future__ import annotations

import pickle
import struct
from io import BytesIO
from typing import Any

from whalefall_sched.repository.codec.fast_globals import (
    _CALLS,
    _CLASSES,
    _GETATTR,
    _GLOBAL_TAGS,
    _ZONE,
    _ZONE_UNPICKLE,
    _FastUnpickler,
    _Global,
)
from whalefall_sched.repository.codec.limits import MAX_MARKS, MAX_TEXT_CHARS

#: Largest row taken by the fast path: small enough that no row can reach the load
#: limits on values, objects, stack or memo (each opcode makes at most a few).
FAST_MAX_BYTES = 32 * 1024

# Stack tags. A string is its UTF-8 payload (bytes); a class reference its
# (module, name) tuple in _GLOBAL_TAGS; a tuple a _Tuple; others these ints.
_VALUE = 0  # None, a bool, a number, bytes
_LIST = 1
_DICT = 2  # a dict built in place
_SHARED_DICT = 3  # a dict fetched from the memo
_INSTANCE = 4  # what NEWOBJ made
_MADE = 5  # what REDUCE returned (a date, a time zone)


class _Tuple:
    """A tuple's items' tags; ``value`` when it may be a value (holds no class reference)."""

    __slots__ = ("items", "value")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.value = all(_is_value(item) for item in items)


def _is_value(tag: Any) -> bool:
    kind = type(tag)
    return kind is int or kind is bytes or (kind is _Tuple and tag.value)


_MEMOIZE = pickle.MEMOIZE[0]
_SHORT_BINUNICODE = pickle.SHORT_BINUNICODE[0]
_BINGET = pickle.BINGET[0]
_LONG_BINGET = pickle.LONG_BINGET[0]
_BINUNICODE = pickle.BINUNICODE[0]
_SHORT_BINBYTES = pickle.SHORT_BINBYTES[0]
_BINBYTES = pickle.BINBYTES[0]
_EMPTY_DICT = pickle.EMPTY_DICT[0]
_EMPTY_LIST = pickle.EMPTY_LIST[0]
_EMPTY_TUPLE = pickle.EMPTY_TUPLE[0]
_MARK = pickle.MARK[0]
_STACK_GLOBAL = pickle.STACK_GLOBAL[0]
_NEWOBJ = pickle.NEWOBJ[0]
_REDUCE = pickle.REDUCE[0]
_BUILD = pickle.BUILD[0]
_APPEND = pickle.APPEND[0]
_APPENDS = pickle.APPENDS[0]
_SETITEM = pickle.SETITEM[0]
_SETITEMS = pickle.SETITEMS[0]
_TUPLE = pickle.TUPLE[0]
_TUPLE1 = pickle.TUPLE1[0]
_TUPLE2 = pickle.TUPLE2[0]
_TUPLE3 = pickle.TUPLE3[0]
_STOP = pickle.STOP[0]
_FRAME = pickle.FRAME[0]
_PROTO = pickle.PROTO[0]
#: Opcodes pushing a scalar, by the length of their argument.
_SCALARS = {
    pickle.NONE[0]: 0,
    pickle.NEWTRUE[0]: 0,
    pickle.NEWFALSE[0]: 0,
    pickle.BININT1[0]: 1,
    pickle.BININT2[0]: 2,
    pickle.BININT[0]: 4,
    pickle.BINFLOAT[0]: 8,
}
_LONG1 = pickle.LONG1[0]
_UNPACK_U32 = struct.Struct("<I").unpack_from


def _is_dunder(key: bytes) -> bool:
    return key.startswith(b"__") and key.endswith(b"__")


def _scan(data: bytes) -> bool:  # noqa: C901, PLR0911, PLR0912, PLR0915 - one loop, by design
    """Whether ``data`` is a row the fast path may load (see the module's docstring)."""
    size = len(data)
    if size > FAST_MAX_BYTES or size < 4 or data[0] != _PROTO or data[1] not in (4, 5):
        return False
    if data[-1] != _STOP:
        return False
    i = 2
    if data[2] == _FRAME:
        if size < 11 or int.from_bytes(data[3:11], "little") != size - 11:
            return False
        i = 11
    end = size - 1  # the STOP
    stack: list[Any] = []
    marks: list[list[Any]] = []
    memo: list[Any] = []
    text = 0
    while i < end:
        op = data[i]
        i += 1
        if op == _MEMOIZE:
            if not stack:
                return False
            memo.append(stack[-1])
        elif op == _SHORT_BINUNICODE:
            n = data[i]
            start = i + 1
            i = start + n
            stack.append(data[start:i])
            text += n
        elif op in (_BINGET, _LONG_BINGET):
            if op == _BINGET:
                index = data[i]
                i += 1
            else:
                if i + 4 > end:
                    return False
                (index,) = _UNPACK_U32(data, i)
                i += 4
            if index >= len(memo):
                return False
            tag = memo[index]
            kind = type(tag)
            if kind is _Tuple:
                return False  # a shared tuple: hashing it walks it again at each reference
            if kind is bytes:
                text += len(tag)
            elif tag == _DICT:
                tag = _SHARED_DICT
            stack.append(tag)
        elif op in _SCALARS:
            i += _SCALARS[op]
            stack.append(_VALUE)
        elif op == _EMPTY_DICT:
            stack.append(_DICT)
        elif op == _MARK:
            if len(marks) >= MAX_MARKS:
                return False
            marks.append(stack)
            stack = []
        elif op in (_SETITEMS, _SETITEM):
            if op == _SETITEMS:
                if not marks:
                    return False
                items = stack
                stack = marks.pop()
            else:
                items = stack[-2:]
                del stack[-2:]
            if not stack or len(items) % 2 or (stack[-1] != _DICT and stack[-1] != _SHARED_DICT):
                return False
            for k in range(0, len(items), 2):
                key = items[k]
                if type(key) is not bytes or _is_dunder(key) or not _is_value(items[k + 1]):
                    return False
        elif op == _EMPTY_LIST:
            stack.append(_LIST)
        elif op in (_APPEND, _APPENDS):
            if op == _APPENDS:
                if not marks:
                    return False
                items = stack
                stack = marks.pop()
            else:
                if not stack:
                    return False
                items = [stack.pop()]
            if not stack or stack[-1] != _LIST:
                return False
            if not all(_is_value(item) for item in items):
                return False
        elif op == _STACK_GLOBAL:
            if len(stack) < 2:
                return False
            name = stack.pop()
            module = stack.pop()
            if type(name) is not bytes or type(module) is not bytes:
                return False
            try:
                key = _Global((module.decode("utf-8"), name.decode("utf-8")))
            except UnicodeDecodeError:
                return False
            if key not in _GLOBAL_TAGS:
                return False
            stack.append(key)
        elif op == _NEWOBJ:
            if len(stack) < 2:
                return False
            args = stack.pop()
            cls = stack.pop()
            if type(cls) is not _Global or cls not in _CLASSES or not _is_value(args):
                return False
            if type(args) is not _Tuple:
                return False
            stack.append(_INSTANCE)
        elif op == _EMPTY_TUPLE:
            stack.append(_Tuple([]))
        elif op in (_TUPLE1, _TUPLE2, _TUPLE3):
            n = op - _TUPLE1 + 1
            if len(stack) < n:
                return False
            items = stack[-n:]
            del stack[-n:]
            stack.append(_Tuple(items))
        elif op == _TUPLE:
            if not marks:
                return False
            items = stack
            stack = marks.pop()
            stack.append(_Tuple(items))
        elif op == _REDUCE:
            if len(stack) < 2:
                return False
            args = stack.pop()
            func = stack.pop()
            if type(func) is not _Global or type(args) is not _Tuple:
                return False
            if func == _GETATTR:
                items = args.items
                if len(items) != 2 or items[0] != _ZONE or items[1] != b"_unpickle":
                    return False
                stack.append(_Global(_ZONE_UNPICKLE))
            elif func in _CALLS and args.value:
                stack.append(_MADE)
            else:
                return False
        elif op == _BUILD:
            if len(stack) < 2 or stack[-1] != _DICT or stack[-2] != _INSTANCE:
                return False
            stack.pop()
        elif op in (_BINUNICODE, _BINBYTES):
            if i + 4 > end:
                return False
            (n,) = _UNPACK_U32(data, i)
            start = i + 4
            i = start + n
            stack.append(data[start:i] if op == _BINUNICODE else _VALUE)
            text += n
        elif op == _SHORT_BINBYTES:
            n = data[i]
            i += 1 + n
            stack.append(_VALUE)
            text += n
        elif op == _LONG1:
            i += 1 + data[i]
            stack.append(_VALUE)
        else:
            return False
    if i != end or marks or len(stack) != 1 or stack[0] != _DICT:
        return False
    return text <= MAX_TEXT_CHARS


def try_fast(data: bytes) -> dict[str, Any] | None:
    """The state in ``data`` by the fast path, or None when the fast path cannot vouch
    for it (the caller then runs the restricted unpickler). Never raises for the row."""
    if not _scan(data):
        return None
    try:
        state = _FastUnpickler(BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - the restricted unpickler says why
        return None
    return state if type(state) is dict else None
