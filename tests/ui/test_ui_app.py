"""Pilot tests of the monitor's keys against a deterministic hub (no engine, no network)."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest
from ui_support import SYMBOLS, VENUES, FrozenClock, StaticBackend, sample_hub

from perptui.engine.hub import Hub
from perptui.ui.app import MonitorApp
from perptui.ui.screens.help import HelpScreen
from perptui.ui.screens.search import SymbolSearch, fuzzy_rank
from perptui.ui.widgets.book import BookPanel
from perptui.ui.widgets.health import HealthBar
from perptui.ui.widgets.watchlist import Watchlist

SIZE = (120, 40)
EXTRA = ("DOGE/USDT:USDT", "XRP/USDT:USDT", "1000PEPE/USDT:USDT")


def make_app(hub: Hub | None = None, clock: FrozenClock | None = None) -> MonitorApp:
    clock = clock or FrozenClock()
    hub = hub or sample_hub(clock=clock)
    backend = StaticBackend(hub, available=[*SYMBOLS, *EXTRA])
    return MonitorApp(backend, clock=clock, load_funding_history=False, hz=10)


def test_fuzzy_rank_prefers_close_matches() -> None:
    cands = ["BTC/USDT:USDT", "ETH/USDT:USDT", "ETHFI/USDT:USDT", "SOL/USDT:USDT"]
    assert fuzzy_rank("eth", cands)[:2] == ["ETH/USDT:USDT", "ETHFI/USDT:USDT"]
    assert fuzzy_rank("sol", cands) == ["SOL/USDT:USDT"]
    assert fuzzy_rank("", cands) == cands
    assert fuzzy_rank("zzz", cands) == []


async def test_watchlist_rows_and_focus_follow_cursor() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        wl = app.query_one(Watchlist)
        assert wl.row_count == len(SYMBOLS) * len(VENUES)
        assert (app.focus_symbol, app.focus_venue) == ("BTC/USDT:USDT", "binance")
        await pilot.press("j", "j", "j")
        assert (app.focus_symbol, app.focus_venue) == ("ETH/USDT:USDT", "binance")
        await pilot.press("k")
        assert (app.focus_symbol, app.focus_venue) == ("BTC/USDT:USDT", "okx")
        await pilot.press("down")
        assert app.focus_symbol == "ETH/USDT:USDT"
        await pilot.press("7")
        assert (app.focus_symbol, app.focus_venue) == ("SOL/USDT:USDT", "binance")
        book = app.query_one(BookPanel)
        assert book.market() is not None and book.market().symbol == "SOL/USDT:USDT"


async def test_watchlist_scrolls_to_the_cursor_and_selects_by_click() -> None:
    """At 80x24 the list holds fewer rows than it has: the cursor stays in view."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        wl = app.query_one(Watchlist)
        rows = wl.row_count
        visible = wl.scrollable_content_region.height - 1  # the header is fixed
        assert rows > visible
        await pilot.press("end")
        assert wl.cursor_row == rows - 1
        assert (app.focus_symbol, app.focus_venue) == ("SOL/USDT:USDT", "okx")
        top = round(wl.scroll_y)
        assert top <= wl.cursor_row < top + visible and top > 0
        await pilot.press("home")
        assert wl.cursor_row == 0 and round(wl.scroll_y) == 0
        # Widget line 0 is the border, 1 the header, 2 the first market: 4 is the third.
        await pilot.click(Watchlist, offset=(3, 4))
        await pilot.pause()
        assert wl.cursor_row == 2
        assert (app.focus_symbol, app.focus_venue) == wl.keys()[2]


