"""The page in a real browser: Debian's chromium (``apt-get install chromium``), driven headlessly
by Playwright, against the real API app (``create_app``) served by uvicorn on 127.0.0.1 with a
small model trained on real CIViC data. Screenshots go to ``test-artifacts/`` (git-ignored)."""

from __future__ import annotations

import csv
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oncoclass.data.civic import CivicEvidence, civic_samples, read_evidence
from oncoclass.predictor import Predictor

sync_api = pytest.importorskip("playwright.sync_api")
Browser = sync_api.Browser
Page = sync_api.Page

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: A sandbox-free, offline chromium: no first-run, sync, update or other background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N_TRAIN = 600
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def civic_evidence(shared_data: Path) -> list[CivicEvidence]:
    """The real CIViC release, read once for both the model and the knowledge base."""
    return read_evidence(shared_data / "civic")


@pytest.fixture(scope="session")
def predictor(civic_evidence: list[CivicEvidence]) -> Predictor:
    """A baseline model trained on 600 real CIViC items: small, fast, real."""
    from oncoclass.models import create_model

    samples = civic_samples(civic_evidence)
    random.Random(13).shuffle(samples)
    train, valid = samples[: N_TRAIN - 60], samples[N_TRAIN - 60 : N_TRAIN]
    model = create_model("baseline", task="clinical-significance").fit(train, valid)
    return Predictor(model)


