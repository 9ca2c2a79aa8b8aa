"""The page in a real browser: Debian's chromium (``apt-get install chromium``), driven headlessly
by Playwright, against the real API app (``create_app``) served by uvicorn on 127.0.0.1 with the
model that ships (``shipped_model_dir``, trained on the CIViC 2024 release) and the real CIViC
2024 knowledge base. Screenshots go to ``test-artifacts/`` (git-ignored).

Answers the real server cannot give on loopback (401/403/429 from an access layer, a knowledge
base that is missing) are made with Playwright's route interception, from the real answers."""

from __future__ import annotations

import csv
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncoclass.knowledge import KnowledgeBase
from oncoclass.predictor import Predictor
from tests.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM

sync_api = pytest.importorskip("playwright.sync_api")
Browser = sync_api.Browser
BrowserContext = sync_api.BrowserContext
Page = sync_api.Page
Route = sync_api.Route

pytestmark = NEEDS_CHROMIUM
TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}
SCROLL_WIDTH = "document.documentElement.scrollWidth"

#: What the "Load example" text says: melanoma with BRAF V600E responds to vemurafenib.
EXAMPLE_CLASS = "Predictive: Sensitivity/Response"
#: BRAF V600E asked about with a text on another variant's prognosis.
MISMATCH = {
    "gene": "BRAF",
    "variation": "V600E",
    "disease": "Melanoma",
    "text": "TP53 R273C mutation was associated with shorter overall survival in patients with "
    "breast cancer. Patients carrying the TP53 R273C mutation had a worse prognosis than "
    "patients with wild-type TP53.",
}
FORMULA_SAMPLE = '=HYPERLINK("x")'


# ---- the app and the browser ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def shipped_predictor(shipped_model_dir: Path) -> Predictor:
    """The model that ships, loaded as the service loads it (default limits)."""
    from oncoclass.service import load_predictor
    from oncoclass.settings import Settings

    return load_predictor(Settings(), shipped_model_dir)


