"""The simulated web: what each real URL answers in a given round.

The world is a pure function of the round number. Round 1 is the first capture; each
:meth:`Simulator.advance` moves to the next round, where posts are edited, added and deleted the
way agencies do between two captures:

* round 1: the starting state (USGS 4 entries, NASA 5 items, RDF 3 items, one HTML page);
* round 2: NASA edits one release (same ``guid``, new title and description) and publishes a new
  one at the top; USGS revises one magnitude (``M 6.1`` becomes ``M 6.2``, ``updated`` bumped);
* round 3: NASA deletes one release: it leaves the feed and its own page answers 404.

Rounds after the last scripted one look exactly like it. The RDF feed and the HTML page never
change, so a re-capture of them produces identical payloads. Every body is deterministic for a
given round; bodies hold the *real* URLs (``https://www.nasa.gov/...``), and the server rewrites
them to the simulator's base URL when it serves them.

Demo data lives in ``archiver/simulator/data/``; everything in it is synthetic and labelled so.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from importlib import resources
from types import MappingProxyType
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

LAST_ROUND = 3
"""The last round with scripted changes; later rounds serve the same bytes as this one."""

ATOM = "application/atom+xml"
RSS = "application/rss+xml"
RDF = "application/rdf+xml"
HTML = "text/html; charset=utf-8"
CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"
PNG = "image/png"

USGS_FEED = "earthquake.usgs.gov/earthquakes/feed/v1.0/summary/significant_month.atom"
NASA_FEED = "www.nasa.gov/news-release/feed/"
RDF_FEED = "www.example-agency.gov/news.rdf"
USAGOV_PAGE = "www.usa.gov/agencies/u-s-geological-survey"
USAGOV_CSS = "www.usa.gov/themes/custom/usagov/dist/css/styles.css"

_FIXED_DATE = datetime(2026, 2, 12, 15, 0, tzinfo=UTC)
_SYNTHETIC_NOTE = "<!-- Synthetic demo data served by the archiver simulator. -->"
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico", ".bmp", ".svg")


@dataclass(frozen=True, slots=True)
class Resource:
    """One HTTP answer of the simulated web: exact body bytes and the headers that describe them.

    ``body`` holds real (not yet rewritten) URLs; ``last_modified`` is timezone-aware UTC.
    """

    body: bytes
    content_type: str
    last_modified: datetime
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()  # extra headers (Link, rate limits); URLs rewritten


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole simulated web in one round.

    ``resources`` maps a route key (``host/path`` without scheme, as in
    ``www.nasa.gov/news-release/feed/``) to its answer; ``deleted`` holds the keys that answer
    404 because their post was deleted.
    """

    round: int
    resources: Mapping[str, Resource]
    deleted: frozenset[str] = field(default_factory=frozenset)


def route_key(host: str, path: str, query: str = "") -> str:
    """The key of ``https://host/path?query`` in :attr:`Snapshot.resources` (host lower-cased)."""
    key = f"{host.lower()}{path or '/'}"
    return f"{key}?{query}" if query else key


def snapshot(round_: int) -> Snapshot:
    """The simulated web in ``round_`` (1-based; rounds past :data:`LAST_ROUND` equal the last).

    Guarantees: the same round always yields byte-identical bodies; nothing depends on the clock.
    """
    if round_ < 1:
        raise ValueError(f"round must be 1 or more, got {round_}")
    return _snapshot(min(round_, LAST_ROUND))


@functools.lru_cache(maxsize=LAST_ROUND)
def _snapshot(round_: int) -> Snapshot:
    found: dict[str, Resource] = {}
    deleted: set[str] = set()
    _add_usgs(round_, found)
    _add_nasa(round_, found, deleted)
    found[RDF_FEED] = Resource(_data("example-agency-news.rdf"), RDF, _FIXED_DATE)
    found[USAGOV_PAGE] = Resource(_data("usagov-u-s-geological-survey.html"), HTML, _FIXED_DATE)
    found[USAGOV_CSS] = Resource(_data("usagov-styles.css"), CSS, _FIXED_DATE)
    _add_social_page(found)
    return Snapshot(round_, MappingProxyType(found), frozenset(deleted))


