"""wechatpy, the reference Python client of the Official Account API, against the simulator: it
fetches the token, POSTs freepublish/batchget page by page, looks one article up
(freepublish/getarticle), lists image material and reads the material count, and parses every
answer the connector relies on. Its own errcode handling sees the simulator's error answers."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from archiver.simulator import Simulator
from archiver.simulator.platforms import wechat as simulated
from tests.platforms import api_root


def client_for(sim: Simulator, appid: str = simulated.APPID) -> WeChatClient:
    """A WeChatClient whose API base (and token URL, which wechatpy 1.x writes out in full) is
    the simulator's ``api.weixin.qq.com``."""
    base = f"{api_root(sim, simulated.API)}/cgi-bin/"

    class SimulatedClient(WeChatClient):  # type: ignore[misc]
        API_BASE_URL = base

        def fetch_access_token(self) -> Any:
            return self._fetch_access_token(
                url=f"{base}token",
                params={"grant_type": "client_credential", "appid": appid, "secret": self.secret},
            )

    return SimulatedClient(appid, simulated.SECRET)


def test_wechatpy_fetches_the_token_and_pages_the_published_articles(sim: Simulator) -> None:
    client = client_for(sim)
    assert client.access_token == simulated.token_for(simulated.APPID)
    seen: list[dict[str, Any]] = []
    offset, total = 0, None
    while total is None or offset < total:
        page = client.post(
            "freepublish/batchget", data={"offset": offset, "count": 20, "no_content": 1}
        )
        total = page["total_count"]
        assert page["item_count"] == len(page["item"]) <= 20
        seen += page["item"]
        offset += len(page["item"])
    assert len(seen) == total == 25
    assert len({p["article_id"] for p in seen}) == 25
    times = [p["content"]["create_time"] for p in seen]
    assert times == sorted(times, reverse=True)  # newest first
    for publish in seen:
        for item in publish["content"]["news_item"]:
            assert item["url"].startswith("http") and "/s/" in item["url"]
            assert item["title"] and "content" not in item  # no_content: 1
    # one article looked up by its id
    first = seen[0]
    found = client.post("freepublish/getarticle", data={"article_id": first["article_id"]})
    assert [i["title"] for i in found["news_item"]] == [
        i["title"] for i in first["content"]["news_item"]
    ]
    assert "content" in found["news_item"][0]


def test_wechatpy_reads_the_material_listing_and_count(sim: Simulator) -> None:
    client = client_for(sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # wechatpy's own _get
        count = client.material.get_count()
    assert set(count) == {"voice_count", "video_count", "image_count", "news_count"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # wechatpy's own _post
        images = client.material.batchget("image", offset=0, count=20)
    assert images["item_count"] == len(images["item"]) == 20
    assert images["total_count"] == count["image_count"]
    assert all({"media_id", "name", "update_time", "url"} <= set(i) for i in images["item"])


def test_wechatpy_sees_the_errcodes_the_real_api_answers(sim: Simulator) -> None:
    client = client_for(sim)
    with pytest.raises(WeChatClientException) as refused:
        client.get("freepublish/batchget", params={"offset": 0, "count": 20})
    assert refused.value.errcode == 40097
    with pytest.raises(WeChatClientException) as too_many:
        client.post("freepublish/batchget", data={"offset": 0, "count": 21})
    assert too_many.value.errcode == 40097
    with pytest.raises(WeChatClientException) as unknown:
        client.get("no/such/api")
    assert unknown.value.errcode == 48001
    quota = client_for(sim, simulated.QUOTA_APPID)
    with pytest.raises(WeChatClientException) as used_up:
        quota.post("freepublish/batchget", data={"offset": 0, "count": 20})
    assert used_up.value.errcode == 45009
