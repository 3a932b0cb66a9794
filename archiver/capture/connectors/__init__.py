"""Connectors, one module per platform, registered in one table (imported when first used)."""

from __future__ import annotations

import importlib

from archiver.capture.connectors.base import CaptureSession, Connector, ConnectorResult
from archiver.errors import UsageError

CONNECTORS: dict[str, str] = {
    "feed": "feed:FeedConnector",
    "web": "web:WebConnector",
    "mastodon": "mastodon:MastodonConnector",
    "bluesky": "bluesky:BlueskyConnector",
    "youtube": "youtube:YouTubeConnector",
    "x": "x:XConnector",
    "facebook": "graph:FacebookConnector",
    "instagram": "graph:InstagramConnector",
    "wechat": "wechat:WeChatConnector",
}


def connector_for(platform: str) -> Connector:
    """The connector of ``platform``; UsageError naming what exists when there is none yet."""
    target = CONNECTORS.get(platform)
    if target is not None:
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{module_name}":
                raise
        else:
            connector: Connector = getattr(module, class_name)()
            return connector
    raise UsageError(f"no connector for platform {platform!r} yet (known: {', '.join(CONNECTORS)})")


__all__ = ["CONNECTORS", "CaptureSession", "Connector", "ConnectorResult", "connector_for"]
