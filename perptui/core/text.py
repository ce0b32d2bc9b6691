"""Text helpers shared by every layer: one-line, bounded messages. Pure, no I/O."""

from __future__ import annotations

ELLIPSIS = "…"


def one_line(text: object, limit: int = 160) -> str:
    """``text`` (an exception or anything) on one line, cut to ``limit`` characters.

    Venue errors are often whole JSON bodies with newlines; the health bar, the
    doctor table and CLI errors each have room for one short line, so whitespace
    runs collapse to one space and the tail is replaced by an ellipsis.
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - len(ELLIPSIS)] + ELLIPSIS


__all__ = ["ELLIPSIS", "one_line"]
