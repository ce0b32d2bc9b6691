"""The monitor: a Textual app that samples the hub on a UI clock.

Workers (started on mount, on the same asyncio loop) write into the hub as
messages arrive; the app never renders per message.  A `set_interval` clock
(4-10 Hz) takes one frozen :class:`HubView` per tick and hands it to the panels
that are displayed; each panel repaints only when its own inputs changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Footer

from perptui.config.settings import BY_KEY
from perptui.engine.views import HubView
from perptui.ui import keymap
from perptui.ui.backend import Backend
from perptui.ui.commands import MonitorCommands
from perptui.ui.lines import CroppingScreen
from perptui.ui.screens.help import HelpScreen
from perptui.ui.screens.search import SymbolSearch
from perptui.ui.widgets.base import Panel
from perptui.ui.widgets.book import BookPanel
from perptui.ui.widgets.chart import ChartPanel
from perptui.ui.widgets.funding import FundingPanel
from perptui.ui.widgets.health import HealthBar
from perptui.ui.widgets.signals import SignalsPanel
from perptui.ui.widgets.titlebar import TitleBar
from perptui.ui.widgets.watchlist import Watchlist

THEMES_DIR = files("perptui") / "data" / "themes"
THEME_NAMES = ("dark", "light")
DETAIL_PANELS = ("book", "chart", "funding", "signals")
# Below this size the monitor shows the watchlist plus one detail panel (`v` cycles).
COMPACT_WIDTH, COMPACT_HEIGHT = 110, 34
FUNDING_HISTORY_REFRESH_S = 60.0
HISTORY_DEBOUNCE_S = 0.4

DARK = Theme(
    name="perptui-dark",
    primary="#4ea1ff",
    secondary="#8f7bff",
    accent="#ffb454",
    warning="#ffb454",
    error="#ff5f5f",
    success="#3ddc84",
    foreground="#d7dae0",
    background="#0f1216",
    surface="#161b22",
    panel="#1f2630",
    dark=True,
)
LIGHT = Theme(
    name="perptui-light",
    primary="#0b57d0",
    secondary="#6b4fd8",
    accent="#b35c00",
    warning="#b35c00",
    error="#c62828",
    success="#1b7f3b",
    foreground="#1b1f24",
    background="#fbfbfc",
    surface="#f1f3f5",
    panel="#e3e7ec",
    dark=False,
)


def theme_css_paths() -> list[Path]:
    """layout.tcss (structure) then one colour file per theme, scoped by App:dark/App:light."""
    return [Path(str(THEMES_DIR / f"{name}.tcss")) for name in ("layout", *THEME_NAMES)]


def wall_ms() -> int:
    return int(time.time() * 1000)


class MonitorApp(App[int]):
    TITLE = "perptui"
    CSS_PATH: ClassVar[Any] = theme_css_paths()
    COMMANDS: ClassVar = App.COMMANDS | {MonitorCommands}

    BINDINGS: ClassVar[Any] = keymap.bindings()

    def __init__(
        self,
        backend: Backend,
        *,
        hz: float = float(BY_KEY["ui_hz"].default),
        theme: str = "dark",
        clock: Callable[[], int] = wall_ms,
        load_funding_history: bool = True,
    ) -> None:
        super().__init__()
        self.backend = backend
        # The one range of the setting (perptui.config.settings), not a second copy.
        self.hz = float(BY_KEY["ui_hz"].kind.parse(hz))
        self.clock = clock
        self.paused = False
        self.focus_symbol: str | None = None
        self.focus_venue: str | None = None
        self.pending_focus: str | None = None  # a symbol just added: focus it when it shows
        self.pending_focus_venue: str | None = None  # ...on this venue (from the board)
        self.last_view: HubView | None = None
        self.ticks = 0
        self.samples = 0
        self.detail = "book"
        self.ladder_view = False
        self.compact = False
        self.load_funding_history = load_funding_history
        self.start_error = ""
        self.quitting = False
        self._history_timer: Timer | None = None
        # set on mount; panels are queried there, not on modals
        self.main_screen: Screen[Any] = None  # type: ignore[assignment]  # set before any use, in on_mount
        self._panels: list[Panel] = []
        self._last_fanout: tuple[int, int] | None = None
        self._history_loaded: dict[str, float] = {}
        self._history_seen = 0
        self.register_theme(DARK)
        self.register_theme(LIGHT)
        self.initial_theme = theme if theme in THEME_NAMES else "dark"
        self.theme = f"perptui-{self.initial_theme}"

    def get_default_screen(self) -> Screen:
        # Partial repaints draw only the widgets and rows they touch (ui/lines.py).
        return CroppingScreen(id="_default")

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield TitleBar(mode=self.backend.mode, id="titlebar")
        with Vertical(id="main"):
            with Horizontal(id="row-top"):
                wl = Watchlist(id="watchlist")
                wl.border_title = "Watchlist"
                yield wl
                book = BookPanel(id="book", classes="detail")
                book.border_title = "Order book"
                yield book
            with Horizontal(id="row-mid"):
                chart = ChartPanel(id="chart", classes="detail")
                chart.border_title = "Price · imbalance · spread"
                yield chart
                fund = FundingPanel(id="funding", classes="detail")
                fund.border_title = "Funding"
                yield fund
            sig = SignalsPanel(id="signals", classes="detail")
            sig.border_title = "Signals"
            yield sig
        yield HealthBar(id="health")
        yield Footer()

    @property
    def watchlist(self) -> Watchlist:
        return self._watchlist

    def panels(self) -> list[Panel]:
        return self._panels

    def q(self, selector: str):
        """Query the main screen (modals may be on top of it)."""
        return self.main_screen.query_one(selector)

    async def on_mount(self) -> None:
        self.main_screen = self.screen
        self._panels = list(self.main_screen.query(Panel))
        # Held once: the clock may fire while the app tears down, when a DOM query
        # would find nothing.
        self._watchlist = self.main_screen.query_one(Watchlist)
        self._health = self.main_screen.query_one(HealthBar)
        self._funding = self.main_screen.query_one(FundingPanel)
        self.watchlist.focus()
        self._apply_layout(self.size.width, self.size.height)
        # Start workers without awaiting venues: the app must open even when none answer.
        self.run_worker(self._start_backend(), name="engine-start", group="engine")
        if self.load_funding_history and self.backend.db_path is not None:
            self._warm_up_readers()
        self.tick()
        self.set_interval(1.0 / self.hz, self.tick, name="ui-clock")

    async def _start_backend(self) -> None:
        try:
            await self.backend.start()
        except Exception as exc:  # show it; the app stays usable (e.g. to quit cleanly)
            self.start_error = f"engine did not start: {type(exc).__name__}: {exc}"
            self.notify(self.start_error, severity="error", timeout=15)

    def on_resize(self, event) -> None:
        if self.main_screen is None:
            return
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.compact = compact
        main = self.q("#main")
        main.set_class(compact, "-compact")
        # The ladder view (`b`): the book panel alone on the whole main area, so an
        # 80x24 terminal shows 8+ levels a side and 120x40 15+.
        main.set_class(self.ladder_view, "-ladder")
        shown = "book" if self.ladder_view else self.detail
        for name in DETAIL_PANELS:
            self.q(f"#{name}").set_class(name == shown, "-shown")
        self.q("#row-top").set_class(shown == "book", "-grow")
        self.q("#row-mid").set_class(self.detail not in ("chart", "funding"), "-empty")
        self._last_fanout = None  # panels that appear must paint at once

    # -------------------------------------------------------------- UI clock
    def tick(self) -> None:
        """One UI frame: sample the hub and fan the frozen view out to shown panels."""
        self.ticks += 1
        if self.paused:
            return
        now = self.clock()
        hub = self.backend.hub
        # The focus market's book is measured every frame, the rest about once a
        # second (their watchlist rows repaint at 1 Hz; the focus symbol's other
        # venues are only watchlist rows and funding figures): see Hub.sample.
        # Copying and measuring three deep books a frame instead of one was a
        # quarter of the UI's CPU in the UI bench.
        hot = None
        if self.focus_symbol is not None and self.focus_venue is not None:
            hot = {(self.focus_venue, self.focus_symbol)}
        view = hub.sample(now, hot=hot)
        self.samples += 1
        self.last_view = view
        stats = self.backend.db_stats()
        health = self._health
        health.set_db(None if stats is None else stats[0], 0 if stats is None else stats[1])
        health.hint = self.start_error or self.backend.hint(view)
        if self.focus_symbol is not None and self.backend.db_path is not None:
            seen, self._history_seen = self._history_seen, self.backend.history_version
            # Throttled to once a minute, unless the stored history just changed.
            self.refresh_funding_history(self.focus_symbol, force=seen != self._history_seen)
        key = (id(view), now // 1000)
        if key == self._last_fanout and stats is None:
            return
        self._last_fanout = key
        self.fan_out(view, now)

    def fan_out(self, view: HubView, now: int) -> None:
        wl = self.watchlist
        wl.update_view(view, now)
        if self.pending_focus is not None:
            if self._focus_symbol_row(self.pending_focus):
                self.pending_focus = None
        if self.focus_symbol is None or (self.focus_venue, self.focus_symbol) not in view.markets:
            fk = wl.focus_key()
            if fk is not None:
                self._set_focus(*fk)
        for panel in self.panels():
            if panel.display and panel.parent is not None and panel.parent.display:
                panel.update_view(view, now)

    # ------------------------------------------------------------------ focus
    @on(Watchlist.FocusChanged)
    def _focus_changed(self, event: Watchlist.FocusChanged) -> None:
        self._set_focus(event.symbol, event.venue)

    def _set_focus(self, symbol: str, venue: str) -> None:
        changed_symbol = symbol != self.focus_symbol
        self.focus_symbol, self.focus_venue = symbol, venue
        for panel in self.panels():
            panel.set_focus_market(symbol, venue)
        if self.last_view is not None:
            # Repaint the focus-dependent panels now, not at the next tick: keys feel instant.
            now = self.clock()
            for panel in self.panels():
                if panel.display:
                    panel.update_view(self.last_view, now)
        if changed_symbol and (not self.load_funding_history or self.backend.db_path is None):
            self.refresh_funding_history(symbol)  # no I/O: just says logging is off
        elif changed_symbol:
            # Debounced: scrolling through rows must not start a DB read per row
            # (a pandas read in a thread still takes the GIL from the key path).
            if self._history_timer is not None:
                self._history_timer.stop()
            self._history_timer = self.set_timer(
                HISTORY_DEBOUNCE_S, lambda: self.refresh_funding_history(symbol)
            )

    def _focus_symbol_row(self, symbol: str) -> bool:
        wl = self.watchlist
        venues = [v for s, v in wl.keys() if s == symbol]
        if not venues:
            return False
        wanted = self.pending_focus_venue or self.focus_venue
        venue = wanted if wanted in venues else venues[0]
        if wanted in venues:
            self.pending_focus_venue = None
        return wl.select_key(symbol, venue)

    # ------------------------------------------------------ funding history
    def refresh_funding_history(self, symbol: str, force: bool = False) -> None:
        if not self.load_funding_history or self.backend.db_path is None:
            self._funding.set_history(symbol, {}, "logging off: no DB history")
            return
        last = self._history_loaded.get(symbol, 0.0)
        if not force and time.monotonic() - last < FUNDING_HISTORY_REFRESH_S:
            return
        self._history_loaded[symbol] = time.monotonic()
        self._load_history(symbol, self.backend.db_path)

    @work(thread=True, group="warm-up")
    def _warm_up_readers(self) -> None:
        """Import pandas and the readers at start, not on the first focus change."""
        import perptui.store.read  # noqa: F401

    @work(thread=True, exclusive=True, group="funding-history")
    def _load_history(self, symbol: str, db_path: str) -> None:
        """Read settled funding from SQLite in a thread: never on the event loop."""
        history, note = load_funding_history(db_path, symbol)
        self.call_from_thread(self._funding.set_history, symbol, history, note)

    # ---------------------------------------------------------------- actions
    def action_cursor(self, step: int) -> None:
        wl = self.watchlist
        if wl.row_count:
            wl.move_cursor(row=max(0, min(wl.row_count - 1, wl.cursor_row + step)), animate=False)

    def action_jump(self, index: int) -> None:
        self.watchlist.select_index(index)

    def action_venue(self, step: int) -> None:
        if self.focus_symbol is None:
            return
        wl = self.watchlist
        venues = [v for s, v in wl.keys() if s == self.focus_symbol]
        if len(venues) < 2 or self.focus_venue not in venues:
            return
        nxt = venues[(venues.index(self.focus_venue) + step) % len(venues)]
        wl.select_key(self.focus_symbol, nxt)

    def action_search(self) -> None:
        watched = [s for s, _ in self.watchlist.keys()]
        candidates = list(dict.fromkeys([*watched, *sorted(self.backend.available_symbols())]))
        self.push_screen(
            SymbolSearch(candidates, "Go to symbol (adds it if not watched)"), self._go_to
        )

    def _go_to(self, symbol: str | None) -> None:
        if not symbol:
            return
        if not self._focus_symbol_row(symbol):
            self.pending_focus = symbol
            self.run_worker(self.backend.add_symbol(symbol), group="symbols")

    def action_add_symbol(self) -> None:
        watched = {s for s, _ in self.watchlist.keys()}
        candidates = [s for s in sorted(self.backend.available_symbols()) if s not in watched]
        self.push_screen(SymbolSearch(candidates, "Add symbol"), self._add)

    def _add(self, symbol: str | None) -> None:
        if symbol:
            self.pending_focus = symbol
            self.run_worker(self.backend.add_symbol(symbol), group="symbols")
            self.notify(f"added {symbol}", timeout=2)

    def action_remove_symbol(self) -> None:
        symbol = self.focus_symbol
        if symbol is None:
            return
        self.focus_symbol = None
        self.run_worker(self.backend.remove_symbol(symbol), group="symbols")
        self.notify(f"removed {symbol}", timeout=2)

    def action_pause(self) -> None:
        self.paused = not self.paused
        title = self.main_screen.query_one(TitleBar)
        title.paused = self.paused
        title.update_view(self.last_view, self.clock()) if self.last_view else title.refresh()

    def action_toggle_theme(self) -> None:
        self.theme = "perptui-light" if self.theme == "perptui-dark" else "perptui-dark"

    def action_next_panel(self) -> None:
        self.ladder_view = False
        i = DETAIL_PANELS.index(self.detail)
        self.detail = DETAIL_PANELS[(i + 1) % len(DETAIL_PANELS)]
        self._apply_layout(self.size.width, self.size.height)
        if self.last_view is not None:
            self.fan_out(self.last_view, self.clock())

    def action_ladder(self) -> None:
        """The ladder on its own, or back to the layout shown before."""
        self.ladder_view = not self.ladder_view
        self._apply_layout(self.size.width, self.size.height)
        if self.last_view is not None:
            self.fan_out(self.last_view, self.clock())

    def action_group(self, direction: int) -> None:
        """Coarser / finer price buckets in the ladder."""
        step = self.q("#book").regroup(direction)
        self.notify(f"ladder: {step} tick{'s' if step > 1 else ''} a row", timeout=1.5)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_funding_board(self) -> None:
        from perptui.ui.screens.board import BoardScreen

        if isinstance(self.screen, BoardScreen):
            return
        self.push_screen(BoardScreen(self._board_state), self._from_board)

    def _board_state(self) -> object:
        board = getattr(self.backend, "board", None)
        return None if board is None else board.state

    def _from_board(self, chosen: tuple[str, str] | None) -> None:
        """A board row was chosen: watch that market (if not yet) and focus its venue."""
        if not chosen:
            return
        symbol, venue = chosen
        if (symbol, venue) in set(self.watchlist.keys()):
            self.watchlist.select_key(symbol, venue)
            return
        self.pending_focus = symbol
        self.pending_focus_venue = venue
        self.run_worker(self.backend.add_symbol(symbol), group="symbols")
        self.notify(f"watching {symbol}", timeout=2)

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit also flush before leaving."""
        await self.action_quit_monitor()

    async def action_quit_monitor(self) -> None:
        """Stop workers and flush every queued row to the DB before leaving."""
        if self.quitting:
            return
        self.quitting = True
        self.paused = True
        self.notify("flushing the DB writer…", timeout=5)
        try:
            await self.backend.stop()
        finally:
            self.exit(0)