SOCIAL_PAGE = "www.example-agency.gov/social/"
_SOCIAL_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Example Agency on social media</title>
<link rel="stylesheet" href="https://www.example-agency.gov/social/style.css"></head>
<body>
<div id="consent" style="position:fixed;bottom:0;background:#eee;padding:1em">
  This site uses cookies. <button onclick="this.parentNode.remove()">Accept</button></div>
<header><img src="https://www.example-agency.gov/social/logo.png" alt="Example Agency logo">
<h1>Example Agency posts</h1></header>
<main id="posts"></main>
<button id="more" data-archiver-more style="display:none">Show more</button>
<iframe src="https://www.example-agency.gov/social/embed.html" title="embedded video"
  width="400" height="120"></iframe>
<div style="height:1400px"></div>
<script>
async function load(page) {
  const answer = await fetch("posts.json?page=" + page);
  const posts = await answer.json();
  for (const p of posts.items) {
    const el = document.createElement("article");
    el.className = "post";
    el.innerHTML = "<h2>" + p.title + "</h2><p>" + p.text + "</p>";
    document.getElementById("posts").appendChild(el);
  }
  document.body.dataset.loaded = page;
  if (page === 2) { document.getElementById("more").style.display = "block"; }
}
load(1);
let second = false;
window.addEventListener("scroll", () => {
  if (!second && window.scrollY + window.innerHeight > document.body.scrollHeight - 300) {
    second = true; load(2);
  }
});
document.getElementById("more").addEventListener("click", (e) => {
  e.target.remove(); load(3);
});
</script>
<!-- Synthetic demo data served by the archiver simulator. -->
</body></html>
"""


def _add_social_page(found: dict[str, Resource]) -> None:
    """A page that builds itself with JavaScript: batch 1 on load, batch 2 only after
    scrolling, batch 3 behind a "Show more" button; a logo image, a stylesheet, an iframe."""
    found[SOCIAL_PAGE] = Resource(_SOCIAL_HTML.encode(), HTML, _FIXED_DATE)
    for page in (1, 2, 3):
        batch = {
            "page": page,
            "items": [
                {"title": f"Post {page}.{n}", "text": f"Batch {page} item {n} of the agency feed."}
                for n in range(1, 6)
            ],
        }
        found[f"{SOCIAL_PAGE}posts.json?page={page}"] = Resource(
            json.dumps(batch).encode(), "application/json", _FIXED_DATE
        )
    found[f"{SOCIAL_PAGE}embed.html"] = Resource(
        b"<!DOCTYPE html><title>Embedded</title><p>Embedded player (synthetic)</p>"
        b'<img src="https://www.example-agency.gov/social/poster.jpg" alt="poster">',
        HTML,
        _FIXED_DATE,
    )
    found[f"{SOCIAL_PAGE}style.css"] = Resource(
        b"body{font-family:sans-serif;max-width:60em;margin:auto}\n"
        b".post{border-bottom:1px solid #ccc}\n",
        CSS,
        _FIXED_DATE,
    )
    found[f"{SOCIAL_PAGE}hang.html"] = Resource(
        b'<!DOCTYPE html><title>Never done</title><p>Waiting...</p><img src="/_fault/hang">',
        HTML,
        _FIXED_DATE,
    )
    found[f"{SOCIAL_PAGE}metadata.html"] = Resource(
        b'<!DOCTYPE html><title>Leak</title><iframe src="/_fault/redirect?to='
        b'http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F"></iframe>'
        b"<p>An embed that redirects to a cloud metadata address.</p>",
        HTML,
        _FIXED_DATE,
    )


def demo_routes() -> tuple[str, ...]:
    """Route keys of the demo feeds and page that accounts are configured to capture."""
    return (USGS_FEED, NASA_FEED, RDF_FEED, USAGOV_PAGE)


def malformed_feed() -> Resource:
    """An RSS document that is not well-formed XML (unclosed tags, bare ``&``, HTML entities)."""
    return Resource(_data("malformed.rss"), RSS, _FIXED_DATE)


def small_feed(title: str = "Simulator test feed") -> Resource:
    """A tiny, valid RSS 2.0 feed with one item, for fault routes that end in success."""
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
{_SYNTHETIC_NOTE}
<rss version="2.0">
<channel>
<title>{xml_escape(title)}</title>
<link>https://www.example-agency.gov/news/</link>
<description>A one-item feed of the synthetic Example Agency.</description>
<item>
<title>Agency Publishes Updated Records Schedule for Social Media Content</title>
<link>https://www.example-agency.gov/news/2026/02/26/records-schedule-update.html</link>
<guid isPermaLink="false">example-agency-2026-02-26</guid>
<pubDate>Thu, 26 Feb 2026 21:00:00 +0000</pubDate>
<description>The agency has published an updated records schedule.</description>
</item>
</channel>
</rss>
"""
    return Resource(body.encode("utf-8"), RSS, _FIXED_DATE)


