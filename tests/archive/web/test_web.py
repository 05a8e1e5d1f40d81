"""The home page shows what the database holds, live."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from archive.catalogue import counts
from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion

from .helpers import ingest_synthetic_stars, published_version_with_report

pytestmark = pytest.mark.django_db


def row_count(html: str, table: str) -> str:
    start = html.index(f'data-table="{table}"')
    cell = html.index('data-rows="', start) + len('data-rows="')
    return html[cell : html.index('"', cell)]


def test_home_shows_live_counts(client):
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    assert row_count(response.content.decode(), "gaia_source") == "0"
    GaiaSource.objects.bulk_create(GaiaSource(source_id=i, ra=i, dec=0) for i in range(1, 4))
    html = client.get(reverse("web:home")).content.decode()
    assert row_count(html, "gaia_source") == "3"
    assert row_count(html, "cnn_label") == "0"
    assert "No catalogue version is published yet" in html


def test_home_names_the_published_version(client):
    ModelVersion.objects.create(
        name="v2026-11",
        status="ready",
        is_published=True,
        published_at=timezone.now(),
        n_splits=7,
        n_members=4,
    )
    html = client.get(reverse("web:home")).content.decode()
    assert "v2026-11" in html and "28 models" in html


def test_large_tables_show_the_planner_estimate(monkeypatch):
    monkeypatch.setattr(counts, "estimated_rows", lambda model: 30_000_000)
    rows, exact = counts.table_count(GaiaSource)
    assert (rows, exact) == (30_000_000, False)


# --- the synthetic sky says so --------------------------------------------------------------


def counts_label(html: str, table: str) -> str:
    row = html.index(f'data-table="{table}"')
    cell = html.index("<td>", row) + len("<td>")
    return html[cell : html.index("</td>", cell)]


def test_synthetic_stars_are_not_called_gaia_dr3_sources(client, tmp_path):
    html = client.get(reverse("web:home")).content.decode()
    assert 'id="synthetic-banner"' not in html  # nothing ingested: nothing to warn about
    ingest_synthetic_stars(tmp_path)
    html = client.get(reverse("web:home")).content.decode()
    assert counts_label(html, "gaia_source") == "Synthetic-sky sources (not Gaia DR3)"
    assert "Gaia DR3 sources" not in html
    assert 'id="synthetic-banner"' in html and "not from Gaia DR3" in html
    assert 'id="data-origin"' in html


def test_real_files_keep_the_gaia_dr3_name(client, data_dir):
    call_command(
        "ingest", "gaia-source", str(data_dir / "gaia_source" / "pyia_gdr3_sm.fits"),
        "--no-progress",
    )  # fmt: skip
    html = client.get(reverse("web:home")).content.decode()
    assert counts_label(html, "gaia_source") == "Gaia DR3 sources"
    assert 'id="synthetic-banner"' not in html


def test_the_banner_is_on_every_page(client, admin_client, tmp_path):
    """Every page of the site (base.html) and the served report; the Django admin is not ours."""
    ingest_synthetic_stars(tmp_path)
    published_version_with_report(tmp_path)
    for c, url in (
        (client, reverse("web:home")),
        (client, reverse("web:validation")),
        (admin_client, reverse("ops:dashboard")),
    ):
        response = c.get(url)
        assert response.status_code == 200, url
        assert 'id="synthetic-banner"' in response.content.decode(), url


# --- the published version's validation report, for everyone --------------------------------


def test_published_report_is_public_and_linked_from_home(client, tmp_path):
    assert client.get(reverse("web:validation")).status_code == 404  # nothing published
    published_version_with_report(tmp_path, "v-draft", published=False)
    assert client.get(reverse("web:validation")).status_code == 404  # not published: not public
    version = published_version_with_report(tmp_path, "v-public")
    GaiaSource.objects.bulk_create(GaiaSource(source_id=i, ra=i, dec=0) for i in range(1, 4))
    values = {k: 0.0 for k in ("teff", "logg", "m_h", "alpha_m", "fe_h")}
    values |= {f"{p}_{k}": 0.1 for p in ("e", "sigma") for k in values}
    CnnLabel.objects.bulk_create(
        CnnLabel(model_version=version, source_id=i, flag_boundary=f, **values)
        for i, f in ((1, "00000000"), (2, "00000000"), (3, "10000000"))
    )
    home = client.get(reverse("web:home")).content.decode()
    assert f'href="{reverse("web:validation")}"' in home
    page = client.get(reverse("web:validation")).content.decode()
    assert "Model version v-public" in page and "v-draft" not in page
    # links back to the site and to the version
    assert f'<a href="{reverse("web:home")}">RVS-CNN Archive</a>' in page
    assert f'href="{reverse("web:home")}#published-version">Version v-public</a>' in page
    assert page.index('id="archive-links"') < page.index("<h1>")
    # the labelled catalogue, live: the report itself predates the labelling
    assert "labels <strong>3</strong> stars, 2 of them with" in page
    png = client.get(reverse("web:validation-file", args=["kiel.png"]))
    assert png.status_code == 200 and b"".join(png.streaming_content)[:4] == b"\x89PNG"
    numbers = client.get(reverse("web:validation-file", args=["report.json"]))
    assert numbers.status_code == 200
    for bad in ("../../../../etc/passwd", "missing.png"):
        assert client.get(reverse("web:validation-file", args=[bad])).status_code == 404


def test_home_validation_table_is_rounded_as_people_read_it(client, tmp_path):
    """Issue 27, rough edge 4: the home page's validation table gives biases to the label's
    precision (Teff 1 K, the others 0.01 dex) and spreads to two significant digits, with log
    g's unit as people read it; report.json keeps every digit."""
    import json
    import re
    from pathlib import Path

    from labeling.labels import BY_NAME, format_error

    version = published_version_with_report(tmp_path, "v-round")
    report = Path(version.path) / "files" / "validation" / "report.json"
    held = json.loads(report.read_text())["figures"]["accuracy"]["heldout"]
    home = client.get(reverse("web:home")).content.decode()
    table = home[home.index('id="validation-figures"') :]
    rows = re.findall(r"<tr><td>(.*?)</td>.*?</tr>", table, re.S)
    assert len(rows) >= 5
    for k in ("teff", "logg", "m_h"):
        x = BY_NAME[k]
        row = re.search(rf"<tr><td>{re.escape(x.display)} .*?</tr>", table, re.S).group(0)
        cells = re.findall(r'<td class="num">(.*?)</td>', row)
        assert cells[1] == x.format(held[k]["bias"]) and cells[2] == format_error(
            held[k]["robust_sigma"]
        )
        assert cells[3] == format_error(held[k]["median_sigma"])
        assert f"{held[k]['bias']:.3f}" not in row
    assert "(log(cm s⁻²))" in table
