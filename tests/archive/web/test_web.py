"""The home page shows what the database holds, live."""

import pytest
from django.urls import reverse
from django.utils import timezone

from archive.catalogue import counts
from archive.catalogue.models import GaiaSource, ModelVersion

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
