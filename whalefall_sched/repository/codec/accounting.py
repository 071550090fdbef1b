"""The load accounting of the restricted unpickler: what every opcode that pushes,
memoizes, hashes or calls costs, charged against the load limits of ``limits.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from whalefall_sched.repository.codec.allowlist import _reconstructor, _substitute
from whalefall_sched.repository.codec.limits import (
    _SCALARS,
    _TEXT,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_LOAD_OBJECTS,
    MAX_LOAD_VALUES,
    MAX_MEMO,
    MAX_NODES,
    MAX_SAME_HASH,
    MAX_STACK,
    MAX_TEXT_CHARS,
    UnreadableStateError,
)
from whalefall_sched.repository.codec.shape import _children


class _LoadAccounting:
    """The counters of one load and the checks that charge them.

    Mixed into the restricted unpickler (``unpickler.py``), whose opcodes call these
    methods on the stack and memo ``pickle._Unpickler`` sets up in ``load``.
    """

    stack: list[Any]
    memo: dict[int, Any]

    def _start_accounting(self, size: int) -> None:
        """Zero the counters for a row of ``size`` bytes."""
        self._size = size
        self._values = 0
        self._objects = 0
        self._text = 0
        #: Values on the stacks saved by open marks.
        self._below = 0
        #: id -> (expanded size, depth, tuple) of the tuples holding tuples.
        self._tuples: dict[int, tuple[int, int, tuple[Any, ...]]] = {}
        #: hash -> the key, or the distinct keys, inserted with that hash.
        self._hashes: dict[int, Any] = {}

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