async def test_watchlist_repaints_only_the_cells_that_changed() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        wl = app.query_one(Watchlist)
        app.paused = True  # the UI clock leaves the list to this test
        view = app.backend.hub.sample(app.clock())
        wl.update_view(view, app.clock(), force=True)
        await pilot.pause()
        drawn, renders = wl.rows_drawn, wl.renders
        wl.update_view(view, app.clock(), force=True)  # nothing new: nothing redrawn
        await pilot.pause()
        assert (wl.rows_drawn, wl.renders) == (drawn, renders)
        # One market's funding changes: its row is rebuilt, no other.
        key = ("bybit", "ETH/USDT:USDT")
        m = view.markets[key]
        markets = dict(view.markets)
        markets[key] = replace(m, version=m.version + 1, funding_rate=0.0005)
        wl.update_view(replace(view, markets=MappingProxyType(markets)), app.clock(), force=True)
        await pilot.pause()
        assert wl.rows_drawn == drawn + 1
        assert wl.renders == renders + 1  # the funding cell only


async def test_venue_switch_keeps_symbol() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("right_square_bracket")
        assert (app.focus_symbol, app.focus_venue) == ("BTC/USDT:USDT", "bybit")
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert (app.focus_symbol, app.focus_venue) == ("BTC/USDT:USDT", "binance")
        await pilot.press("left_square_bracket")
        assert (app.focus_symbol, app.focus_venue) == ("BTC/USDT:USDT", "okx")
        assert app.query_one(BookPanel).market().exchange == "okx"


async def test_search_switches_to_a_watched_symbol() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        assert isinstance(app.screen, SymbolSearch)
        await pilot.press(*"sol")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SymbolSearch)
        assert app.focus_symbol == "SOL/USDT:USDT"


async def test_search_escape_changes_nothing() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", "e", "t", "h", "escape")
        assert app.focus_symbol == "BTC/USDT:USDT"


