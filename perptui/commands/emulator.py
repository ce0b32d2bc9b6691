"""``perptui emulator``: run the loopback exchange emulator standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from perptui.config.values import SEED, Number
from perptui.emulator.catalog import MAJOR_SYMBOLS, VENUES
from perptui.emulator.faults import Fault, parse_spec
from perptui.emulator.server import available_venues
from perptui.errors import ConfigError

SPEED = Number(0, 1000, above=True)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _fault(text: str) -> Fault:
    try:
        return parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "emulator",
        help="run the loopback exchange emulator standalone",
        description="Serve emulated binance USDⓈ-M, bybit linear and okx swap market data "
        "(REST + WebSocket) on 127.0.0.1 so ccxt clients, a second perptui or other tools "
        "can use it. Runs until Ctrl-C. Select venues with the global --venues flag.",
        epilog="Faults: [venue/]kind[:value][,key=value...], kinds: latency, 429, 418, 5xx, "
        "drop, disconnect, stall, gap, withhold, checksum, malformed. Examples: --fault 429:0.05 "
        "--fault binance/drop:every=30s --fault latency:ms=80,jitter=20",
    )
    p.add_argument("--port", type=_port, default=0, help="TCP port (default: a free one)")
    p.add_argument(
        "--seed", type=SEED.argtype("--seed"), default=0, help="simulation seed (default 0)"
    )
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault (repeatable)",
    )
    p.add_argument(
        "--speed",
        type=SPEED.argtype("--speed"),
        default=1.0,
        help="book update rate multiplier (default 1: each venue's real cadence)",
    )
    return p


def _venues(args: argparse.Namespace) -> tuple[str, ...]:
    raw = getattr(args, "venues", None)
    if not raw:
        return available_venues()
    venues = tuple(v.strip().lower() for v in str(raw).split(",") if v.strip())
    unknown = [v for v in venues if v not in VENUES]
    if unknown:
        raise ConfigError(
            f"the emulator serves {', '.join(VENUES)}; unknown venue(s): {', '.join(unknown)}"
        )
    return venues


async def _serve(args: argparse.Namespace) -> int:
    from perptui.emulator import Emulator

    if args.speed <= 0:
        raise ConfigError(f"--speed must be positive, got {args.speed}")
    emu = Emulator(seed=args.seed, venues=_venues(args), speed=args.speed)
    for fault in args.fault:
        emu.faults.add(fault)
    try:
        port = await emu.start(args.port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    print(f"perptui emulator on 127.0.0.1:{port} (seed {args.seed}), Ctrl-C to stop", flush=True)
    for venue in emu.venues:
        print(f"  {venue:8s} REST {emu.http_base(venue)}   WS {emu.ws_base(venue)}", flush=True)
    print(f"  control  http://127.0.0.1:{port}/_emulator/faults", flush=True)
    majors = ", ".join(s.split("/")[0] for s in MAJOR_SYMBOLS)
    tail = len({m.symbol for v in emu.venues for m in emu.sim.markets(v)} - set(MAJOR_SYMBOLS))
    print(f"  symbols  {majors} and {tail} more perpetuals", flush=True)
    for fault in args.fault:
        print(f"  fault    {fault.venue or '*'}/{fault.kind} {fault.to_json()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # non-main thread / Windows
            pass
    try:
        await stop.wait()
    finally:
        await emu.stop()
    print("emulator stopped", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))
