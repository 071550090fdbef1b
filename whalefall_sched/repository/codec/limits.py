"""The limits every decoded job state is held to, and the error that names them."""

from __future__ import annotations

import datetime as dt
import reprlib
import uuid
from decimal import Decimal
from typing import Any

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


#: Values whose characters count against ``MAX_TEXT_CHARS``.
_TEXT = (str, bytes, bytearray)
