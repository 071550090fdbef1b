"""whalefall-sched: operate APScheduler 3 job stores from a shell."""

__version__ = "0.1.0"
