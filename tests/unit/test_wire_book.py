"""core.wire_book against a plain model (a dict per side, sorted on every read), and the
okx checksum of its wire strings against the reference `okx_checksum`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from perptui.core.okx_checksum import checksum_of_wire, okx_checksum
from perptui.core.wire_book import WireBook, WireSide

# prices on a small grid (so levels collide, vanish and come back), sizes incl. zeros
price = st.integers(9_950, 10_050).map(lambda t: f"{t / 10:g}" if t % 10 else str(t // 10))
size = st.sampled_from(["0", "0.000", "1", "2.5", "0.001", "17", "3.25"])
rows = st.lists(st.tuples(price, size).map(list), max_size=30)


def model(side: dict[str, str], updates: list[list[str]]) -> None:
    for p, s in updates:
        if float(s) == 0:
            side.pop(p, None)
        else:
            side[p] = s


def sorted_model(side: dict[str, str], descending: bool) -> list[tuple[str, str]]:
    return sorted(side.items(), key=lambda kv: float(kv[0]), reverse=descending)


@settings(max_examples=300, deadline=None)
@given(snapshot=rows, updates=st.lists(rows, max_size=40), descending=st.booleans())
def test_side_matches_a_plain_model(
    snapshot: list[list[str]], updates: list[list[list[str]]], descending: bool
) -> None:
    side = WireSide(descending)
    side.compact_at = 4  # compact often, so compaction is exercised too
    want: dict[str, str] = {}
    side.reset(snapshot)
    model(want, snapshot)
    for update in updates:
        side.apply(update)
        model(want, update)
        expect = sorted_model(want, descending)
        p, s = side.top(25)
        assert list(zip(p, s, strict=True)) == expect[:25]
        assert side.best() == (float(expect[0][0]) if expect else None)
        assert side.levels() == [(float(a), float(b)) for a, b in expect]
        assert len(side) == len(expect)


def test_band_keeps_the_levels_inside_and_one_past() -> None:
    side = WireSide(descending=True)
    side.reset([["100", "1"], ["99.5", "1"], ["99", "1"], ["98", "0"], ["97", "2"], ["90", "3"]])
    # 1 % below 100 is 99: 100, 99.5, 99 inside; 98 is a removal; 97 is the one past
    assert side.levels(band=0.01) == [(100.0, 1.0), (99.5, 1.0), (99.0, 1.0), (97.0, 2.0)]
    assert side.levels(limit=2) == [(100.0, 1.0), (99.5, 1.0)]


def test_one_price_two_spellings_is_one_level() -> None:
    side = WireSide(descending=False)
    side.reset([["7.6", "1"]])
    side.apply([["7.60", "5"]])
    assert side.levels() == [(7.6, 5.0)]
    side.apply([["7.6", "0"]])
    assert side.levels() == []


def test_crossed_and_locked_books() -> None:
    book = WireBook()
    book.reset([["100", "1"]], [["101", "1"]])
    assert book.crossed() is None
    book.bids.apply([["101", "2"]])
    assert book.crossed() == (101.0, 101.0)  # locked
    book.bids.apply([["101", "0"]])
    assert book.crossed() is None
    book.asks.apply([["99", "1"]])
    assert book.crossed() == (100.0, 99.0)


@settings(max_examples=200, deadline=None)
@given(bids=rows, asks=rows)
def test_wire_checksum_equals_the_reference(bids: list[list[str]], asks: list[list[str]]) -> None:
    book = WireBook()
    book.reset(bids, asks)
    bp, bs = book.bids.top(25)
    ap, az = book.asks.top(25)
    want_b: dict[str, str] = {}
    want_a: dict[str, str] = {}
    model(want_b, bids)
    model(want_a, asks)
    reference = okx_checksum(sorted_model(want_b, True)[:25], sorted_model(want_a, False)[:25])
    assert checksum_of_wire(bp, bs, ap, az) == reference
