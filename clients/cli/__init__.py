"""``council``: the command members use, a thin layer over :mod:`clients.sdk`.

The entry point is :func:`clients.cli.main.main`; :func:`clients.cli.main.run` is
the same command as a coroutine, for callers that already run an event loop.
"""

from clients.cli.main import ClientFactory, main, run

__all__ = ["ClientFactory", "main", "run"]
