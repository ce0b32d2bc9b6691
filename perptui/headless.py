"""Headless run: the engine (and, with ``emulator=True``, the built-in emulator) plus a
compact live summary on the terminal.

This is what ``perptui --headless`` (and ``--demo --headless``) runs: the same live
path as the monitor - venues, workers, hub, batched writer, all built by
`perptui.stack` - with a rich table refreshed every couple of seconds instead of the UI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from perptui import stack
from perptui.core import funding as fmath
from perptui.engine.engine import Engine
from perptui.engine.hub import Hub
from perptui.engine.views import HubView

if TYPE_CHECKING:
    from perptui.config import Config

log = logging.getLogger(__name__)

STATE_STYLE = {
    "connected": "green",
    "connecting": "cyan",
    "reconnecting": "yellow",
    "stale": "yellow",
    "down": "red",
}


def _pct(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x * 100:+.{digits}f}%"


def _num(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.{digits}f}"
    if abs(x) >= 1:
        return f"{x:.{max(digits, 2)}f}"
    return f"{x:.6g}"


def summary(view: HubView, writer: Any = None, *, title: str = "perptui") -> Group:
    """One table per venue x symbol plus a health line per venue (pure: view in, renderable out)."""
    # Compact enough for 80 columns: SSH sessions and log files are often that narrow.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        expand=False,
        caption="* stale book   ~ funding interval unknown, 8 h assumed",
        caption_justify="left",
    )
    for name, justify in (
        ("symbol", "left"),
        ("venue", "left"),
        ("mid", "right"),
        ("bps", "right"),
        ("imb1%", "right"),
        ("funding", "right"),
        ("ann.", "right"),
        ("next", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]  # justify: a str from the column table, one of rich's names
    for symbol in view.symbols:
        for venue in view.venues:
            m = view.market(venue, symbol)
            if m is None:
                continue
            met = m.metrics
            countdown = fmath.countdown_ms(m.next_funding_time, view.now_ms)
            ann = "-" if m.annualized is None else f"{m.annualized * 100:+.1f}%"
            if m.interval_assumed and m.annualized is not None:
                ann += "~"
            table.add_row(
                symbol.removesuffix(":USDT"),
                Text(venue + "*", style="yellow") if m.stale else Text(venue),
                _num(met.mid if met else None),
                "-" if met is None or met.spread_bps is None else f"{met.spread_bps:.2f}",
                "-" if met is None else f"{met.imbalance:+.2f}",
                _pct(m.funding_rate),
                ann,
                fmath.format_countdown(countdown) if countdown is not None else "-",
            )
    lines: list[Any] = [table]
    for venue in view.venues:
        h = view.health.get(venue)
        if h is None:
            continue
        line = Text(f"{venue:<10}")
        line.append(f"{h.state:<13}", style=STATE_STYLE.get(h.state, ""))
        age = "-" if h.age_s is None else f"{h.age_s:.1f}s"
        line.append(
            f" age {age:>6}  {h.msgs_per_s:7.1f} msg/s  resyncs {h.resyncs}  "
            f"reconnects {h.reconnects}" + (f"  malformed {h.malformed}" if h.malformed else "")
        )
        if h.last_error and h.state != "connected":
            line.append(f"  {h.last_error[:80]}", style="dim")
        lines.append(line)
        for note in h.notes:
            lines.append(Text(f"{'':<10}note: {note}", style="dim"))
    if writer is not None:
        lines.append(
            Text(
                f"db rows {getattr(writer, 'rows_written', 0):,}  "
                f"queue {getattr(writer, 'queue_depth', 0):,}",
                style="dim",
            )
        )
    if view.signals:
        recent = view.signals[-3:]
        for s in recent:
            lines.append(
                Text(
                    f"signal {s.kind} {s.exchange} {s.symbol}: {s.direction} "
                    f"({s.value:+.5f} vs {s.threshold:g})",
                    style="magenta",
                )
            )
    return Group(*lines)


async def run_headless(
    config: Config,
    emulator: bool = False,
    duration_s: float | None = None,
    *,
    demo: bool | None = None,
    console: Console | None = None,
    refresh_s: float = 2.0,
    seed: int = 0,
) -> int:
    """Run engine (+ emulator) with a live summary until ``duration_s`` or Ctrl-C.

    ``demo`` is an alias of ``emulator``.  A coroutine: from synchronous code use
    :func:`main_sync` (or ``asyncio.run``).  Always stops cleanly: the engine, then
    the writer (flushing every accepted row), then the emulator.  Returns the exit
    code.
    """
    if demo is not None:
        emulator = demo
    console = console or Console()
    emu = None
    writer = None
    engine: Engine | None = None
    try:
        if emulator:
            emu = stack.new_emulator(config.venues, seed)
            port = await emu.start(0)
            console.print(f"[dim]emulator listening on 127.0.0.1:{port}[/dim]")
        venues = await stack.make_venues(config.venues, config, emulator=emu)
        writer = await stack.open_writer(config)
        if writer is not None:
            console.print(f"[dim]logging to {config.db_path}[/dim]")
        hub = Hub(config.symbols, [v.id for v in venues])
        engine = stack.build_engine(config, venues, hub, writer)
        await engine.start()
        title = "perptui demo (emulator)" if emulator else "perptui (headless)"
        await _show(console, engine, writer, title, duration_s, refresh_s)
    finally:
        if engine is not None:
            await engine.stop()
        if writer is not None:
            await writer.close()
            console.print(f"[dim]db rows written: {writer.rows_written:,}[/dim]")
        if emu is not None:
            await emu.stop()
    return 0


async def _show(
    console: Console,
    engine: Engine,
    writer: Any,
    title: str,
    duration_s: float | None,
    refresh_s: float,
) -> None:
    deadline = None if duration_s is None else time.monotonic() + duration_s

    def render() -> Group:
        view = engine.hub.sample()
        hint = engine.hint()
        group = summary(view, writer, title=title)
        if hint:
            group.renderables.append(Text(hint, style="bold yellow"))
        return group

    def remaining() -> float:
        return (
            refresh_s if deadline is None else max(0.0, min(refresh_s, deadline - time.monotonic()))
        )

    if console.is_terminal:
        with Live(render(), console=console, auto_refresh=False, transient=False) as live:
            while deadline is None or time.monotonic() < deadline:
                await asyncio.sleep(remaining())
                live.update(render(), refresh=True)
    else:
        # Piped / logged: print a fresh summary each period instead of redrawing.
        while deadline is None or time.monotonic() < deadline:
            await asyncio.sleep(remaining())
            console.print(render())


def main_sync(
    config: Config, emulator: bool = False, duration_s: float | None = None, *, seed: int = 0
) -> int:
    """Blocking entry point for the CLI; Ctrl-C ends the run cleanly (exit 0)."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_headless(config, emulator, duration_s, seed=seed))
    return 0


__all__: Sequence[str] = ("main_sync", "run_headless", "summary")
