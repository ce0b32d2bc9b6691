from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def fixtures_root() -> Path | None:
    """Recorded exchange payloads live outside the repo (../shared), never copied in."""
    env = os.environ.get("PERPTUI_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "fixtures" / "exchanges")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    root = fixtures_root()
    if root is None:
        msg = (
            "recorded exchange fixtures not found: set PERPTUI_FIXTURES or place "
            "../shared/fixtures/exchanges beside the repo"
        )
        if os.environ.get("PERPTUI_REQUIRE_FIXTURES"):
            pytest.fail(msg)
        pytest.skip(msg)
    return root


@pytest.fixture(scope="session")
def pg_server() -> str:
    """URL of the test PostgreSQL server (skips, or fails in CI, when there is none)."""
    from pg_helpers import server_url

    return server_url()


@pytest.fixture
def pg_url(pg_server: str):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from pg_helpers import fresh_database

    yield from fresh_database(pg_server)


from pg_helpers import BACKENDS  # noqa: E402


@pytest.fixture(params=BACKENDS)
def db_location(request: pytest.FixtureRequest, tmp_path: Path):
    """A new, empty database on each backend: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield tmp_path / "store.db"
        return
    from pg_helpers import fresh_database

    yield from fresh_database(request.getfixturevalue("pg_server"))
