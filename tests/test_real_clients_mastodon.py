"""Mastodon.py, the real client library, against the simulated instance: it must parse every
answer the connector relies on (lookup, statuses with Link paging, status, context, errors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from archiver.simulator import Simulator
from tests.platforms import api_root

mastodon = pytest.importorskip("mastodon")

HOST = "social.example.gov"


@pytest.fixture
def client(sim: Simulator) -> Iterator[Any]:
    yield mastodon.Mastodon(
        api_base_url=api_root(sim, HOST), access_token="sim-token", version_check_mode="none"
    )


def test_account_lookup_parses_the_account(client: Any) -> None:
    account = client.account_lookup("usgs")
    assert str(account.id) == "1001" and account.acct == "usgs"
    assert account.statuses_count == 30 and account.url.endswith("/@usgs")


def test_account_statuses_page_with_fetch_next_to_the_end(client: Any) -> None:
    account = client.account_lookup("bench95")
    page = client.account_statuses(account.id, limit=40)
    seen = []
    while page:
        seen.extend(page)
        assert all(s.created_at.tzinfo is not None and s.account.acct for s in page)
        page = client.fetch_next(page)
    ids = [int(s.id) for s in seen]
    assert len(ids) == 95 and ids == sorted(ids, reverse=True) and len(set(ids)) == 95


def test_boosts_cards_and_media_parse(client: Any) -> None:
    statuses = client.account_statuses(1001, limit=40)
    assert len(statuses) == 30
    boosts = [s for s in statuses if s.reblog]
    assert len(boosts) == 3
    for boost in boosts:
        assert boost.content == "" and boost.url.endswith("/activity")
        assert boost.reblog.account.acct == "noaa@weather.example"
        [attachment] = boost.reblog.media_attachments
        assert attachment.url is None and attachment.remote_url.endswith("radar.png")
    cards = [s for s in statuses if s.card]
    assert len(cards) == 5 and all(c.card.image.endswith("card.png") for c in cards)
    assert any(s.media_attachments and s.media_attachments[0].url for s in statuses)


def test_status_and_its_context_parse(client: Any) -> None:
    statuses = client.account_statuses(1001, limit=40)
    threaded = [s for s in statuses if s.replies_count]
    assert len(threaded) == 5
    one = client.status(threaded[0].id)
    assert one.id == threaded[0].id and one.content == threaded[0].content
    context = client.status_context(one.id)
    assert context.ancestors == []
    replies = {r.id: r for r in context.descendants}
    assert len(replies) == 3
    direct = [r for r in replies.values() if r.in_reply_to_id == one.id]
    nested = [r for r in replies.values() if r.in_reply_to_id in replies]
    assert len(direct) == one.replies_count == 2 and len(nested) == 1
    assert all("@" in r.account.acct for r in replies.values())


def test_a_missing_status_raises_not_found_with_mastodons_message(client: Any) -> None:
    with pytest.raises(mastodon.MastodonNotFoundError) as caught:
        client.status(1)
    assert "Record not found" in str(caught.value)
