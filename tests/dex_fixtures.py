"""Recorded DEX payloads (README_dex.md) served to real ccxt clients by a fake transport.

Hyperliquid asks every question as ``POST /info`` with a JSON ``type``, so `BodyTransport`
routes on (path, body type) as well as on the path alone (the dYdX indexer's GETs). Only
``client.fetch`` is replaced: ccxt builds the request, maps errors and parses for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from perptui.venues import make_venue

Responder = Callable[[str, dict[str, str], Any], Any]


def load(fixtures_dir: Path, venue: str, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / venue / f"{name}.json").read_text())


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class BodyTransport:
    """Stands in for `client.fetch`; records (method, url, body) of every call."""

    routes: dict[Any, Any] = field(default_factory=dict)  # path or (path, type) -> payload
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # answered with every response
    client: Any = None

    async def __call__(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        parsed = json.loads(body) if isinstance(body, str) and body else body
        self.calls.append((method, url, parsed))
        p = urlsplit(url).path
        key: Any = p
        if isinstance(parsed, dict) and (p, parsed.get("type")) in self.routes:
            key = (p, parsed.get("type"))
        if key not in self.routes:
            raise AssertionError(f"unexpected request {method} {url} {parsed}")
        if self.client is not None:
            self.client.last_response_headers = dict(self.headers)
        route = self.routes[key]
        if callable(route):
            return route(url, query(url), parsed)
        return json.loads(json.dumps(route))

    def bodies(self) -> list[Any]:
        return [b for _, _, b in self.calls]

    def urls(self) -> list[str]:
        return [u for _, u, _ in self.calls]


def dex_venue(exchange_id: str, routes: dict[Any, Any], *, pro: bool = True) -> tuple[Any, Any]:
    venue = make_venue(exchange_id, pro=pro)
    transport = BodyTransport(dict(routes), client=venue.client)
    venue.client.fetch = transport
    return venue, transport


def hyperliquid_routes(fixtures_dir: Path, **extra: Any) -> dict[Any, Any]:
    meta = load(fixtures_dir, "hyperliquid", "metaAndAssetCtxs_testnet_142_perps")
    routes: dict[Any, Any] = {("/info", "metaAndAssetCtxs"): meta["httpResponse"]}
    routes.update({("/info", k): v for k, v in extra.items()})
    return routes


def predicted_fundings_doc_shape(hl: dict[str, Any]) -> list[Any]:
    """A ``predictedFundings`` answer in the documented shape (none was recorded, see
    README_dex.md): ``{coin: HlPerp data or None}``; every coin also gets a BinPerp entry
    (which the venue must not take for its own) and a ``null`` BybitPerp one."""
    out: list[Any] = []
    for coin, data in hl.items():
        entries: list[Any] = [
            ["BinPerp", {"fundingRate": "0.0001", "nextFundingTime": 1796126400000}]
        ]
        if data is not ...:
            entries.append(["HlPerp", data])
        entries.append(["BybitPerp", None])
        out.append([coin, entries])
    return out


def dydx_routes(fixtures_dir: Path, markets: str = "perpetual_markets_btc_eth_sol", **extra):
    m = load(fixtures_dir, "dydx", markets)
    routes: dict[Any, Any] = {"/v4/perpetualMarkets": m["httpResponse"]}
    routes.update(extra)
    return routes


class RecordedWs:
    """A loopback websocket that answers each subscribe with the next recorded script.

    ``scripts`` is a list of message lists: connection n (0-based) gets ``scripts[n]`` after
    its first text frame, then stays open (or is closed when ``close_after`` is set), so a
    reconnect/re-subscribe gets the next script. Only the socket is fake; ccxt.pro parses.
    """

    def __init__(self, scripts: list[list[Any]], close_after: bool = False) -> None:
        self.scripts = scripts
        self.close_after = close_after
        self.received: list[Any] = []
        self.connections = 0
        self._runner: Any = None
        self.url = ""

    async def start(self) -> str:
        from aiohttp import web

        async def handler(request: Any) -> Any:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            n = self.connections
            self.connections += 1
            async for msg in ws:
                self.received.append(json.loads(msg.data))
                for out in self.scripts[min(n, len(self.scripts) - 1)]:
                    await ws.send_str(json.dumps(out))
                if self.close_after:
                    await ws.close()
                    break
            return ws

        app = web.Application()
        app.router.add_get("/{tail:.*}", handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/ws"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
