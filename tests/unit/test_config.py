"""Config: precedence flags > env > TOML > defaults, validation errors, secrets, symbols."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import isolate_config_env

from perptui.cli import parse_args
from perptui.config import (
    DEFAULT_SYMBOLS,
    DEFAULT_VENUES,
    Config,
    Credentials,
    load_config,
    normalize_symbol,
)
from perptui.errors import ConfigError, UnknownExchange

SECRET = "k3y-Th4t-mUst-n3ver-leak-0123456789"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, no real credentials: platformdirs and env point into tmp."""
    return isolate_config_env(monkeypatch, tmp_path)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cfg(*argv: str) -> Config:
    args, _ = parse_args(["doctor", *argv])
    return load_config(args)


def test_defaults_without_file(isolated_env: Path) -> None:
    c = cfg()
    assert c.venues == DEFAULT_VENUES
    assert c.symbols == DEFAULT_SYMBOLS
    assert c.db_path == isolated_env / "xdg-data" / "perptui" / "perptui.db"
    assert c.config_file is None
    assert c.funding_poll_s == 15.0
    assert c.snapshot_every_s == 1.0
    assert 4 <= c.ui_hz <= 10
    assert c.log_db is True
    assert c.credentials == {}


def test_default_file_location_is_read(isolated_env: Path) -> None:
    path = write(isolated_env / "xdg-config" / "perptui" / "config.toml", 'venues = ["okx"]\n')
    c = cfg()
    assert c.venues == ("okx",)
    assert c.config_file == path


def test_precedence_file_then_env_then_flags(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        isolated_env / "c.toml",
        'venues = ["okx"]\ndb = "/from/file.db"\nui_hz = 4\nsymbols = ["SOL"]\n',
    )
    c = cfg("--config", str(path))
    assert (c.venues, c.db_path, c.ui_hz, c.symbols) == (
        ("okx",),
        Path("/from/file.db"),
        4.0,
        ("SOL/USDT:USDT",),
    )

    monkeypatch.setenv("PERPTUI_VENUES", "bybit")
    monkeypatch.setenv("PERPTUI_DB", "/from/env.db")
    monkeypatch.setenv("PERPTUI_UI_HZ", "8")
    c = cfg("--config", str(path))
    assert (c.venues, c.db_path, c.ui_hz) == (("bybit",), Path("/from/env.db"), 8.0)
    assert c.symbols == ("SOL/USDT:USDT",)  # still from the file

    c = cfg("--config", str(path), "--venues", "binance,okx", "--db", "/from/flag.db")
    assert (c.venues, c.db_path) == (("binance", "okx"), Path("/from/flag.db"))
    assert c.ui_hz == 8.0  # no flag: env still wins over the file


def test_global_flags_work_before_and_after_the_command(isolated_env: Path) -> None:
    before, _ = parse_args(["--db", "/a.db", "--venues", "okx", "--demo", "doctor"])
    after, _ = parse_args(["doctor", "--db", "/a.db", "--venues", "okx", "--demo"])
    for args in (before, after):
        c = load_config(args)
        assert (c.db_path, c.venues, c.demo) == (Path("/a.db"), ("okx",), True)


