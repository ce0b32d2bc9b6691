"""An acknowledgement journal: the key of every record once its transaction committed.

Handed to the Writer as ``on_commit``, it appends one JSON line per record of each
committed batch (``jobs.collect.record_key``: table, venue, symbol, timestamp, ...)
and fsyncs once per batch, so whatever the journal lists is in the database even
if the process is killed the next instant.  ``collect`` and ``backfill`` write it
with ``--ack-log PATH``: an audit trail of what a months-long run stored, and how
the crash trials prove that nothing acknowledged is ever lost.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from perptui.errors import ConfigError
from perptui.jobs.collect import record_key


class AckJournal:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(os.path.expanduser(os.fspath(path)))
        if not p.parent.is_dir():
            raise ConfigError(f"--ack-log {p}: directory {p.parent} does not exist")
        try:
            self._fd: int | None = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"--ack-log {p}: cannot open: {exc.strerror or exc}") from None
        self.path = p
        self.records = 0

    def __call__(self, info: Any) -> None:
        """The Writer's on_commit hook (runs after COMMIT returned)."""
        if self._fd is None or not info.records:
            return
        data = "".join(
            json.dumps(record_key(r), separators=(",", ":")) + "\n" for r in info.records
        )
        os.write(self._fd, data.encode("utf-8"))
        os.fsync(self._fd)
        self.records += len(info.records)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def open_ack(path: str | os.PathLike[str] | None) -> AckJournal | None:
    return None if path is None else AckJournal(path)


def read_acks(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Complete lines of a journal (a line cut short by a kill is not an acknowledgement)."""
    out: list[dict[str, Any]] = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.endswith("}"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
