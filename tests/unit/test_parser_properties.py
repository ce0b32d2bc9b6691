"""Property tests (hypothesis) for the parsers of symbols, durations, times and config.

Whatever text arrives, a parser either returns a value of the documented shape or
raises its one documented error (which the CLI prints in one line, exit 2); never
another exception, which would surface as an "internal error".
"""

from __future__ import annotations

import math
import re
import string
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perptui.config import load_config, normalize_symbol
from perptui.config.settings import SETTINGS
from perptui.config.values import BadValue, Number, Timeframe
from perptui.core.timespec import MomentError, parse_moment
from perptui.emulator.faults import parse_duration_ms
from perptui.errors import ConfigError, PerptuiError
from perptui.store.read import MAX_TIME_MS, to_ms

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNIFIED = re.compile(r"^[A-Z0-9._\-]+/[A-Z0-9._\-]+(:[A-Z0-9._\-]+)?$")

# Text a user could type or paste: printable ASCII, symbol-ish words, any unicode,
# and very long runs.
typed = st.one_of(
    st.text(string.printable, max_size=40),
    st.from_regex(r"[A-Za-z0-9]{1,8}([-/:][A-Za-z0-9]{1,8}){0,3}", fullmatch=True),
    st.text(max_size=30),
    st.builds(lambda c, n: c * n, st.sampled_from("9a-/:"), st.integers(200, 12_000)),
)


@PROFILE
@given(typed)
def test_symbol_parser_returns_unified_or_value_error(raw: str) -> None:
    try:
        sym = normalize_symbol(raw)
    except ValueError:
        return
    assert UNIFIED.match(sym), sym
    assert normalize_symbol(sym) == sym  # the unified spelling is a fixed point


@PROFILE
@given(st.from_regex(r"[A-Z]{2,6}", fullmatch=True), st.sampled_from(["USDT", "USDC"]))
def test_venue_style_and_bare_coins_agree(base: str, quote: str) -> None:
    assert normalize_symbol(f"{base}{quote}") == f"{base}/{quote}:{quote}"
    assert normalize_symbol(f"{base}-{quote}-SWAP") == f"{base}/{quote}:{quote}"
    assert normalize_symbol(base.lower()) == f"{base}/USDT:USDT"


@PROFILE
@given(typed)
def test_duration_parser(raw: str) -> None:
    try:
        ms = parse_duration_ms(raw)
    except ValueError:
        return
    assert isinstance(ms, int) and 0 <= ms <= 366 * 86_400_000


@PROFILE
@given(st.integers(0, 10**6), st.sampled_from(["ms", "s", "m", "h"]))
def test_duration_units(n: int, unit: str) -> None:
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[unit]
    if n * factor <= 366 * 86_400_000:
        assert parse_duration_ms(f"{n}{unit}") == n * factor


@PROFILE
@given(st.one_of(typed, st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
def test_time_parser_to_ms(raw) -> None:
    try:
        ms = to_ms(raw)
    except (ValueError, TypeError):
        return
    assert isinstance(ms, int) and -MAX_TIME_MS <= ms <= MAX_TIME_MS


@PROFILE
@given(st.integers(0, MAX_TIME_MS))
def test_time_parser_round_trips_epoch_ms(ms: int) -> None:
    assert to_ms(str(ms)) == ms == to_ms(ms)


@PROFILE
@given(typed, st.integers(0, 4_000_000_000_000))
def test_moment_parser(raw: str, ref: int) -> None:
    try:
        ms = parse_moment(raw, ref)
    except MomentError:
        return
    assert isinstance(ms, int)


@PROFILE
@given(typed)
def test_timeframe_kind(raw: str) -> None:
    try:
        tf = Timeframe().parse(raw)
    except BadValue:
        return
    assert re.fullmatch(r"[1-9][0-9]*[mhdwM]", tf)
    from perptui.store.read import timeframe_ms

    assert timeframe_ms(tf) > 0


NUMBERS = [s for s in SETTINGS if isinstance(s.kind, Number)]


@PROFILE
@given(st.sampled_from(NUMBERS), st.one_of(typed, st.floats(), st.integers(), st.booleans()))
def test_number_kinds_hold_their_range(setting, raw) -> None:
    k: Number = setting.kind
    try:
        v = k.parse(raw)
    except BadValue:
        return
    assert math.isfinite(v)
    assert k.lo is None or v >= k.lo
    assert k.hi is None or v <= k.hi
    if k.integer:
        assert isinstance(v, int)


toml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.booleans(),
    st.lists(st.text(max_size=8), max_size=3),
)
keys = st.sampled_from(
    [s.key for s in SETTINGS] + ["nope", "signals.nope", "credentials.okx.api_key"]
)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@PROFILE
@given(st.dictionaries(keys, toml_values, max_size=4))
def test_config_file_loads_or_fails_in_one_line(tmp_path_factory, entries) -> None:
    path: Path = tmp_path_factory.mktemp("cfg") / "c.toml"
    top = [f"{k} = {_toml(v)}" for k, v in entries.items() if "." not in k]
    sections: dict[str, list[str]] = {}
    for k, v in entries.items():
        if "." in k:
            table, name = k.rsplit(".", 1)
            sections.setdefault(table, []).append(f"{name} = {_toml(v)}")
    text = "\n".join(top + [f"[{t}]\n" + "\n".join(lines) for t, lines in sections.items()])
    path.write_text(text + "\n", encoding="utf-8")
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError:
        pass
    try:
        cfg = load_config(None, env={"PERPTUI_CONFIG": str(path)})
    except (ConfigError, PerptuiError) as exc:
        assert "\n" not in str(exc)
        return
    assert cfg.config_file == path
    assert 1 <= cfg.ui_hz <= 20


@pytest.mark.parametrize("bad", ["１０", "٣", "1e400", "nan", "-inf", "", " ", "0x10", "9" * 70])
def test_number_kind_refuses_what_float_would_take(bad: str) -> None:
    with pytest.raises(BadValue):
        Number(0, 1e9).parse(bad)
