"""The message contract: /asyncapi.json (laf_core.asyncapi) and a readable page, /asyncapi."""

from __future__ import annotations

import asyncio
import functools
import html
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()


@functools.cache
def _document() -> dict[str, Any]:
    # Made on the first request, not at start: importing FastStream costs ~1 s and ~12 MB
    # that an API nobody asks for its message document should not pay.
    from laf_core import asyncapi

    return asyncapi.document()


async def _made() -> dict[str, Any]:
    return await asyncio.to_thread(_document)  # the first one must not stall the loop


@router.get("/asyncapi.json", include_in_schema=False)  # a document of its own
async def asyncapi_json() -> dict[str, Any]:
    """LAF's exchange, queues, routing keys and event models as an AsyncAPI 3 document."""
    return await _made()


@router.get("/asyncapi", include_in_schema=False, response_class=HTMLResponse)
async def asyncapi_page() -> str:
    return _page(await _made())


def _page(document: dict[str, Any]) -> str:
    """Channels, what they carry, send or receive, and the schemas; no script, no CDN
    (FastStream's own page loads its renderer from a CDN)."""
    e = html.escape
    rows = []
    for name, channel in document["channels"].items():
        actions = [
            op["action"]
            for op in document["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{name}"
        ]
        payloads = [
            document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]["payload"]["$ref"]
            for ref in channel["messages"].values()
        ]
        rows.append(
            f"<tr><td><code>{e(channel['address'])}</code></td><td>{e(name)}"
            f"<br><small>{e(channel.get('description', ''))}</small></td>"
            f"<td>{e(', '.join(p.rsplit('/', 1)[1] for p in payloads))}</td>"
            f"<td>{e(', '.join(actions))}</td></tr>"
        )
    schemas = "".join(
        f"<h3 id='{e(name)}'>{e(name)}</h3><pre>{e(json.dumps(schema, indent=2))}</pre>"
        for name, schema in document["components"]["schemas"].items()
    )
    info = document["info"]
    return (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{e(info['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #888;padding:.3em;"
        "vertical-align:top;text-align:left}pre{background:#f4f4f4;padding:.5em}</style>"
        f"<h1>{e(info['title'])} {e(info['version'])}</h1><p>{e(info['description'])}</p>"
        "<p>The machine-readable document: <a href='/asyncapi.json'>/asyncapi.json</a> "
        "(AsyncAPI 3.0).</p><h2>Channels</h2><table><tr><th>Address</th><th>Channel</th>"
        f"<th>Payload</th><th>Operation</th></tr>{''.join(rows)}</table>"
        f"<h2>Schemas</h2>{schemas}</html>"
    )
