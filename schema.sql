-- perptui SQLite schema (user_version 2).
--
-- This file is the whole current schema.  perptui.store.db applies it as
-- migration 1 inside one transaction and records the version in
-- PRAGMA user_version; later migrations live in db.py.  Every statement is
-- CREATE ... IF NOT EXISTS so applying it twice is harmless.
--
-- Conventions: times are epoch milliseconds (UTC), as ccxt gives them; prices
-- in the quote currency, amounts in base units, depths in quote notional.
-- Uniqueness is declared with named UNIQUE indexes rather than inline
-- constraints so that a database created by the seed script (same tables,
-- no constraints) can be given them by migration 1 without rebuilding tables.
-- created_at is when the row was written, in ms; julianday() keeps the
-- default working on SQLite builds older than 3.38 (no unixepoch()).

-- Funding observations.  kind = 'live': the rate currently accruing, polled
-- from the venue (timestamp = observation time, funding_time = the settlement
-- it will be paid at).  kind = 'settled': a rate that was paid, from history
-- (timestamp = funding_time = settlement time).
CREATE TABLE IF NOT EXISTS funding_rates (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    funding_rate REAL,
    funding_time INTEGER,
    next_funding_time INTEGER,
    interval_hours REAL,
    mark_price REAL,
    index_price REAL,
    predicted_rate REAL,
    annualized_rate REAL,
    kind TEXT NOT NULL DEFAULT 'live' CHECK (kind IN ('live', 'settled')),
    created_at INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

-- The writer's idempotency key (INSERT OR IGNORE): re-polling or re-running a
-- backfill over a covered window adds nothing.  Also serves per-kind range
-- scans (backfill resume asks for the settled series' bounds).
CREATE UNIQUE INDEX IF NOT EXISTS uq_funding_rates_key
    ON funding_rates (exchange, symbol, kind, timestamp);

-- The seed's index: time-range reads of one market across both kinds
-- (load_funding without kind=, the funding-history chart) without a sort.
CREATE INDEX IF NOT EXISTS idx_funding_rates_symbol_time
    ON funding_rates (exchange, symbol, timestamp);

-- Order-book snapshots sampled every N seconds: the top-of-book metrics the
-- monitor shows, depth within bands of mid (0.1 %, 0.5 %, 1 %, 5 %), and the
-- top N levels per side (book_depth, default 25) as JSON
-- {"bids": [[price, amount], ...], "asks": ...} for the ladder and re-analysis.
-- Every figure is the hub's DepthMetrics of the *whole* book it held (not of the
-- N levels in raw_data), so a row says what the monitor showed.  depth_basis says
-- what the figures came from: 'book' (the whole book), 'levels' (the levels of a
-- bare BookSnapshot that was written), 'top20' (rows written before schema
-- version 2, whose depth came from the top 20 levels: the wider bands of deep
-- books are understated there).  reached_<band> is 1 when both sides of the book
-- extend to that band's edge, 0 when the venue's book stops short (the band's depth
-- is then a lower bound); bid_reach / ask_reach say how far (fraction of the mid).
CREATE TABLE IF NOT EXISTS order_book_snapshots (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    best_bid REAL,
    best_ask REAL,
    mid_price REAL,
    spread_bps REAL,
    bid_depth_1pct REAL,
    ask_depth_1pct REAL,
    imbalance REAL,  -- (bid - ask) / (bid + ask) within 1 % of mid
    bid_depth_01pct REAL,  -- within 0.1 % of mid
    ask_depth_01pct REAL,
    bid_depth_05pct REAL,  -- within 0.5 % of mid
    ask_depth_05pct REAL,
    bid_depth_5pct REAL,  -- within 5 % of mid
    ask_depth_5pct REAL,
    book_flag TEXT,  -- 'ok' | 'empty' | 'one_sided' | 'crossed' (metrics.depth_metrics)
    raw_data TEXT,
    created_at INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)),
    -- schema version 2: one column per band of core/bands.py DEPTH_BANDS
    imbalance_01pct REAL,
    imbalance_05pct REAL,
    imbalance_5pct REAL,
    reached_01pct INTEGER,
    reached_05pct INTEGER,
    reached_1pct INTEGER,
    reached_5pct INTEGER,
    bid_reach REAL,  -- deepest bid level's distance from the mid, as a fraction
    ask_reach REAL,
    bid_levels INTEGER,  -- levels per side the figures were computed from
    ask_levels INTEGER,
    depth_basis TEXT  -- 'book' | 'levels' | 'top20' (see above)
);

-- Idempotency key and, being (exchange, symbol, timestamp), also the index
-- every snapshot read uses (one market over a time range), so the seed's
-- separate symbol/time index is this one: no second copy to maintain.
CREATE UNIQUE INDEX IF NOT EXISTS idx_order_book_symbol_time
    ON order_book_snapshots (exchange, symbol, timestamp);

-- Candles from the venue.  The newest candle is still forming when fetched,
-- so the writer upserts on the key: a later fetch replaces it with the final
-- values.
CREATE TABLE IF NOT EXISTS ohlcv (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    timestamp INTEGER NOT NULL,  -- candle open
    open REAL,
    high REAL,
    low REAL,
    close REAL,
    volume REAL,
    created_at INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

-- Upsert key, and the index for range reads / backfill resume of one series.
CREATE UNIQUE INDEX IF NOT EXISTS uq_ohlcv_key
    ON ohlcv (exchange, symbol, timeframe, timestamp);

-- Signals as they fired (monitor, collect, or `perptui signals` over history),
-- with the inputs that triggered them as JSON.  exchange is "a|b" for a
-- cross-venue signal.
CREATE TABLE IF NOT EXISTS signals (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    direction TEXT,
    value REAL,
    threshold REAL,
    inputs TEXT,
    created_at INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

-- Idempotency key: the same signal recomputed over stored history is logged
-- once.  Leading on kind serves the signals panel's "latest of each kind".
CREATE UNIQUE INDEX IF NOT EXISTS uq_signals_key
    ON signals (kind, exchange, symbol, timestamp);

-- Time-ordered reads of one market's signals, whatever their kind.
CREATE INDEX IF NOT EXISTS idx_signals_symbol_time
    ON signals (exchange, symbol, timestamp);
