"""The settings table: one range per setting whatever the source, docs generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import isolate_config_env

from perptui.cli import parse_args
from perptui.config import SETTINGS, load_config
from perptui.config.settings import BY_KEY, GLOBAL, markdown_table, with_table
from perptui.config.values import Number
from perptui.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, no real credentials: platformdirs and env point into tmp."""
    return isolate_config_env(monkeypatch, tmp_path)


def test_docs_config_md_has_the_generated_table() -> None:
    doc = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert with_table(doc) == doc, "run: python -m perptui.config.settings docs/config.md"
    assert markdown_table() in doc


def test_every_setting_has_env_help_and_a_default_that_passes_its_own_kind() -> None:
    envs = [s.env for s in SETTINGS]
    assert len(set(envs)) == len(envs)
    for s in SETTINGS:
        assert s.help
        if s.default is not None:
            assert s.kind.parse(s.default) == s.default, s.key


def _first_command(s) -> str:
    return "doctor" if s.commands == GLOBAL else s.commands[0]


REQUIRED = {"backtest": ["--symbol", "BTC", "--venue", "okx"]}


def _config(command: str, *argv: str, env: dict[str, str] | None = None, config=None):
    base = [command, *REQUIRED.get(command, []), *argv]
    if config is not None:
        base += ["--config", str(config)]
    args, _ = parse_args(base)
    return load_config(args, env=env or {})


def _value(cfg, s):
    obj = getattr(cfg, s.section) if s.section else cfg
    return getattr(obj, s.attr)


NUMERIC = [s for s in SETTINGS if isinstance(s.kind, Number)]


def _out_of_range(k: Number) -> list[str]:
    out = []
    if k.lo is not None:
        out.append(str(k.lo - 1) if k.integer else ("1e-9" if k.lo > 1e-9 else "-1e-9"))
    if k.hi is not None:
        out.append(str(int(k.hi * 10 + 1)))
    return out


@pytest.mark.parametrize("s", NUMERIC, ids=lambda s: s.key)
def test_flag_env_and_file_share_one_range(s, isolated_env: Path) -> None:
    k: Number = s.kind
    command = _first_command(s) if s.commands else "doctor"
    path = isolated_env / "c.toml"
    for bad in _out_of_range(k):
        toml = (f"[{s.section}]\n" if s.section else "") + f"{s.name} = {bad}\n"
        path.write_text(toml)
        messages = []
        with pytest.raises(ConfigError) as err:
            _config("doctor", config=path)
        messages.append(str(err.value).split(f"'{s.key}' ", 1)[1])
        with pytest.raises(ConfigError) as err:
            _config("doctor", env={s.env: bad})
        assert str(err.value).startswith(f"environment {s.env}: ")
        messages.append(str(err.value).split(": ", 1)[1])
        if s.flag:
            with pytest.raises(ConfigError) as err:
                _config(command, f"{s.flag}={bad}")
            assert str(err.value).startswith(f"{s.flag}: ")
            messages.append(str(err.value).split(": ", 1)[1])
        # the same words after the source, whatever the source
        assert len(set(messages)) == 1, messages
    good = k.hi if k.hi is not None else (k.lo or 0) + 1
    good = int(good) if k.integer else float(good)
    assert _value(_config("doctor", env={s.env: str(good)}), s) == good
    if s.flag:
        assert _value(_config(command, s.flag, str(good)), s) == good


def test_flags_that_used_to_be_dropped_reach_the_config() -> None:
    cfg = _config("monitor", "--funding-poll", "20", "--book-depth", "50", "--snapshot-every", "2")
    assert (cfg.funding_poll_s, cfg.book_depth, cfg.snapshot_every_s) == (20.0, 50, 2.0)
    cfg = _config("collect", "--snapshot-every", "5", "--catchup-hours", "12", "--timeframe", "4h")
    assert (cfg.collect.snapshot_every_s, cfg.collect.catchup_hours) == (5.0, 12.0)
    assert cfg.collect.timeframe == "4h"
    assert _config("backtest", "--fee-bps", "7").signals.fee_bps == 7.0


def test_no_log_switch_and_hz_alias() -> None:
    cfg = _config("monitor", "--no-log", "--hz", "8")
    assert cfg.log_db is False and cfg.ui_hz == 8.0
    assert _config("monitor").log_db is True


@pytest.mark.parametrize("bad", ["0m", "0h", "-1h", "1y", "h", "", "99999M", "1.5h"])
def test_timeframe_rejected_from_every_source(bad: str) -> None:
    with pytest.raises(ConfigError, match="--timeframe"):
        _config("collect", f"--timeframe={bad}")
    if bad:
        with pytest.raises(ConfigError, match="PERPTUI_COLLECT_TIMEFRAME"):
            _config("doctor", env={"PERPTUI_COLLECT_TIMEFRAME": bad})


def test_ui_hz_has_one_range_in_the_app_too() -> None:
    from perptui.ui.app import MonitorApp

    assert BY_KEY["ui_hz"].kind.describe() == "number 1–20 Hz"
    with pytest.raises(ValueError, match="between 1 and 20"):
        MonitorApp(None, hz=50)  # type: ignore[arg-type]
