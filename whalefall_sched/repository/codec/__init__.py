"""Decode and encode ``job_state`` without importing task functions or running foreign code.

APScheduler 3 stores ``pickle.dumps(job.__getstate__())``: a dict whose ``func`` is a
``module:qualname`` string, so the task function is only imported when a ``Job`` is
rebuilt. We never rebuild a ``Job``; we read the dict. The unpickler (``unpickler.py``) resolves
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
reached, and the error names the limit (``limits.py``).

A row shaped as stock APScheduler writes it (protocol 4 or 5, a few KiB) takes a fast
path first (``fast.py``): a pre-scan of its opcodes proves that the restricted
unpickler would accept it and build the same values, then the C unpickler builds them.
Any other row, and any row the fast path or the checks after it refuse, goes through
the restricted unpickler, so every refusal and its message are the restricted
unpickler's.

Modules: ``allowlist.py`` (what may be resolved, stand-ins and BUILD checks),
``unpickler.py`` (the restricted unpickler), ``accounting.py`` (its load accounting),
``fast.py`` (the fast path's pre-scan), ``fast_globals.py`` (the class references the
fast path resolves, and its C unpickler), ``shape.py`` (the shape check of the result),
``limits.py`` (the limits and the error).
"""

from __future__ import annotations

import pickle
from typing import Any

from whalefall_sched.repository.codec.allowlist import _combining_class
from whalefall_sched.repository.codec.fast import try_fast
from whalefall_sched.repository.codec.limits import (
    _MAX_MESSAGE,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_LOAD_OBJECTS,
    MAX_LOAD_VALUES,
    MAX_MARKS,
    MAX_MEMO,
    MAX_NODES,
    MAX_SAME_HASH,
    MAX_STACK,
    MAX_STATE_BYTES,
    MAX_TEXT_CHARS,
    MAX_TRIGGERS,
    UnreadableStateError,
    _short,
)
from whalefall_sched.repository.codec.shape import _check_shape
from whalefall_sched.repository.codec.unpickler import _RestrictedUnpickler


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
    data = bytes(data)
    fast = try_fast(data)
    if fast is not None:
        try:
            return _checked(fast)
        except UnreadableStateError:
            pass  # the restricted unpickler says why, as it always has
    try:
        state = _RestrictedUnpickler(data).load()
    except UnreadableStateError:
        raise
    except Exception as exc:  # corrupt bytes can raise nearly anything
        raise UnreadableStateError(f"corrupt job_state: {type(exc).__name__}: {exc}") from exc
    return _checked(state)


def _checked(state: Any) -> dict[str, Any]:
    """``state`` if it is a job state dict within the shape limits, else why not."""
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


__all__ = [
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_LOAD_OBJECTS",
    "MAX_LOAD_VALUES",
    "MAX_MARKS",
    "MAX_MEMO",
    "MAX_NODES",
    "MAX_SAME_HASH",
    "MAX_STACK",
    "MAX_STATE_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_TRIGGERS",
    "UnreadableStateError",
    "_combining_class",
    "decode_state",
    "encode_state",
]
