"""The monitor's compositor (perptui.ui.lines.CroppingCompositor) cuts the same
chops as Textual's for every row and column an update repaints."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from textual._compositor import Compositor
from textual.geometry import Region
from ui_support import SYMBOLS, FrozenClock, StaticBackend, sample_hub

from perptui.core.model import BookSnapshot
from perptui.ui.app import MonitorApp
from perptui.ui.lines import CroppingCompositor


def _segments(strip) -> list:
    return None if strip is None else list(strip)


def _compare(comp: CroppingCompositor, crop: Region, rows: set[int]) -> int:
    """Chops of both compositors over the repainted rows; returns cells compared."""
    ours = comp._render_chops(crop, rows.__contains__)
    stock = Compositor._render_chops(comp, crop, rows.__contains__)
    compared = 0
    for y in rows:
        cuts = comp.cuts[y]
        for cut, end in pairwise(cuts):
            if end <= crop.x or cut >= crop.right:
                continue  # outside the update: never written to the terminal
            assert _segments(ours[y][cut]) == _segments(stock[y][cut]), (y, cut, crop)
            compared += end - cut
    return compared


def _move_best_bid(app: MonitorApp, hub, clock: FrozenClock, more: float) -> None:
    """A new book for the focus market: the best bid's size grows by ``more``."""
    m = app.last_view.market("binance", SYMBOLS[0])
    bids = ((m.bids[0][0], m.bids[0][1] + more), *m.bids[1:])
    hub.set_book(BookSnapshot("binance", SYMBOLS[0], clock.t, bids, m.asks))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_partial_updates_match_textuals_compositor(size) -> None:
    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = MonitorApp(StaticBackend(hub), clock=clock, load_funding_history=False)
    rng = random.Random(5)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        comp = app.screen._compositor
        assert isinstance(comp, CroppingCompositor)
        width, height = size
        compared = 0
        for step in range(6):
            _move_best_bid(app, hub, clock, step + 1)
            clock.advance(700)
            await pilot.press("j" if step % 2 else "k")
            await pilot.pause(0.1)
            # Each widget's own area, then random areas spanning several widgets.
            areas = [region.intersection(clip) for region, clip in comp.visible_widgets.values()]
            for _ in range(8):
                x, y = rng.randrange(width), rng.randrange(height)
                w, h = rng.randint(1, width - x), rng.randint(1, height - y)
                areas.append(Region(x, y, w, h))
            for crop in areas:
                if not crop:
                    continue
                lines = list(crop.line_range)
                rows = set(rng.sample(lines, k=rng.randint(1, len(lines))))
                compared += _compare(comp, crop, rows)
        assert compared > width * height  # the comparison covered real rows


@pytest.mark.parametrize("theme", ["dark", "light"])
async def test_framed_rows_match_textuals_styling(theme) -> None:
    """Panels frame their content rows themselves (lines.FramedRows): each row, with
    its border edges and the app's filters, is the strip Textual's styling makes."""
    from textual.widget import Widget

    from perptui.ui.widgets.base import Panel

    clock = FrozenClock()
    hub = sample_hub(clock=clock)
    app = MonitorApp(StaticBackend(hub), clock=clock, load_funding_history=False, theme=theme)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        framed = 0
        for step in range(3):
            _move_best_bid(app, hub, clock, step + 1)
            clock.advance(1100)
            await pilot.pause(0.2)
            for panel in app.screen.query(Panel):
                if not panel.display or not panel.region:
                    continue
                width, height = panel.region.size
                for crop in (Region(0, 0, width, height), Region(3, 1, width - 5, height - 2)):
                    ours = panel.render_lines(crop)
                    panel._styles_cache.clear()
                    stock = Widget.render_lines(panel, crop)
                    assert [list(s) for s in ours] == [list(s) for s in stock], panel.id
                framed += panel._frame() is not None
        assert framed >= 3 * 4  # book, chart, funding and signals take the framed path