@pytest.fixture(scope="session")
def civic_2024(civic_dir: Path) -> KnowledgeBase:
    return KnowledgeBase.from_path(civic_dir)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` on a free local port, in a background thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def make_app(
    home: Path, predictor: Predictor, knowledge: KnowledgeBase, model_dir: Path, **settings: Any
) -> Any:
    """The real app (API + page), built as tests/api/conftest.py builds it."""
    from oncoclass.api.app import create_app
    from oncoclass.settings import Settings

    config = Settings(
        data_home=home,
        model_dir=model_dir,
        database_url=f"sqlite:///{home / 'history.sqlite3'}",
        **settings,
    )
    return create_app(config, predictor, knowledge=knowledge)


@pytest.fixture(scope="module")
def server(
    shipped_predictor: Predictor,
    civic_2024: KnowledgeBase,
    shipped_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The app on loopback: no API key needed."""
    home = tmp_path_factory.mktemp("home")
    with serve(make_app(home, shipped_predictor, civic_2024, shipped_model_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, server: str) -> Iterator[BrowserContext]:
    """A fresh 1366x768 browser profile that may contact the app only; fails the test on any
    script error or any request elsewhere (a CDN)."""
    # bypass_csp: Playwright's wait_for_function polls by evaluating strings, which the page's
    # strict Content-Security-Policy (checked in test_page.py) rightly forbids.
    ctx = browser.new_context(
        viewport={"width": 1366, "height": 768}, accept_downloads=True, bypass_csp=True
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    foreign: list[str] = []
    ctx.route(
        lambda url: not url.startswith(server),
        lambda route: (foreign.append(route.request.url), route.abort()),
    )
    errors: list[str] = []
    ctx.on("weberror", lambda e: errors.append(str(e.error)))
    ARTIFACTS.mkdir(exist_ok=True)
    yield ctx
    ctx.close()
    assert not errors, errors
    assert not foreign, foreign


@pytest.fixture
def page(context: BrowserContext, server: str) -> Page:
    """A tab on the page, once the model card has arrived (the app is live)."""
    tab = context.new_page()
    tab.goto(server)
    tab.wait_for_selector("#model-info .strong")
    return tab


def classify(page: Page, **fields: str) -> dict[str, Any]:
    """Fill the form, classify, wait for the result; the server's answer."""
    for name, value in fields.items():
        page.fill(f"#{name}", value)
    with page.expect_response(lambda r: r.url.endswith("/v1/predict")) as answer:
        page.click("#submit-button")
    page.wait_for_selector(".result-card")
    return answer.value.json()


def classify_example(page: Page) -> dict[str, Any]:
    page.click("#load-example")
    return classify(page)


def fits_the_screen(page: Page, width: int = PHONE["width"]) -> None:
    assert page.evaluate(SCROLL_WIDTH) <= width, widest_elements(page, width)


def widest_elements(page: Page, width: int) -> list[str]:
    """What sticks out, for the failure message."""
    return page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > w + 0.5)
            .slice(0, 8)
            .map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)""",
        width,
    )


# ---- one variant: the answer and its uncertainty -------------------------------------------------
def test_example_answers_what_its_text_says(page: Page, shipped_predictor: Predictor) -> None:
    answer = classify_example(page)
    # The preset example is a response to vemurafenib, and the shipped model says so.
    assert answer["name"] == EXAMPLE_CLASS
    assert page.inner_text(".predicted-class") == EXAMPLE_CLASS
    assert page.inner_text(".confidence-value").endswith("%")
    # The evidence-type level.
    assert page.inner_text(".result-head .group").startswith("Evidence type: Predictive")
    # The prediction set, with its coverage in plain words.
    coverage = answer["prediction_set"]["coverage"]
    assert coverage == pytest.approx(0.9)
    box = page.locator(".prediction-set")
    assert "Cannot be ruled out" in box.inner_text()
    assert box.locator(".set-item").all_inner_texts() == answer["prediction_set"]["names"]
    assert "the right class is in this list for 9 of 10 cases like this" in box.inner_text().lower()
    # "No warnings" exactly when the server gave none.
    if answer["warnings"]:
        assert page.locator("#no-warnings").count() == 0
        codes = page.locator(".warnings .warning").evaluate_all(
            "els => els.map(e => e.dataset.code)"
        )
        assert codes == [w["code"] for w in answer["warnings"]]
    else:
        assert page.locator("#no-warnings").inner_text() == "No warnings"
        assert page.locator(".warnings .warning").count() == 0
    # Screen readers hear a one-line summary (the polite live region).
    page.wait_for_function("document.getElementById('announce').textContent.length > 0")
    assert EXAMPLE_CLASS in page.text_content("#announce")
    # One bar per class, highest first, the predicted one marked.
    names = [c.name for c in shipped_predictor.classes]
    bars = page.locator(".bars .bar")
    assert sorted(bars.locator(".bar-name").all_inner_texts()) == sorted(names)
    assert page.locator(".bar.predicted .bar-name").inner_text() == EXAMPLE_CLASS
    # The evidence text with weighted sentence highlights; the weight is in the tooltip.
    highlights = page.locator(".evidence-text mark.ev.pos, .evidence-text mark.ev.neg")
    assert highlights.count() >= 1
    assert "weight" in (highlights.first.get_attribute("title") or "")
    assert "V600E" in page.inner_text(".variation")
    page.screenshot(path=ARTIFACTS / "web-result.png")
    page.screenshot(path=ARTIFACTS / "web-result-full.png", full_page=True)


def test_a_text_about_another_variant_is_flagged(page: Page) -> None:
    answer = classify(page, **MISMATCH)
    assert "text_off_topic" in [w["code"] for w in answer["warnings"]]
    warning = page.locator('.warnings .warning[data-code="text_off_topic"]')
    assert warning.is_visible()
    text = warning.inner_text()
    assert "The text may be about something else" in text
    assert "BRAF" in text and "What to do:" in text  # the server's message, then the advice
    badge = page.locator('.result-head .badge[data-code="text_off_topic"]')
    assert badge.inner_text().strip().endswith("The text may be about something else")
    assert page.locator("#no-warnings").count() == 0
    # A high probability about the wrong text is not "high confidence".
    assert "read the warning" in page.inner_text(".result-head .confidence")
    page.wait_for_function(
        "document.getElementById('announce').textContent.includes('about something else')"
    )
    warning.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "web-mismatch.png")


# ---- one variant: what CIViC says ----------------------------------------------------------------
def test_knowledge_tier_assertions_therapies_and_every_item(page: Page) -> None:
    answer = classify_example(page)
    kb = answer["knowledge"]
    card = page.locator(".kb-card")
    # The release, the tier with its basis.
    assert "01-Aug-2024" in card.locator(".kb-release").inner_text()
    tier = card.locator(".tier-box")
    assert tier.locator(".tier-badge").inner_text() == "Tier I - Level A"
    assert "From a CIViC expert assertion" in tier.inner_text()
    assert "Melanoma" in tier.inner_text()
    # Assertions: the tier, FDA companion test, NCCN guideline, approval, a link each.
    assertions = card.locator(".assertion")
    assert assertions.count() == len(kb["assertions"]) >= 2
    first = assertions.first.inner_text()
    assert "Tier I - Level A" in first and "FDA companion test" in first
    assert "NCCN guideline" in first and "Regulatory approval" in first
    href = assertions.first.locator("a").first.get_attribute("href") or ""
    assert href.startswith("https://civicdb.org/")
    # The variant's page on CIViC.
    profile = card.locator("a.civic-profile")
    assert profile.get_attribute("href") == "https://civicdb.org/molecular-profiles/12/summary"
    assert profile.get_attribute("target") == "_blank"
    # Therapies grouped by disease, the patient's disease first; sensitivity and resistance
    # look different (colour and border) and say so in words.
    groups = card.locator(".therapy-group")
    assert "Melanoma" in groups.first.locator("h5").inner_text()
    sensitive = card.locator(".therapy[data-response=sensitivity]").all_inner_texts()
    assert any("Vemurafenib" in t and "Level A" in t.replace("\n", " ") for t in sensitive), (
        sensitive[:5]
    )
    resistant = card.locator(".therapy[data-response=resistance]")
    assert resistant.count() >= 1 and "Resistance" in resistant.first.inner_text()
    style = "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.borderStyle]; }"
    sens_style = card.locator(".therapy .resp.resp-sensitivity").first.evaluate(style)
    resist_style = card.locator(".therapy .resp.resp-resistance").first.evaluate(style)
    assert sens_style[0] != resist_style[0] and sens_style[1] != resist_style[1]
    # The items, ranked for the disease and drug entered, every one reachable by pages.
    total = kb["total"]
    assert total > len(kb["items"]) > 0  # more than one answer holds
    items = card.locator("table.knowledge tbody tr")
    assert "Melanoma" in items.first.inner_text()
    range_text = card.locator(".items-range")
    assert range_text.inner_text() == f"Items 1–10 of {total}"
    seen: list[str] = []
    knowledge_calls: list[str] = []
    page.on("request", lambda r: "/v1/knowledge?" in r.url and knowledge_calls.append(r.url))
    while True:
        seen += items.evaluate_all("rows => rows.map(r => r.dataset.eid)")
        nxt = card.locator(".items-next")
        if nxt.is_disabled():
            break
        before = range_text.inner_text()
        nxt.click()
        page.wait_for_function(
            "b => document.querySelector('.items-range').textContent !== b", arg=before
        )
    assert len(seen) == len(set(seen)) == total
    assert knowledge_calls and all("disease=Melanoma" in u for u in knowledge_calls)
    assert all("therapies=Vemurafenib" in u for u in knowledge_calls)
    card.locator(".items-prev").click()
    page.wait_for_function(
        "t => document.querySelector('.items-range').textContent.endsWith(`of ${t}`)", arg=total
    )
    card.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "web-knowledge.png", full_page=True)


def test_an_unavailable_knowledge_base_is_not_no_evidence(page: Page) -> None:
    def without_knowledge(route: Route) -> None:
        body = route.fetch().json()
        body["knowledge"] = {
            **body["knowledge"],
            "available": False,
            "status": "missing",
            "reason": "no CIViC release found in the data folder",
            "match": "none",
            "total": 0,
            "items": [],
            "therapies": [],
            "assertions": [],
            "tier": None,
            "best_level": None,
        }
        route.fulfill(json=body)

    page.route("**/v1/predict", without_knowledge)
    classify_example(page)
    card = page.locator(".kb-card")
    text = card.inner_text()
    assert "knowledge base is unavailable" in text
    assert "no CIViC release found in the data folder" in text
    assert "does not mean that CIViC has no evidence" in text
    assert "no evidence items" not in text.lower()
    assert card.locator(".tier-box, table.knowledge").count() == 0


# ---- the form ------------------------------------------------------------------------------------
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


def test_evidence_text_is_read_from_a_file(page: Page, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("TP53 R273C was found in a high-grade serous ovarian carcinoma.\n")
    page.set_input_files("#text-file", note)
    page.wait_for_function("document.getElementById('text').value.length > 0")
    assert page.input_value("#text") == note.read_text()
    assert page.inner_text("#text-count").startswith(f"{len(note.read_text())} of")


# ---- history -------------------------------------------------------------------------------------
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
    page.wait_for_selector("#panel-classify:not([hidden]) .kb-card table.knowledge")
    assert page.input_value("#gene") == "BRAF"


# ---- batch ---------------------------------------------------------------------------------------
def _predict(server: str, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{server}v1/predict", json=body, timeout=120)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def annotation(server: str) -> dict[str, Any]:
    """An AnnotationPublic answer made of real predictions of the running app (validated by the
    schema, so it cannot drift from it): what POST v1/predict/batch answers once rewritten."""
    from oncoclass.schemas import AnnotationPublic, AnnotationSummary

    braf = _predict(
        server,
        gene="BRAF",
        variation="V600E",
        disease="Melanoma",
        drugs=["Vemurafenib"],
        text="Melanoma with BRAF V600E responded to vemurafenib in a phase 3 trial.",
    )
    egfr = _predict(server, gene="EGFR", variation="L858R", disease="Lung Non-small Cell Carcinoma")
    kras = _predict(server, **{**MISMATCH, "gene": "KRAS", "variation": "G12C"})

    def variant(p: dict[str, Any], samples: list[str], lines: list[int]) -> dict[str, Any]:
        k = p["knowledge"]
        tier = k["tier"]
        return {
            "key": f"{p['gene']} {p['parsed_variation']['normalized']} {p['disease']}",
            "gene": p["gene"],
            "variation": p["variation"],
            "disease": p["disease"],
            "consequence": "missense_variant",
            "coding": True,
            "samples": samples,
            "n_samples": len(samples),
            "lines": lines,
            "tier": tier,
            "actionable": tier["tier"] in ("Tier I", "Tier II"),
            # As the engine answers: the therapies on the variant, not in its knowledge.
            "therapies": k["therapies"],
            "civic_url": next(
                (i["molecular_profile_url"] for i in k["items"] if i["match"] == "exact"), None
            ),
            "knowledge": {**k, "therapies": []},
            "prediction": p,
        }

    variants = [
        variant(braf, ["S1", FORMULA_SAMPLE], [2, 3]),
        variant(egfr, ["S2"], [4]),
        variant(kras, ["S3"], [5]),
        {
            "key": "TERT 5:1295228 G>A",
            "gene": "TERT",
            "variation": "",
            "consequence": "upstream_gene_variant",
            "location": "5:1295228 G>A",
            "coding": False,
            "note": "promoter variant: no protein change to score",
            "samples": ["S3"],
            "n_samples": 1,
            "lines": [6],
        },
    ]

    def row(line: int, sample: str, gene: str, variation: str | None, index: int) -> dict:
        status = "scored" if variants[index]["coding"] else "non_coding"
        return {"line": line, "sample": sample, "gene": gene, "variation": variation,
                "status": status, "variant": index}  # fmt: skip

    error = {"row": 6, "field": "variation", "message": "variation is empty"}
    rows = [
        row(2, "S1", "BRAF", "V600E", 0),
        row(3, FORMULA_SAMPLE, "BRAF", "V600E", 0),
        row(4, "S2", "EGFR", "L858R", 1),
        row(5, "S3", "KRAS", "G12C", 2),
        row(6, "S3", "TERT", None, 3),
        {"line": 7, "sample": "S4", "gene": "TP53", "variation": "", "status": "error",
         "error": error},
    ]  # fmt: skip
    scored = [v for v in variants if v["coding"]]
    by_tier = Counter(v["tier"]["tier"] for v in scored) + Counter({"non-coding": 1})
    summary = AnnotationSummary(
        rows=len(rows),
        variants=len(variants),
        samples=5,
        scored=len(scored),
        non_coding=1,
        failed=1,
        by_tier=dict(by_tier),
        by_class=dict(Counter(v["prediction"]["name"] for v in scored)),
        with_warnings=sum(
            any(w["severity"] == "warning" for w in v["prediction"]["warnings"]) for v in scored
        ),
        actionable=sum(v["actionable"] for v in scored),
    )
    answer = AnnotationPublic.model_validate(
        {
            "batch_id": "test",
            "created_at": braf["created_at"],
            "source": "variants.maf",
            "format": "maf",
            "disease": "",
            "task": braf["task"],
            "model": braf["model"],
            "knowledge_release": braf["knowledge"]["release"],
            "summary": summary.model_dump(),
            "variants": variants,
            "rows": rows,
            "errors": [error],
        }
    )
    return answer.model_dump(mode="json")


def upload(page: Page, table: Path) -> None:
    page.click("#tab-batch")
    page.set_input_files("#batch-file", table)
    page.click("#batch-submit")
    page.wait_for_selector("#batch-result:not([hidden]) #batch-table tbody tr")


def show_annotation(page: Page, annotation: dict[str, Any], tmp_path: Path) -> None:
    """Upload a file; the batch endpoint answers ``annotation`` (route interception)."""
    page.route("**/v1/predict/batch", lambda route: route.fulfill(json=annotation, status=200))
    table = tmp_path / "variants.maf"
    table.write_text("Hugo_Symbol\tHGVSp_Short\tTumor_Sample_Barcode\nBRAF\tp.V600E\tS1\n")
    upload(page, table)


def visible_genes(page: Page) -> list[str]:
    return page.locator("#batch-table tbody tr .variant-open").all_inner_texts()


def test_batch_view_of_an_annotation(
    page: Page, annotation: dict[str, Any], tmp_path: Path
) -> None:
    show_annotation(page, annotation, tmp_path)
    summary = annotation["summary"]
    # The summary on top: variants, actionable, counts by tier, with warnings, errors.
    stats = {
        page.locator(".stat-label").nth(i).inner_text(): page.locator(".stat-value")
        .nth(i)
        .inner_text()
        for i in range(page.locator(".stat").count())
    }
    assert stats["variants"] == str(summary["variants"])
    assert stats["actionable"] == str(summary["actionable"])
    assert stats["Tier I"] == str(summary["by_tier"]["Tier I"])
    assert stats["with warnings"] == str(summary["with_warnings"])
    assert stats["row in error"] == "1"
    assert "01-Aug-2024" in page.inner_text("#batch-source")
    # The table: Tier I first by default; sortable by gene both ways.
    assert visible_genes(page)[0] == "BRAF"
    page.click('#batch-table button[data-sort="gene"]')
    assert visible_genes(page) == ["BRAF", "EGFR", "KRAS", "TERT"]
    assert page.get_attribute('#batch-table th:has(button[data-sort="gene"])', "aria-sort") == (
        "ascending"
    )
    page.click('#batch-table button[data-sort="gene"]')
    assert visible_genes(page) == ["TERT", "KRAS", "EGFR", "BRAF"]
    # Filterable by gene, tier, class and warning.
    page.fill("#filter-gene", "kr")
    assert visible_genes(page) == ["KRAS"]
    page.click("#filter-reset")
    page.wait_for_function("document.querySelectorAll('#batch-table tbody tr').length === 4")
    page.select_option("#filter-tier", "Tier I")
    tier_one = [
        v["gene"] for v in annotation["variants"] if (v["tier"] or {}).get("tier") == "Tier I"
    ]
    assert "BRAF" in tier_one and sorted(visible_genes(page)) == sorted(tier_one)
    page.select_option("#filter-tier", "")
    page.select_option("#filter-class", "Not classified")
    assert visible_genes(page) == ["TERT"]
    page.select_option("#filter-class", "")
    page.select_option("#filter-warning", "code:text_off_topic")
    assert visible_genes(page) == ["KRAS"]
    page.select_option("#filter-warning", "without")
    expected = sorted(
        v["gene"]
        for v in annotation["variants"]
        if v["prediction"]
        and not any(w["severity"] == "warning" for w in v["prediction"]["warnings"])
    )
    assert sorted(visible_genes(page)) == expected
    page.click("#filter-reset")
    page.wait_for_function("document.querySelectorAll('#batch-table tbody tr').length === 4")
    assert "4 variants" in page.inner_text("#batch-count")
    # A variant's details: prediction with set and warnings, tier, therapies, samples.
    page.locator("#batch-table tbody tr", has_text="BRAF").click()
    detail = page.locator("#batch-detail")
    detail.wait_for()
    assert page.evaluate("document.activeElement.id") == "batch-detail-title"
    text = detail.inner_text()
    assert "Cannot be ruled out" in text and "Warnings" in text
    assert detail.locator(".tier-badge").first.inner_text() == "Tier I - Level A"
    sensitive = detail.locator(".therapy[data-response=sensitivity]", has_text="Vemurafenib")
    assert sensitive.count() >= 1
    assert "Samples carrying it (2)" in text
    assert "S1 (line 2)" in text and f"{FORMULA_SAMPLE} (line 3)" in text
    profile = detail.locator("a.civic-profile")
    assert profile.get_attribute("href") == annotation["variants"][0]["civic_url"]
    page.screenshot(path=ARTIFACTS / "web-batch-detail.png", full_page=True)
    # A non-coding variant says why it has no class.
    page.locator("#batch-table tbody tr", has_text="TERT").click()
    assert "no protein change" in detail.inner_text()
    # Rows in error, with their line and message.
    errors = page.locator("#batch-error-list li")
    assert errors.count() == 1
    assert errors.first.inner_text() == "Line 7 (S4 TP53): variation is empty"
    page.locator("#batch-table").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "web-batch.png", full_page=True)
    # The CSV: one line per input row, a formula-like sample neutralised as the server does.
    with page.expect_download() as download_info:
        page.click("#batch-download")
    saved = tmp_path / "out.csv"
    download_info.value.save_as(saved)
    with saved.open(newline="") as f:
        out = list(csv.DictReader(f))
    assert [r["line"] for r in out] == ["2", "3", "4", "5", "6", "7"]
    assert [r["status"] for r in out] == [
        "scored",
        "scored",
        "scored",
        "scored",
        "non_coding",
        "error",
    ]
    assert out[1]["sample"] == "'" + FORMULA_SAMPLE
    assert out[0]["tier"] == "Tier I - Level A"
    assert out[0]["predicted_class"] == annotation["variants"][0]["prediction"]["name"]
    assert out[5]["error_message"] == "variation is empty"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in out for cell in r.values())


def _batch_answers_annotation(server: str) -> bool:
    response = httpx.post(
        f"{server}v1/predict/batch", json={"items": [{"gene": "BRAF", "variation": "V600E"}]}
    )
    return response.status_code == 200 and "variants" in response.json()


def test_batch_upload_against_the_server(page: Page, server: str, tmp_path: Path) -> None:
    """End to end: a real upload, scored by the real endpoint."""
    if not _batch_answers_annotation(server):
        pytest.skip(
            "waits for POST v1/predict/batch to answer AnnotationPublic (the batch endpoint "
            "rewrite for CSV/TSV, MAF, VCF and JSON); it still answers BatchPublic. The view "
            "itself is tested on an AnnotationPublic in test_batch_view_of_an_annotation."
        )
    table = tmp_path / "variants.csv"
    table.write_text(
        "sample,gene,variation,disease\n"
        "S1,BRAF,V600E,Melanoma\n"
        "S2,BRAF,V600E,Melanoma\n"
        "S3,EGFR,L858R,Lung Non-small Cell Carcinoma\n"
        "S4,TP53,,\n"
        f'"{FORMULA_SAMPLE.replace(chr(34), chr(34) * 2)}",KRAS,G12C,Colorectal Cancer\n'
    )
    with page.expect_response(lambda r: r.url.endswith("/v1/predict/batch")) as answer:
        upload(page, table)
    body = answer.value.json()
    assert page.locator("#batch-table tbody tr").count() == len(body["variants"])
    assert page.locator(".stat", has_text="variants").locator(".stat-value").inner_text() == (
        str(body["summary"]["variants"])
    )
    assert page.locator("#batch-error-list li").count() == body["summary"]["failed"] >= 1
    assert "variation" in page.inner_text("#batch-error-list").lower()
    assert page.is_hidden("#batch-progress")
    page.locator("#batch-table tbody tr", has_text="BRAF").first.click()
    assert "Samples carrying it (2)" in page.inner_text("#batch-detail")
    with page.expect_download() as download_info:
        page.click("#batch-download")
    saved = tmp_path / "out.csv"
    download_info.value.save_as(saved)
    with saved.open(newline="") as f:
        samples = [r["sample"] for r in csv.DictReader(f)]
    assert "'" + FORMULA_SAMPLE in samples and FORMULA_SAMPLE not in samples


def test_batch_upload_of_the_current_answer(page: Page, tmp_path: Path) -> None:
    """Whatever the endpoint answers today (BatchPublic until the rewrite lands, then
    AnnotationPublic), an upload is shown: one row per variant, errors with their line."""
    table = tmp_path / "variants.csv"
    table.write_text(
        "gene,variation,disease\n"
        "BRAF,V600E,Melanoma\n"
        "EGFR,L858R,Lung Non-small Cell Carcinoma\n"
        "TP53,,\n"
        "KRAS,G12C,Colorectal Cancer\n"
    )
    upload(page, table)
    assert sorted(visible_genes(page)) == ["BRAF", "EGFR", "KRAS"]
    assert page.locator("#batch-error-list li").count() == 1
    assert "variation" in page.inner_text("#batch-error-list li").lower()
    assert page.is_hidden("#batch-progress")


# ---- phones --------------------------------------------------------------------------------------
def test_nothing_overflows_a_phone(page: Page, annotation: dict[str, Any], tmp_path: Path) -> None:
    page.set_viewport_size(PHONE)
    # The classify view with a full result: warnings, set, bars, evidence, CIViC, all open.
    classify(page, **MISMATCH)
    for details in page.locator(".kb-card details").all():
        details.evaluate("d => d.open = true")
    fits_the_screen(page)
    level = page.locator("table.knowledge tbody tr").first.locator("td[data-label=Level]")
    source = page.locator("table.knowledge tbody tr").first.locator("td[data-label=Source]")
    for cell in (level, source):  # once cut off at 390 px
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.screenshot(path=ARTIFACTS / "mobile-result.png", full_page=True)
    # The history.
    page.click("#tab-history")
    page.wait_for_selector("#history-table tbody tr")
    fits_the_screen(page)
    page.screenshot(path=ARTIFACTS / "mobile-history.png", full_page=True)
    # The batch view, with a variant's details open.
    show_annotation(page, annotation, tmp_path)
    fits_the_screen(page)
    page.locator("#batch-table tbody tr", has_text="BRAF").locator(".variant-open").click()
    page.wait_for_selector("#batch-detail:not([hidden])")
    fits_the_screen(page)
    page.screenshot(path=ARTIFACTS / "mobile-batch.png", full_page=True)


# ---- access control ------------------------------------------------------------------------------
API_KEY = "test-key-123"


def require_key(seen: list[dict[str, str]]) -> Callable[[Route], None]:
    """A stand-in for the access layer: v1/ answers 401 without the right X-API-Key."""

    def handle(route: Route) -> None:
        headers = route.request.headers
        seen.append({"url": route.request.url, "key": headers.get("x-api-key", "")})
        if headers.get("x-api-key") == API_KEY:
            route.continue_()
        else:
            detail = "invalid API key" if headers.get("x-api-key") else "missing API key"
            route.fulfill(status=401, json={"detail": detail})

    return handle


def test_api_key_is_asked_kept_and_sent(
    context: BrowserContext, server: str, tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []
    context.route(re.compile(r".*/v1/.*"), require_key(seen))
    page = context.new_page()
    page.goto(server)
    # The model card answers 401: the page asks for a key in an accessible dialog.
    dialog = page.locator("#auth-dialog")
    dialog.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "api-key"
    assert page.locator("label[for=api-key]").inner_text() == "API key"
    page.screenshot(path=ARTIFACTS / "web-api-key.png")
    # A wrong key: asked again, with the server's reason.
    page.fill("#api-key", "wrong")
    page.press("#api-key", "Enter")
    page.wait_for_function(
        "document.getElementById('auth-server-message').textContent.includes('invalid API key')"
    )
    assert dialog.is_visible()
    # The right key: kept in sessionStorage, the request retried.
    page.fill("#api-key", API_KEY)
    page.click("#auth-submit")
    page.wait_for_selector("#model-info .strong")
    assert dialog.is_hidden()
    assert page.evaluate("sessionStorage.getItem('oncoclass.apiKey')") == API_KEY
    # Every later call carries it: fetch ...
    classify_example(page)
    assert seen[-1]["url"].endswith("/v1/predict") and seen[-1]["key"] == API_KEY
    # ... and the upload (XMLHttpRequest).
    table = tmp_path / "variants.csv"
    table.write_text("gene,variation\nBRAF,V600E\n")
    upload(page, table)
    assert seen[-1]["url"].endswith("/v1/predict/batch") and seen[-1]["key"] == API_KEY
    # A reload keeps the key for the tab: no dialog.
    page.reload()
    page.wait_for_selector("#model-info .strong")
    assert dialog.is_hidden()
    # Forgetting it: the next call asks again; Cancel gives a clear message.
    page.click("#auth-forget")
    assert page.evaluate("sessionStorage.getItem('oncoclass.apiKey')") is None
    page.click("#tab-classify")
    page.click("#load-example")
    page.click("#submit-button")
    dialog.wait_for(state="visible")
    page.click("#auth-cancel")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "API key" in page.inner_text("#form-error")


def test_forbidden_and_rate_limited_answers_are_explained(page: Page) -> None:
    page.click("#load-example")
    page.route(
        "**/v1/predict",
        lambda route: route.fulfill(status=403, json={"detail": "the key lacks the predict scope"}),
    )
    page.click("#submit-button")
    page.wait_for_selector("#form-error:not([hidden])")
    message = page.inner_text("#form-error")
    assert "not allowed" in message and "the key lacks the predict scope" in message
    page.unroute("**/v1/predict")
    page.route(
        "**/v1/predict",
        lambda route: route.fulfill(
            status=429, headers={"Retry-After": "30"}, json={"detail": "rate limit exceeded"}
        ),
    )
    page.click("#submit-button")
    page.wait_for_function(
        "document.getElementById('form-error').textContent.includes('30 seconds')"
    )
    assert "Too many requests" in page.inner_text("#form-error")
    assert page.locator(".result-card").count() == 0


def test_the_real_access_layer(
    browser: Browser,
    shipped_predictor: Predictor,
    civic_2024: KnowledgeBase,
    shipped_model_dir: Path,
    tmp_path: Path,
) -> None:
    """The same flow against the server's own key check (keys required): its 401, 403 and
    429 answers as they really are."""
    app = make_app(tmp_path, shipped_predictor, civic_2024, shipped_model_dir, auth="required")
    with serve(app) as url:
        keys = app.state.api.keys
        _, predict_only = keys.create("page test", ["predict"])
        _, once_a_minute = keys.create("slow", ["predict"], rate_per_minute=1)
        ctx = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
        ctx.set_default_timeout(TIMEOUT_MS)
        try:
            page = ctx.new_page()
            page.goto(url)
            page.locator("#auth-dialog").wait_for(state="visible")
            page.fill("#api-key", predict_only)
            page.press("#api-key", "Enter")
            page.wait_for_selector("#model-info .strong")
            # A key without the history scope: 403, said in words.
            page.click("#tab-history")
            page.wait_for_function(
                "document.getElementById('history-status').textContent.includes('not allowed')"
            )
            assert "history" in page.inner_text("#history-status")
            # A key allowed one call a minute: the second is refused with a time to wait.
            page.click("#auth-forget")
            page.click("#tab-classify")
            page.click("#load-example")
            page.click("#submit-button")
            page.fill("#api-key", once_a_minute)
            page.click("#auth-submit")
            page.wait_for_selector(".result-card")
            # The bucket allows a burst of 5: spend it, then classify again.
            page.evaluate(
                """async (n) => {
                    const headers = {"X-API-Key": sessionStorage.getItem("oncoclass.apiKey")};
                    for (let i = 0; i < n; i++) await fetch("v1/model", {headers});
                }""",
                5,
            )
            page.click("#submit-button")
            page.wait_for_function(
                "document.getElementById('form-error').textContent.includes('Too many requests')"
            )
            assert re.search(
                r"Try again in (about )?\d+ (second|minute)", page.inner_text("#form-error")
            )
            # /docs in this tab uses the key the page keeps ...
            page.click("#auth-forget")
            page.evaluate("k => sessionStorage.setItem('oncoclass.apiKey', k)", predict_only)
            page.goto(f"{url}docs")
            page.wait_for_selector(".opblock")
            # ... and in a new tab asks for one, then shows the API.
            docs = ctx.new_page()
            docs.goto(f"{url}docs")
            docs.wait_for_selector("#docs-key:not([hidden])")
            assert "API key" in docs.inner_text("label[for=docs-api-key]")
            docs.fill("#docs-api-key", predict_only)
            docs.press("#docs-api-key", "Enter")
            docs.wait_for_selector(".opblock")
            assert docs.is_hidden("#docs-key")
        finally:
            ctx.close()


# ---- /docs ---------------------------------------------------------------------------------------
def test_docs_render_offline(browser: Browser, server: str) -> None:
    """Swagger UI comes from the installed package: with every other host blocked the
    operations are listed, with the schemas of their bodies (the installed Swagger UI reads
    OpenAPI 3.0 only), under the page's strict Content-Security-Policy (not bypassed here)."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    ctx.set_default_timeout(TIMEOUT_MS)
    foreign: list[str] = []
    ctx.route(
        lambda url: not url.startswith(server),
        lambda route: (foreign.append(route.request.url), route.abort()),
    )
    problems: list[str] = []
    ctx.on("weberror", lambda e: problems.append(str(e.error)))
    # A script or style the policy refuses is reported as a console error.
    ctx.on("console", lambda m: m.type == "error" and problems.append(m.text))
    try:
        page = ctx.new_page()
        page.goto(f"{server}docs")
        page.wait_for_selector(".opblock")
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        paths = [p.replace("\u200b", "") for p in paths]
        for path in ("/v1/predict", "/v1/predict/batch", "/v1/knowledge", "/v1/model"):
            assert path in paths, paths
        assert "Unable to render" not in page.inner_text("body")
        page.locator(".opblock-summary", has_text="/v1/knowledge").first.click()
        page.wait_for_selector(".opblock.is-open .parameters")
        assert "variation" in page.inner_text(".opblock.is-open .parameters")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "web-docs.png")
    finally:
        ctx.close()
    assert not foreign, foreign
    assert not problems, problems
