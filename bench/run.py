"""Run every benchmark module and print its figures.

    python -m bench.run [--quick] [--only NAME ...]
    python bench/run.py [--quick]

Each ``bench/bench_<name>.py`` defines ``run(quick: bool) -> list[str]``: lines of
figures, measured in that same run so ratios compare like with like.  Modules
are discovered by file name and imported by name; one that fails is reported
(with its traceback) and the others still run.  Exit status is 1 if any module
failed, else 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def discover() -> list[str]:
    """Module names (``bench_metrics`` ...) of the benchmarks, sorted."""
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def run_module(name: str, quick: bool) -> tuple[bool, list[str], float]:
    """(ok, lines, seconds) for one benchmark module."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{name}")
        lines = [str(line) for line in module.run(quick)]
        ok = True
    except Exception:  # a broken benchmark must not hide the others' figures
        lines = traceback.format_exc().rstrip().splitlines()
        ok = False
    return ok, lines, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller loads")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these modules (e.g. metrics or bench_metrics)",
    )
    args = parser.parse_args(argv)

    # `python bench/run.py` puts bench/ (not the repo) on sys.path; make the
    # `bench` package and `perptui` importable either way.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

    names = discover()
    if args.only:
        wanted = {n if n.startswith("bench_") else f"bench_{n}" for n in args.only}
        unknown = wanted - set(names)
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]

    mode = "quick" if args.quick else "full"
    print(f"perptui benchmarks ({mode}) — python {sys.version.split()[0]}, {sys.platform}")
    failed = []
    for name in names:
        print(f"\n== {name.removeprefix('bench_')} ==", flush=True)
        ok, lines, seconds = run_module(name, args.quick)
        for line in lines:
            print(f"  {line}")
        status = "ok" if ok else "FAILED"
        print(f"  [{status} in {seconds:.1f} s]", flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f"\n{len(failed)} benchmark module(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
