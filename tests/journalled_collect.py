"""Run perptui with a journal of every record its collector hands to the writer (test-only).

``python -m journalled_collect JOURNAL PERPTUI_ARGS...`` behaves as ``python -m perptui
PERPTUI_ARGS...``, except that ``collect``'s writer front (``ObservedWriter``) also writes
each record's store key as one JSON line to JOURNAL *before* the writer sees the record.
The SIGTERM and shard tests compare that journal with the database afterwards: every
journalled key must have been stored.  It lives under tests/ because nothing shipped
needs it; :func:`command` builds the subprocess command line and environment.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from perptui import cli
from perptui.jobs import collect as collect_job
from perptui.jobs.collect import record_key

TESTS_DIR = Path(__file__).resolve().parent


def command(
    journal: Path, *perptui_args: str, env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """(argv, env) running perptui with the journal; tests/ goes on the child's path."""
    child = dict(os.environ if env is None else env)
    child["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), child.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "journalled_collect", str(journal), *perptui_args], child


def _journalled(journal: IO[str]) -> type[collect_job.ObservedWriter]:
    class JournalledWriter(collect_job.ObservedWriter):
        def _note(self, record: Any) -> None:
            journal.write(json.dumps(record_key(record)) + "\n")
            super()._note(record)

    return JournalledWriter


def main(argv: list[str]) -> int:
    journal_path, *perptui_args = argv
    with open(journal_path, "a", encoding="utf-8", buffering=1) as journal:
        collect_job.ObservedWriter = _journalled(journal)  # collect imports it when it runs
        return cli.main(perptui_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
