"""The ``perptui`` command line: global flags, lazy subcommands, one-line errors.

Each subcommand lives in ``perptui.commands.<name>`` with
``add_parser(subparsers) -> ArgumentParser`` and ``run(args) -> int``.  Only the
module of the command actually run is imported, so a slow or broken import in one
command never touches the others, and ``perptui --help`` stays instant.

``perptui`` with no subcommand runs the live monitor (``perptui --demo`` is the
README's main command).

Errors: a ``PerptuiError`` (bad input the user can fix) prints
``perptui: <message>`` on one line and exits 2; argparse usage errors exit 2;
Ctrl-C exits 130 quietly; anything else is a bug and prints one line (the
traceback only with ``-v``) and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from perptui import __version__
from perptui.config.settings import add_flags
from perptui.errors import PerptuiError

PROG = "perptui"
MAX_MESSAGE = 600  # characters of an error line
DEFAULT_COMMAND = "monitor"

# name -> one-line help, in the order `perptui --help` lists them.
COMMANDS: dict[str, str] = {
    "monitor": "live terminal monitor (the default when no command is given)",
    "doctor": "check Python, ccxt, the database and each venue's reachability",
    "emulator": "run the loopback exchange emulator standalone",
    "collect": "headless collector: funding, book snapshots and OHLCV on a schedule",
    "backfill": "fetch funding and OHLCV history into the database, resumably",
    "export": "export a table to CSV or Parquet",
    "funding": "the funding board: every perpetual's funding, or the best cross-venue carry",
    "signals": "run the signal rules over stored history",
    "backtest": "funding-carry backtest over stored funding history",
    "migrate": "copy a SQLite database into PostgreSQL, resumably",
    "replay": "replay a logged database in the monitor (play, pause, seek, speed)",
    "serve": "serve the monitor in a web browser (textual-serve)",
}

# Global options that take a value: needed to find the command word in argv.
_VALUE_OPTIONS = {"--config", "--db", "--venues", "--symbols", "--log-file"}


class OneLineParser(argparse.ArgumentParser):
    """argparse with usage errors on one line (usage itself is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        text = " ".join(message.split())
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 40] + f"... ({len(text):,} characters)"
        self.exit(2, f"{PROG}: {text} (see `{self.prog} --help`)\n")


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The flags every command accepts, before or after the command word.

    On subparsers the defaults are SUPPRESS so a flag given before the command
    (``perptui --db x doctor``) is not reset by the subparser's own default.
    """

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    g = parser.add_argument_group("global options")
    g.add_argument(
        "--config",
        dest="config_path",
        metavar="PATH",
        default=d(None),
        help="TOML config file (default: platform config dir /perptui/config.toml, "
        "or $PERPTUI_CONFIG)",
    )
    g.add_argument(
        "--demo",
        action="store_true",
        default=d(False),
        help="use the built-in loopback exchange emulator (no internet, no keys)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=d(0),
        help="more logging (-vv for debug); show tracebacks of internal errors",
    )
    add_flags(g, None, suppress=suppress)


def _command_module(name: str) -> ModuleType:
    """The command's module, imported only when that command runs (see commands/)."""
    return importlib.import_module(f"perptui.commands.{name}")


def _find_command(argv: Sequence[str]) -> tuple[str | None, int]:
    """The command word and its index, skipping global options and their values."""
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return None, -1
        if tok in _VALUE_OPTIONS:
            i += 2
            continue
        if tok.startswith("-"):
            i += 1
            continue
        return tok, i
    return None, -1


