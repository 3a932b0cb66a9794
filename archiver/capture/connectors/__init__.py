"""Connectors, one module per platform, registered in one table."""

from __future__ import annotations

from archiver.capture.connectors.base import CaptureSession, Connector, ConnectorResult
from archiver.capture.connectors.feed import FeedConnector
from archiver.capture.connectors.web import WebConnector
from archiver.errors import UsageError

CONNECTORS: dict[str, type[Connector]] = {
    "feed": FeedConnector,
    "web": WebConnector,
}


def connector_for(platform: str) -> Connector:
    """The connector of ``platform``; UsageError naming what exists when there is none yet."""
    try:
        return CONNECTORS[platform]()
    except KeyError:
        raise UsageError(
            f"no connector for platform {platform!r} yet (available: "
            f"{', '.join(sorted(CONNECTORS))})"
        ) from None


__all__ = ["CONNECTORS", "CaptureSession", "Connector", "ConnectorResult", "connector_for"]
