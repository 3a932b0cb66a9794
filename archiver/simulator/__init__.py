"""Local platform simulator: the demo's public web (feeds, pages, media) served on loopback.

``Simulator`` serves it round by round (edits and deletions between captures) with injectable
HTTP faults; ``rewrite_urls`` keeps every link a client follows on loopback.
"""

from archiver.simulator.server import Simulator, original_url, rewrite_urls

__all__ = ["Simulator", "original_url", "rewrite_urls"]