def build_parser(command: str | None) -> tuple[argparse.ArgumentParser, ModuleType | None]:
    """The top parser; only ``command``'s module is imported and asked for its flags."""
    parser = OneLineParser(
        prog=PROG,
        description="Terminal monitor and data pipeline for crypto perpetual futures.",
        epilog="Run without a command to open the monitor; try `perptui --demo`.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, suppress=False)
    common = OneLineParser(add_help=False)
    _add_global_options(common, suppress=True)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    module: ModuleType | None = None
    for name, help_text in COMMANDS.items():
        if name == command:
            module = _command_module(name)
            # Commands build their own parser; we hand them a subparsers object
            # whose add_parser adds the global flags for them.
            module.add_parser(_SubparsersWithGlobals(sub, common, help_text))
        else:
            sub.add_parser(name, help=help_text)
    return parser, module


class _SubparsersWithGlobals:
    """Wraps argparse's subparsers action so a command's parser gets the global flags."""

    def __init__(
        self, action: argparse._SubParsersAction, common: argparse.ArgumentParser, help_text: str
    ) -> None:
        self._action = action
        self._common = common
        self._help = help_text

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        parents: list[argparse.ArgumentParser] = list(kwargs.pop("parents", None) or [])  # type: ignore[call-overload]  # kwargs is argparse's **kwargs: object-typed here
        kwargs.setdefault("help", self._help)
        kwargs.setdefault("description", self._help)
        # argparse types each of add_parser's keywords; ours pass through unchanged.
        return self._action.add_parser(name, parents=[self._common, *parents], **kwargs)  # type: ignore[arg-type]  # argparse's add_parser takes **kwargs typed as object here

    def __getattr__(self, attr: str) -> object:
        return getattr(self._action, attr)


def _prepare_argv(argv: list[str]) -> tuple[list[str], str | None]:
    """Insert the default command when none is given; return (argv, command)."""
    command, idx = _find_command(argv)
    if command in COMMANDS:
        return argv, command
    wants_help = any(a in ("-h", "--help", "--version") for a in argv)
    if command is None:
        if wants_help:
            return argv, None  # top-level help / version
        return [DEFAULT_COMMAND, *argv], DEFAULT_COMMAND
    # A bare word that follows an option we do not know is probably that option's
    # value (`perptui --theme light`), i.e. a monitor flag.
    if idx > 0 and argv[idx - 1].startswith("--") and "=" not in argv[idx - 1]:
        return [DEFAULT_COMMAND, *argv], DEFAULT_COMMAND
    return argv, None  # let argparse report "invalid choice"


# Commands that run for hours without the terminal to show warnings log to a
# file by default (the platform's user log dir) when no --log-file is given.
_FILE_LOG_BY_DEFAULT = {"monitor", "serve", "collect"}


def _setup_logging(args: argparse.Namespace, command: str | None) -> None:
    from perptui import logging_setup
    from perptui.config import default_log_path, load_config
    from perptui.errors import ConfigError

    config = load_config(args)
    # The monitor owns the terminal; its records go to the log file only.
    console = command not in ("monitor", "serve")
    options: dict[str, Any] = {
        "verbosity": config.verbose,
        "secrets": config.secrets(),
        "console": console,
    }
    if config.log_file is not None or command not in _FILE_LOG_BY_DEFAULT:
        logging_setup.configure(log_file=config.log_file, **options)
        return
    try:
        logging_setup.configure(log_file=default_log_path(), create_dir=True, **options)
    except ConfigError:
        # An unwritable default log location must not stop the app; an
        # explicit --log-file that fails does (above).
        logging_setup.configure(log_file=None, **options)


def _known_secrets(args: argparse.Namespace | None) -> tuple[str, ...]:
    cfg = getattr(args, "_perptui_config", None)
    if cfg is not None:
        return tuple(cfg.secrets())
    # Config never loaded (error before it): redact whatever the env holds.
    return tuple(
        v
        for k, v in os.environ.items()
        if k.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")) and len(v) >= 4
    )


def _say(message: str, secrets: Sequence[str]) -> None:
    from perptui.logging_setup import redact

    line = " ".join(redact(str(message), secrets).split()) or "error"
    if len(line) > MAX_MESSAGE:  # a 10 kB value echoed back helps nobody
        line = line[: MAX_MESSAGE - 40] + f"... ({len(line):,} characters)"
    print(f"{PROG}: {line}", file=sys.stderr)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, ModuleType | None]:
    """Parse a command line the way ``main`` does (default command included)."""
    prepared, command = _prepare_argv(list(argv))
    parser, module = build_parser(command)
    return parser.parse_args(prepared), module


def _stop_quietly_on_sigterm() -> None:
    """SIGTERM before the collector's own handler is installed (start-up) exits 0.

    Under systemd a stop can come at any moment; nothing is written before the
    collector's writer starts, so ending at once is the clean stop.  Once running,
    ``perptui collect`` installs its own handler, which drains the writer first.
    """
    import signal

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    with contextlib.suppress(ValueError, OSError):  # not the main thread
        signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    from_process = argv is None  # the real command line, not a caller (tests) in-process
    argv = list(sys.argv[1:] if argv is None else argv)
    if from_process and _find_command(argv)[0] == "collect":
        _stop_quietly_on_sigterm()
    args: argparse.Namespace | None = None
    verbose = any(a in ("-v", "--verbose") or a.startswith("-vv") for a in argv)
    try:
        args, module = parse_args(argv)
        verbose = bool(getattr(args, "verbose", 0))
        if module is None:  # nothing to run (e.g. a lone `--`)
            build_parser(None)[0].print_usage(sys.stderr)
            return 2
        early = getattr(module, "before_run", None)
        if early is not None:  # e.g. collect: signals mean "stop cleanly" from here on
            early()
        _setup_logging(args, args.command)
        return int(module.run(args) or 0)
    except PerptuiError as exc:
        _say(str(exc), _known_secrets(args))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` etc.: not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    except SystemExit:
        raise
    except Exception as exc:
        secrets = _known_secrets(args)
        if verbose:
            from perptui.logging_setup import redact

            sys.stderr.write(redact(traceback.format_exc(), secrets))
        _say(
            f"internal error: {type(exc).__name__}: {exc}"
            + ("" if verbose else " (run with -v for the traceback)"),
            secrets,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
