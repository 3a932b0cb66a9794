"""What a browser does on a page before it is archived: dismiss banners, expand, scroll.

Behaviours are pluggable per platform: :data:`BEHAVIOURS` maps a platform to the CSS selectors of
its "show more" and comment-thread buttons. Every step is bounded (scroll steps, clicks, time).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

COOKIE_BUTTONS = (
    "button:has-text('Accept all')",
    "button:has-text('Accept')",
    "button:has-text('I agree')",
    "button:has-text('Agree')",
    "button:has-text('Allow all')",
    "[aria-label='Accept cookies']",
    "#onetrust-accept-btn-handler",
)

MORE_BUTTONS = (
    "button:has-text('Show more')",
    "button:has-text('Load more')",
    "button:has-text('See more')",
    "[data-archiver-more]",
)


@dataclass(frozen=True)
class Behaviour:
    """Selectors a platform's pages need clicked to show everything."""

    expand: tuple[str, ...] = MORE_BUTTONS
    max_clicks: int = 20


BEHAVIOURS: dict[str, Behaviour] = {
    "mastodon": Behaviour(expand=(*MORE_BUTTONS, "button.status__content__spoiler-link")),
    "bluesky": Behaviour(expand=(*MORE_BUTTONS, "[data-testid='showMoreReplies']")),
    "youtube": Behaviour(expand=(*MORE_BUTTONS, "tp-yt-paper-button#expand")),
    "facebook": Behaviour(
        expand=(*MORE_BUTTONS, "div[role='button']:has-text('View more comments')")
    ),
    "x": Behaviour(
        expand=(*MORE_BUTTONS, "[data-testid='tweet'] [role='button']:has-text('Show')")
    ),
}


def dismiss_banners(page: Any) -> int:
    """Click the first visible consent button, if any; returns how many were clicked."""
    for selector in COOKIE_BUTTONS:
        button = page.locator(selector).first
        try:
            if button.count() and button.is_visible():
                button.click(timeout=1000)
                return 1
        except Exception:  # a banner that vanishes mid-click is not a problem
            continue
    return 0


def expand(page: Any, behaviour: Behaviour) -> int:
    """Click "show more" and thread buttons until none is left (bounded); returns clicks."""
    clicks = 0
    for selector in behaviour.expand:
        while clicks < behaviour.max_clicks:
            button = page.locator(selector).first
            try:
                if not button.count() or not button.is_visible():
                    break
                button.click(timeout=1000)
                page.wait_for_timeout(200)
            except Exception:
                break
            clicks += 1
    return clicks


def scroll_to_end(page: Any, *, max_steps: int, deadline: float, settle_ms: int = 350) -> int:
    """Scroll until the page stops growing, ``max_steps`` or ``deadline`` (monotonic seconds)
    is reached; returns the steps taken."""
    steps = 0
    last_height = -1
    quiet = 0
    while steps < max_steps and time.monotonic() < deadline:
        height = int(page.evaluate("document.documentElement.scrollHeight"))
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        steps += 1
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=1500)
        page.wait_for_timeout(settle_ms)
        grown = int(page.evaluate("document.documentElement.scrollHeight"))
        if grown == height == last_height or grown == height:
            quiet += 1
            if quiet >= 2:
                break
        else:
            quiet = 0
        last_height = grown
    page.evaluate("window.scrollTo(0, 0)")
    return steps
