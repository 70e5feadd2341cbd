"""The log setup every process shares (:mod:`bridge.logs`): levels and formats checked, JSON one object a line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge import config as config_module
from bridge import logs
from bridge.errors import ConfigError
from tests.conftest import raw_config


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(tmp_path: Path, **bridge: str) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db")
    raw["bridge"].update(bridge)
    return config_module.parse(raw, env={})


def test_json_lines_carry_the_exception_as_a_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(configured(tmp_path, log_format="json"))
    try:
        raise RuntimeError("the helpdesk said no\nsecond line")
    except RuntimeError:
        logging.getLogger("bridge.inbound").exception("could not open the ticket for %s", "thread-1")
    [line] = capsys.readouterr().err.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bridge.inbound"
    assert entry["message"] == "could not open the ticket for thread-1"
    assert entry["exception"].startswith("Traceback") and "RuntimeError: the helpdesk said no" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_the_environment_picks_the_format_over_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(logs.FORMAT_ENV, "text")
    logs.setup(configured(tmp_path, log_format="json"))
    logging.getLogger("socialdesk").info("worker ready")
    assert capsys.readouterr().err.rstrip().endswith(" INFO socialdesk: worker ready")


def test_alembic_speaks_only_at_debug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(configured(tmp_path))
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    assert capsys.readouterr().err == ""
    logs.setup(configured(tmp_path, log_level="debug"))
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    assert "Context impl SQLiteImpl." in capsys.readouterr().err


@pytest.mark.parametrize(("key", "value"), [("log_level", "LOUD"), ("log_format", "yaml")])
def test_a_bad_value_names_the_key(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"bridge.{key}: '{value}' is not one of"):
        logs.setup(configured(tmp_path, **{key: value}))
