"""High-fidelity page capture in Chromium (``capture: [page]``)."""

from archiver.capture.browser.capture import BrowserCapturer, PageCapture, capture_pages

__all__ = ["BrowserCapturer", "PageCapture", "capture_pages"]
