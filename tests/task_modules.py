"""A job whose function is written for the test, in a module of its own (tests of ``run``)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import StockStore


class TaskJob:
    """A job ``task_job`` whose function is ``task`` in a module written for the test."""

    def __init__(self, store: StockStore, root: Path, source: str) -> None:
        self.store = store
        self.module = f"wfs_safety_{uuid.uuid4().hex[:8]}"
        self.directory = root / f"app_{self.module}"
        self.directory.mkdir()
        (self.directory / f"{self.module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self.func_ref = f"{self.module}:task"
        # a tasks file that lists the function, as the host's would
        self.tasks = root / f"tasks_{self.module}.yaml"
        self.tasks.write_text(
            f"default_tasks: []\nfunctions:\n  task: {self.func_ref}\n", encoding="utf-8"
        )
        # stock add_job imports the function: once, here, then forgotten again
        sys.path.insert(0, str(self.directory))
        try:
            store.add(dict(func=self.func_ref, trigger="interval", minutes=5, id="task_job"))
        finally:
            sys.path.remove(str(self.directory))
            sys.modules.pop(self.module, None)

    def argv(self, *args: str) -> list[str]:
        """Global options that make the function importable and listed, then ``run task_job``."""
        return [
            "--url",
            self.store.url,
            "--tasks",
            str(self.tasks),
            "--app-path",
            str(self.directory),
            "run",
            "task_job",
            *args,
        ]


def task_jobs(store: StockStore, root: Path) -> Iterator[Callable[[str], TaskJob]]:
    """A maker of :class:`TaskJob` on ``store``; their modules are forgotten afterwards."""
    saved = list(sys.path)
    made: list[TaskJob] = []

    def make(source: str) -> TaskJob:
        made.append(TaskJob(store, root, source))
        return made[-1]

    try:
        yield make
    finally:
        sys.path[:] = saved
        for job in made:
            sys.modules.pop(job.module, None)
