"""Settings: one immutable object from ARCHIVER_* variables; unknown names are errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from archiver.config import load_settings
from archiver.errors import ConfigError


def test_defaults_are_embedded() -> None:
    s = load_settings({})
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_storage_url.startswith("file:///")
    assert s.allow_private_networks is False
    assert s.health_addr == "127.0.0.1:9180"


def test_values_are_read_and_typed() -> None:
    s = load_settings(
        {
            "ARCHIVER_DATA_DIR": "/srv/archive",
            "ARCHIVER_ALLOW_PRIVATE_NETWORKS": "true",
            "ARCHIVER_WARC_MAX_BYTES": "1000",
        }
    )
    assert s.data_dir == Path("/srv/archive") and s.allow_private_networks
    assert s.spool_dir == Path("/srv/archive/spool") and s.warc_max_bytes == 1000


def test_unknown_variable_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="ARCHIVER_DATABSE_URL"):
        load_settings({"ARCHIVER_DATABSE_URL": "sqlite://"})


def test_invalid_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="ARCHIVER_LOG_FORMAT"):
        load_settings({"ARCHIVER_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="ARCHIVER_WARC_MAX_BYTES"):
        load_settings({"ARCHIVER_WARC_MAX_BYTES": "-1"})


def test_settings_are_immutable() -> None:
    s = load_settings({})
    with pytest.raises(ValidationError):
        s.actor = "someone-else"  # type: ignore[misc]
