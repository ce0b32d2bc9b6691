"""Alerts reach a real loopback HTTP receiver (and a real command); failures are retried
and logged; the policy's thresholds, quiet hours and rate limits hold; the engine never
waits on a receiver."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from perptui.core.alert_policy import AlertGate, AlertPolicy, in_quiet_hours
from perptui.core.board import CarryCosts
from perptui.core.model import BoardFetch, MarketQuote, Signal
from perptui.engine.alerts import Alerts, AlertSettings
from perptui.engine.board import Board, BoardSettings

T0 = 1_780_000_000_000 - 1_780_000_000_000 % 86_400_000 + 12 * 3_600_000  # 12:00 UTC


def sig(kind: str = "funding_arb", symbol: str = "X/USDT:USDT", value: float = 0.002) -> Signal:
    return Signal(kind, "binance", symbol, T0, "short perp / long spot", value, 0.001, {"a": 1})


class Receiver:
    """A loopback webhook receiver that can be told to fail or hang."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail_next = 0
        self.hang = asyncio.Event()
        self.hang.set()
        self.calls = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        await self.hang.wait()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503, text="busy")
        self.bodies.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, f"http://127.0.0.1:{port}/hook"
    rec.hang.set()
    await runner.cleanup()


async def wait_for(pred, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0.01)


def settings(url: str | None = None, command: str | None = None, **policy) -> AlertSettings:
    return AlertSettings(
        webhook_url=url, command=command, policy=AlertPolicy(**policy), retry_base_s=0.01
    )


async def test_board_signal_reaches_the_webhook_as_json(receiver) -> None:
    rec, url = receiver
    alerts = await Alerts(settings(url), clock_ms=lambda: T0).start()
    try:
        board = Board([], alerts=alerts, settings=BoardSettings(costs=CarryCosts()),
                      clock_ms=lambda: T0)  # fmt: skip
        hot = MarketQuote("binance", "HOT/USDT:USDT", "HOT", T0, 0.003, 8.0, T0 + 3_600_000)
        fired = board.apply(BoardFetch("binance", (hot,), requests=1, bulk=True))
        assert [s.kind for s in fired] == ["funding_arb"]
        await alerts.flush()
        [body] = rec.bodies
        assert body["kind"] == "funding_arb" and body["symbol"] == "HOT/USDT:USDT"
        assert body["value"] == pytest.approx(0.003) and body["inputs"]["funding_rate"] == 0.003
        assert "short perp" in body["text"]
        # same episode on the next refresh: no second alert
        board.apply(BoardFetch("binance", (hot,), requests=1, bulk=True))
        await alerts.flush()
        assert len(rec.bodies) == 1 and alerts.sent["webhook"] == 1
    finally:
        await alerts.stop()


async def test_failures_are_retried_then_logged(receiver, caplog) -> None:
    rec, url = receiver
    rec.fail_next = 2
    alerts = await Alerts(settings(url, min_interval_s=0), clock_ms=lambda: T0).start()
    try:
        assert alerts.notify(sig())
        await alerts.flush()
        assert len(rec.bodies) == 1 and rec.calls == 3 and alerts.attempts_failed == 2
        rec.fail_next = 10  # more than 1 + 3 retries: given up, logged
        assert alerts.notify(sig(symbol="Y/USDT:USDT"))
        await alerts.flush()
        assert alerts.failed["webhook"] == 1 and "HTTP 503" in (alerts.last_error or "")
        assert any("giving up" in r.message for r in caplog.records)
    finally:
        await alerts.stop()


async def test_notify_never_blocks_on_a_hung_receiver(receiver) -> None:
    rec, url = receiver
    rec.hang.clear()
    s = AlertSettings(webhook_url=url, policy=AlertPolicy(min_interval_s=0, max_per_hour=1000),
                      queue_size=5, timeout_s=30)  # fmt: skip
    alerts = await Alerts(s, clock_ms=lambda: T0).start()
    try:
        started = time.perf_counter()
        results = [alerts.notify(sig(symbol=f"S{i}/USDT:USDT")) for i in range(20)]
        assert time.perf_counter() - started < 0.05
        assert results.count(True) <= 6 and alerts.dropped >= 14  # 1 in flight + 5 queued
        await wait_for(lambda: rec.calls == 1)
        rec.hang.set()
        await alerts.flush()
        assert len(rec.bodies) == results.count(True)
    finally:
        await alerts.stop()


async def test_command_gets_the_alert_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "alert.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import os, sys\n"
        f"open({str(out)!r}, 'w').write(sys.stdin.read() + '\\n' + os.environ['PERPTUI_ALERT'])\n"
    )
    failing = tmp_path / "fail.py"
    failing.write_text("import sys; sys.stderr.write('nope'); sys.exit(3)\n")
    alerts = await Alerts(settings(command=f"{sys.executable} {script}"),
                          clock_ms=lambda: T0).start()  # fmt: skip
    bad = await Alerts(settings(command=f"{sys.executable} {failing}"),
                       clock_ms=lambda: T0).start()  # fmt: skip
    try:
        assert alerts.notify(sig("divergence", value=0.0009))
        assert bad.notify(sig())
        await alerts.flush()
        await bad.flush()
        stdin, env = out.read_text().split("\n")
        assert json.loads(stdin) == json.loads(env)
        assert json.loads(stdin)["kind"] == "divergence"
        assert bad.failed["command"] == 1 and "exit 3 nope" in (bad.last_error or "")
    finally:
        await alerts.stop()
        await bad.stop()


def test_policy_thresholds_quiet_hours_and_rate_limits() -> None:
    gate = AlertGate(AlertPolicy(rules={"funding_arb": 0.005, "divergence": None},
                                 max_per_hour=2, min_interval_s=600))  # fmt: skip
    assert gate.decide(sig("imbalance"), T0) == "rule"
    assert gate.decide(sig(value=0.004), T0) == "threshold"
    assert gate.decide(sig(value=-0.006), T0) is None
    assert gate.decide(sig(value=0.006), T0 + 1000) == "repeat"
    assert gate.decide(sig(value=0.006), T0 + 600_000) is None  # interval passed
    assert gate.decide(sig("divergence", "Z/USDT:USDT"), T0 + 600_001) == "rate"  # 2 per hour
    assert gate.decide(sig("divergence", "Z/USDT:USDT"), T0 + 3_600_000) is None
    night = AlertGate(AlertPolicy(quiet_hours=(22, 7)))
    assert night.decide(sig(), T0 + 11 * 3_600_000) == "quiet"  # 23:00 UTC
    assert night.decide(sig(), T0 - 6 * 3_600_000) == "quiet"  # 06:00
    assert night.decide(sig(), T0 - 5 * 3_600_000) is None  # 07:00
    assert in_quiet_hours(T0, (12, 13)) and not in_quiet_hours(T0, (13, 12))
    with pytest.raises(ValueError):
        AlertPolicy(quiet_hours=(25, 3))
