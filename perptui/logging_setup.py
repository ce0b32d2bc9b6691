"""Logging for every command: stderr for the user, an optional rotating file, no secrets.

``configure()`` installs handlers on the root logger.  Every handler carries a
``RedactSecrets`` filter, so a configured API key or secret that reaches a log
record (in the message, its arguments or a traceback) is replaced by ``***``
before anything is written.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from perptui.errors import ConfigError

REDACTED = "***"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5
# Marks the handlers we installed so configure() can be called again (tests, serve).
_OURS = "_perptui_handler"


def redact(text: str, secrets: Iterable[str]) -> str:
    # Longest first: a secret that contains another must not be half-replaced.
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Replace secret values in a record's final message and traceback text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)
        self._fmt = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: let logging report it as usual
            return True
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format() reuses exc_text when set, so the raw traceback
            # (whose exception messages may echo a key) is never rendered.
            record.exc_text = self._fmt.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def rotating_file_handler(
    path: Path,
    *,
    max_bytes: int = MAX_BYTES,
    backups: int = BACKUP_COUNT,
    create_dir: bool = False,
) -> logging.handlers.RotatingFileHandler:
    """A size-rotated log file; a path we cannot open is the user's to fix.

    ``create_dir`` is for perptui's own default location only: a directory missing
    from a path the user typed is a typo to report, not a tree to create.
    """
    path = Path(path).expanduser()
    if not create_dir and not path.parent.is_dir():
        raise ConfigError(f"log file {path}: cannot open: directory {path.parent} does not exist")
    try:
        if create_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    except OSError as exc:
        raise ConfigError(f"log file {path}: cannot open: {exc.strerror or exc}") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def console_level(verbosity: int) -> int:
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return logging.INFO
    return logging.WARNING


def configure(
    *,
    verbosity: int = 0,
    log_file: Path | None = None,
    secrets: Iterable[str] = (),
    console: bool = True,
    stream: TextIO | None = None,
    create_dir: bool = False,
) -> list[logging.Handler]:
    """(Re)install perptui's handlers on the root logger and return them.

    ``console=False`` is for the Textual UI, which owns the terminal: then only
    the log file (if any) receives records.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _OURS, False):
            root.removeHandler(h)
            h.close()
    redactor = RedactSecrets(secrets)
    handlers: list[logging.Handler] = []
    if console:
        ch = logging.StreamHandler(stream if stream is not None else sys.stderr)
        ch.setLevel(console_level(verbosity))
        ch.setFormatter(logging.Formatter("perptui: %(levelname)s %(name)s: %(message)s"))
        handlers.append(ch)
    if log_file is not None:
        fh = rotating_file_handler(log_file, create_dir=create_dir)
        fh.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
        handlers.append(fh)
    for h in handlers:
        h.addFilter(redactor)
        setattr(h, _OURS, True)
        root.addHandler(h)
    levels = [h.level for h in handlers] or [logging.WARNING]
    root.setLevel(min(levels))
    # ccxt and aiohttp are chatty at DEBUG; keep them at INFO unless -vv asked for everything.
    for noisy in ("ccxt", "aiohttp", "asyncio", "websockets"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 3 else logging.INFO)
    return handlers
