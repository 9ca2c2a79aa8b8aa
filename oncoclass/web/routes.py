"""Serve the page at ``GET /`` and its script and style sheet under ``/static``.

The page is plain HTML that talks to the JSON API (``/v1/...``) from the browser, so the server
side is only two routes. The page and its assets use *relative* URLs (``static/app.js``,
``v1/predict``): the app then works unchanged behind a reverse proxy that serves it under a
path prefix.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

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

    # /docs with Swagger UI from the installed swagger-ui-bundle package: works offline.
    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{app.title} API",
            swagger_js_url="swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="swagger-ui/swagger-ui.css",
            swagger_favicon_url="swagger-ui/favicon-32x32.png",
        )

    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
