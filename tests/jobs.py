"""Task functions for test stores. Calls are recorded in the file named by WFS_TEST_RECORD."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


def record(*args: Any, **kwargs: Any) -> str:
    """Append one JSON line with the call's arguments and thread name; return 'ok'."""
    path = os.environ.get("WFS_TEST_RECORD")
    if path:
        entry = {
            "args": list(args),
            "kwargs": kwargs,
            "thread": threading.current_thread().name,
        }
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
    return "ok"


def fail(*args: Any, **kwargs: Any) -> None:
    """Always raise, like a task that breaks."""
    raise RuntimeError("task failed on purpose")


def noop() -> None:
    """Do nothing."""


def take(seconds: float, fail: bool = False) -> str:
    """Take ``seconds`` (sleeping), then return 'ok', or raise if ``fail``."""
    time.sleep(seconds)
    if fail:
        raise RuntimeError("task failed on purpose after taking its time")
    return "ok"


def fail_with_url() -> None:
    """Raise like a task whose database is down, naming its URL with a password."""
    raise RuntimeError("db down: postgresql://u:s3cret@db/app")
