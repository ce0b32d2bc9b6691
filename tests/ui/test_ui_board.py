"""The funding board screen (`f`) on the in-process emulator's whole market: the same
path as ``perptui --demo`` (EngineBackend -> venues -> Board), driven with Pilot."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from emulator_helpers import wait_for

from perptui.config import Config
from perptui.emulator import Emulator
from perptui.ui.app import MonitorApp
from perptui.ui.backend import EngineBackend
from perptui.ui.screens.board import BoardScreen

SIZE = (140, 40)


async def test_board_shows_the_whole_market_sorts_filters_and_opens_a_market() -> None:
    emu = Emulator(seed=5)  # the default universe: every venue's whole listing
    await emu.start()
    try:
        config = Config(
            venues=("binance", "bybit", "okx"),
            symbols=("BTC/USDT:USDT",),
            db_path=Path("unused.db"),
            log_db=False,
            demo=True,
        )
        backend = EngineBackend(config, emulator=emu)
        app = MonitorApp(backend, hz=5, load_funding_history=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f")
            await wait_for(lambda: isinstance(app.screen, BoardScreen), 5)
            board: BoardScreen = app.screen  # type: ignore[assignment]

            def venues_shown() -> Counter[str]:
                return Counter(r.venue for r in board.shown_rows)

            await wait_for(lambda: len(venues_shown()) == 3 and board.table.row_count >= 450, 60)
            assert board.table.row_count == len(board.shown_rows)
            aprs = [r.apr for r in board.shown_rows if r.apr is not None]
            assert aprs == sorted(aprs, reverse=True)  # default: best carry first
            await pilot.press("s")  # next sort column after apr: predicted rate
            assert board.sort_column == "predicted_rate"
            for _ in range(3):  # ... next settlement, basis, open interest
                await pilot.press("s")
            assert board.sort_column == "open_interest_usd"
            oi = [r.open_interest_usd for r in board.shown_rows if r.open_interest_usd]
            assert oi == sorted(oi, reverse=True)
            await pilot.press("r")
            oi = [r.open_interest_usd for r in board.shown_rows if r.open_interest_usd]
            assert oi == sorted(oi)
            everything = len(board.shown_rows)
            # Floors: OI (o) and 24 h volume (u), each cycling back to none.
            await pilot.press("o")
            assert board.min_oi == 1e6 and 0 < len(board.shown_rows) < everything
            assert all((r.open_interest_usd or 0) >= 1e6 for r in board.shown_rows)
            await pilot.press("o", "o", "o")
            assert board.min_oi == 0 and len(board.shown_rows) == everything
            await pilot.press("u", "u")
            assert board.min_volume == 1e7 and 0 < len(board.shown_rows) < everything
            assert all((r.volume_24h_usd or 0) >= 1e7 for r in board.shown_rows)
            await pilot.press("u", "u", "u")
            assert board.min_volume == 0 and len(board.shown_rows) == everything
            await pilot.press("slash", "d", "o", "g", "e", "enter")
            assert board.filter_text == "doge"
            assert board.shown_rows and all("DOGE" in r.symbol for r in board.shown_rows)
            assert board.table.row_count == len(board.shown_rows) <= 3
            await pilot.press("c")  # the carry view: pairs across venues
            assert board.show_pairs and board.table.row_count == len(board.shown_pairs) == 1
            await pilot.press("c")
            target = board.shown_rows[-1]
            board.table.move_cursor(row=len(board.shown_rows) - 1)
            await pilot.press("enter")
            await wait_for(lambda: not isinstance(app.screen, BoardScreen), 5)
            # the market is added to the watchlist and focused on the chosen venue
            await wait_for(
                lambda: (app.focus_symbol, app.focus_venue) == (target.symbol, target.venue), 20
            )
            await pilot.press("q")
    finally:
        await emu.stop()
