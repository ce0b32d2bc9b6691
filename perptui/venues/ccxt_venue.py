"""The generic Venue over any ccxt exchange with swap markets.

Everything venue-specific is a class attribute or a small hook that subclasses in
binance.py / bybit.py / okx.py override; this class must keep working for an exchange
id it has never heard of.  It is assembled from one layer per concern:

- `ccxt_client`: the client, its options, the retrying `call`, pacing;
- `ccxt_markets`: the perpetual listing and symbol resolution;
- `ccxt_books` / `ccxt_streams`: REST and streamed books, the engine's stream operations;
- `ccxt_quotes`: funding rate, open interest, ticker of one market;
- `ccxt_board`: the market-wide funding board;
- `ccxt_history`: paged funding and candle history.
"""

from __future__ import annotations

from perptui.venues.ccxt_board import CcxtBoard
from perptui.venues.ccxt_history import CcxtHistory
from perptui.venues.ccxt_streams import CcxtStreams


class CcxtVenue(CcxtStreams, CcxtBoard, CcxtHistory):
    """A Venue backed by one ccxt (pro or async_support) client.

    Class attributes (override in subclasses, cryptofeed style):

    - ``venue_id`` / ``ccxt_class``: perptui's id and the ccxt class to instantiate.
    - ``pro_client_class``: the validating ccxt.pro subclass used for streaming.
    - ``ccxt_options``: merged into the client's ``options`` (market type, categories).
    - ``page_limits`` / ``history_caps_ms``: see `Venue`.
    - ``ascending_history``: history kinds for which the venue returns the *oldest* rows
      from `since` when a range holds more than a page (others get fixed windows).
    - ``perp_subtypes``: which perpetuals count ("linear", "inverse").
    - ``default_funding_interval_hours``: the venue's documented default, if any.
    - ``open_interest_params``: extra params for fetchOpenInterest.
    - ``max_retries`` / ``retry_base_s`` / ``retry_max_s``: transient-error backoff.
    - ``book_band`` / ``max_book_levels``: how deep a streamed book is converted.
    - ``board_*``: which bulk endpoints the funding board asks (see `ccxt_board`).
    """
