"""Fast checks of the web page as served (no browser): routes, assets, accessibility basics and
the no-internet rule. The real-browser test is test_browser.py."""

from __future__ import annotations

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
from oncoclass.web.routes import STATIC_DIR

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
