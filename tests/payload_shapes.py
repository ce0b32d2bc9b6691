"""Recursive shape comparison of recorded and emulated payloads (see test_emulator_shapes).

Same keys, same nesting, same JSON value type (string / number / bool / null / list /
object), scalar rows of equal length; ``numeric_str`` / ``ignore`` / ``extra`` name the
paths where a difference is tolerated, each with its reason at the call site.
"""

from __future__ import annotations

import re
from typing import Any


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def shape_diff(
    rec: Any,
    emu: Any,
    path: str = "$",
    *,
    numeric_str: set[str] | frozenset[str] = frozenset(),
    ignore: set[str] | frozenset[str] = frozenset(),
    extra: set[str] | frozenset[str] = frozenset(),
) -> list[str]:
    """Differences between the recorded and the emulated payload's shapes (empty = same)."""
    rk, ek = _kind(rec), _kind(emu)
    if rk != ek:
        if (
            path in numeric_str
            and rk == "string"
            and ek == "number"
            and re.fullmatch(r"-?\d+", rec)
        ):
            return []
        return [f"{path}: recorded {rk}, emulator {ek}"]
    opts = {"numeric_str": numeric_str, "ignore": ignore, "extra": extra}
    out: list[str] = []
    if rk == "object":
        for k, v in rec.items():
            p = f"{path}.{k}"
            if p in ignore:
                continue
            if k not in emu:
                out.append(f"{p}: missing in emulator")
            else:
                out += shape_diff(v, emu[k], p, **opts)
        out += [
            f"{path}.{k}: not in recording"
            for k in emu
            if k not in rec and f"{path}.{k}" not in extra
        ]
    elif rk == "list":
        scalars = all(_kind(x) not in ("list", "object") for x in rec)
        if rec and not emu:
            out.append(f"{path}: emulator list empty, recording has rows")
        elif rec and scalars:  # a row such as ["42544.7", "172.404"]
            if len(rec) != len(emu):
                out.append(f"{path}: row of {len(rec)} recorded, {len(emu)} emulated")
            for i, (a, b) in enumerate(zip(rec, emu, strict=False)):
                out += [
                    d.replace(f"{path}[]", f"{path}[{i}]")
                    for d in shape_diff(a, b, f"{path}[]", **opts)
                ]
        elif rec:  # rows of objects / lists: every row on either side has the one shape
            for r in rec:
                for e in emu:
                    out += shape_diff(r, e, f"{path}[]", **opts)
    return sorted(set(out))