def placeholder(host: str, path: str) -> Resource:
    """A deterministic stand-in for a URL the demo data does not model, chosen by extension.

    Images (``.png .jpg .gif .webp .ico ...``) get a small valid PNG whose colour depends on the
    URL (so different media have different digests), ``.css`` and ``.js`` a comment, anything
    else a small HTML page. The same URL always yields the same bytes.
    """
    lower = path.lower()
    if lower.endswith(_IMAGE_EXTENSIONS):
        return Resource(_png_for(f"{host}{path}"), PNG, _FIXED_DATE)
    if lower.endswith(".css"):
        return Resource(b"/* simulator placeholder stylesheet */\n", CSS, _FIXED_DATE)
    if lower.endswith((".js", ".mjs")):
        return Resource(b"/* simulator placeholder script */\n", JS, _FIXED_DATE)
    where = html.escape(f"{host}{path}")
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{where}</title></head>\n<body><h1>{where}</h1>\n"
        "<p>Placeholder page served by the archiver simulator: the demo data does not model "
        "this address.</p></body></html>\n"
    )
    return Resource(body.encode("utf-8"), HTML, _FIXED_DATE)


def not_found(host: str, path: str) -> Resource:
    """The 404 page a platform serves once a post was deleted."""
    where = html.escape(f"{host}{path}")
    body = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Page Not Found</title></head>\n"
        f"<body><h1>Page Not Found</h1><p>{where} no longer exists.</p></body></html>\n"
    )
    return Resource(body.encode("utf-8"), HTML, _FIXED_DATE, status=404)


# --- data loading -----------------------------------------------------------------------------


def _data(name: str) -> bytes:
    return resources.files(__package__).joinpath("data", name).read_bytes()


def _json(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_data(name))
    return loaded


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _edits_until(record: Mapping[str, Any], round_: int) -> dict[str, Any]:
    """The record with every edit scripted for rounds up to ``round_`` applied, in round order."""
    merged = {k: v for k, v in record.items() if k != "edits"}
    edits: Mapping[str, Mapping[str, Any]] = record.get("edits", {})
    for edit_round in sorted(edits, key=int):
        if int(edit_round) <= round_:
            merged.update(edits[edit_round])
    return merged


# --- USGS Atom feed ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Quake:
    source: str
    code: str
    mag: float
    place: str
    time: datetime
    updated: datetime
    tz: timezone
    lat: float
    lon: float
    depth_km: float
    age: str
    contributor: str

    @property
    def event_id(self) -> str:
        return f"{self.source}{self.code}"

    @property
    def title(self) -> str:
        return f"M {self.mag:.1f} - {self.place}"

    @property
    def page(self) -> str:
        return f"https://earthquake.usgs.gov/earthquakes/eventpage/{self.event_id}"


