"""`perptui serve`: the same monitor in a web browser, via textual-serve.

Each browser session starts its own `perptui` process (default: `--demo`, so a
fresh machine shows data); binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from perptui.config.values import PORT


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument(
        "--port", type=PORT.argtype("--port"), default=8000, help="HTTP port (default 8000)"
    )
    p.add_argument("--public-url", default=None, help="URL the browser uses, when behind a proxy")
    p.add_argument(
        "monitor_args",
        nargs=argparse.REMAINDER,
        help="arguments for the monitor after `--` (default: --demo)",
    )
    return p


def monitor_command(monitor_args: list[str], demo: bool) -> str:
    """The shell command each browser session runs."""
    args = [a for a in monitor_args if a != "--"]
    if not args:
        args = ["--demo"] if demo or not monitor_args else []
    return shlex.join([sys.executable, "-m", "perptui", *args])


def run(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    command = monitor_command(list(args.monitor_args or []), bool(getattr(args, "demo", False)))
    server = Server(
        command,
        host=args.host,
        port=args.port,
        title="perptui",
        public_url=args.public_url,
    )
    print(f"perptui serve: http://{args.host}:{args.port}  (runs: {command})", file=sys.stderr)
    server.serve()
    return 0
