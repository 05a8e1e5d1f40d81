"""The HATS catalogue of a version's export: built by hats-import beside the files, named in
the manifest, and opened by LSDB over HTTP from the live service, where it cross-matches."""

import pytest

from archive.exports import build, store

from .test_serving import fetch

pytestmark = pytest.mark.django_db(transaction=True)
lsdb = pytest.importorskip("lsdb", reason="the 'hats' extra (hats, hats-import, lsdb)")


def test_lsdb_opens_the_served_hats_catalogue_and_cross_matches(version_stars, reader, web_service):
    import pandas as pd

    from archive.catalogue.models import GaiaSource

    version, ids = version_stars
    manifest = build.build_export(version, reader, rows_per_file=500, with_hats=True)
    assert manifest.hats == "hats/rvs_cnn"
    assert store.Manifest.read(store.export_dir(version.name)).hats == manifest.hats
    assert not list(store.export_dir(version.name).glob(".hats-tmp"))
    base = f"{web_service}/exports/{version.name}/"
    status, _, page = fetch(base)
    assert status == 200 and b'id="hats"' in page

    catalogue = lsdb.read_hats(base + manifest.hats)
    assert len(catalogue) == len(ids)
    # a small catalogue: 20 of the stars, a few arcseconds off
    picked = GaiaSource.objects.filter(source_id__in=ids[::100]).values("source_id", "ra", "dec")
    small = pd.DataFrame(list(picked))
    small["ra"] = small["ra"] + 1e-4
    small["mine"] = range(len(small))
    mine = lsdb.from_dataframe(small, ra_column="ra", dec_column="dec")
    matched = mine.crossmatch(
        catalogue, radius_arcsec=5, suffixes=("_mine", ""), suffix_method="all_columns"
    ).compute()
    assert len(matched) == len(small)
    assert sorted(matched["source_id_mine"]) == sorted(matched["source_id"])
    assert {"teff", "m_h", "flag_boundary"} <= set(matched.columns)


def test_an_export_without_parquet_cannot_have_hats(version_stars, reader):
    version, _ = version_stars
    with pytest.raises(ValueError, match="Parquet"):
        build.build_export(version, reader, formats=("csv",), with_hats=True)
    assert not store.export_dir(version.name).exists()
    assert not store.stale_builds(version.name)


def test_a_version_deleted_during_its_build_publishes_nothing(version_stars, reader):
    """The version is deleted after the first file is written: the build fails with NotFound
    and leaves neither an export nor a staging directory (HATS included)."""
    from archive.catalogue.models import ModelVersion
    from archive.errors import NotFound

    version, _ = version_stars

    def delete_once(_path: str) -> None:
        ModelVersion.objects.filter(pk=version.pk).delete()

    with pytest.raises(NotFound, match="deleted while its export was built"):
        build.build_export(version, reader, rows_per_file=500, progress=delete_once)
    assert not store.export_dir(version.name).exists()
    assert not store.stale_builds(version.name)
