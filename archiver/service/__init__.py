"""The daemon: scheduled capture, health and metrics, one leader."""
