"""Doctor: DB checks on real files, loopback-only venue checks, honest output, no secrets.

Network rule: nothing here leaves 127.0.0.1.  The live path is pointed at a closed
loopback port (`loopback_venues.redirect_live_venues`); the reachable path runs real ccxt
against the in-process emulator (`--demo`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import closed_loopback_port, make_corrupt_sqlite, make_not_sqlite
from loopback_venues import redirect_live_venues

from perptui import cli, logging_setup
from perptui.config import Config, Credentials
from perptui.doctor import (
    UNREACHABLE,
    DbCheck,
    DoctorReport,
    VenueCheck,
    _classify,
    check_db,
    check_venue,
    find_problems,
    format_report,
)
from perptui.emulator import Emulator
from perptui.emulator.catalog import venue_markets
from perptui.errors import PerptuiError
from perptui.venues import make_venue
from perptui.venues.ccxt_errors import translate
from perptui.venues.registry import point_rest_at

SECRET = "d0ct0r-Must-n0t-Print-this-Key-42"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for var in list(os.environ):
        if var.startswith("PERPTUI_") or var.endswith(("_API_KEY", "_API_SECRET", "_API_PASSWORD")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # Safety net: even a test that forgets --demo can only reach a closed loopback port.
    redirect_live_venues(monkeypatch, f"127.0.0.1:{closed_loopback_port()}")
    yield tmp_path
    logging_setup.configure(console=False)


# --------------------------------------------------------------------------- database


def test_db_ok_and_to_be_created(tmp_path: Path) -> None:
    import sqlite3

    from perptui.store.db import connect_sync

    good = tmp_path / "good.db"
    connect_sync(good).close()
    assert check_db(good).ok
    assert check_db(good).detail.startswith("ok (")
    # a SQLite file that is not perptui's fails here as it fails every other command
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    check = check_db(foreign)
    assert not check.ok and "not a perptui database" in check.detail
    new = check_db(tmp_path / "new.db")
    assert new.ok and new.detail == "will be created"
    assert not (tmp_path / "new.db").exists()  # doctor never creates the file


def test_db_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "x.db"
    result = check_db(path)
    assert not result.ok
    assert result.detail == f"database {path}: directory {path.parent} does not exist"
    # ...except the default location, which the app creates on first run
    assert check_db(path, default_path=path).ok


def test_db_not_sqlite_and_corrupt_and_directory(tmp_path: Path) -> None:
    not_db = check_db(make_not_sqlite(tmp_path / "prices.csv"))
    assert not not_db.ok and "is not a SQLite database" in not_db.detail
    corrupt = check_db(make_corrupt_sqlite(tmp_path / "broken.db"))
    assert not corrupt.ok and "is corrupt" in corrupt.detail
    adir = check_db(tmp_path)
    assert not adir.ok and "is a directory" in adir.detail


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_db_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        result = check_db(ro / "x.db")
        assert not result.ok and "read-only" in result.detail
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- pieces


def test_redirect_rewrites_every_rest_url_of_a_real_ccxt_client() -> None:
    import ccxt.async_support as ccxt_async

    for cls in (ccxt_async.binanceusdm, ccxt_async.bybit, ccxt_async.okx):
        client = cls()
        point_rest_at(client, "127.0.0.1:9")
        urls: list[str] = []

        def walk(node: object, out: list[str] = urls) -> None:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, dict):
                for v in node.values():
                    walk(v)

        walk(client.urls["api"])
        assert urls, cls
        assert all(u.startswith("http://127.0.0.1:9") for u in urls), cls


def test_redirect_refuses_non_loopback() -> None:
    import ccxt.async_support as ccxt_async

    with pytest.raises(PerptuiError, match="loopback"):
        point_rest_at(ccxt_async.okx(), "fapi.binance.com:443")


def test_classify_real_ccxt_errors() -> None:
    import ccxt

    def venue_error(exc: Exception) -> Exception:
        """What the venue layer raises for a ccxt error (its kind, ccxt's as the cause)."""
        out = translate(exc)
        out.__cause__ = exc
        return out

    not_available = venue_error(ccxt.ExchangeNotAvailable("binanceusdm GET ..."))
    assert _classify(not_available, 4) == (UNREACHABLE, True, False)
    # a request that got no answer in time: slow or unreachable, never called unreachable
    detail, down, slow = _classify(venue_error(ccxt.RequestTimeout("x")), 4)
    assert slow and not down and "no answer within 4 s (slow or unreachable)" in detail
    assert "unreachable (network" not in detail
    # the whole load's bound (answers came, but too slowly): slow
    detail, down, slow = _classify(TimeoutError(), 3)
    assert slow and not down and detail.startswith("slow: markets not loaded within 9 s")
    detail, down, slow = _classify(venue_error(ccxt.RateLimitExceeded("429")), 4)
    assert not down and not slow and "rate limited" in detail
    detail, down, slow = _classify(venue_error(ccxt.BadResponse("garbage")), 4)
    assert not down and not slow and detail.startswith("error: BadResponse")


def _vc(venue: str, reachable: bool = True, missing: tuple[str, ...] = ()) -> VenueCheck:
    if not reachable:
        return VenueCheck(venue, False, UNREACHABLE, network_down=True)
    return VenueCheck(venue, True, "reachable, 10 perpetual markets", 10, missing_symbols=missing)


def test_problems_symbol_missing_everywhere_vs_somewhere(tmp_path: Path) -> None:
    db = DbCheck(tmp_path / "x.db", True, "will be created")
    venues = [_vc("binance", missing=("XYZ/USDT:USDT",)), _vc("bybit")]
    assert find_problems(db, venues, ["XYZ/USDT:USDT"]) == []  # listed on bybit: fine
    venues = [_vc("binance", missing=("XYZ/USDT:USDT",)), _vc("bybit", missing=("XYZ/USDT:USDT",))]
    assert find_problems(db, venues, ["XYZ/USDT:USDT"]) == ["unknown symbol XYZ/USDT:USDT"]


def test_problems_group_unreachable_venues(tmp_path: Path) -> None:
    db = DbCheck(tmp_path / "x.db", False, "database x: directory y does not exist")
    problems = find_problems(db, [_vc("binance", False), _vc("okx", False)], [])
    assert problems == [db.detail, f"binance, okx: {UNREACHABLE}"]
    # a timed-out venue is its own problem, not one of the unreachable ones
    detail, down, slow = _classify(TimeoutError(), 4)
    late = VenueCheck("hyperliquid", False, detail, network_down=down, slow=slow)
    problems = find_problems(db, [_vc("binance", False), late], [])
    assert problems == [db.detail, f"binance: {UNREACHABLE}", f"hyperliquid: {detail}"]


def test_report_shows_key_state_never_the_key(tmp_path: Path) -> None:
    config = Config(credentials={"binance": Credentials(SECRET, SECRET + "x", None)})
    report = DoctorReport(
        environment=(("Python", "3.11"),),
        database=DbCheck(tmp_path / "x.db", True, "will be created"),
        venues=(
            VenueCheck("binance", True, "reachable, 5 perpetual markets", 5, 0.1, True),
            VenueCheck("okx", False, UNREACHABLE, network_down=True),
        ),
        symbols=("BTC/USDT:USDT",),
        demo=False,
        timeout_s=4,
        problems=(f"okx: {UNREACHABLE}",),
    )
    text = format_report(report)
    assert SECRET not in text and SECRET not in repr(config)
    assert "binance   reachable, 5 perpetual markets (0.10 s); API key: set" in text
    assert "okx       unreachable (network down or blocked) — try `perptui --demo`" in text
    assert "API key: not set" in text


# --------------------------------------------------------------------------- whole command


def test_offline_live_doctor_says_unreachable_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["doctor", "--venues", "binance,bybit,okx", "--timeout", "2"])
    out, err = capsys.readouterr()
    assert code == 2
    for venue in ("binance", "bybit", "okx"):
        (line,) = [ln for ln in out.splitlines() if ln.startswith(f"  {venue} ")]
        assert f"{UNREACHABLE}; API key: not set" in line
    assert "ccxt" in out and "Python" in out and "textual" in out and "aiosqlite" in out
    assert err.count("\n") == 1
    assert err.startswith("perptui: binance, bybit, okx: unreachable (network down or blocked)")
    assert "Traceback" not in out + err


