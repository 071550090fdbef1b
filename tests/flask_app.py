"""A real Flask app factory, shaped like the host app's, for the app-context tests of ``run``.

``create_app`` records each call's ``init_scheduler_on_start`` in :data:`FACTORY_CALLS`;
:func:`record_app_context` is a task function that records what app context it ran in,
as a JSON line in the file named by ``WFS_TEST_RECORD`` (like ``tests.jobs:record``).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context

APP_NAME = "whalefall_test_app"

#: ``init_scheduler_on_start`` of every ``create_app`` call, in order.
FACTORY_CALLS: list[bool] = []


def create_app(init_scheduler_on_start: bool = True) -> Flask:
    """Build the app; like the host app, it would start its scheduler unless told not to."""
    FACTORY_CALLS.append(init_scheduler_on_start)
    app = Flask(APP_NAME)
    app.config["INIT_SCHEDULER_ON_START"] = init_scheduler_on_start
    app.config["MARKER"] = "built by tests.flask_app:create_app"
    return app


def record_app_context(*args: Any, **kwargs: Any) -> str:
    """Record the current app context (or its absence), the thread and the arguments."""
    entry: dict[str, Any] = {
        "has_app_context": has_app_context(),
        "thread": threading.current_thread().name,
        "args": list(args),
        "kwargs": kwargs,
    }
    if has_app_context():
        entry["app_name"] = current_app.name
        entry["init_scheduler_on_start"] = current_app.config.get("INIT_SCHEDULER_ON_START")
        entry["marker"] = current_app.config.get("MARKER")
    path = os.environ.get("WFS_TEST_RECORD")
    if path:
        with Path(path).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")
    return "ok"
