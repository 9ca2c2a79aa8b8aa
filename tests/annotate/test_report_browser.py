"""The HTML report in a real browser (Debian's chromium, driven headlessly by Playwright), as a
tumour board opens it from disk: it fetches nothing, runs nothing a file slipped in, reads top
down (summary, actionable variants, the others, errors) and its links and anchors work.
Screenshots go to ``test-artifacts/`` (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oncoclass.annotate import annotate_file
from oncoclass.annotate.report import write_html
from oncoclass.service import OncoClassService
from tests.annotate.data import BILIARY
from tests.helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = NEEDS_CHROMIUM
TIMEOUT_MS = 20_000
#: A sample name a file could carry: it must show as text, never run.
EVIL = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture(scope="module")
def report(
    service: OncoClassService, maf: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, int]]:
    """The report of the real MAF, with its first sample renamed to an attack string."""
    folder = tmp_path_factory.mktemp("report")
    cohort = folder / "cohort.maf"
    cohort.write_text(maf.read_text(encoding="utf-8").replace("\tP7_A\t", f"\t{EVIL}\t"))
    with annotate_file(service, cohort, disease=BILIARY) as result:
        counts = {"actionable": result.summary.actionable, "variants": result.summary.variants}
        return write_html(result, folder / "cohort.html"), counts


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_report(browser: object, path: Path, width: int) -> tuple[object, list[str], list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.as_uri())
    return page, requests, problems


def test_report_reads_top_down_and_fetches_nothing(
    browser: object, report: tuple[Path, dict[str, int]]
) -> None:
    path, counts = report
    page, requests, problems = open_report(browser, path, 1366)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "annotate-report-top.png")

    assert page.title() == "OncoClass report: cohort.maf"  # the attack did not rename it
    assert requests == [path.as_uri()]  # no font, script, style or image fetched
    assert problems == []
    # Top down: the summary, then the actionable variants, the others, errors, methods.
    order = page.evaluate("[...document.querySelectorAll('main > section')].map(s => s.id)")
    assert order == ["summary", "actionable", "other-variants", "errors", "methods"]
    summary = page.locator("#summary")
    assert summary.locator(".fact").first.inner_text().startswith("190")
    assert "Tier II" in summary.locator("#tier-counts").inner_text()
    articles = page.locator("article.variant")
    assert articles.count() == counts["actionable"] > 0
    others = page.locator("#others-table tbody tr")
    assert others.count() == counts["variants"] - counts["actionable"]
    assert "None: every row was read." in page.locator("#errors").inner_text()

    # The summary's list links to each section; the section holds what a board reads.
    first = page.locator("#actionable-list tbody tr a").first
    name = first.inner_text()
    first.click()
    assert page.evaluate("location.hash") == "#variant-1"
    section = page.locator("#variant-1")
    assert abs(section.bounding_box()["y"]) < 5  # scrolled to it
    assert section.locator("h3").inner_text() == name
    text = section.inner_text()
    for heading in ("TIER", "THERAPIES", "MODEL", "SAMPLES", "LINKS"):
        assert heading in text
    assert section.locator("table.therapies tbody tr").count() > 0
    links = section.locator("a[href^='https://']")
    assert links.count() > 0
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    hosts = ("https://civicdb.org/", "https://pubmed.ncbi.nlm.nih.gov/")
    assert all(h.startswith(hosts) for h in hrefs), hrefs
    section.screenshot(path=ARTIFACTS / "annotate-report-variant.png")

    # The attack string is a sample name on the page, as text.
    assert page.get_by_text(EVIL, exact=False).count() > 0
    assert page.locator("img").count() == 0
    # Nothing wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_report_on_a_phone_and_in_print(
    browser: object, report: tuple[Path, dict[str, int]]
) -> None:
    path, _ = report
    page, requests, problems = open_report(browser, path, 390)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")  # tables scroll
    page.emulate_media(media="print")
    assert page.locator("article.variant").first.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert requests == [path.as_uri()] and problems == []
    page.screenshot(path=ARTIFACTS / "annotate-report-phone.png")
