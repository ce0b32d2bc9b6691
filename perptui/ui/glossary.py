"""What each panel's numbers mean and how perptui computes them (shown by `?`).

Kept next to the widgets so a change of formula and its explanation are one
review; every formula here is the one in perptui.core (metrics, funding, signals).
"""

from __future__ import annotations

GLOSSARY: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Watchlist",
        (
            ("mid", "(best bid + best ask) / 2 of the venue's book"),
            ("spread", "(best ask - best bid) / mid, in basis points (1 bp = 0.01 %)"),
            ("24h", "the venue's own 24 h price change (ticker)"),
            ("funding", "rate of the next settlement, as a fraction of the position"),
            (
                "APR / ann",
                "rate x settlements a year: 24 / interval x 365, simple, not "
                "compounded; the interval is the market's own (1 h, 4 h, 8 h), never assumed "
                "unless the venue does not say (then 8 h, marked)",
            ),
            ("next", "countdown to the next settlement"),
            ("OI", "open interest in quote currency (contracts x contract size x price)"),
        ),
    ),
    (
        "Order book",
        (
            (
                "ladder",
                "price, size in the base coin, size accumulated from the best price; "
                "+ / - group levels into 1, 2, 5, 10 .. tick buckets (bids round down, asks up)",
            ),
            (
                "band",
                "quote notional (price x size) of every level within 0.1 / 0.5 / 1 / 5 % "
                "of mid; ≥ means the venue's stream stops short of the band, a lower bound",
            ),
            (
                "imb",
                "imbalance = (bids - asks) / (bids + asks) within the band: +1 all bids, "
                "-1 all asks",
            ),
            (
                "flags",
                "crossed / one_sided / empty books are marked and never stored as ok; "
                "STALE: no book for longer than the stale limit",
            ),
            ("depth curve", "cumulative notional against distance from mid, bids left"),
        ),
    ),
    (
        "Funding",
        (
            ("rate / pred", "current rate and the venue's predicted next rate, where it gives one"),
            ("basis", "(mark - index) / index: the perp's premium over spot"),
            (
                "history",
                "settled rates from the DB, one mark per settlement on a shared time "
                "axis (its height is the size of the rate, ▔ ▀ are negative)",
            ),
        ),
    ),
    (
        "Signals",
        (
            (
                "funding arb",
                "|rate| above 0.1 % per 8 h (rates of 1 h / 4 h markets are "
                "rescaled to 8 h before comparing)",
            ),
            (
                "divergence",
                "two venues' funding rates differ by more than 0.05 % per 8 h, or "
                "their prices by more than 0.05 %",
            ),
            ("imbalance", "the 1 % band imbalance stays beyond ±0.3 for 30 s"),
            ("thresholds", "defaults; the [signals] section of the config file sets them"),
        ),
    ),
)


def glossary_text() -> str:
    """The glossary as aligned plain text for the help screen."""
    width = max(len(term) for _, rows in GLOSSARY for term, _ in rows) + 2
    parts = []
    for title, rows in GLOSSARY:
        parts.append(title)
        parts.extend(f"  {term:<{width}}{text}" for term, text in rows)
    return "\n".join(parts)