def _quakes(round_: int) -> list[_Quake]:
    quakes = []
    for raw in _json("usgs-significant-month.json")["events"]:
        rec = _edits_until(raw, round_)
        sign = -1 if rec["tz"].startswith("-") else 1
        hours, minutes = (int(part) for part in rec["tz"][1:].split(":"))
        quakes.append(
            _Quake(
                source=rec["source"],
                code=rec["code"],
                mag=float(rec["mag"]),
                place=rec["place"],
                time=_when(rec["time"]),
                updated=_when(rec["updated"]),
                tz=timezone(sign * timedelta(hours=hours, minutes=minutes)),
                lat=float(rec["lat"]),
                lon=float(rec["lon"]),
                depth_km=float(rec["depth_km"]),
                age=rec["age"],
                contributor=rec["contributor"],
            )
        )
    return sorted(quakes, key=lambda q: q.time, reverse=True)


def _iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _quake_summary(quake: _Quake) -> str:
    local = quake.time.astimezone(quake.tz)
    offset = local.strftime("%z")
    lat = f"{abs(quake.lat):.3f}&#176;{'S' if quake.lat < 0 else 'N'}"
    lon = f"{abs(quake.lon):.3f}&#176;{'W' if quake.lon < 0 else 'E'}"
    miles = quake.depth_km * 0.621371
    return (
        f"<dl><dt>Time</dt><dd>{quake.time:%Y-%m-%d %H:%M:%S} UTC</dd>"
        f"<dd>{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]} at epicenter</dd>"
        f"<dt>Location</dt><dd>{lat} {lon}</dd>"
        f"<dt>Depth</dt><dd>{quake.depth_km:.2f} km ({miles:.2f} mi)</dd></dl>"
    )


def _add_usgs(round_: int, found: dict[str, Resource]) -> None:
    meta = _json("usgs-significant-month.json")["feed"]
    quakes = _quakes(round_)
    updated = max(q.updated for q in quakes)
    # One line of header, one line per entry: the shape the USGS feed generator writes.
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"{_SYNTHETIC_NOTE}\n"
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss">'
        f"<title>{xml_escape(meta['title'])}</title>"
        f"<updated>{updated:%Y-%m-%dT%H:%M:%SZ}</updated>"
        "<author><name>U.S. Geological Survey</name><uri>https://earthquake.usgs.gov/</uri></author>"
        f"<id>{xml_escape(meta['self'])}</id>"
        f'<link rel="self" href={quoteattr(meta["self"])}/>'
        "<icon>https://earthquake.usgs.gov/favicon.ico</icon>\n"
    )
    entries = []
    for q in quakes:
        entries.append(
            "<entry>"
            f"<id>urn:earthquake-usgs-gov:{q.source}:{q.code}</id>"
            f"<title>{xml_escape(q.title)}</title>"
            f"<updated>{_iso_ms(q.updated)}</updated>"
            f'<link rel="alternate" type="text/html" href={quoteattr(q.page)}/>'
            f'<summary type="html"><![CDATA[{_quake_summary(q)}]]></summary>'
            f"<georss:point>{q.lat:.4f} {q.lon:.4f}</georss:point>"
            f"<georss:elev>{round(-1000 * q.depth_km)}</georss:elev>"
            f'<category label="Age" term="{q.age}"/>'
            f'<category label="Magnitude" term="Magnitude {int(q.mag)}"/>'
            f'<category label="Contributor" term="{q.contributor}"/>'
            f'<category label="Author" term="{q.source}"/>'
            "</entry>\n"
        )
        found[route_key("earthquake.usgs.gov", f"/earthquakes/eventpage/{q.event_id}")] = Resource(
            _quake_page(q), HTML, q.updated
        )
    body = head + "".join(entries) + "</feed>"
    found[USGS_FEED] = Resource(body.encode("utf-8"), ATOM, updated)


