"""Example tasks and the bundled default-task file, so a fresh clone can reload and run."""
