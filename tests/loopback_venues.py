"""Test support: live venues built by the composition root talk to one loopback address.

Tests must never leave 127.0.0.1, yet some of them take the live path on purpose (doctor
without ``--demo`` reporting an unreachable network).  Rather than the package reading a
test-only setting, the tests wrap `perptui.stack.make_venues` - the one place venues are
built - so that every venue it builds without the emulator gets ``rest_hostport``
(`perptui.venues.make_venue` sends every REST request there):

- in-process: ``redirect_live_venues(monkeypatch, "127.0.0.1:PORT")``;
- in a subprocess: ``python tests/loopback_venues.py 127.0.0.1:PORT <perptui args>``
  runs the CLI (`cli_command` builds that argv).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()


def wrap_make_venues(real: Callable[..., Any], hostport: str) -> Callable[..., Any]:
    async def make_venues(venue_ids: Any, config: Any, *, emulator: Any = None, **kw: Any) -> Any:
        if emulator is None:
            kw.setdefault("rest_hostport", hostport)  # the outermost redirect wins
        return await real(venue_ids, config, emulator=emulator, **kw)

    return make_venues


def redirect_live_venues(monkeypatch: Any, hostport: str) -> None:
    """For this test: live venues from `perptui.stack.make_venues` go to `hostport`."""
    from perptui import stack

    monkeypatch.setattr(stack, "make_venues", wrap_make_venues(stack.make_venues, hostport))


def cli_command(hostport: str, *args: str) -> list[str]:
    """argv running ``perptui ARGS`` with live venues pointed at `hostport`."""
    return [sys.executable, str(SCRIPT), hostport, *args]


def main(argv: list[str]) -> None:
    """Run ``python -m perptui ARGS`` as it is (same __main__, same signal set-up)."""
    import runpy

    from perptui import stack

    hostport, *args = argv
    stack.make_venues = wrap_make_venues(stack.make_venues, hostport)
    sys.argv = ["perptui", *args]
    runpy.run_module("perptui", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
