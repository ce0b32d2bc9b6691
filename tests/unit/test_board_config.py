"""[board] and [alerts] in the config file, env and the records the engine builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from perptui.config import load_config
from perptui.errors import ConfigError
from perptui.stack import alert_settings, board_settings


def _load(tmp_path: Path, text: str, **env: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(None, env={"PERPTUI_CONFIG": str(path), **env})


def test_board_and_alerts_sections_reach_the_engine(tmp_path: Path) -> None:
    c = _load(
        tmp_path,
        "[board]\nrefresh_s = 30\ntaker_fee_bps = {binance = 4.5, okx = 5}\n"
        'holding_hours = 72\n[alerts]\nwebhook = "http://127.0.0.1:8080/hook"\n'
        'rules = "funding_arb:0.002,divergence"\nquiet_hours = "22-7"\nmax_per_hour = 5\n',
        PERPTUI_BOARD_DEFAULT_FEE_BPS="6",
    )
    b = board_settings(c)
    assert b.refresh_s == 30 and b.costs.holding_hours == 72
    assert b.costs.fee("binance") == pytest.approx(4.5e-4)
    assert b.costs.fee("bybit") == pytest.approx(6e-4)  # the env default
    a = alert_settings(c)
    assert a.enabled and a.webhook_url == "http://127.0.0.1:8080/hook"
    assert dict(a.policy.rules) == {"funding_arb": 0.002, "divergence": None}
    assert a.policy.quiet_hours == (22, 7) and a.policy.max_per_hour == 5
    assert "8080" not in repr(c)  # a webhook URL may carry a token: not in the repr
    assert not alert_settings(load_config(None, env={})).enabled


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[alerts]\nwebhook = "ftp://x"\n', "alerts.webhook"),
        ('[alerts]\nrules = "funding_arb,nope"\n', "alerts.rules"),
        ('[alerts]\nquiet_hours = "25-3"\n', "alerts.quiet_hours"),
        ("[board]\nholding_hours = 0\n", "board.holding_hours"),
        ('[board]\ntaker_fee_bps = "binance"\n', "board.taker_fee_bps"),
        ("[board]\nnope = 1\n", "board.nope"),
    ],
)
def test_bad_board_or_alert_values_name_the_key(tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    msg = str(err.value)
    assert f"'{where}'" in msg and "\n" not in msg
