"""The emulator's two sources of determinism: its clock (real time unless a test freezes
it) and the seed hash every simulated path is drawn from."""

from __future__ import annotations

import time
import zlib


def stable_hash(*parts: object) -> int:
    """Process-independent hash (``hash()`` is salted per process)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


class Clock:
    """Epoch-ms clock: real time by default; tests freeze and advance it."""

    def __init__(self, frozen_ms: int | None = None) -> None:
        self._frozen: int | None = frozen_ms

    def now_ms(self) -> int:
        if self._frozen is not None:
            return self._frozen
        return int(time.time() * 1000)

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, at_ms: int | None = None) -> None:
        self._frozen = self.now_ms() if at_ms is None else int(at_ms)

    def advance(self, ms: int) -> None:
        if self._frozen is None:
            raise RuntimeError("advance() needs a frozen clock; call freeze() first")
        self._frozen += int(ms)

    def unfreeze(self) -> None:
        self._frozen = None