async def test_add_and_remove_symbol_at_runtime() -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = make_app(hub, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("a")
        assert isinstance(app.screen, SymbolSearch)
        await pilot.press(*"doge", "enter")
        await pilot.pause()
        assert "DOGE/USDT:USDT" in hub.symbols
        # The hub gets data for the new symbol: the row appears and takes the focus.
        from perptui.core.model import BookSnapshot

        hub.set_book(
            BookSnapshot("binance", "DOGE/USDT:USDT", clock.t, ((0.31, 100.0),), ((0.311, 90.0),))
        )
        await pilot.pause(0.3)
        wl = app.query_one(Watchlist)
        assert ("DOGE/USDT:USDT", "binance") in wl.keys()
        assert app.focus_symbol == "DOGE/USDT:USDT"
        await pilot.press("d")
        await pilot.pause(0.3)
        assert "DOGE/USDT:USDT" not in hub.symbols
        assert all(s != "DOGE/USDT:USDT" for s, _ in wl.keys())
        assert app.focus_symbol in SYMBOLS


async def test_pause_freezes_the_screen() -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = make_app(hub, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("p")
        assert app.paused
        samples = app.samples
        clock.advance(5_000)
        await pilot.pause(0.4)
        assert app.samples == samples, "paused app must not sample the hub"
        await pilot.press("p")
        await pilot.pause(0.3)
        assert not app.paused and app.samples > samples


async def test_help_opens_and_closes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_theme_toggle() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "perptui-dark"
        await pilot.press("t")
        assert app.theme == "perptui-light"
        await pilot.press("t")
        assert app.theme == "perptui-dark"


async def test_quit_stops_backend() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.backend.stopped
    assert app.return_value == 0


async def test_health_shows_stale_and_down_venues() -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    hub.set_health("bybit", feed="book:BTC/USDT:USDT", state="stale")
    hub.set_health("okx", feed="book:BTC/USDT:USDT", state="down", last_error="boom")
    app = make_app(hub, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        text = str(app.query_one(HealthBar).render())
        assert "bybit stale" in text
        assert "okx down" in text
        assert "binance connected" in text


async def test_health_bar_reads_rates_once_a_second_and_states_at_once() -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = make_app(hub, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        bar = app.query_one(HealthBar)
        clock.advance(1000 - clock.t % 1000)  # the start of a second
        await pilot.pause(0.2)
        paints = bar.paints
        hub.note_message("binance", 500)  # the rate moves within the second: not redrawn
        clock.advance(300)
        await pilot.pause(0.2)
        assert bar.paints == paints
        hub.set_health("okx", feed="book:BTC/USDT:USDT", state="stale")
        clock.advance(100)  # still the same second, but a feed changed state
        await pilot.pause(0.2)
        assert bar.paints == paints + 1 and "okx stale" in str(bar.render())
        clock.advance(1000)  # next second: the new rate is read
        await pilot.pause(0.2)
        assert bar.paints == paints + 2


async def test_panels_repaint_only_rows_that_changed() -> None:
    """The clock moves every panel's inputs each second; a panel whose rows read the
    same is not repainted, and a new book repaints the ladder's changed rows only."""
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = make_app(hub, clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        funding = app.query_one("#funding")
        book = app.query_one(BookPanel)
        clock.advance(1000 - clock.t % 1000)
        await pilot.pause(0.2)
        paints, rows = funding.paints, funding.rows_repainted
        clock.advance(1000)  # next second; every countdown still reads the same minute
        await pilot.pause(0.2)
        assert funding.paints == paints + 1
        assert funding.rows_repainted == rows
        from perptui.core.model import BookSnapshot

        m = app.last_view.market("binance", SYMBOLS[0])
        bids = ((m.bids[0][0], m.bids[0][1] + 1.0), *m.bids[1:])  # one size moved
        before = book.rows_repainted
        hub.set_book(BookSnapshot("binance", SYMBOLS[0], clock.t, bids, m.asks))
        await pilot.pause(0.3)
        changed = book.rows_repainted - before
        assert 0 < changed < book.size.height  # the moved level and what it feeds
        assert f"{m.bids[0][1] + 1.0:.3f}"[:5] in book.render().plain


async def test_panels_take_the_new_theme_colours() -> None:
    """Component styles are kept between paints, and dropped when the theme changes."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        book = app.query_one(BookPanel)
        dark = book.component_style("book--bid")
        await pilot.press("t")
        await pilot.pause(0.2)
        light = book.component_style("book--bid")
        assert light != dark
        assert light == book.get_component_rich_style("book--bid", partial=True)


async def test_compact_layout_cycles_panels() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.compact
        shown = [p.id for p in app.query(".detail") if p.display]
        assert shown == ["book"]
        await pilot.press("v")
        await pilot.pause()
        shown = [p.id for p in app.query(".detail") if p.display]
        assert shown == ["chart"]


async def test_hidden_panels_do_not_paint() -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = make_app(hub, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        chart = app.query_one("#chart")
        assert chart.paints == 0
        from perptui.core.model import BookSnapshot

        hub.set_book(
            BookSnapshot("binance", SYMBOLS[0], clock.t, ((94_000.0, 1.0),), ((94_001.0, 1.0),))
        )
        await pilot.pause(0.3)
        assert chart.paints == 0
        assert app.query_one("#book").paints >= 2


async def test_command_palette_runs_monitor_actions() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"pause / resume")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.paused
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"toggle theme")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.theme == "perptui-light"


async def test_help_teaches_the_keys_and_the_formulas() -> None:
    from perptui.core import funding
    from perptui.ui.glossary import GLOSSARY

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        for key in ("b", "+  -", "ctrl+p"):
            assert key in text
        # Every panel's section is there, with the formulas the code uses.
        for title, _ in GLOSSARY:
            assert title in text
        assert "(bids - asks) / (bids + asks)" in text and "(mark - index) / index" in text
        assert "24 / interval x 365" in text
        # ... and that formula is the one perptui.core.funding computes.
        assert funding.annualized(0.0001, 4.0) == pytest.approx(0.0001 * 24 / 4 * 365)


async def test_render_only_draws_and_the_clock_sets_the_panel_titles() -> None:
    from perptui.ui.widgets.funding import FundingPanel
    from perptui.ui.widgets.signals import SignalsPanel

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        funding, signals = app.query_one(FundingPanel), app.query_one(SignalsPanel)
        assert str(funding.border_title).startswith("Funding · ")  # set by the clock
        assert str(signals.border_subtitle).endswith(" total")
        funding.border_title, signals.border_subtitle = "before", "before"
        funding.render()
        signals.render()
        assert (funding.border_title, signals.border_subtitle) == ("before", "before")
