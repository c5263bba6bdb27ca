"""The ``satqkd`` command's entry point, light to import: for ``satqkd run|sweep
... --workers N`` it starts the process local Dask workers are forked from
(:func:`satqkd.clusters.start_local_workers`) before anything else is
imported or the command line parsed, since that server's imports are what
the first unit waits for; then it hands over to :func:`satqkd.cli.entry`."""

from __future__ import annotations

import sys


def start_local_workers_early(argv: list[str]) -> bool:
    """Start the local workers' server if ``argv`` (the arguments after
    ``satqkd``) asks ``run`` or ``sweep`` for local workers; whether it did.
    A command line the parser then refuses loses nothing: the server ends
    with this process."""
    if not argv or argv[0] not in ("run", "sweep") or "--help" in argv:
        return False
    if any(a == "--scheduler" or a.startswith("--scheduler=") for a in argv[1:]):
        return False
    if not any(a == "--workers" or a.startswith("--workers=") for a in argv[1:]):
        return False
    from .clusters import start_local_workers

    start_local_workers()
    return True


def entry() -> None:
    start_local_workers_early(sys.argv[1:])
    from .cli import entry as run_command

    run_command()
