"""CLI: default command, lazy dispatch, global flags, error lines and exit codes, logging."""

from __future__ import annotations

import argparse
import importlib.machinery
import logging
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perptui import __version__, cli, logging_setup
from perptui.errors import StoreError

SECRET = "s3cr3t-Api-Key-value-987654321"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in list(os.environ):
        if var.startswith("PERPTUI_") or var.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    yield tmp_path
    # main() installs root handlers; leave logging as pytest had it.
    logging_setup.configure(console=False)


@pytest.fixture
def fake_command(monkeypatch: pytest.MonkeyPatch) -> Callable[..., types.ModuleType]:
    """Register `perptui fake` backed by an in-memory module whose run() we choose."""

    def install(run: Callable[[argparse.Namespace], int]) -> types.ModuleType:
        name = "perptui.commands.fake"
        mod = types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)

        def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
            p = subparsers.add_parser("fake", help="test command")
            p.add_argument("--flavour", default="plain")
            return p

        mod.add_parser = add_parser  # type: ignore[attr-defined]
        mod.run = run  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, mod)
        monkeypatch.setitem(cli.COMMANDS, "fake", "test command")
        return mod

    return install


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"perptui {__version__}"


def test_help_lists_every_command_without_importing_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = {m for m in sys.modules if m.startswith("perptui.commands.")}
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("monitor", "doctor", "emulator", "collect", "backfill", "export", "signals",
                 "backtest", "serve", "--demo", "--venues", "--symbols", "--db", "--config",
                 "--log-file", "--verbose"):  # fmt: skip
        assert name in out
    after = {m for m in sys.modules if m.startswith("perptui.commands.")}
    assert after == before


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([], "monitor"),
        (["--demo"], "monitor"),
        (["-v", "--db", "x.db", "--demo"], "monitor"),
        (["--theme", "light"], "monitor"),  # a monitor flag with a value
        (["doctor"], "doctor"),
        (["--db", "doctor", "doctor"], "doctor"),  # a flag value never counts as the command
        (["--venues", "okx", "--demo", "backfill", "--days", "3"], "backfill"),
    ],
)
def test_command_word_detection(argv: list[str], command: str) -> None:
    prepared, found = cli._prepare_argv(argv)
    assert found == command
    assert command in prepared


def test_unknown_command_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_listed_command_has_a_module_with_add_parser_and_run(name: str) -> None:
    module = cli._command_module(name)
    assert callable(module.add_parser) and callable(module.run)


def test_run_gets_global_and_own_flags(
    fake_command: Callable[..., types.ModuleType], tmp_path: Path
) -> None:
    seen: list[argparse.Namespace] = []

    def run(args: argparse.Namespace) -> int:
        seen.append(args)
        return 7

    fake_command(run)
    assert cli.main(["--db", str(tmp_path / "a.db"), "fake", "--flavour", "x", "--demo"]) == 7
    (args,) = seen
    assert (args.command, args.flavour, args.demo, args.db) == (
        "fake",
        "x",
        True,
        str(tmp_path / "a.db"),
    )


def test_user_error_is_one_line_exit_2(
    fake_command: Callable[..., types.ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise StoreError("database /x/y.db: directory /x does not exist")

    fake_command(run)
    assert cli.main(["fake"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "perptui: database /x/y.db: directory /x does not exist\n"
    assert captured.out == ""


def test_internal_error_is_one_line_exit_1_and_traceback_only_with_v(
    fake_command: Callable[..., types.ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("division by zero")

    fake_command(run)
    assert cli.main(["fake"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "perptui: internal error: ZeroDivisionError: division by zero "
        "(run with -v for the traceback)\n"
    )
    assert cli.main(["fake", "-v"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1] == "perptui: internal error: ZeroDivisionError: division by zero"


def test_keyboard_interrupt_exits_130_quietly(
    fake_command: Callable[..., types.ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    fake_command(run)
    assert cli.main(["fake"]) == 130
    assert capsys.readouterr().err == ""


def test_error_lines_never_show_a_secret(
    fake_command: Callable[..., types.ModuleType],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BYBIT_API_SECRET", SECRET)

    def run(args: argparse.Namespace) -> int:
        raise RuntimeError(f"signature mismatch for secret={SECRET}")

    fake_command(run)
    assert cli.main(["fake", "-v"]) == 1
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "secret=***" in err


def test_config_error_from_main(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("ui_hz = 99\n")
    assert cli.main(["doctor", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"config {bad} line 1: key 'ui_hz' must be between 1 and 20" in err


# --------------------------------------------------------------------------- logging


def test_log_records_never_contain_secrets(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "perptui.log"
    log_file.parent.mkdir()  # a --log-file's directory must exist (never created for it)
    logging_setup.configure(console=False, log_file=log_file, secrets=[SECRET, "short-1"])
    log = logging.getLogger("perptui.test")
    log.info("connecting with key %s", SECRET)
    log.warning("header X-MBX-APIKEY: " + SECRET)
    log.info("dict %r", {"apiKey": SECRET, "n": 1})
    try:
        raise ValueError(f"rejected {SECRET}")
    except ValueError:
        log.exception("request failed")
    for h in logging.getLogger().handlers:
        h.flush()
    text = log_file.read_text()
    assert SECRET not in text
    assert "connecting with key ***" in text
    assert "'apiKey': '***'" in text
    assert "ValueError: rejected ***" in text  # the traceback is kept, the key is not
    assert "short-1" not in text


def test_log_file_rotates(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    handler = logging_setup.rotating_file_handler(path, max_bytes=2000, backups=2)
    log = logging.getLogger("perptui.rotate")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    try:
        for i in range(200):
            log.info("line %d %s", i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
    assert path.exists()
    assert (tmp_path / "r.log.1").exists()
    assert (tmp_path / "r.log.2").exists()
    assert not (tmp_path / "r.log.3").exists()
    assert all(p.stat().st_size <= 2100 for p in tmp_path.glob("r.log*"))


def test_unusable_log_file_is_a_user_error(
    fake_command: Callable[..., types.ModuleType],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    fake_command(lambda args: 0)
    (tmp_path / "adir").mkdir()
    assert cli.main(["fake", "--log-file", str(tmp_path / "adir")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"perptui: log file {tmp_path / 'adir'}: cannot open")
    assert err.count("\n") == 1


def test_console_logging_follows_verbosity(
    fake_command: Callable[..., types.ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    def run(args: argparse.Namespace) -> int:
        logging.getLogger("perptui.x").info("info-line")
        logging.getLogger("perptui.x").warning("warning-line")
        return 0

    fake_command(run)
    assert cli.main(["fake"]) == 0
    err = capsys.readouterr().err
    assert "warning-line" in err and "info-line" not in err
    assert cli.main(["fake", "-v"]) == 0
    assert "info-line" in capsys.readouterr().err


def test_long_running_commands_log_to_the_default_file(
    fake_command: Callable[..., types.ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(cli, "_FILE_LOG_BY_DEFAULT", {"fake"})

    def run(args: argparse.Namespace) -> int:
        logging.getLogger("perptui.x").info("collector started")
        return 0

    fake_command(run)
    assert cli.main(["fake"]) == 0
    for h in logging.getLogger().handlers:
        h.flush()
    log_file = tmp_path / "state" / "perptui" / "log" / "perptui.log"
    assert "collector started" in log_file.read_text()
    assert capsys.readouterr().err == ""
