"""The restricted unpickler: the pure-Python one with ``find_class`` gated by the
allow-list, the mutating opcodes restricted, and every opcode that pushes, memoizes,
marks, hashes or calls accounted (the accounting itself is ``accounting.py``).
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import struct
from collections.abc import Callable
from typing import Any, ClassVar

from whalefall_sched.repository.codec.accounting import _LoadAccounting
from whalefall_sched.repository.codec.allowlist import (
    _ALLOWED,
    _CHECKED_COMBINING,
    _COMBINING,
    _STAND_INS,
    _check_build,
    _check_child_refs,
    _combining_class,
    _refuse_container,
    _restricted_getattr,
)
from whalefall_sched.repository.codec.limits import (
    MAX_MARKS,
    MAX_MEMO,
    UnreadableStateError,
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


def _followed_by(
    load: Callable[[Any], None], account: Callable[[Any], None]
) -> Callable[[Any], None]:
    """An opcode that runs ``load``, then accounts what it did."""

    def opcode(self: Any) -> None:
        load(self)
        account(self)

    return opcode


class _RestrictedUnpickler(_LoadAccounting, pickle._Unpickler):
    """The pure-Python unpickler with ``find_class`` and the mutating opcodes restricted.

    Overridden opcodes read ``self.stack`` and call ``self.pop_mark``/``self.read``, as the
    stock ones do (``pickle._Unpickler`` sets them up in ``load``). Every opcode that
    pushes, memoizes, marks, hashes or calls is accounted against the load limits
    (:class:`~.accounting._LoadAccounting`).
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
        self._start_accounting(len(data))

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
        (_MAKING - _ops(pickle.SHORT_BINUNICODE), _LoadAccounting._made),
        (_SHARED, _LoadAccounting._shared),
        (_REFERENCING - _ops(pickle.BINGET), _LoadAccounting._referenced),
        (_TUPLES, _LoadAccounting._made_tuple),
        (_MEMOIZING - _ops(pickle.MEMOIZE), _LoadAccounting._memoized),
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