def _quake_page(quake: _Quake) -> bytes:
    title = html.escape(quake.title)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>\n"
        f'<link rel="canonical" href="{quake.page}">\n'
        '<link rel="stylesheet" href="https://earthquake.usgs.gov/theme/site/earthquake/index.css">'
        "</head>\n<body>\n"
        '<header><a href="https://www.usgs.gov/"><img '
        'src="https://earthquake.usgs.gov/theme/images/usgs-logo.svg" alt="USGS"></a></header>\n'
        f"<main><h1>{title}</h1>\n{_quake_summary(quake)}\n"
        f"<p>Event id: {quake.event_id}. Review status: reviewed. "
        f"Last updated {_iso_ms(quake.updated)}.</p></main>\n</body></html>\n"
    ).encode()


# --- NASA WordPress RSS 2.0 feed --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Release:
    post_id: int
    slug: str
    title: str
    creator: str
    published: datetime
    modified: datetime
    categories: tuple[str, ...]
    description: str
    image_path: str
    image_length: int

    @property
    def link(self) -> str:
        return f"https://www.nasa.gov/news-release/{self.slug}/"

    @property
    def guid(self) -> str:
        return f"https://www.nasa.gov/?p={self.post_id}"

    @property
    def image(self) -> str:
        return f"https://www.nasa.gov{self.image_path}"


def _releases(round_: int) -> tuple[list[_Release], list[_Release]]:
    """(present, deleted) releases in ``round_``; present ones newest first."""
    present: list[_Release] = []
    gone: list[_Release] = []
    for raw in _json("nasa-news-release.json")["items"]:
        if int(raw.get("first_round", 1)) > round_:
            continue
        rec = _edits_until(raw, round_)
        published = _when(rec["published"])
        release = _Release(
            post_id=int(rec["post_id"]),
            slug=rec["slug"],
            title=rec["title"],
            creator=rec["creator"],
            published=published,
            modified=_when(rec["modified"]) if "modified" in rec else published,
            categories=tuple(rec["categories"]),
            description=rec["description"],
            image_path=rec["image"]["path"],
            image_length=int(rec["image"]["length"]),
        )
        deleted_in = rec.get("deleted_in_round")
        (gone if deleted_in is not None and round_ >= int(deleted_in) else present).append(release)
    present.sort(key=lambda r: r.published, reverse=True)
    return present, gone


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _release_description(release: _Release) -> str:
    # Yoast SEO appends this "appeared first on" line to every item of the real feed.
    return (
        f"<p>{html.escape(release.description, quote=False)}</p>\n"
        f'<p>The post <a href="{release.link}">{html.escape(release.title, quote=False)}</a> '
        'appeared first on <a href="https://www.nasa.gov">NASA</a>.</p>\n'
    )


