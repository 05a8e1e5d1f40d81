"""The web archive as a person uses it, in headless Chromium against gunicorn (``web_service``)
with the Celery worker behind it: overview, search and downloads, star pages, the query page and
its jobs, accounts with an API token used from pyvo. Screenshots go to var/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from astropy.table import Table

from archive.catalogue.models import CnnLabel

from .sky import sky_fixture

# django_db: the test database is created only for a session that has a django_db test
pytestmark = [pytest.mark.browser, pytest.mark.django_db]
SHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


sky = sky_fixture("websky")


@pytest.fixture(scope="module")
def site(web_service, sky) -> str:
    return web_service


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def images_loaded(page, selector: str) -> None:
    page.wait_for_function(
        "s => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector,
        timeout=30_000,
    )


# --- overview --------------------------------------------------------------------------------


def test_overview_shows_the_published_catalogue_in_figures(page, site, sky):
    page.goto(site + "/")
    assert sky.published in page.locator("#published-version").inner_text()
    assert page.locator("#training-stars").inner_text() == str(len(sky.training))
    images_loaded(page, "#overview img")
    assert page.locator("#overview img").count() == 4
    clean = np.mean(sky.flags == "00000000")
    assert f"{round(100 * clean)}%" in page.locator("#overview").inner_text()
    rows = page.locator("#validation-figures tbody tr")
    assert rows.count() == 5 and rows.first.inner_text().startswith("Teff")
    shot(page, "home")
    page.click("#validation-link")
    assert page.locator("h1").inner_text() == f"Model version {sky.published}"
    shot(page, "validation")


# --- search ----------------------------------------------------------------------------------


def expected(sky, mask) -> int:
    return int(np.count_nonzero(mask))


def test_search_by_cone_in_sexagesimal_ranges_and_flags(page, site, sky):
    i = 5
    ra, dec = float(sky.ra[i]), float(sky.dec[i])
    h = ra / 15
    ra_text = f"{int(h):02d}:{int(h * 60 % 60):02d}:{h * 3600 % 60:06.3f}"
    d = abs(dec)
    dec_text = f"{'-' if dec < 0 else '+'}{int(d):02d} {int(d * 60 % 60):02d} {d * 3600 % 60:05.2f}"
    page.goto(site + "/search/")
    page.fill("#id_ra", ra_text)
    page.fill("#id_dec", dec_text)
    page.fill("#id_radius", "5")
    page.select_option("#id_radius_unit", "deg")
    page.click("#search-submit")
    # the star at the centre comes first when sorted by distance-free source_id? count them all
    d2r = np.radians
    cos_sep = np.sin(d2r(dec)) * np.sin(d2r(sky.dec)) + np.cos(d2r(dec)) * np.cos(
        d2r(sky.dec)
    ) * np.cos(d2r(sky.ra - ra))
    sep = np.degrees(np.arccos(np.clip(cos_sep, -1, 1)))
    n_cone = expected(sky, sep <= 5)
    assert page.locator("#result-count").inner_text() == f"{n_cone} row{'s' if n_cone != 1 else ''}"
    assert str(sky.source_ids[i]) in page.locator("#results-table").inner_text() or n_cone > 50

    # ranges and the recommended flag, on the whole catalogue
    page.goto(site + "/search/")
    page.fill("#id_teff_min", "4000")
    page.fill("#id_teff_max", "6000")
    page.fill("#id_phot_g_mean_mag_max", "12.5")
    page.select_option("#id_flags", "clean")
    page.click("#search-submit")
    t = sky.labels["teff"]
    mask = (t >= 4000) & (t <= 6000) & (sky.gmag <= 12.5) & (sky.flags == "00000000")
    assert page.locator("#result-count").inner_text().startswith(f"{expected(sky, mask)} row")
    flags = page.locator("#results-table td:nth-child(14)").all_inner_texts()
    assert flags and set(flags) == {"00000000"}
    shot(page, "search")

    # one flag digit: [M/H] within the training range
    page.goto(site + "/search/?" + urlencode({"flags": "digits", "clean_digits": "2"}))
    assert (
        page.locator("#result-count")
        .inner_text()
        .startswith(f"{expected(sky, np.array([f[2] == '0' for f in sky.flags]))} row")
    )


def test_search_by_id_list_pages_sorts_and_chooses_columns(page, site, sky):
    ids = [int(s) for s in sky.source_ids[:120]]
    page.goto(site + "/search/")
    page.fill("#id_ids", "\n".join(map(str, ids[:60])) + ", " + " ".join(map(str, ids[60:])))
    page.select_option("#id_per_page", "25")
    page.click("text=Columns")
    for box in page.locator("#id_columns input").all():
        box.uncheck()
    for name in ("source_id", "teff", "m_h", "phot_g_mean_mag"):
        page.check(f"#id_columns input[value={name}]")
    page.click("#search-submit")
    assert page.locator("#result-count").inner_text() == "120 rows"
    headers = page.locator("#results-table thead th").evaluate_all(
        "h => h.map(e => e.dataset.column)"
    )
    assert headers == ["source_id", "teff", "m_h", "phot_g_mean_mag"]
    assert page.locator("#results-table tbody tr").count() == 25
    first = page.locator("#results-table tbody tr td:first-child").all_inner_texts()
    assert [int(x) for x in first] == sorted(ids)[:25]
    page.click("#next-page")
    assert page.locator("#page-number").inner_text() == "2"
    second = page.locator("#results-table tbody tr td:first-child").all_inner_texts()
    assert [int(x) for x in second] == sorted(ids)[25:50]
    # sort by Teff, descending on the second click
    page.click("#results-table th[data-column=teff] a")
    page.click("#results-table th[data-column=teff] a")
    assert (
        page.locator("#results-table th[data-column=teff]").get_attribute("aria-sort")
        == "descending"
    )
    teffs = [
        float(x) for x in page.locator("#results-table tbody tr td:nth-child(2)").all_inner_texts()
    ]
    want = sorted((sky.labels["teff"][:120]).tolist(), reverse=True)[:25]
    assert teffs == [float(f"{t:.0f}") for t in want]  # rounded to 1 K on the page
    # the ADQL behind it, editable on the query page
    assert "?s=" in page.url  # a posted search pages and sorts by its saved key
    adql = page.locator("#adql").text_content()
    assert "ORDER BY r.teff DESC" in adql and "JOIN gaiadr3_rvs_cnn.gaia_source" in adql
    page.click("#show-adql")
    assert "ORDER BY r.teff DESC" in page.locator("#id_query").input_value()


@pytest.mark.parametrize("fmt", ["csv", "fits", "votable", "parquet", "ecsv"])
def test_search_downloads_in_every_format(page, site, sky, tmp_path, fmt):
    page.goto(site + "/search/?flags=clean&sort=teff")
    with page.expect_download() as info:
        page.click(f"#download-{fmt}")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    table = Table.read(path, format={"votable": "votable", "fits": "fits", "csv": "ascii.csv",
                                     "parquet": "parquet", "ecsv": "ascii.ecsv"}[fmt])  # fmt: skip
    assert len(table) == expected(sky, sky.flags == "00000000")
    assert table.colnames[:3] == ["source_id", "ra", "dec"]
    assert list(table["teff"]) == sorted(table["teff"])
    if fmt in ("votable", "fits", "ecsv"):  # the formats that carry units
        assert str(table["teff"].unit) == "K"


def test_bad_input_gets_a_message_beside_the_field(page, site, sky):
    page.goto(site + "/search/")
    page.fill("#id_teff_min", "hot")
    page.fill("#id_logg_max", "42")
    page.fill("#id_m_h_min", "0.5")
    page.fill("#id_m_h_max", "-0.5")
    page.fill("#id_ra", "25h61m")
    page.fill("#id_dec", "10")
    page.fill("#id_radius", "1")
    page.click("#search-submit")
    assert page.locator("#fix-errors").is_visible()
    assert "Enter a number" in page.locator("#id_teff_min_error").inner_text()
    assert "Out of range" in page.locator("#id_logg_max_error").inner_text()
    assert "below the minimum" in page.locator("#id_m_h_max_error").inner_text()
    assert "sexagesimal" in page.locator("#id_ra_error").inner_text()
    assert page.locator("#id_teff_min").get_attribute("aria-describedby") == "id_teff_min_error"
    assert page.locator("#id_ra").get_attribute("aria-describedby") == "id_ra_error"
    assert page.locator("#id_ra").get_attribute("aria-invalid") == "true"
    shot(page, "search-errors")
    # a 10 000-id paste
    page.goto(site + "/search/")
    page.fill("#id_ids", " ".join(str(10**12 + i) for i in range(10_000)))
    page.click("#search-submit")
    assert "at most 5,000" in page.locator("#id_ids_error").inner_text()
    # a cone without its radius
    page.goto(site + "/search/?ra=10&dec=5")
    assert "A cone needs" in page.locator("#id_radius_error").inner_text()


# --- star page -------------------------------------------------------------------------------


def test_star_page_shows_the_science_behind_the_labels(page, site, sky):
    i = 0  # a held-out training star with a spectrum
    sid = int(sky.source_ids[i])
    assert sky.training[sid] is True
    page.goto(f"{site}/star/{sid}/")
    assert page.locator("#star-title").inner_text() == f"Gaia DR3 {sid}"
    teff = page.locator("#labels tr[data-label=teff] .value").inner_text()
    assert teff == f"{float(sky.labels['teff'][i]):.0f}"  # to 1 K, as its precision supports
    digits = page.locator("#flags li")
    assert digits.count() == 8
    for k, li in enumerate(digits.all()):
        text = li.inner_text()
        assert ("outside" in text or "unlike" in text) == (sky.flags[i][k] == "1")
    assert "parallax" in digits.nth(6).inner_text() and "t-SNE" in digits.nth(7).inner_text()
    images_loaded(page, "#spectrum-plot, #planes-plot")
    assert page.locator("#spectrum-plot").evaluate("i => i.naturalWidth") > 800
    assert "849.8, 854.2, 866.2" in page.locator("#spectrum figcaption").inner_text()
    versions = page.locator("#versions tbody tr")
    assert versions.count() == 2 and "published" in versions.first.inner_text()
    assert "held out" in page.locator("#apogee .role").inner_text()
    assert page.locator("#datalink a[href^='/datalink/rvs/']").count() == 4
    assert f"/datalink/links?ID={sid}" in page.locator("#datalink").inner_html()
    assert f"WHERE r.source_id = {sid}" in page.locator("#star-adql").inner_text()
    assert page.locator("#xp-table tbody tr").count() == 55
    shot(page, "star")
    # a star without a spectrum or training labels says so
    page.goto(f"{site}/star/{int(sky.source_ids[200])}/")
    assert page.locator("#no-spectrum").is_visible() and page.locator("#not-training").is_visible()
    # an unknown source: a page that says so, with a 404
    response = page.goto(f"{site}/star/12345/")
    assert response.status == 404 and "no source" in page.locator("#star-missing").inner_text()


def test_spectrum_png_marks_the_lines(site, sky):
    """The figure itself: decoded, sized, red Ca II markers drawn."""
    import io
    import urllib.request

    from matplotlib.image import imread

    with urllib.request.urlopen(f"{site}/star/{sky.with_spectrum[1]}/spectrum.png") as r:
        image = imread(io.BytesIO(r.read()))
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    red = (r > 0.7) & (r - g > 0.3) & (r - b > 0.3)  # the Ca II markers (#d62728)
    blue = (b > 0.5) & (b - r > 0.3)  # the dotted markers of the other lines (#1f5fa8)
    assert image.shape[1] > 800 and red.sum() > 50 and blue.sum() > 50


# --- query page ------------------------------------------------------------------------------


def test_query_page_runs_a_job_and_shows_its_result(page, site, sky):
    page.goto(site + "/query/")
    assert page.locator("#schema details").count() >= 5
    page.click("#example-recommended")
    assert "flag_boundary = '00000000'" in page.locator("#id_query").input_value()
    assert page.locator("#highlight .tok-kw").count() > 3  # highlighted
    # the schema browser puts names into the editor at the cursor
    page.fill("#id_query", "SELECT  FROM x")
    page.evaluate("() => { const a = document.getElementById('id_query'); "
                  "a.selectionStart = a.selectionEnd = 7; }")  # fmt: skip
    page.click("#schema details[data-table='gaiadr3_rvs_cnn.rvs_cnn'] summary")
    page.click("#schema details[data-table='gaiadr3_rvs_cnn.rvs_cnn'] button[data-insert=teff]")
    assert page.locator("#id_query").input_value() == "SELECT teff FROM x"
    page.fill(
        "#id_query",
        "SELECT source_id, teff, logg, m_h FROM gaiadr3_rvs_cnn.rvs_cnn WHERE teff < 5500",
    )
    page.click("#run-query")
    page.wait_for_selector("#job-phase[data-phase=COMPLETED]", timeout=60_000)
    n = expected(sky, sky.labels["teff"] < 5500)
    assert page.locator("#job-rows").inner_text() == f"{n} rows"
    assert page.locator("#job-table tbody tr").count() == min(n, 100)
    images_loaded(page, "#job-plot")
    page.select_option("#plot-x", "teff")
    page.select_option("#plot-y", "logg")
    page.click("#plot-submit")
    images_loaded(page, "#job-plot")
    shot(page, "job")
    with page.expect_download() as info:
        page.click("#download-fits")
    path = Path(info.value.path())
    table = Table.read(path, format="fits")
    assert len(table) == n and table["teff"].max() < 5500
    # listed on the query page with its phase and rows
    page.goto(site + "/query/")
    row = page.locator("#job-list tbody tr").first
    assert "COMPLETED" in row.inner_text() and f"{n}" in row.inner_text()
    shot(page, "query")


def test_a_broken_query_is_shown_where_it_is_wrong(page, site, sky):
    page.goto(site + "/query/")
    page.fill("#id_query", "SELECT source_id FROM gaiadr3_rvs_cnn.rvs_cnn\nWHERE teff >")
    page.click("#run-query")
    error = page.locator("#query-error")
    assert error.is_visible() and "at line 2, column 12" in error.inner_text()
    assert page.locator("#error-mark").inner_text() == ">"  # marked in the editor
    assert page.locator("#id_query").get_attribute("aria-describedby") == "query-error"
    page.fill("#id_query", "SELECT nosuchcolumn FROM gaiadr3_rvs_cnn.rvs_cnn")
    page.click("#run-query")
    assert "nosuchcolumn" in page.locator("#query-error").inner_text()
    shot(page, "query-error")
    # an error only the database sees ends the job in ERROR, shown on its page
    page.fill("#id_query", "SELECT 1 / (teff - teff) AS boom FROM gaiadr3_rvs_cnn.rvs_cnn")
    page.click("#run-query")
    page.wait_for_selector("#job-phase[data-phase=ERROR]", timeout=60_000)
    assert "division by zero" in page.locator("#job-error").inner_text()


# --- accounts --------------------------------------------------------------------------------


def test_sign_up_token_and_pyvo(browser, site, sky):
    import pyvo
    import requests

    context = browser.new_context()
    page = context.new_page()
    page.goto(site + "/accounts/signup/")
    page.fill("#id_username", "astro1")
    page.fill("#id_email", "astro1@example.org")
    page.fill("#id_password1", "Spectra-8498-Ca")
    page.fill("#id_password2", "Spectra-8498-Ca")
    page.click("#signup-submit")
    assert page.locator("#account-link").inner_text() == "astro1"
    page.click("#new-token")
    key = page.locator("#api-token").input_value()
    assert len(key) > 30 and key in page.locator("#pyvo-snippet").inner_text()
    shot(page, "account")

    session = requests.Session()
    session.headers["Authorization"] = f"Token {key}"
    tap = pyvo.dal.TAPService(site + "/tap", session=session)
    result = tap.run_sync("SELECT TOP 5 source_id, teff FROM gaiadr3_rvs_cnn.rvs_cnn")
    assert len(result) == 5
    job = tap.submit_job("SELECT COUNT(*) AS n FROM gaiadr3_rvs_cnn.rvs_cnn")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"], timeout=60)
    assert job.phase == "COMPLETED" and int(job.fetch_result().to_table()["n"][0]) == len(
        sky.source_ids
    )
    # the job is the user's: on their query page, not on an anonymous visitor's
    page.goto(site + "/query/")
    assert page.locator(f"#job-list tr[data-job='{job.job_id}']").count() == 1
    page.goto(f"{site}/query/jobs/{job.job_id}/")
    assert page.locator("#job-rows").inner_text() == "1 row"
    # a TAP client's job in CSV: previewed from its own format
    made = session.post(
        site + "/tap/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 3 source_id FROM gaiadr3_rvs_cnn.rvs_cnn",
              "RESPONSEFORMAT": "csv", "PHASE": "RUN"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    csv_job = made.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    page.goto(f"{site}/query/jobs/{csv_job}/")
    page.wait_for_selector("#job-phase[data-phase=COMPLETED]", timeout=60_000)
    assert page.locator("#job-table tbody tr").count() == 3
    anonymous = browser.new_context().new_page()
    assert anonymous.goto(f"{site}/query/jobs/{job.job_id}/").status == 404
    anonymous.context.close()
    # a wrong token is refused, never treated as anonymous
    bad = requests.get(site + "/tap/async", headers={"Authorization": "Token nope"}, timeout=10)
    assert bad.status_code == 401
    # log out, log in again
    page.click("text=Log out")
    assert page.locator("#login-link").is_visible()
    page.goto(site + "/accounts/login/")
    shot(page, "login")
    page.fill("#id_username", "astro1")
    page.fill("#id_password", "Spectra-8498-Ca")
    page.click("#login-submit")
    assert "Token" in page.locator("#token").inner_text()
    context.close()


def test_password_reset_link_goes_to_the_server_log(page, site, sky):
    log = Path(__file__).resolve().parents[3] / "var" / "test" / "gunicorn.log"
    page.goto(site + "/accounts/signup/")
    page.fill("#id_username", "astro2")
    page.fill("#id_email", "astro2@example.org")
    page.fill("#id_password1", "Another-8542-Line")
    page.fill("#id_password2", "Another-8542-Line")
    page.click("#signup-submit")
    page.click("text=Log out")
    page.goto(site + "/accounts/password_reset/")
    page.fill("#id_email", "astro2@example.org")
    page.click("#reset-submit")
    assert page.locator("#reset-sent").is_visible()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        links = re.findall(r"http://\S+/accounts/reset/\S+/", log.read_text())
        if links:
            break
        time.sleep(0.2)
    page.goto(links[-1])
    page.fill("#id_new_password1", "Renewed-8662-Triplet")
    page.fill("#id_new_password2", "Renewed-8662-Triplet")
    page.click("#reset-confirm")
    assert page.locator("#reset-complete").is_visible()


# --- permissions (in the way django-daiquiri tests them) -------------------------------------

PAGES = {
    # page: status for (anonymous, user, staff)
    "/": (200, 200, 200),
    "/search/": (200, 200, 200),
    "/search/?flags=clean": (200, 200, 200),
    "/query/": (200, 200, 200),
    "/validation/": (200, 200, 200),
    "/accounts/profile/": (302, 200, 200),
    "/accounts/login/": (200, 200, 200),
    "/accounts/signup/": (200, 200, 200),
    "/ops/": (302, 302, 200),
    "/admin/": (302, 302, 200),
    "/query/jobs/{other_job}/": (404, 404, 404),
    "/query/jobs/{own_job}/": (404, 200, 404),
}


@pytest.mark.django_db
def test_permissions_table(client, django_user_model, sky):
    from archive.jobs import lifecycle
    from archive.jobs.kinds import Kind

    user = django_user_model.objects.create_user("perm-user", password="x-Perm-8498")
    staff = django_user_model.objects.create_user("perm-staff", password="x", is_staff=True)
    other = django_user_model.objects.create_user("perm-other", password="x")
    own_job = lifecycle.create(
        Kind.TAP_QUERY, owner=user, parameters={"LANG": "ADQL", "QUERY": "SELECT 1"}
    )
    other_job = lifecycle.create(
        Kind.TAP_QUERY, owner=other, parameters={"LANG": "ADQL", "QUERY": "SELECT 1"}
    )
    star = f"/star/{int(sky.source_ids[3])}/"
    table = {**PAGES, star: (200, 200, 200)}
    for who, index in (("anonymous", 0), ("user", 1), ("staff", 2)):
        client.logout()
        if who == "user":
            client.force_login(user)
        elif who == "staff":
            client.force_login(staff)
        for url, statuses in table.items():
            url = url.format(own_job=own_job.public_id, other_job=other_job.public_id)
            status = client.get(url).status_code
            assert status == statuses[index], (who, url, status)
    # actions: deleting someone else's job is refused, one's own works
    client.force_login(user)
    assert client.post(f"/query/jobs/{other_job.public_id}/delete").status_code == 404
    assert client.post(f"/query/jobs/{own_job.public_id}/delete").status_code == 302
    client.logout()
    assert client.post(f"/query/jobs/{other_job.public_id}/delete").status_code == 404


def test_a_large_result_is_counted_up_to_the_cap(client, sky, monkeypatch):
    from archive.web import search_views

    monkeypatch.setattr(search_views, "COUNT_CAP", 40)
    html = client.get("/search/?per_page=25").content.decode()
    assert (
        "more than 40 rows" in html
        and 'id="next-page"' in html
        and " of " not in html.split('id="page-number"')[1][:40]
    )
    ids = "+".join(str(s) for s in sky.source_ids[:30])
    html = client.get(f"/search/?per_page=25&ids={ids}").content.decode()
    assert "30 rows" in html and "more than" not in html


# --- one vocabulary: rounding, extrapolations, IDs not found (issues 27, 28, 29) ---------------


def _extrapolated_star(sky) -> tuple[int, int]:
    """(row, label digit) of a star with a label digit 1 and at least one label digit 0."""
    for i, flag in enumerate(sky.flags):
        if "1" in flag[:5] and "0" in flag[:5]:
            return i, flag.index("1")
    raise AssertionError("the test sky has no star with a label outside its range")


def _cells(html: str, row_id: str) -> list[tuple[str, str]]:
    """(class, text) of the cells of the result row whose first cell links to ``row_id``."""
    row = re.search(rf"<tr><td class=\"num\"><a href=\"/star/{row_id}/\">.*?</tr>", html, re.S)
    assert row, row_id
    return re.findall(r'<td class="([^"]*)"[^>]*>(.*?)</td>', row.group(0), re.S)


def test_search_names_the_ids_it_did_not_find(client, sky):
    """Issue 29, item 6: 2 IDs giving 1 row say which one the catalogue lacks."""
    known, unknown = int(sky.source_ids[5]), 4_000_000_000_000_001
    html = client.get(f"/search/?ids={known}+{unknown}").content.decode()
    assert "1 row" in html
    listed = re.search(r'<p class="message warn" id="missing-ids".*?</p>', html, re.S).group(0)
    assert f"<code>{unknown}</code>" in listed and str(known) not in listed
    assert "1 of the source_ids" in listed
    html = client.get(f"/search/?ids={known}").content.decode()
    assert 'id="missing-ids"' not in html


def test_search_rounds_labels_and_shades_extrapolations(client, sky):
    """Issue 27 rough edge 4 and issue 28 item 17 on the search page: Teff to 1 K, the others to
    0.01 dex, errors to two significant digits; a label whose digit is 1 shaded and explained;
    downloads keep every digit."""
    from labeling.labels import LABELS, format_error

    i, digit = _extrapolated_star(sky)
    sid = int(sky.source_ids[i])
    cols = "&".join(
        f"columns={c}" for c in ("source_id", "teff", "m_h", "sigma_teff", "flag_boundary")
    )
    html = client.get(f"/search/?ids={sid}&{cols}").content.decode()
    cells = _cells(html, str(sid))
    (teff_class, teff), (mh_class, mh), (_, sigma_teff) = cells[1], cells[2], cells[3]
    assert teff == f"{sky.labels['teff'][i]:.0f}" and mh == f"{sky.labels['m_h'][i]:.2f}"
    row = CnnLabel.objects.get(source_id=sid, model_version__is_published=True)
    assert sigma_teff == format_error(row.sigma_teff)
    for name, klass in (("teff", teff_class), ("m_h", mh_class)):
        outside = sky.flags[i][LABELS.index(name)] == "1"
        assert ("extrapolated" in klass) == outside, (name, sky.flags[i])
    assert "is an extrapolation" in re.sub(r"\s+", " ", html.split('id="extrapolation-help"')[1])
    assert "is an extrapolation of the CNN" in re.sub(r"\s+", " ", html.split('id="flags-help"')[1])
    # the header shows log g's unit as people read it
    html = client.get(f"/search/?ids={sid}&columns=source_id&columns=logg").content.decode()
    assert '<span class="unit">log(cm s⁻²)</span>' in html and "log(cm.s**-2)" not in html
    assert digit < 5


def test_star_page_rounds_and_marks_extrapolated_labels(client, sky):
    """Issue 27 rough edge 4 and issue 28 item 17 on the star page."""
    from labeling.labels import LABEL_SPECS, format_error

    i, digit = _extrapolated_star(sky)
    sid = int(sky.source_ids[i])
    html = client.get(f"/star/{sid}/").content.decode()
    row = CnnLabel.objects.get(source_id=sid, model_version__is_published=True)
    for k, x in enumerate(LABEL_SPECS):
        tr = re.search(rf'<tr data-label="{x.name}"[^>]*>.*?</tr>', html, re.S).group(0)
        cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', tr)
        assert cells == [x.format(getattr(row, x.name)), format_error(getattr(row, f"e_{x.name}")),
                         format_error(getattr(row, f"sigma_{x.name}"))]  # fmt: skip
        assert ('class="extrapolated"' in tr) == (sky.flags[i][k] == "1")
        assert ">extrapolated</span>" in tr if sky.flags[i][k] == "1" else "extrapolated" not in tr
    note = re.sub(r"\s+", " ", re.search(r'id="extrapolation-note".*?</p>', html, re.S).group(0))
    assert LABEL_SPECS[digit].display in note
    assert "extrapolates" in note
    assert "<td>log(cm s⁻²)</td>" in html and "dex</td>" in html


def test_published_descriptions_say_labels_may_be_extrapolations(client, sky):
    """Issue 28 item 17: TAP_SCHEMA and a download's header say it, for every label."""
    import io

    from astropy.io.votable import parse_single_table
    from django.db import connection

    from labeling.labels import LABELS

    with connection.cursor() as cur:
        cur.execute(
            "SELECT column_name, description FROM tap_schema.columns "
            "WHERE table_name = 'gaiadr3_rvs_cnn.rvs_cnn'"
        )
        described = dict(cur.fetchall())
    for k in LABELS:
        assert "extrapolation where its flag_boundary digit is 1" in described[k], k
    assert "label extrapolated" in described["flag_boundary"]
    body = b"".join(client.get(f"/search/download?ids={int(sky.source_ids[0])}&format=votable"))
    fields = {f.name: f for f in parse_single_table(io.BytesIO(body)).fields}
    for k in LABELS:
        assert "extrapolation" in fields[k].description, k
