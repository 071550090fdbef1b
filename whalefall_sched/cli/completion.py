"""Shell completion from the store: job ids by state, backup files newest first.

Completion runs on every TAB, so it reads as little as it can: ids and whether
``next_run_time`` is NULL (:meth:`JobStoreRepository.job_ids_and_states`, nothing
decoded, no SQLAlchemy for a SQLite store) or a directory listing. It never prints
and never fails: any error offers nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

    from whalefall_sched.cli.settings import Settings


def _settings(ctx: click.Context) -> Settings:
    from whalefall_sched.cli.app import _settings_from

    return _settings_from(ctx)


def _command(ctx: click.Context) -> str | None:
    return ctx.command.name if ctx.command is not None else None


def complete_job_id(ctx: click.Context, incomplete: str) -> list[str]:
    """Job ids for TAB: running ones for ``pause``, paused ones for ``resume``, every id
    (readable or not) for the other commands."""
    want_paused = {"pause": False, "resume": True}.get(_command(ctx) or "")
    settings = _settings(ctx)
    try:
        rows = settings.repository().job_ids_and_states()
    except Exception:  # noqa: BLE001 - completion must never print or fail
        return []
    finally:
        settings.close()
    # an id a shell could not take back as one word is left out
    return [
        job_id
        for job_id, paused in rows
        if (want_paused is None or paused == want_paused)
        and job_id.startswith(incomplete)
        and job_id.isprintable()
    ]


def complete_backup_file(ctx: click.Context, incomplete: str) -> list[str]:
    """The store's backup files (``*.json`` in its default backup directory), newest
    first; what is typed is matched against the path offered."""
    settings = _settings(ctx)
    try:
        directory = settings.repository().default_backup_dir()
        found = []
        for path in directory.iterdir():
            if path.suffix == ".json" and path.is_file():
                found.append((path.stat().st_mtime, path.name, str(path)))
    except Exception:  # noqa: BLE001 - completion must never print or fail
        return []
    finally:
        settings.close()
    found.sort(key=lambda f: (-f[0], f[1]))
    return [p for _, _, p in found if p.startswith(incomplete) and p.isprintable()]