def test_perptui_config_env_names_the_file(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(isolated_env / "elsewhere.toml", 'theme = "light"\n')
    monkeypatch.setenv("PERPTUI_CONFIG", str(path))
    assert cfg().theme == "light"


def test_sections_are_read(isolated_env: Path) -> None:
    path = write(
        isolated_env / "c.toml",
        "[signals]\nfunding_arb = 0.002\nimbalance_sustain_s = 10\n"
        '[collect]\nsnapshot_every_s = 5\ntimeframe = "4h"\n',
    )
    c = cfg("--config", str(path))
    assert c.signals.funding_arb == 0.002
    assert c.signals.imbalance_sustain_s == 10.0
    assert c.signals.divergence == 0.0005  # untouched default
    assert c.collect.snapshot_every_s == 5.0
    assert c.collect.timeframe == "4h"


def test_load_config_is_shared_between_cli_and_command(isolated_env: Path) -> None:
    args, _ = parse_args(["doctor"])
    assert load_config(args) is load_config(args)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("venues = [\n", "invalid TOML"),
        ("ui_hz = 5\nui_hz = = 6\n", "line 2"),
        ("nonsense = 1\n", "key 'nonsense' is unknown"),
        ("ui_hz = 'fast'\n", "key 'ui_hz' must be a number"),
        ("ui_hz = 50\n", "key 'ui_hz' must be between 1 and 20, got 50"),
        ("funding_poll_s = 5\n", "key 'funding_poll_s' must be between 10 and 30"),
        ("book_depth = 2.5\n", "key 'book_depth' must be an integer"),
        ("log_db = 'sometimes'\n", "key 'log_db' must be true or false"),
        ("venues = 'binance'\nsymbols = [1, 2]\n", "key 'symbols' must be a list of strings"),
        ("symbols = ['BTC USDT']\n", "key 'symbols' not a symbol"),
        ("[signals]\nfunding_arbb = 0.1\n", "key 'signals.funding_arbb' is unknown"),
        ("[signals]\nimbalance = 3\n", "key 'signals.imbalance' must be between 0 and 1"),
        ("[collect]\ntimeframe = 'hourly'\n", "key 'collect.timeframe' must be a timeframe"),
        ("signals = 3\n", "key 'signals' must be a table"),
        ("[credentials.binance]\ntoken = 'x'\n", "key 'credentials.binance.token' is unknown"),
    ],
)
def test_bad_file_is_one_line_naming_file_and_key(
    isolated_env: Path, text: str, expected: str
) -> None:
    path = write(isolated_env / "bad.toml", text)
    with pytest.raises(ConfigError) as err:
        cfg("--config", str(path))
    msg = str(err.value)
    assert "\n" not in msg
    assert str(path) in msg
    assert expected in msg


def test_unknown_key_error_gives_its_line(isolated_env: Path) -> None:
    path = write(isolated_env / "bad.toml", 'venues = ["okx"]\n\n  colour = "red"\n')
    with pytest.raises(ConfigError, match=r"line 3: key 'colour' is unknown"):
        cfg("--config", str(path))


