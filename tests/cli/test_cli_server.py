"""The CLI fork server reports what the process did, kills a hung one, and fails loudly.

The bad-input table trusts ``tests/cli_server.py`` for every row, so its own behaviour is
checked here against the real CLI: exit status and output are the process's, the row's
environment, cwd and stdin reach it, nothing carries over, and a broken server raises.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import closed_loopback_port
from cli_server import CliServer, ServerError, without_settings

from perptui import __version__

REPO = Path(__file__).resolve().parents[2]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {
        **without_settings(os.environ),
        "XDG_CONFIG_HOME": str(home / "cfg"),
        "XDG_DATA_HOME": str(home / "data"),
        **extra,
    }


def test_exit_status_and_output_are_the_processes(cli_server: CliServer, tmp_path: Path) -> None:
    ok = cli_server.run(["--version"], env=env_for(tmp_path), cwd=tmp_path)
    assert (ok.returncode, ok.timed_out) == (0, False)
    assert __version__ in ok.stdout + ok.stderr
    bad = cli_server.run(["frobnicate"], env=env_for(tmp_path), cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("perptui: ") and bad.stdout == ""


def test_env_cwd_and_stdin_are_the_rows(cli_server: CliServer, tmp_path: Path) -> None:
    (tmp_path / "rel.toml").write_text("ui_hz = 'fast'\n")
    run = cli_server.run(["--config", "rel.toml", "doctor"], env=env_for(tmp_path), cwd=tmp_path)
    assert run.returncode == 2 and "ui_hz" in run.stderr, run.stderr  # found from the cwd
    env = env_for(tmp_path, PERPTUI_UI_HZ="0")
    run = cli_server.run(["doctor"], env=env, cwd=tmp_path)
    assert run.returncode == 2 and "PERPTUI_UI_HZ" in run.stderr, run.stderr
    # the next process does not see the variable the last one had
    run = cli_server.run(["doctor", "--ui-hz", "x"], env=env_for(tmp_path), cwd=tmp_path)
    assert "PERPTUI_UI_HZ" not in run.stderr, run.stderr
    run = cli_server.run(
        ["--config", "/dev/stdin", "doctor"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        stdin=b"colour = 1\n",
    )
    assert run.returncode == 2 and "colour" in run.stderr, run.stderr


@pytest.mark.timeout(60)
def test_a_hung_process_is_killed_at_its_timeout(cli_server: CliServer, tmp_path: Path) -> None:
    port = str(closed_loopback_port())  # free now: the emulator serves on it until killed
    run = cli_server.run(
        ["emulator", "--port", port, "--venues", "binance"],
        env=env_for(tmp_path),
        cwd=tmp_path,
        timeout=3,
    )
    assert run.timed_out and run.returncode == -9, run
    assert 3 <= run.seconds < 20


def test_a_dead_server_raises(tmp_path: Path) -> None:
    server = CliServer({**without_settings(os.environ), "PYTHONPATH": str(REPO)})
    try:
        server._proc.kill()
        server._proc.wait()
        with pytest.raises(ServerError):
            server.run(["--version"], env=env_for(tmp_path), cwd=tmp_path)
    finally:
        server.close()
