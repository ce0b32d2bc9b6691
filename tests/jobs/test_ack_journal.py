"""The acknowledgement journal lists exactly what the writer committed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from perptui.core.model import Candle
from perptui.errors import ConfigError
from perptui.jobs.ack import AckJournal, read_acks
from perptui.store.writer import Writer


async def test_journal_lists_committed_records(tmp_path: Path) -> None:
    journal = AckJournal(tmp_path / "ack.jsonl")
    async with Writer(tmp_path / "a.db", batch_rows=7, on_commit=journal) as w:
        for i in range(30):
            w.submit(Candle("okx", "BTC/USDT:USDT", "1m", i * 60_000, 1, 2, 0.5, 1.5, 3))
    journal.close()
    acks = read_acks(tmp_path / "ack.jsonl")
    assert [a["ts"] for a in acks] == [i * 60_000 for i in range(30)]
    assert {a["t"] for a in acks} == {"ohlcv"}
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("SELECT COUNT(*) FROM ohlcv").fetchone()[0] == 30
    conn.close()


def test_journal_cut_short_is_ignored_and_no_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "ack.jsonl"
    path.write_text('{"t":"ohlcv","ts":1}\n{"t":"ohl')
    assert read_acks(path) == [{"t": "ohlcv", "ts": 1}]
    with pytest.raises(ConfigError, match="does not exist"):
        AckJournal(tmp_path / "missing" / "ack.jsonl")
    assert not (tmp_path / "missing").exists()
