"""The CLI tests' fork server (``tests/cli_server.py``), started once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_server import CliServer, without_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli_server() -> Iterator[CliServer]:
    server = CliServer({**without_settings(os.environ), "PYTHONPATH": str(REPO)})
    try:
        yield server
    finally:
        server.close()
