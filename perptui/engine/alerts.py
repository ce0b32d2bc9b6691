"""Alerts outside the terminal: a webhook (JSON POST) and/or a command per signal.

``notify`` is called from the engine's loop and never waits: it applies the policy
(``perptui.core.alert_policy``) and puts the alert on a bounded queue; one task
delivers them, retrying failures with doubling delays, and logs what failed.  A stuck
receiver delays only later alerts (and, once the queue is full, drops them, counted),
never the engine.

The command gets the alert JSON on stdin and in ``$PERPTUI_ALERT``; it is run without
a shell (``shlex.split``), so nothing in a signal can inject shell syntax.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from perptui.core.alert_policy import AlertGate, AlertPolicy
from perptui.core.model import Signal

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    webhook_url: str | None = None
    command: str | None = None
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    retries: int = 3  # attempts after the first, per channel
    retry_base_s: float = 1.0
    timeout_s: float = 5.0
    queue_size: int = 1000

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or self.command)


def alert_payload(sig: Signal) -> dict[str, Any]:
    """The JSON an alert carries: the signal with its inputs and one readable line."""
    body = asdict(sig)
    body["text"] = (
        f"{sig.kind} {sig.symbol} on {sig.exchange}: {sig.direction} "
        f"(value {sig.value:.6g} > threshold {sig.threshold:.6g})"
    )
    return body


class Alerts:
    def __init__(
        self,
        settings: AlertSettings,
        *,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.gate = AlertGate(settings.policy)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(settings.queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: Any = None
        self.sent: Counter[str] = Counter()  # per channel: webhook / command
        self.failed: Counter[str] = Counter()  # alerts given up on, per channel
        self.attempts_failed = 0
        self.suppressed: Counter[str] = Counter()  # by reason (see AlertGate.decide)
        self.dropped = 0  # queue full
        self.last_error: str | None = None

    # ------------------------------------------------------------------ intake

    def notify(self, sig: Signal) -> bool:
        """Queue an alert for ``sig`` if the policy lets it through; never blocks."""
        if not self.settings.enabled:
            return False
        why = self.gate.decide(sig, self._clock_ms())
        if why is not None:
            self.suppressed[why] += 1
            return False
        try:
            self._queue.put_nowait(alert_payload(sig))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("alerts: queue full, dropped %s %s", sig.kind, sig.symbol)
            return False
        return True

    # ------------------------------------------------------------------ delivery

    async def start(self) -> Alerts:
        if self._task is None and self.settings.enabled:
            self._task = asyncio.create_task(self._run(), name="alerts")
        return self

    async def stop(self, drain_s: float = 2.0) -> None:
        """Deliver what is queued for up to ``drain_s``, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def flush(self) -> None:
        """Wait until every queued alert was delivered or given up on (tests)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                if self.settings.webhook_url:
                    await self._deliver("webhook", body, self._post)
                if self.settings.command:
                    await self._deliver("command", body, self._run_command)
            finally:
                self._queue.task_done()

    async def _deliver(self, channel: str, body: dict[str, Any], send: Any) -> None:
        s = self.settings
        for attempt in range(s.retries + 1):
            try:
                await asyncio.wait_for(send(body), s.timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the receiver: log, back off, retry
                self.attempts_failed += 1
                self.last_error = f"{channel}: {type(exc).__name__}: {exc}"[:300]
                last = attempt == s.retries
                log.warning(
                    "alerts: %s failed (%s)%s",
                    channel,
                    self.last_error,
                    "; giving up" if last else f"; retry {attempt + 1}/{s.retries}",
                )
                if last:
                    self.failed[channel] += 1
                    return
                await asyncio.sleep(s.retry_base_s * 2**attempt)
            else:
                self.sent[channel] += 1
                return

    async def _post(self, body: dict[str, Any]) -> None:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(self.settings.webhook_url, json=body) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"HTTP {resp.status}")

    async def _run_command(self, body: dict[str, Any]) -> None:
        text = json.dumps(body)
        argv = shlex.split(self.settings.command or "")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PERPTUI_ALERT": text},
        )
        try:
            _, err = await proc.communicate(text.encode())
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"exit {proc.returncode} {tail[0][:200]}")
