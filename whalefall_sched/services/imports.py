"""Importing the host app's code: task functions and the app factory, by ``module:attr``.

One place puts the ``--app-path`` directories on ``sys.path`` and turns every way an
import can fail into one :class:`ImportRefError` whose message names the real cause.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any, Literal

#: What went wrong: the reference is malformed, its module (top level) is not on the
#: path, importing the module raised (a missing import of its own included), or the
#: module has no such attribute.
ProblemKind = Literal["invalid", "module_not_found", "import_failed", "attribute"]

APP_PATH_HINT = "pass --app-path with the directory holding the host app's code"


class ImportRefError(ValueError):
    """A ``module:attr`` reference that does not import; the message is one line."""

    def __init__(self, ref: str, cause: str, kind: ProblemKind) -> None:
        self.ref = ref
        #: The real cause, e.g. ``ModuleNotFoundError: No module named 'x'``.
        self.cause = cause
        self.kind: ProblemKind = kind
        message = f"cannot import {ref!r} ({cause})"
        if kind == "module_not_found":
            message += f"; {APP_PATH_HINT}"
        super().__init__(message)


def add_app_paths(app_paths: Sequence[str]) -> None:
    """Put ``app_paths`` first on ``sys.path``, in the order given (each once)."""
    for path in reversed(app_paths):
        if path not in sys.path:
            sys.path.insert(0, path)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def import_ref(ref: str, app_paths: Sequence[str] = ()) -> Any:
    """The object ``ref`` (``package.module:attr.attr``) names, importing its module.

    Raises :class:`ImportRefError` whatever the module raises while importing (a task
    module may need its host's environment: ``RuntimeError: needs DATABASE_URL``), or
    when the attribute is missing. The ``--app-path`` hint is given only when the
    reference's own top-level module is not found, not when the module is found but
    one of its imports is missing.
    """
    add_app_paths(app_paths)
    module_name, sep, attr_path = ref.partition(":")
    if not sep or not module_name or not attr_path:
        raise ImportRefError(ref, "want 'module:attr'", "invalid")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top_level = module_name.split(".", 1)[0]
        kind: ProblemKind = "module_not_found" if exc.name == top_level else "import_failed"
        raise ImportRefError(ref, _one_line(exc), kind) from exc
    except (Exception, SystemExit) as exc:  # whatever the module runs at import time
        raise ImportRefError(ref, _one_line(exc), "import_failed") from exc
    for name in attr_path.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError as exc:
            raise ImportRefError(ref, " ".join(str(exc).split()), "attribute") from exc
        except Exception as exc:  # a module's __getattr__ may raise anything
            raise ImportRefError(ref, _one_line(exc), "import_failed") from exc
    return obj
