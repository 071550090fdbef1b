"""Tests against a live APScheduler 3 scheduler running in a separate process."""
