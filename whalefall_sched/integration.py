"""One line for the host app: make its scheduler see changes made by whalefall-sched.

An APScheduler 3 scheduler re-reads its job stores only when it wakes up, at the
earliest next run time it knows of. A job resumed or reloaded from a shell to fire
before that moment starts late, and is skipped if later than its misfire grace time.
:func:`watch_store` wakes the scheduler every ``interval`` seconds, so such a change
is honoured within ``interval`` seconds::

    from whalefall_sched.integration import watch_store

    scheduler.start()
    watch_store(scheduler, 5)

Waking costs one ``SELECT`` per job store (the scheduler's own due-job query).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("whalefall_sched.integration")


class StoreWatcher:
    """A daemon thread that wakes a scheduler periodically until stopped or shut down."""

    def __init__(self, scheduler: Any, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.scheduler = scheduler
        self.interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="whalefall-sched-watch-store", daemon=True
        )

    def start(self) -> StoreWatcher:
        """Start waking the scheduler; also stops by itself when the scheduler shuts down."""
        from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

        self.scheduler.add_listener(lambda _event: self.stop(), EVENT_SCHEDULER_SHUTDOWN)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop waking the scheduler."""
        self._stopped.set()

    @property
    def running(self) -> bool:
        """Whether the thread is still waking the scheduler."""
        return self._thread.is_alive()

    def _run(self) -> None:
        from apscheduler.schedulers.base import STATE_RUNNING

        while not self._stopped.wait(self.interval):
            try:
                if self.scheduler.state == STATE_RUNNING:
                    self.scheduler.wakeup()
            except Exception:  # keep watching: one failed wake-up must not end the thread
                logger.warning("whalefall-sched could not wake the scheduler", exc_info=True)


def watch_store(scheduler: Any, interval: float = 5.0) -> StoreWatcher:
    """Make ``scheduler`` re-read its job stores at least every ``interval`` seconds."""
    return StoreWatcher(scheduler, interval).start()
