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
