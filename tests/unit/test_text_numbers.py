"""perptui.core.text.one_line and perptui.core.numbers.finite_float: the shared readers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from perptui.core.numbers import finite_float
from perptui.core.text import ELLIPSIS, one_line


def test_one_line_collapses_whitespace_and_keeps_short_text() -> None:
    assert one_line("a\n  b\tc ") == "a b c"
    assert one_line(ValueError("bad\nvalue")) == "bad value"


def test_one_line_cuts_to_the_limit_with_an_ellipsis() -> None:
    text = "x" * 500
    out = one_line(text, 160)
    assert len(out) == 160 and out.endswith(ELLIPSIS) and out[:-1] == "x" * 159
    assert one_line("y" * 160, 160) == "y" * 160  # exactly at the limit: untouched


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", 1.5), (2, 2.0), (np.float64(0.25), 0.25), ("-3e-4", -3e-4)],
)
def test_finite_float_reads_numbers(value: object, expected: float) -> None:
    assert finite_float(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", " ", "abc", math.nan, math.inf, -math.inf, "nan", pd.NA, [1], {}]
)
def test_finite_float_unknowns_are_none(value: object) -> None:
    assert finite_float(value) is None
