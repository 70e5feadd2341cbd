"""The drivers of scale mode, an optional extra: ``pip install 'socialdesk[scale]'``.

The embedded default (SQLite store, SQLite queue) needs neither PostgreSQL's driver (psycopg) nor
Redis's (redis), so a plain ``pip install socialdesk`` leaves them out. They are imported only where a
URL names them, and a missing one stops the command at start with one line naming the extra, instead
of an ImportError traceback from deep inside SQLAlchemy or Huey at first use.
"""

from __future__ import annotations

import importlib

from bridge.errors import ConfigError

SCALE_INSTALL = "pip install 'socialdesk[scale]'"
#: URL scheme → the module that scheme needs (SQLAlchemy 2.1 reads a plain ``postgresql://`` as psycopg).
DRIVERS = {"postgresql": "psycopg", "postgresql+psycopg": "psycopg", "redis": "redis", "rediss": "redis"}


def require(url: str, key: str) -> None:
    """Raise :class:`ConfigError` naming the extra when ``url`` needs a driver that is not installed.

    ``key`` is the config key the URL came from (``database_url``, ``queue_url``). The URL itself is
    never printed: it may hold a password; its scheme is one of :data:`DRIVERS`' keys.
    """
    scheme = url.partition("://")[0].lower()
    module = DRIVERS.get(scheme)
    if module is None:
        return
    try:
        importlib.import_module(module)
    except ImportError:
        message = f"bridge.{key}: {scheme}:// needs the {module} driver, which is not installed: {SCALE_INSTALL}"
        raise ConfigError(message) from None


def database_errors() -> tuple[type[Exception], ...]:
    """The installed database drivers' own error base classes (psycopg's, with the scale extra): what a raw
    connection raises where SQLAlchemy does not wrap it. Empty on an embedded install."""
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)