def test_missing_explicit_file(isolated_env: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        cfg("--config", str(isolated_env / "nope.toml"))


def test_unreadable_file(isolated_env: Path) -> None:
    (isolated_env / "adir.toml").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        cfg("--config", str(isolated_env / "adir.toml"))
    binary = isolated_env / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a text file"):
        cfg("--config", str(binary))


def test_bad_env_value_names_the_variable(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERPTUI_FUNDING_POLL_S", "often")
    with pytest.raises(ConfigError, match="environment PERPTUI_FUNDING_POLL_S: must be a number"):
        cfg()


def test_bad_flag_value_names_the_flag(isolated_env: Path) -> None:
    with pytest.raises(ConfigError, match="--symbols: not a symbol"):
        cfg("--symbols", "BTC,ETH USDT")


def test_unknown_exchange_is_rejected_from_any_source(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnknownExchange, match="unknown exchange 'nosuchex' \\(--venues\\)"):
        cfg("--venues", "binance,nosuchex")
    path = write(isolated_env / "c.toml", 'venues = ["nosuchex"]\n')
    with pytest.raises(UnknownExchange, match="nosuchex"):
        cfg("--config", str(path))
    assert cfg("--venues", "BINANCE, krakenfutures").venues == ("binance", "krakenfutures")


# --------------------------------------------------------------------------- secrets


def test_credentials_from_env_for_any_venue_and_never_in_repr(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", SECRET)
    monkeypatch.setenv("BINANCE_API_SECRET", SECRET + "-s")
    monkeypatch.setenv("OKX_API_PASSWORD", SECRET + "-p")
    monkeypatch.setenv("KRAKENFUTURES_API_KEY", SECRET + "-k")
    c = cfg()
    assert c.credentials_for("binance") == Credentials(SECRET, SECRET + "-s", None)
    assert c.credentials_for("binance").as_ccxt() == {"apiKey": SECRET, "secret": SECRET + "-s"}
    assert c.credentials_for("okx").password == SECRET + "-p"
    assert c.credentials_for("krakenfutures").api_key == SECRET + "-k"
    assert c.credentials_for("bybit") is None
    for text in (repr(c), str(c), repr(c.credentials_for("binance")), f"{c}", repr(vars(c))):
        assert SECRET not in text
    assert "binance: api key set" in repr(c)
    assert set(c.secrets()) == {SECRET, SECRET + "-s", SECRET + "-p", SECRET + "-k"}


def test_env_credentials_override_file_field_by_field(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        isolated_env / "c.toml",
        '[credentials.bybit]\napi_key = "file-key-1234"\napi_secret = "file-secret-1234"\n',
    )
    monkeypatch.setenv("BYBIT_API_KEY", "env-key-1234")
    c = cfg("--config", str(path))
    assert c.credentials_for("bybit") == Credentials("env-key-1234", "file-secret-1234", None)
    assert "file-secret-1234" not in repr(c)


def test_credential_type_error_does_not_echo_the_value(isolated_env: Path) -> None:
    path = write(isolated_env / "c.toml", "[credentials.okx]\napi_key = 123456789\n")
    with pytest.raises(ConfigError) as err:
        cfg("--config", str(path))
    assert "123456789" not in str(err.value)
    assert "credentials.okx.api_key" in str(err.value)


# --------------------------------------------------------------------------- symbols


@pytest.mark.parametrize(
    ("raw", "unified"),
    [
        ("BTC", "BTC/USDT:USDT"),
        ("btc", "BTC/USDT:USDT"),
        ("BTCUSDT", "BTC/USDT:USDT"),
        ("ethusdc", "ETH/USDC:USDC"),
        ("1000PEPEUSDT", "1000PEPE/USDT:USDT"),
        ("BTC-USDT-SWAP", "BTC/USDT:USDT"),
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),
        ("BTC/USD:BTC", "BTC/USD:BTC"),
        ("BTC/USDT", "BTC/USDT"),  # spot stays spot: the venue layer rejects it clearly
        ("BTC/USDT:USDT-251226", "BTC/USDT:USDT-251226"),
        (" sol ", "SOL/USDT:USDT"),
        ("USDT", "USDT/USDT:USDT"),
        ("UNI-USD-SWAP", "UNI/USD:UNI"),  # okx inverse: coin-margined, not USD-settled
        ("BTC-USDC-SWAP", "BTC/USDC:USDC"),
        ("BTC-USD", "BTC/USD:USD"),  # dYdX ticker: a USD-family request
        ("kPEPE", "KPEPE/USDT:USDT"),  # Hyperliquid coin: the venue finds its quote
    ],
)
def test_normalize_symbol(raw: str, unified: str) -> None:
    assert normalize_symbol(raw) == unified


@pytest.mark.parametrize(
    "raw", ["", "BTC USDT", "BTC-USDT-PERP", "/USDT", "BTC/", "BTC/:USDT", "€"]
)
def test_normalize_symbol_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_symbol(raw)


def test_symbols_are_normalised_and_deduplicated(isolated_env: Path) -> None:
    assert cfg("--symbols", "btc,BTCUSDT,eth,BTC/USDT:USDT").symbols == (
        "BTC/USDT:USDT",
        "ETH/USDT:USDT",
    )


def test_section_key_error_points_at_the_line_inside_its_table(isolated_env: Path) -> None:
    path = write(
        isolated_env / "c.toml",
        "snapshot_every_s = 2\n\n[collect]\nfunding_every_s = 60\nsnapshot_every_s = 0\n",
    )
    with pytest.raises(ConfigError, match=r"line 5: key 'collect.snapshot_every_s' must be"):
        cfg("--config", str(path))
