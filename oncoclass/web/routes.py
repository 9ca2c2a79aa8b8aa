"""Serve the page at ``GET /`` and its script and style sheet under ``/static``.

The page is plain HTML that talks to the JSON API (``/v1/...``) from the browser, so the server
side is only two routes. The page and its assets use *relative* URLs (``static/app.js``,
``v1/predict``): the app then works unchanged behind a reverse proxy that serves it under a
path prefix.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
INDEX_HTML = WEB_DIR / "templates" / "index.html"

#: The page may load nothing but itself: no CDN, no inline script, no framing by other sites.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def mount_web(app: FastAPI) -> None:
    """Add ``GET /`` (the page) and ``/static`` (its assets) to ``app``."""
    html = INDEX_HTML.read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # The page is tiny; never serve a stale copy after an upgrade.
                "Cache-Control": "no-cache",
            },
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