def _add_nasa(round_: int, found: dict[str, Resource], deleted: set[str]) -> None:
    channel = _json("nasa-news-release.json")["channel"]
    build = _when(channel["last_build_date"][str(round_)])
    present, gone = _releases(round_)
    items = []
    for r in present:
        categories = "".join(f"\t\t<category>{_cdata(name)}</category>\n" for name in r.categories)
        items.append(
            "\t<item>\n"
            f"\t\t<title>{xml_escape(r.title)}</title>\n"
            f"\t\t<link>{xml_escape(r.link)}</link>\n"
            f"\t\t\n\t\t<dc:creator>{_cdata(r.creator)}</dc:creator>\n"
            f"\t\t<pubDate>{format_datetime(r.published)}</pubDate>\n"
            f"{categories}"
            f'\t\t<guid isPermaLink="false">{xml_escape(r.guid)}</guid>\n\n'
            f"\t\t\t\t\t<description>{_cdata(_release_description(r))}</description>\n"
            f'\t\t<enclosure url={quoteattr(r.image)} length="{r.image_length}" '
            'type="image/jpeg" />\n'
            "\t</item>\n"
        )
        found[route_key("www.nasa.gov", f"/news-release/{r.slug}/")] = Resource(
            _release_page(r), HTML, r.modified
        )
    for r in gone:
        deleted.add(route_key("www.nasa.gov", f"/news-release/{r.slug}/"))
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:wfw="http://wellformedweb.org/CommentAPI/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '\txmlns:atom="http://www.w3.org/2005/Atom"\n'
        '\txmlns:sy="http://purl.org/rss/1.0/modules/syndication/"\n'
        '\txmlns:slash="http://purl.org/rss/1.0/modules/slash/"\n'
        "\t>\n"
        f"{_SYNTHETIC_NOTE}\n"
        "<channel>\n"
        f"\t<title>{xml_escape(channel['title'])}</title>\n"
        f'\t<atom:link href={quoteattr(channel["self"])} rel="self" '
        'type="application/rss+xml" />\n'
        f"\t<link>{xml_escape(channel['link'])}</link>\n"
        f"\t<description>{xml_escape(channel['description'])}</description>\n"
        f"\t<lastBuildDate>{format_datetime(build)}</lastBuildDate>\n"
        f"\t<language>{channel['language']}</language>\n"
        "\t<sy:updatePeriod>\n\thourly\t</sy:updatePeriod>\n"
        "\t<sy:updateFrequency>\n\t1\t</sy:updateFrequency>\n"
        f"\t<generator>{xml_escape(channel['generator'])}</generator>\n\n"
        "<image>\n"
        f"\t<url>{xml_escape(channel['image'])}</url>\n"
        f"\t<title>{xml_escape(channel['title'])}</title>\n"
        f"\t<link>{xml_escape(channel['link'])}</link>\n"
        "\t<width>32</width>\n\t<height>32</height>\n"
        "</image> \n"
        f"{''.join(items)}"
        "\t</channel>\n</rss>\n"
    )
    found[NASA_FEED] = Resource(body.encode("utf-8"), RSS, build)


def _release_page(release: _Release) -> bytes:
    title = html.escape(release.title)
    return (
        '<!DOCTYPE html>\n<html lang="en-US"><head><meta charset="UTF-8">\n'
        f"<title>{title} - NASA</title>\n"
        f'<link rel="canonical" href="{release.link}">\n'
        f'<meta property="og:image" content="{release.image}">\n'
        f'<meta property="article:published_time" content="{release.published.isoformat()}">\n'
        f'<meta property="article:modified_time" content="{release.modified.isoformat()}">\n'
        '<link rel="stylesheet" href="https://www.nasa.gov/wp-content/themes/nasa/assets/css/'
        'nasa.css">\n'
        "</head>\n<body>\n"
        '<header><a href="https://www.nasa.gov/"><img src="https://www.nasa.gov/wp-content/'
        'themes/nasa/assets/images/nasa-logo.svg" alt="NASA"></a></header>\n'
        f"<main><article><h1>{title}</h1>\n"
        f'<p class="byline">{html.escape(release.creator)}, '
        f"{release.published:%b %d, %Y}</p>\n"
        f'<figure><img src="{release.image}" alt=""></figure>\n'
        f"<p>{html.escape(release.description)}</p>\n"
        '<p>For more information, visit <a href="https://www.nasa.gov/news/">NASA News</a>.</p>\n'
        "</article></main>\n</body></html>\n"
    ).encode()


# --- placeholder PNG --------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@functools.lru_cache(maxsize=256)
def _png_for(key: str) -> bytes:
    """An 8x8 single-colour RGB PNG; the colour comes from the URL so each image differs."""
    red, green, blue = hashlib.sha256(key.encode("utf-8")).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * 8
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * 8, 9))
        + _png_chunk(b"IEND", b"")
    )


__all__ = [
    "LAST_ROUND",
    "Resource",
    "Snapshot",
    "demo_routes",
    "malformed_feed",
    "not_found",
    "placeholder",
    "route_key",
    "small_feed",
    "snapshot",
]