def test_live_doctor_only_reaches_the_loopback_redirect(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test-side redirect (not a setting in the package) is what the live path uses:
    a loopback listener receives doctor's request; a 503 answer reads as a failure."""
    import socket
    import threading

    seen: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def answer() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            seen.append(conn.recv(4096))
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")

    listener = threading.Thread(target=answer, daemon=True)
    listener.start()
    redirect_live_venues(monkeypatch, f"127.0.0.1:{server.getsockname()[1]}")
    try:
        code = cli.main(["doctor", "--venues", "binance", "--timeout", "3"])
    finally:
        listener.join(10)
        server.close()
    out, _ = capsys.readouterr()
    assert code == 2
    assert seen and seen[0].startswith(b"GET /")  # the request came to 127.0.0.1
    assert "binance" in out


def test_demo_doctor_reaches_every_venue_with_real_ccxt(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BYBIT_API_KEY", SECRET)
    monkeypatch.setenv("BYBIT_API_SECRET", SECRET + "-secret")
    code = cli.main(["doctor", "--demo", "--db", str(tmp_path / "d.db"), "--symbols", "BTC,ETH"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "demo emulator on 127.0.0.1" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    for venue in ("binance", "bybit", "okx"):
        assert "reachable, " in lines[venue] and "perpetual markets" in lines[venue]
        count = int(lines[venue].split("reachable, ")[1].split()[0])
        assert count >= 15  # BTC, ETH, SOL and a dozen more per venue
    assert "API key: set" in lines["bybit"]
    assert "API key: not set" in lines["binance"]
    assert "symbols listed: BTC/USDT:USDT, ETH/USDT:USDT" in out
    assert "all checks passed" in out
    assert SECRET not in out + err


def test_demo_doctor_unknown_symbol_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["doctor", "--demo", "--venues", "binance", "--symbols", "NOPE/USDT:USDT"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "NOPE/USDT:USDT" in err
    assert "not listed: NOPE/USDT:USDT" in out


def test_demo_doctor_on_a_venue_the_emulator_lacks(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["doctor", "--demo", "--venues", "okx,krakenfutures", "--symbols", "BTC"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "krakenfutures: not in the demo emulator" in err
    assert "okx" in out and "reachable, " in out


async def test_a_slow_answer_reads_slow_not_unreachable() -> None:
    """binance loads markets in two requests one after the other (exchangeInfo, then
    fundingInfo); at 2 s each under a 3 s request timeout, each is answered in time and
    the whole load is bounded by several request timeouts, not one plus a second."""
    emu = Emulator(seed=0, venues=("binance",), symbols=["BTC/USDT:USDT"])
    emu.faults.inject("binance", "latency", ms=2000, only="rest")
    await emu.start()
    try:
        venue = make_venue("binance", client=emu.connect("binance", pro=False, timeout=3000))
        venue.max_retries = 0
        check = await check_venue(venue, Config(), ["BTC"], timeout_s=3.0)
    finally:
        await emu.stop()
    assert check.reachable and check.slow and not check.network_down, check.detail
    assert check.elapsed_s >= 4.0 and check.detail.startswith("reachable (slow), ")
    assert check.perpetuals == len(emu.sim.markets("binance")) == 1  # the listing it served
    assert check.resolved == {"BTC": "BTC/USDT:USDT"}


def test_demo_counts_are_each_venues_own_listing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    six = ("binance", "bybit", "okx", "hyperliquid", "dydx", "gmx")
    code = cli.main(
        ["doctor", "--demo", "--venues", ",".join(six), "--symbols", "BTC",
         "--db", str(tmp_path / "d.db")]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ")}
    counts = {}
    for v in six:
        counts[v] = int(
            lines[v].split("), " if "(slow)" in lines[v] else "reachable, ")[1].split()[0]
        )
        assert counts[v] == len(venue_markets(v)), lines[v]  # the emulator's listing of v
    assert len({counts["hyperliquid"], counts["dydx"], counts["gmx"]}) == 3
    assert "BTC/USDT:USDT = BTC/USDC:USDC" in out and "BTC/USDT:USDT = BTC/USD:USD" in out