@pytest.fixture(scope="module")
def server(
    predictor: Predictor,
    civic_evidence: list[CivicEvidence],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The real app (API + page) on a free local port, in a background thread."""
    import uvicorn

    from oncoclass.api.app import create_app
    from oncoclass.knowledge import KnowledgeBase
    from oncoclass.settings import Settings

    home = tmp_path_factory.mktemp("home")
    settings = Settings(data_home=home, database_url=f"sqlite:///{home / 'history.sqlite3'}")
    knowledge = KnowledgeBase(civic_evidence, source="CIViC (test)")
    app = create_app(settings, predictor, knowledge=knowledge)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh 1366x768 tab on the page; fails the test on any script error."""
    # bypass_csp: Playwright's wait_for_function polls by evaluating strings, which the page's
    # strict Content-Security-Policy (checked in test_page.py) rightly forbids.
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, accept_downloads=True, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    # Only the app itself may be contacted: anything else (a CDN) is refused and recorded.
    foreign: list[str] = []
    context.route(
        lambda url: not url.startswith(server),
        lambda route: (foreign.append(route.request.url), route.abort()),
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(server)
    tab.wait_for_selector("#model-info .strong")  # the model card has arrived: the app is live
    ARTIFACTS.mkdir(exist_ok=True)
    yield tab
    context.close()
    assert not errors, errors
    assert not foreign, foreign


def classify_example(page: Page) -> None:
    page.click("#load-example")
    page.click("#submit-button")
    page.wait_for_selector(".result-card")


def test_example_prediction_is_shown_in_full(page: Page, predictor: Predictor) -> None:
    classify_example(page)
    names = [c.name for c in predictor.classes]
    assert page.inner_text(".predicted-class") in names
    assert page.inner_text(".confidence-value").endswith("%")
    # Screen readers hear a one-line summary (the polite live region).
    page.wait_for_function("document.getElementById('announce').textContent.length > 0")
    assert page.inner_text(".predicted-class") in page.text_content("#announce")
    # One bar per class, each labelled with its name and percentage, highest first.
    bars = page.locator(".bars .bar")
    assert bars.count() == len(names)
    labels = bars.locator(".bar-name").all_inner_texts()
    assert sorted(labels) == sorted(names)
    assert all(v.endswith("%") for v in bars.locator(".bar-value").all_inner_texts())
    assert page.locator(".bar.predicted .bar-name").inner_text() == page.inner_text(
        ".predicted-class"
    )
    # The evidence text with weighted sentence highlights; the weight is in the tooltip.
    highlights = page.locator(".evidence-text mark.ev.pos, .evidence-text mark.ev.neg")
    assert highlights.count() >= 1
    assert "weight" in (highlights.first.get_attribute("title") or "")
    # The flags and the parsed variation.
    assert page.locator(".result-head .badges .badge").count() >= 1
    assert "V600E" in page.inner_text(".variation")
    # CIViC: BRAF V600E is an exact match with PubMed links opening in a new tab.
    assert page.locator(".match.match-exact").count() == 1
    rows = page.locator("table.knowledge tbody tr")
    assert rows.count() >= 1
    link = page.locator("table.knowledge a.pubmed").first
    assert (link.get_attribute("href") or "").startswith("https://pubmed.ncbi.nlm.nih.gov/")
    assert link.get_attribute("target") == "_blank"
    page.screenshot(path=ARTIFACTS / "web-result.png")
    page.screenshot(path=ARTIFACTS / "web-result-full.png", full_page=True)


def test_validation_messages_next_to_the_fields(page: Page) -> None:
    # Client side: an empty gene is caught before any request, and Enter submits.
    page.fill("#variation", "R273C")
    page.press("#variation", "Enter")
    error = page.locator("#gene-error")
    assert error.is_visible() and "gene" in error.inner_text().lower()
    assert page.get_attribute("#gene", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "gene"
    assert page.locator(".result-card").count() == 0
    page.screenshot(path=ARTIFACTS / "web-validation.png")
    # Client side: evidence text over the limit (the server's, from GET /v1/model).
    page.fill("#gene", "TP53")
    page.evaluate("document.getElementById('text').value = 'x'.repeat(300001)")
    page.click("#submit-button")
    assert "limit" in page.inner_text("#text-error")
    assert page.is_hidden("#gene-error")
    page.fill("#text", "")
    # Server side: the API's 422 is shown next to the field it names (a gene over the API's
    # length limit, which the page itself does not check).
    page.fill("#gene", "X" * 101)
    page.click("#submit-button")
    page.wait_for_selector("#gene-error:not([hidden])")
    assert "100" in page.inner_text("#gene-error")
    assert page.get_attribute("#gene", "aria-invalid") == "true"
    assert page.locator(".result-card").count() == 0


def test_history_lists_and_reopens_predictions(page: Page) -> None:
    classify_example(page)
    page.click("#tab-history")
    assert page.get_attribute("#tab-history", "aria-selected") == "true"
    page.wait_for_selector("#history-table tbody tr")
    page.fill("#history-gene", "braf")
    page.press("#history-gene", "Enter")
    page.wait_for_function(
        "[...document.querySelectorAll('#history-table tbody tr td:nth-child(2)')]"
        ".every(td => td.textContent === 'BRAF')"
    )
    assert "of" in page.inner_text("#history-range")
    page.screenshot(path=ARTIFACTS / "web-history.png")
    page.locator("#history-table tbody tr").first.click()
    page.wait_for_selector("#panel-classify:not([hidden]) .result-card table.knowledge")
    assert page.input_value("#gene") == "BRAF"


def test_batch_upload_shows_results_and_downloads_csv(page: Page, tmp_path: Path) -> None:
    table = tmp_path / "variants.csv"
    table.write_text(
        "gene,variation,disease\n"
        "BRAF,V600E,Melanoma\n"
        "EGFR,L858R,Lung Non-small Cell Carcinoma\n"
        "TP53,,\n"
        "KRAS,G12C,Colorectal Cancer\n"
    )
    page.click("#tab-batch")
    page.set_input_files("#batch-file", table)
    page.click("#batch-submit")
    page.wait_for_selector("#batch-table")
    rows = page.locator("#batch-table tbody tr")
    assert rows.count() == 4
    assert page.locator("#batch-table tr.row-error").count() == 1
    assert "variation" in page.locator("#batch-table tr.row-error").inner_text().lower()
    assert page.is_hidden("#batch-progress")
    page.screenshot(path=ARTIFACTS / "web-batch.png")
    with page.expect_download() as download_info:
        page.click("#batch-download")
    saved = tmp_path / "out.csv"
    download_info.value.save_as(saved)
    with saved.open(newline="") as f:
        out = list(csv.DictReader(f))
    assert [r["status"] for r in out] == ["ok", "ok", "error", "ok"]
    assert out[0]["gene"] == "BRAF" and out[0]["label"]
    assert out[2]["error_field"] == "variation"


def test_evidence_text_is_read_from_a_file(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("TP53 R273C was found in a high-grade serous ovarian carcinoma.\n")
    page.set_input_files("#text-file", note)
    page.wait_for_function("document.getElementById('text').value.length > 0")
    assert page.input_value("#text") == note.read_text()
    assert page.inner_text("#text-count").startswith(f"{len(note.read_text())} of")
