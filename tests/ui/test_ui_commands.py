"""The monitor and serve commands: flags reach the app, serve answers on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from perptui.cli import parse_args
from perptui.commands.serve import monitor_command


def test_monitor_flags_parse_into_config() -> None:
    from perptui.config import load_config

    args, module = parse_args(
        ["--demo", "--theme", "light", "--hz", "8", "--no-log", "--db", "/tmp/x.db"]
    )
    assert module is not None and module.__name__ == "perptui.commands.monitor"
    cfg = load_config(args, env={})
    assert cfg.demo and cfg.theme == "light" and cfg.ui_hz == 8 and not cfg.log_db


def test_serve_runs_the_demo_by_default() -> None:
    assert monitor_command([], demo=False).endswith("-m perptui --demo")
    assert monitor_command(["--", "--venues", "okx"], demo=False).endswith(
        "-m perptui --venues okx"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_loopback() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perptui", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = b""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.2)
        assert b"perptui" in body and b"<html" in body.lower()
    finally:
        proc.terminate()
        proc.wait(10)
