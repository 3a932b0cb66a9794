"""YouTube: the channel Atom feed (no key) and Data API v3 (with :data:`KEY`).

``www.youtube.com/feeds/videos.xml?channel_id=`` (15 newest, yt:/media: namespaces);
``www.googleapis.com/youtube/v3/``: ``channels?part=contentDetails&id=`` (uploads playlist),
``playlistItems?playlistId=&maxResults=(≤50)&pageToken=`` (``nextPageToken``),
``videos?id=a,b,c``, ``commentThreads?videoId=``. A missing or wrong key answers 400
``API key not valid``. Watch pages ``www.youtube.com/watch?v=ID`` answer 404 once deleted.

Channel ``UCsynthUSGS00000000000000`` (20 videos; every 4th with two comments) and
``UCbenchN``. Round 2 retitles video 18 and adds one; round 3 deletes video 17.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from archiver.simulator.platforms import EPOCH, ApiRequest, json_resource
from archiver.simulator.world import HTML, Resource

HOSTS = ("www.youtube.com", "www.googleapis.com")
KEY = "sim-youtube-key"
CHANNEL = "UCsynthUSGS00000000000000"
ATOM = "application/atom+xml; charset=utf-8"


def _count(channel: str) -> int | None:
    if channel == CHANNEL:
        return 20
    if channel.startswith("UCbench") and channel[7:].isdigit():
        return int(channel[7:])
    return None


def _vid(channel: str, i: int) -> str:
    return f"v{channel[-6:]}{i:04d}"[:11].ljust(11, "x")


def _live(channel: str, round_: int) -> list[int]:
    count = _count(channel) or 0
    usgs = channel == CHANNEL
    total = count + (1 if usgs and round_ >= 2 else 0)
    gone = {count - 3} if usgs and round_ >= 3 else set()
    return [i for i in range(total - 1, -1, -1) if i not in gone]


def _video(channel: str, i: int, round_: int) -> dict[str, Any]:
    edited = channel == CHANNEL and i == (_count(channel) or 0) - 2 and round_ >= 2
    title = f"Hazards briefing {i}" + (" (corrected)" if edited else "")
    return {
        "id": _vid(channel, i),
        "title": title,
        "description": f"Briefing {i} on earthquakes, floods and landslides. Synthetic video.",
        "published": (EPOCH + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _find(vid: str, round_: int) -> tuple[str, int] | None:
    for channel in (CHANNEL,):
        for i in _live(channel, round_):
            if _vid(channel, i) == vid:
                return channel, i
    return None


def _feed(channel: str, round_: int) -> Resource:
    entries = []
    for i in _live(channel, round_)[:15]:
        v = _video(channel, i, round_)
        e = html.escape
        entries.append(
            f"""<entry><id>yt:video:{v["id"]}</id><yt:videoId>{v["id"]}</yt:videoId>
<yt:channelId>{channel}</yt:channelId><title>{e(v["title"])}</title>
<link rel="alternate" href="https://www.youtube.com/watch?v={v["id"]}"/>
<author><name>USGS (synthetic)</name><uri>https://www.youtube.com/channel/{channel}</uri></author>
<published>{v["published"]}</published><updated>{v["published"]}</updated>
<media:group><media:title>{e(v["title"])}</media:title>
<media:content url="https://www.youtube.com/v/{v["id"]}" type="application/x-shockwave-flash"/>
<media:thumbnail url="https://i.ytimg.com/vi/{v["id"]}/hqdefault.jpg" width="480" height="360"/>
<media:description>{e(v["description"])}</media:description></media:group></entry>"""
        )
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015"
 xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
<link rel="self" href="https://www.youtube.com/feeds/videos.xml?channel_id={channel}"/>
<id>yt:channel:{channel}</id><yt:channelId>{channel}</yt:channelId>
<title>USGS (synthetic)</title>
<author><name>USGS (synthetic)</name><uri>https://www.youtube.com/channel/{channel}</uri></author>
<published>2026-01-01T00:00:00+00:00</published>
{"".join(entries)}
</feed>"""
    return Resource(body.encode(), ATOM, EPOCH)


