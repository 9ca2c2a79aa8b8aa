"""Serve the page at ``GET /`` and its script and style sheet under ``/static``, and the API
documentation at ``/docs``.

The page is plain HTML that talks to the JSON API (``/v1/...``) from the browser, so the server
side is only a few routes. The page and its assets use *relative* URLs (``static/app.js``,
``v1/predict``): the app then works unchanged behind a reverse proxy that serves it under a
path prefix. ``/docs`` is Swagger UI from the installed ``swagger-ui-bundle`` (offline), reading
``/docs/openapi.json``: the app's schema in the OpenAPI 3.0 dialect that this Swagger UI reads,
behind the same key check as ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
INDEX_HTML = WEB_DIR / "templates" / "index.html"
DOCS_HTML = WEB_DIR / "templates" / "docs.html"
#: The app's OpenAPI document.
SCHEMA = "/openapi.json"

#: The page may load nothing but itself: no CDN, no inline script, no framing by other sites.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def mount_web(app: FastAPI) -> None:
    """Add ``GET /`` (the page), ``/static`` (its assets) and ``/docs`` to ``app``. Call it
    after the app's ``/openapi.json`` route: ``/docs/openapi.json`` copies its key check."""
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

    # /docs: Swagger UI from the installed swagger-ui-bundle package (works offline), started
    # by static/docs.js (no inline script, so the strict policy holds), which sends the API key.
    docs_html = DOCS_HTML.read_text(encoding="utf-8")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(
            docs_html,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
            },
        )

    # The Swagger UI that swagger-ui-bundle ships (4.x) reads OpenAPI 3.0 only and refuses
    # FastAPI's 3.1 document ("Unable to render this definition"): /docs reads the same schema
    # written as 3.0. /openapi.json stays the reference.
    # Same access rule as /openapi.json (registered before this, with its key check if any).
    guards = next(
        (r.dependencies for r in app.routes if isinstance(r, APIRoute) and r.path == SCHEMA),
        [],
    )
    docs_schema: dict[str, Any] = {}

    @app.get("/docs/openapi.json", include_in_schema=False, dependencies=list(guards))
    def openapi_for_docs() -> JSONResponse:
        if not docs_schema:
            docs_schema.update(openapi_30(app.openapi()))
        return JSONResponse(docs_schema)

    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


_NULL = {"type": "null"}


def openapi_30(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI 3.1 document in the 3.0 dialect: ``anyOf [X, null]`` becomes X with
    ``nullable``, ``const`` a one-value ``enum``, a schema's ``examples`` list its ``example``.
    Enough for Swagger UI 4 to show every operation and its types."""
    out = _to_30(schema)
    out["openapi"] = "3.0.3"
    return out


def _to_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    nullable = False
    node = dict(node)
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and _NULL in options:
            nullable = True
            rest = [o for o in options if o != _NULL]
            del node[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                node = {**rest[0], **node}
            elif rest:
                # 3.0 ignores the siblings of a $ref: wrap it.
                node[key if len(rest) > 1 else "allOf"] = rest
    out = {key: _to_30(value) for key, value in node.items()}
    if out.get("type") == "null":
        del out["type"]
        nullable = True
    if nullable:
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    # In a schema ``examples`` is a list (3.1); in a media type or parameter it is a map.
    if isinstance(out.get("examples"), list):
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    return out
