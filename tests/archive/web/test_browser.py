"""The home page in headless Chromium."""

import pytest

from archive.catalogue.models import GaiaSource

from .helpers import ingest_synthetic_stars, published_version_with_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_home_page_renders_counts(page, live_server, tmp_path):
    GaiaSource.objects.bulk_create(GaiaSource(source_id=i, ra=i, dec=0) for i in range(1, 6))
    page.goto(live_server.url + "/")
    assert page.title() == "RVS-CNN Archive"
    cell = page.locator('#counts tr[data-table="gaia_source"] td.num')
    assert cell.inner_text().strip() == "5"
    assert page.locator("h1").inner_text().startswith("Gaia RVS stellar parameters")
    # the stylesheet is served and applied
    assert page.locator("td.num").first.evaluate("e => getComputedStyle(e).textAlign") == "right"
    page.screenshot(path=tmp_path / "home.png", full_page=True)


def test_synthetic_banner_and_the_public_report(page, live_server, tmp_path):
    ingest_synthetic_stars(tmp_path)
    published_version_with_report(tmp_path, "v-browser")
    page.goto(live_server.url + "/")
    banner = page.locator("#synthetic-banner")
    assert banner.is_visible() and "not from Gaia DR3" in banner.inner_text()
    label = page.locator('#counts tr[data-table="gaia_source"] td').first.inner_text()
    assert label == "Synthetic-sky sources (not Gaia DR3)"
    page.click("#validation-link")  # an anonymous visitor: the public report
    assert page.url == live_server.url + "/validation/"
    assert page.locator("h1").inner_text() == "Model version v-browser"
    assert page.locator("#synthetic-banner").is_visible()
    kiel = page.locator("img[src='kiel.png']")
    kiel.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector(\"img[src='kiel.png']\").complete")
    assert kiel.evaluate("img => img.naturalWidth") > 0  # the plot is served beside the page
    page.screenshot(path=tmp_path / "report.png")
    page.click("#archive-links >> text=Version v-browser")
    assert page.locator("#published-version").inner_text().startswith("Version v-browser")
