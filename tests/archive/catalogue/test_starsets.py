"""From ingested files to the arrays the science library works on."""

import numpy as np
import pytest

from archive.catalogue.models import XpCoefficients
from archive.catalogue.starsets import apogee_columns, load_star_set, selection_columns
from labeling.io import iter_gaia_source, iter_rvs_spectra, iter_xp_continuous
from labeling.selection import select
from tests.archive.ops.test_pipeline_tasks import ingest_sky

pytestmark = pytest.mark.django_db


@pytest.fixture
def sky(tmp_path, settings):
    settings.RVS_SPECTRUM_STORE_URL = str(tmp_path / "spectra.zarr")
    return ingest_sky(tmp_path, 600, seed=11)


def test_selection_and_star_sets_from_the_database(sky):
    gaia, apogee = selection_columns(), apogee_columns()
    file_gaia = next(iter_gaia_source(sky.gaia_source, chunk_rows=10_000)).columns
    assert np.array_equal(gaia["source_id"], np.sort(file_gaia["source_id"]))
    order = np.argsort(file_gaia["source_id"])
    np.testing.assert_array_equal(gaia["ruwe"], file_gaia["ruwe"][order])
    selection = select(gaia, apogee)
    assert len(selection.training_ids) > 0 and len(selection.observed_ids) > 0
    assert set(selection.training_ids).isdisjoint(selection.observed_ids)

    ids = np.concatenate([selection.training_ids[:5], selection.observed_ids[:5]])[::-1]
    stars = load_star_set(ids)
    assert list(stars.source_id) == list(ids)  # the caller's order
    spectra = {}
    for chunk in iter_rvs_spectra(sky.rvs_mean_spectrum):
        for sid, flux in zip(chunk.columns["source_id"], chunk.columns["flux"], strict=True):
            if sid in ids:
                spectra[int(sid)] = flux
    got = stars.spectra.get(np.arange(len(ids)))
    for i, sid in enumerate(ids):
        np.testing.assert_array_equal(got[i], spectra[int(sid)])
    xp = {}
    for chunk in iter_xp_continuous(sky.xp_continuous):
        for j, sid in enumerate(chunk.columns["source_id"]):
            if sid in ids:
                xp[int(sid)] = np.concatenate(
                    [chunk.columns["bp_coefficients"][j], chunk.columns["rp_coefficients"][j]]
                )
    for i, sid in enumerate(ids):
        np.testing.assert_array_equal(stars.xp[i], xp[int(sid)])
    g = dict(zip(file_gaia["source_id"], file_gaia["phot_g_mean_mag"], strict=True))
    assert stars.phot[0, 0] == g[ids[0]]


def test_load_star_set_names_missing_inputs(sky):
    with pytest.raises(ValueError, match="1 of 1 stars lack"):
        load_star_set(np.array([123]))
    no_xp = XpCoefficients.objects.values_list("source_id", flat=True).first()
    XpCoefficients.objects.filter(source_id=no_xp).delete()
    with pytest.raises(
        ValueError,
        match=rf"2 of 2 .*: 123 \(no gaia_source / rvs_spectrum / "
        rf"xp_coefficients row\), {no_xp} \(no xp_coefficients row\)",
    ):
        load_star_set(np.array([no_xp, 123]))
