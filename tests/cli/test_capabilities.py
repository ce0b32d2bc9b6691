"""The venue capability table: README and `perptui doctor` say the same thing."""

from __future__ import annotations

from pathlib import Path

from perptui.doctor import capability_lines
from perptui.venues.capabilities import CAPABILITIES, markdown_table
from perptui.venues.registry import VENUE_CLASSES, known_exchanges

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_is_the_generated_one() -> None:
    assert markdown_table() in README.read_text()


def test_every_named_venue_has_a_row_and_doctor_prints_it() -> None:
    assert set(CAPABILITIES) == set(VENUE_CLASSES) | {"gmx"}
    assert "gmx" in known_exchanges()
    lines = "\n".join(capability_lines(("dydx", "gmx", "kraken")))
    assert "dydx" in lines and "reset on every snapshot" in lines
    assert "| gmx | none: a pool" in lines and "| binance" not in lines
    assert "(kraken: a generic ccxt venue" in lines