def load_funding_history(
    db_path: str, symbol: str, limit: int = 200
) -> tuple[Mapping[str, Sequence[tuple[int, float]]], str]:
    """Funding per venue for `symbol` from the DB (blocking; call from a thread).

    Settled history (backfill/collect) when the DB has it, else the live
    observations this monitor logged; the returned note says which.
    """
    try:
        from perptui.store import load_funding

        df = load_funding(db_path, symbol=symbol, kind="settled")
        note = "settled"
        if df is None or len(df) == 0:
            df = load_funding(db_path, symbol=symbol, kind="live")
            note = "live obs. (no settled rows; see perptui backfill)"
    except Exception as exc:  # a missing/locked DB must not take the monitor down
        return {}, f"history unavailable: {type(exc).__name__}"
    if df is None or len(df) == 0:
        return {}, "no rows stored yet (perptui backfill)"
    out: dict[str, list[tuple[int, float]]] = {}
    for ex, group in df.groupby("exchange"):
        g = group.sort_values("timestamp").tail(limit)
        out[str(ex)] = [
            (_ms(t), float(r))
            for t, r in zip(g["timestamp"], g["funding_rate"], strict=True)
            if r == r  # skip NaN
        ]
    return out, note


def _ms(t: object) -> int:
    value = getattr(t, "value", None)  # pandas Timestamp: ns since the epoch
    if value is not None:
        return int(value // 1_000_000)
    assert isinstance(t, int | float), t
    return int(t)
