"""The home page in headless Chromium."""

import pytest

from archive.catalogue.models import GaiaSource

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
