"""A real PostgreSQL for the tests: one throwaway database per test, dropped afterwards.

The server comes from PERPTUI_TEST_PG_URL (`.ci/postgres` starts Debian's cluster
and prints a URL for a role that may create databases and roles).  Without it, or
when no server answers, PostgreSQL tests skip and say why; with
PERPTUI_REQUIRE_PG=1 (CI) that is a failure instead.  Nothing here mocks the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

BACKENDS = ("sqlite", "postgresql")  # what backend-parametrised tests run on
ENV_URL = "PERPTUI_TEST_PG_URL"
ENV_REQUIRE = "PERPTUI_REQUIRE_PG"


def write_all(location: str | os.PathLike[str], records: list, batch_rows: int = 500) -> None:
    """Put every record through a real Writer into either backend, and close it."""
    from perptui.store.writer import Writer

    async def go() -> None:
        async with Writer(location, batch_rows=batch_rows) as w:
            for r in records:
                await w.put(r)

    asyncio.run(go())


async def wait_for(predicate, timeout: float = 5.0) -> None:
    """Poll a condition on the loop (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _unavailable(why: str) -> None:
    msg = f"PostgreSQL tests need a server: {why} (run `bash .ci/postgres` and set {ENV_URL})"
    if os.environ.get(ENV_REQUIRE):
        pytest.fail(msg)
    pytest.skip(msg)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        for stmt in statements:
            await conn.execute(stmt)
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: object) -> list[tuple]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def server_url() -> str:
    url = os.environ.get(ENV_URL)
    if not url:
        _unavailable(f"{ENV_URL} is not set")
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        _unavailable("asyncpg is not installed")
    try:
        asyncio.run(admin(url, "SELECT 1"))
    except Exception as exc:
        _unavailable(f"no server answers at {ENV_URL}: {type(exc).__name__}: {exc}")
    return url


def fresh_database(server: str) -> Iterator[str]:
    name = f"perptui_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin(server, f"CREATE DATABASE {name}"))
    try:
        yield with_database(server, name)
    finally:
        asyncio.run(admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@contextlib.asynccontextmanager
async def fresh_database_async(server: str) -> AsyncIterator[str]:
    """fresh_database for code already inside an event loop."""
    name = f"perptui_t_{uuid.uuid4().hex[:12]}"
    await admin(server, f"CREATE DATABASE {name}")
    try:
        yield with_database(server, name)
    finally:
        await admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
