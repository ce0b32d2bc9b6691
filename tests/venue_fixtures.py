"""Helpers for venue tests: real ccxt clients whose only fake part is the transport.

`Transport` replaces `client.fetch` (the one method ccxt routes every REST call through),
so URL building, signing-free request params, response parsing and error mapping all run
for real. It serves recorded payloads by URL path, or computes a response from the
request's query (synthetic history pages in the venue's own wire format).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from perptui.venues import make_venue
from perptui.venues.ccxt_venue import CcxtVenue

Responder = Callable[[str, dict[str, str]], Any]


def load(fixtures_dir: Path, venue: str, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / venue / f"{name}.json").read_text())


def markets(fixtures_dir: Path, venue: str) -> list[dict[str, Any]]:
    return list(load(fixtures_dir, venue, "markets")["markets"].values())


def query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def path(url: str) -> str:
    return urlsplit(url).path


@dataclass
class Transport:
    """Stands in for `client.fetch`: routes by URL path, records every URL asked for."""

    routes: dict[str, Any | Responder] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)  # raised first, one per call

    async def __call__(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        self.calls.append(url)
        if self.errors:
            raise self.errors.pop(0)
        p = path(url)
        if p not in self.routes:
            raise AssertionError(f"unexpected request {method} {url}")
        route = self.routes[p]
        if callable(route):
            return route(url, query(url))
        return json.loads(json.dumps(route))  # a fresh copy: ccxt may mutate responses


def fixture_venue(
    exchange_id: str,
    market_list: list[dict[str, Any]],
    routes: dict[str, Any] | None = None,
    *,
    pro: bool = True,
    parse_raw: bool = False,
    book_path: str = "fast",
) -> tuple[CcxtVenue, Transport]:
    """make_venue(...) with markets set from a fixture and the transport replaced.

    `parse_raw`: the entries are raw exchange payloads for the client's parse_market.
    `book_path`: which streamed-book path binance/bybit/okx use ("fast" or "ccxt").
    """
    venue = make_venue(exchange_id, pro=pro, book_path=book_path)
    client = venue.client
    if parse_raw:
        market_list = [client.parse_market(m) for m in market_list]
    client.set_markets(market_list)
    transport = Transport(dict(routes or {}))
    # binance publishes non-default funding intervals separately; none are adjusted here
    transport.routes.setdefault("/fapi/v1/fundingInfo", [])
    client.fetch = transport
    return venue, transport


def recorded_route(fixture: dict[str, Any]) -> dict[str, Any]:
    return {path(fixture["request"]["url"]): fixture["httpResponse"]}
