"""Engine: workers feed the hub; the hub is sampled by the UI and the engine clock."""

from __future__ import annotations

from perptui.engine.hub import Hub
from perptui.engine.views import FEED_STATES, FeedHealth, HistoryPoint, HubView, MarketView

__all__ = ["FEED_STATES", "FeedHealth", "HistoryPoint", "Hub", "HubView", "MarketView"]
