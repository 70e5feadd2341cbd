"""One log setup for every process (``serve``, its gunicorn workers, ``worker``, the CLI): one format, one stream.

``[bridge] log_format`` (or ``$SOCIALDESK_LOG_FORMAT``, which wins) picks ``text`` (the default) or ``json``:
one JSON object per line with ``time``, ``level``, ``logger``, ``message`` and, for a failure, ``exception``,
as log shippers expect. Libraries that narrate their start (Alembic, Huey) speak only from WARNING up unless
the level is DEBUG.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bridge import messages
from bridge.config import Config
from bridge.errors import ConfigError

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
FORMAT_ENV = "SOCIALDESK_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HELPDESK_CREDENTIALS = ("api_token", "oauth_token", "api_key")  # [zendesk] one of two, [freshdesk] api_key
CHATTY = ("alembic", "huey")  # INFO lines at every start that an operator does not act on


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, never extra lines)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup(config: Config) -> None:
    """Send every logger's records to stderr in the configured format and level."""
    level = log_level(config)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format(config)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(level if level == logging.DEBUG else max(level, logging.WARNING))


def use_pseudonyms(config: Config) -> None:
    """Key the pseudonyms log lines and ``socialdesk status`` show for customers (:func:`bridge.messages.key_shown`)
    with the helpdesk's credential, which every process of the installation holds: serve, worker and the CLI then
    show one customer alike, and no one without that credential can tell which phone number a pseudonym is. A new
    credential gives new pseudonyms."""
    section = config.helpdesk_section
    secret = next((value for key in HELPDESK_CREDENTIALS if (value := section.secret(key))), None)
    if secret:
        messages.use_pseudonym_key(f"{config.helpdesk}:{secret}")


def log_level(config: Config) -> int:
    """``[bridge] log_level``, checked: a typo is a one-line error at start, not a traceback."""
    name = str(config.log_level).upper()
    if name not in LEVELS:
        raise ConfigError(f"bridge.log_level: {config.log_level!r} is not one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def log_format(config: Config) -> str:
    """``$SOCIALDESK_LOG_FORMAT``, else ``[bridge] log_format``, else ``text``."""
    from_env = os.environ.get(FORMAT_ENV)
    from_file = getattr(config, "log_format", None) or config.bridge.get("log_format")
    where, value = (FORMAT_ENV, from_env) if from_env else ("bridge.log_format", from_file or "text")
    if value not in FORMATS:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(FORMATS)}")
    return str(value)


def formatter(name: str) -> logging.Formatter:
    return JsonFormatter() if name == "json" else logging.Formatter(TEXT_FORMAT)


#: Query parameters that carry a secret: libpq takes ``?password=`` (and ``sslpassword``), redis-py ``?password=``.
_SECRET_QUERY = re.compile(r"password|secret|token", re.IGNORECASE)


def masked_url(url: str | URL) -> str:
    """A database or Redis URL fit for a log line or an answer: the password replaced by ``***``, in the URL's
    user part and in a query parameter (``render_as_string`` hides only the former)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return str(url).partition("://")[0] + "://..."  # unparseable: show the scheme only, it may hold a password
    hidden = parsed.update_query_dict({key: "***" for key in parsed.query if _SECRET_QUERY.search(key)})
    return hidden.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