def _api_error(status: int, message: str, reason: str) -> Resource:
    error = {"code": status, "message": message, "errors": [{"reason": reason}]}
    return json_resource({"error": error}, status=status)


def _snippet(channel: str, v: dict[str, Any]) -> dict[str, Any]:
    return {
        "publishedAt": v["published"],
        "channelId": channel,
        "title": v["title"],
        "description": v["description"],
        "thumbnails": {"high": {"url": f"https://i.ytimg.com/vi/{v['id']}/hqdefault.jpg"}},
    }


def answer(req: ApiRequest) -> Resource | None:
    """YouTube's answer to ``req``."""
    if req.host == "www.youtube.com":
        if req.path == "/feeds/videos.xml":
            channel = req.param("channel_id") or ""
            if _count(channel) is None:
                return Resource(b"<!DOCTYPE html><title>404 Not Found</title>", HTML, EPOCH, 404)
            return _feed(channel, req.round)
        if req.path == "/watch":
            found = _find(req.param("v") or "", req.round)
            if found is None:
                return Resource(
                    b"<!DOCTYPE html><title>Video unavailable</title>", HTML, EPOCH, 404
                )
            title = html.escape(_video(*found, req.round)["title"])
            return Resource(f"<!DOCTYPE html><title>{title}</title>".encode(), HTML, EPOCH)
        return None
    if not req.path.startswith("/youtube/v3/"):
        return None
    if req.param("key") != KEY:
        return _api_error(400, "API key not valid. Please pass a valid API key.", "badRequest")
    kind = req.path.removeprefix("/youtube/v3/")
    if kind == "channels":
        channel = req.param("id") or ""
        if _count(channel) is None:
            return json_resource({"kind": "youtube#channelListResponse", "items": []})
        uploads = "UU" + channel[2:]
        item = {"id": channel, "contentDetails": {"relatedPlaylists": {"uploads": uploads}}}
        return json_resource({"kind": "youtube#channelListResponse", "items": [item]})
    if kind == "playlistItems":
        channel = "UC" + (req.param("playlistId") or "UU")[2:]
        live = _live(channel, req.round)
        size = req.int_param("maxResults", 5, low=1, high=50)
        start = int((req.param("pageToken") or "P0").removeprefix("P") or 0)
        chosen = [_video(channel, i, req.round) for i in live[start : start + size]]
        body: dict[str, Any] = {
            "kind": "youtube#playlistItemListResponse",
            "items": [
                {
                    "id": f"PI{v['id']}",
                    "snippet": _snippet(channel, v),
                    "contentDetails": {"videoId": v["id"], "videoPublishedAt": v["published"]},
                }
                for v in chosen
            ],
            "pageInfo": {"totalResults": len(live), "resultsPerPage": size},
        }
        if start + size < len(live):
            body["nextPageToken"] = f"P{start + size}"
        return json_resource(body)
    if kind == "videos":
        hits = [_find(v, req.round) for v in (req.param("id") or "").split(",")]
        videos = [_video(h[0], h[1], req.round) for h in hits if h is not None]
        items = [
            {"id": v["id"], "snippet": _snippet(CHANNEL, v), "statistics": {"viewCount": "120"}}
            for v in videos
        ]
        return json_resource({"kind": "youtube#videoListResponse", "items": items})
    if kind == "commentThreads":
        video = _find(req.param("videoId") or "", req.round)
        count = 2 if video and video[1] % 4 == 0 else 0
        threads = [
            {
                "id": f"Ug{req.param('videoId')}{n}",
                "snippet": {
                    "videoId": req.param("videoId"),
                    "topLevelComment": {
                        "id": f"Ug{req.param('videoId')}{n}",
                        "snippet": {
                            "textDisplay": f"Comment {n + 1}: useful briefing.",
                            "authorDisplayName": f"Viewer {n}",
                            "publishedAt": "2026-02-01T00:00:00Z",
                        },
                    },
                },
            }
            for n in range(count)
        ]
        return json_resource({"kind": "youtube#commentThreadListResponse", "items": threads})
    return _api_error(404, f"Unknown resource {kind}", "notFound")
