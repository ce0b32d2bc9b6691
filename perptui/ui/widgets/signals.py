"""Recent signals with their inputs; a new signal is highlighted on its first paint only."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text

from perptui.core.model import Signal
from perptui.ui import fmt
from perptui.ui.lines import Line, from_text
from perptui.ui.widgets.base import Panel

HIGHLIGHT_MS = 3000
KIND_LABEL = {"funding_arb": "ARB", "divergence": "DIV", "imbalance": "IMB"}


def describe_inputs(sig: Signal) -> str:
    parts = []
    for k, v in sig.inputs.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.6g}")
        else:
            parts.append(f"{k}={v}")
    return " ".join(parts)


class SignalsPanel(Panel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "signals--new",
        "signals--dim",
        "signals--title",
        "signals--kind",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen_total: int | None = None  # signals_total at the previous paint
        self.new_count = 0
        self.highlight_until = 0

    def inputs(self) -> object:
        if self.view is None:
            return None
        total = self.view.signals_total
        if self.seen_total is not None and total != self.seen_total:
            # Arrivals since the last paint: highlight them for HIGHLIGHT_MS, once.
            self.new_count = total - self.seen_total
            self.highlight_until = self.now_ms + HIGHLIGHT_MS
        self.seen_total = total
        highlighted = self.now_ms < self.highlight_until
        if not highlighted:
            self.new_count = 0
        return (total, highlighted)

    def update_chrome(self) -> None:
        if self.view is not None and self.view.signals:
            self.set_chrome(subtitle=f"{self.view.signals_total} total")

    def lines(self) -> list[Line]:
        return from_text(self.text())

    def text(self) -> Text:
        """The panel as one Rich ``Text`` (its rows, as ``render()`` gives them)."""
        s = self.component_style
        new, dim = s("signals--new", partial=True), s("signals--dim", partial=True)
        kind = s("signals--kind", partial=True)
        out = Text(no_wrap=True, overflow="crop")
        view = self.view
        if view is None or not view.signals:
            out.append("none yet", style=dim)
            return out
        rows = max(1, self.size.height)
        shown = list(reversed(view.signals))[:rows]
        for i, sig in enumerate(shown):
            if i:
                out.append("\n")
            style = new if i < self.new_count else ""
            clock = time.strftime("%H:%M:%S", time.gmtime(sig.timestamp / 1000))
            line = Text(style=style, no_wrap=True)
            line.append(f"{clock} ", style=dim if not style else "")
            line.append(f"{KIND_LABEL.get(sig.kind, sig.kind[:3].upper()):<4}", style=kind)
            line.append(f"{fmt.short_symbol(sig.symbol):<10} {sig.exchange:<14} ")
            line.append(f"{sig.direction}  ")
            line.append(f"{sig.value:+.4g} > {sig.threshold:.4g}  ")
            line.append(describe_inputs(sig), style=dim if not style else "")
            out.append_text(line)
        return out
