"""The message contract: /asyncapi.json (laf_core.asyncapi) and a readable page, /asyncapi."""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from laf_core import asyncapi

router = APIRouter()
_DOCUMENT = asyncapi.document()


@router.get("/asyncapi.json", include_in_schema=False)  # a document of its own
async def asyncapi_json() -> dict[str, Any]:
    """LAF's exchange, queues, routing keys and event models as an AsyncAPI 3 document."""
    return _DOCUMENT


@router.get("/asyncapi", include_in_schema=False, response_class=HTMLResponse)
async def asyncapi_page() -> str:
    return _page(_DOCUMENT)


def _page(document: dict[str, Any]) -> str:
    """Channels, who publishes and consumes them, and the schemas; no script, no CDN."""
    e = html.escape
    rows = []
    for name, channel in document["channels"].items():
        users = [
            op["summary"]
            for op in document["operations"].values()
            if op["channel"]["$ref"] == f"#/channels/{name}"
        ]
        messages = ", ".join(channel["messages"])
        rows.append(
            f"<tr><td><code>{e(channel['address'])}</code></td><td>{e(channel['title'])}"
            f"<br><small>{e(channel.get('description', ''))}</small></td>"
            f"<td>{e(messages)}</td><td>{e('; '.join(users))}</td></tr>"
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
        f"<th>Messages</th><th>Used by</th></tr>{''.join(rows)}</table>"
        f"<h2>Schemas</h2>{schemas}</html>"
    )
