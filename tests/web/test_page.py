"""Fast checks of the web page as served (no browser): routes, assets, accessibility basics and
the no-internet rule. The real-browser test is test_browser.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oncoclass.web import mount_web
from oncoclass.web.routes import CONTENT_SECURITY_POLICY, STATIC_DIR

#: The only sites the page may link to (links the user clicks; nothing is fetched from them).
LINK_HOSTS = {"pubmed.ncbi.nlm.nih.gov"}


class _Elements(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    mount_web(app)
    return TestClient(app)


@pytest.fixture(scope="module")
def page(client: TestClient) -> _Elements:
    parser = _Elements()
    parser.feed(client.get("/").text)
    return parser


def test_index_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "Research use only" in response.text


def test_assets_referenced_by_the_page_are_served(client: TestClient, page: _Elements) -> None:
    refs = [a["src"] for a in page.all("script")] + [
        a["href"] for a in page.all("link") if a.get("rel") == "stylesheet"
    ]
    assert sorted(refs) == ["static/app.js", "static/style.css"]
    for ref in refs:
        response = client.get("/" + ref)
        assert response.status_code == 200, ref
    assert "javascript" in client.get("/static/app.js").headers["content-type"]
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/missing.js").status_code == 404


def test_every_control_has_a_label(page: _Elements) -> None:
    labelled = {a["for"] for a in page.all("label")}
    controls = [a for a in page.all("input") + page.all("textarea") + page.all("select")]
    assert controls
    for control in controls:
        assert control.get("id") in labelled, f"no <label for> for {control}"


def test_form_fields_have_error_slots_and_fieldsets(page: _Elements) -> None:
    ids = {a.get("id") for _, a in page.tags}
    for field in ("gene", "variation", "disease", "drugs", "text"):
        assert f"{field}-error" in ids
    assert len(page.all("fieldset")) >= 3 and len(page.all("legend")) == len(page.all("fieldset"))
    live = [a for _, a in page.tags if a.get("aria-live")]
    assert {a.get("id") for a in live} >= {"announce", "history-status"}


def test_tabs_are_buttons_controlling_panels(page: _Elements) -> None:
    tabs = [a for a in page.all("button") if a.get("role") == "tab"]
    panels = {a["id"] for _, a in page.tags if a.get("role") == "tabpanel"}
    assert [t["aria-selected"] for t in tabs] == ["true", "false", "false"]
    assert {t["aria-controls"] for t in tabs} == panels


def test_nothing_is_fetched_from_the_internet(client: TestClient) -> None:
    html = client.get("/").text
    css = (STATIC_DIR / "style.css").read_text()
    js = (STATIC_DIR / "app.js").read_text()
    assert not re.search(r"https?://", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
    assert "@import" not in css
    hosts = {urlparse(u).hostname for u in re.findall(r"https?://[^\s\"'`$]+", js)}
    assert hosts <= LINK_HOSTS
    # The API is called through relative URLs only (works behind a path prefix).
    assert 'const API = "v1/";' in js


def test_script_never_writes_markup() -> None:
    """Server and user strings go in as text: no HTML parsing anywhere in the script."""
    js = (STATIC_DIR / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink


def test_api_key_form_is_accessible(page: _Elements) -> None:
    """The key is asked for in a labelled modal form (the browser test drives it)."""
    dialogs = page.all("dialog")
    assert [d.get("id") for d in dialogs] == ["auth-dialog"]
    assert dialogs[0].get("aria-labelledby") == "auth-title"
    key = next(a for a in page.all("input") if a.get("id") == "api-key")
    assert key.get("type") == "password" and key.get("autocomplete") == "off"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_script_is_valid_javascript() -> None:
    result = subprocess.run(
        ["node", "--check", str(STATIC_DIR / "app.js")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_api_app_serves_the_page(tmp_path: Path) -> None:
    """create_app wires mount_web in: the page and the API come from one server."""
    app_module = pytest.importorskip("oncoclass.api.app")
    from oncoclass.settings import Settings

    # Without `with`, TestClient skips the lifespan: no model or database is needed for this.
    client = TestClient(app_module.create_app(Settings(data_home=tmp_path)))
    assert 'id="predict-form"' in client.get("/").text
    assert client.get("/static/app.js").status_code == 200


def test_docs_read_the_schema_as_openapi_30(tmp_path: Path) -> None:
    """The installed Swagger UI (4.x) renders OpenAPI 3.0 only: /docs gets the app's schema in
    that dialect (the browser test checks that it renders, offline)."""
    from oncoclass.web.routes import openapi_30

    app_module = pytest.importorskip("oncoclass.api.app")
    from oncoclass.settings import Settings

    app = app_module.create_app(Settings(data_home=tmp_path))
    with TestClient(app) as client:  # started: /openapi.json may check a key (app state)
        docs = client.get("/docs")
        # Offline (the installed bundle) and under the page's strict policy: no inline script.
        assert docs.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "<script>" not in docs.text
        for asset in ("swagger-ui/swagger-ui-bundle.js", "static/docs.js", "static/docs.css"):
            assert asset in docs.text and client.get(f"/{asset}").status_code == 200
        assert not re.search(r"https?://", docs.text)
        assert "docs/openapi.json" in (STATIC_DIR / "docs.js").read_text()
        schema = client.get("/docs/openapi.json").json()
        assert schema["paths"].keys() == client.get("/openapi.json").json()["paths"].keys()
    assert schema["openapi"].startswith("3.0.")
    # The docs' copy is guarded as the schema itself is.
    guards = {
        r.path: [d.dependency for d in r.dependencies]
        for r in app.routes
        if getattr(r, "path", "") in ("/openapi.json", "/docs/openapi.json")
    }
    assert guards["/docs/openapi.json"] == guards["/openapi.json"]
    text = json.dumps(schema)
    assert '"type": "null"' not in text and '"const"' not in text
    converted = openapi_30(
        {
            "openapi": "3.1.0",
            "components": {
                "schemas": {
                    "A": {
                        "properties": {
                            "x": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "X"},
                            "y": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
                            "z": {"const": "fixed"},
                        },
                        "examples": [{"x": "1"}],
                    }
                }
            },
        }
    )
    a = converted["components"]["schemas"]["A"]
    assert a["properties"]["x"] == {"type": "string", "title": "X", "nullable": True}
    assert a["properties"]["y"] == {
        "allOf": [{"$ref": "#/components/schemas/B"}],
        "nullable": True,
    }
    assert a["properties"]["z"] == {"enum": ["fixed"]}
    assert a["example"] == {"x": "1"} and "examples" not in a
