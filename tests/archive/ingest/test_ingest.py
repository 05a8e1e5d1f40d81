"""manage.py ingest: real Gaia DR3 files, APOGEE allStar-format files, and every kind of bad input.

Each bad input must fail with a message naming file, row and field, and leave the database and
the spectrum store exactly as they were.
"""

import dataclasses
import gzip
import warnings
from pathlib import Path

import numpy as np
import psycopg
import pytest
from astropy.table import Table
from astropy.units import UnitsWarning
from django.core.management import CommandError, call_command
from django.db import connection

from archive.catalogue.models import ApogeeLabel, GaiaSource, RvsSpectrum, XpCoefficients
from archive.catalogue.spectra import STORE_LOCK, get_store, read_spectrum
from archive.ingest.compaction import compact_store
from archive.ingest.models import IngestedFile
from archive.ingest.products import PRODUCTS
from archive.ingest.runner import ingest_file
from labeling import io
from labeling.io import ReadError, iter_rvs_spectra, open_bulk_writer, write_allstar
from labeling.io.provenance import synthetic_sky_marker
from tests.conftest import RVS_STARS, XP_STARS

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def store_in_tmp(settings, tmp_path):
    settings.RVS_SPECTRUM_STORE_URL = str(tmp_path / "spectra.zarr")


def ingest(product, *paths, **kw):
    call_command("ingest", product, *map(str, paths), "--no-progress", **kw)


def snapshot():
    """Everything ingest may touch: table contents and the store's shape."""
    with connection.cursor() as cur:
        tables = {}
        for table in ("gaia_source", "rvs_spectrum", "xp_coefficients", "apogee_label"):
            cur.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {table} t"
            )
            tables[table] = cur.fetchone()[0]
    store = get_store()
    return tables, [(s, store.rows(s)) for s in store.segments()]


def make_sources(ids, **extra):
    GaiaSource.objects.bulk_create(
        GaiaSource(source_id=i, ra=10.0 + k, dec=-20.0, **extra) for k, i in enumerate(ids)
    )


def as_float32(column) -> np.ndarray:
    return np.asarray(np.ma.asarray(column, dtype=np.float64).filled(np.nan), dtype=np.float32)


def read_table(path) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        return Table.read(path)


# --- real files ----------------------------------------------------------------------------


def test_real_gaia_source_fits_and_votable(data_dir):
    fits_path = data_dir / "gaia_source" / "pyia_gdr3_sm.fits"
    vot_path = data_dir / "gaia_source" / "astroquery_1710099405832VAL-result.vot"
    ingest("gaia-source", fits_path, vot_path)
    assert GaiaSource.objects.count() == 1002
    table = read_table(fits_path)
    for i in (0, 1, 500, 999):
        got = GaiaSource.objects.get(pk=int(table["source_id"][i]))
        assert got.ra == pytest.approx(float(table["ra"][i]), abs=0, rel=1e-15)
        assert got.parallax == pytest.approx(float(table["parallax"][i]), rel=1e-6)
        assert got.phot_variable_flag == str(table["phot_variable_flag"][i])
        assert got.has_xp_continuous == bool(table["has_xp_continuous"][i])
        rv = table["radial_velocity"][i]
        assert (got.radial_velocity is None) == bool(np.ma.is_masked(rv))
    vot = read_table(vot_path)
    got = GaiaSource.objects.get(pk=int(vot["SOURCE_ID"][0]))  # upper-case column in the file
    assert got.rvs_spec_sig_to_noise == pytest.approx(float(vot["rvs_spec_sig_to_noise"][0]))


def test_same_file_twice_changes_nothing_and_a_corrected_file_updates(data_dir, tmp_path):
    path = data_dir / "gaia_source" / "pyia_gdr3_sm.fits"
    first = ingest_file(PRODUCTS["gaia-source"], path)
    before = snapshot()
    again = ingest_file(PRODUCTS["gaia-source"], path)
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (1000, 0, 0, 1000)
    assert snapshot() == before
    table = read_table(path)[:10]
    table["parallax"][3] = 9.5
    corrected = tmp_path / "corrected.fits"
    table.write(corrected)
    report = ingest_file(PRODUCTS["gaia-source"], corrected)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 9)
    assert GaiaSource.objects.get(pk=int(table["source_id"][3])).parallax == 9.5


def test_real_rvs_spectra_are_stored_and_read_back_by_reference(data_dir):
    make_sources(RVS_STARS.values())
    paths = [data_dir / "rvs_mean_spectrum" / name for name in RVS_STARS]
    ingest("rvs-spectra", *paths)
    assert RvsSpectrum.objects.count() == 4
    for name, source_id in RVS_STARS.items():
        table = read_table(data_dir / "rvs_mean_spectrum" / name)
        flux, error = read_spectrum(source_id)
        expected = as_float32(table["flux"])
        np.testing.assert_array_equal(flux, expected)  # NaN pixels kept as NaN
        np.testing.assert_array_equal(error, as_float32(table["flux_error"]))
        ref = RvsSpectrum.objects.get(pk=source_id)
        assert ref.n_nan_pixels == int(np.isnan(expected).sum())
        assert ref.combined_transits == int(table["combined_transits"][0])
    # again: nothing rewritten in the store, nothing changed in the table
    before = snapshot()
    report = ingest_file(PRODUCTS["rvs-spectra"], paths[0])
    assert (report.spectra_written, report.unchanged) == (0, 1)
    assert snapshot() == before


@pytest.mark.parametrize(
    "name",
    [
        "gaiaxpy_XP_CONTINUOUS_RAW.csv",
        "gaiaxpy_XP_CONTINUOUS_RAW.ecsv",
        "gaiaxpy_XP_CONTINUOUS_RAW.fits",
        "gaiaxpy_XP_CONTINUOUS_RAW.xml",
        "gaiaxpy_XP_CONTINUOUS_RAW_with_missing_BP.csv",
        "gaiaxpy_18Sco-XP-spectra.csv",
        "astroquery_gaia_dr3_source_id_5937083312263887616_dl_products_csv.zip",
        "astroquery_gaia_dr3_source_id_5937083312263887616_dl_products_ecsv.zip",
    ],
)
def test_real_xp_files(data_dir, name):
    make_sources(XP_STARS)
    ingest("xp-continuous", data_dir / "xp_continuous" / name)
    reference = read_table(data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW.ecsv")
    for row in reference:
        stored = XpCoefficients.objects.filter(pk=int(row["source_id"])).first()
        if stored is None:
            continue  # this file holds other stars
        np.testing.assert_allclose(stored.bp_coefficients, row["bp_coefficients"], rtol=1e-12)
        np.testing.assert_allclose(
            stored.rp_coefficient_errors, row["rp_coefficient_errors"], rtol=1e-6
        )
        assert stored.rp_n_relevant_bases == int(row["rp_n_relevant_bases"])
        for band in ("bp", "rp"):  # float32 in DR3, stored exactly
            name = f"{band}_coefficient_correlations"
            stored_values = np.asarray(getattr(stored, name))
            assert stored_values.shape == (1485,)
            np.testing.assert_array_equal(stored_values, np.asarray(row[name], dtype=np.float32))
    assert XpCoefficients.objects.exists()
    if "missing_BP" in name:
        star = XpCoefficients.objects.get(pk=5405570973190252288)
        assert star.bp_coefficients is None and star.rp_coefficients is not None
        assert star.bp_coefficient_correlations is None
        assert len(star.rp_coefficient_correlations) == 1485


def allstar_rows(n=3, **overrides):
    rows = {
        "APOGEE_ID": np.array([f"2M0000000{i}+0000000" for i in range(n)]),
        "TELESCOPE": np.array(["apo25m"] * n),
        "FIELD": np.array(["N7789"] * n),
        "GAIAEDR3_SOURCE_ID": np.arange(1, n + 1, dtype=np.int64) * 1000,
        "ASPCAPFLAG": np.array([0, 1 << 23, (1 << 7) | (1 << 40)][:n], dtype=np.int64),
        "FE_H_FLAG": np.zeros(n, dtype=np.int32),
    }
    for i, name in enumerate(
        "TEFF TEFF_ERR LOGG LOGG_ERR M_H M_H_ERR FE_H FE_H_ERR ALPHA_M "
        "ALPHA_M_ERR ASPCAP_CHI2 SNR".split()
    ):
        rows[name] = np.linspace(1.0, 2.0, n).astype(np.float32) + i
    rows.update(overrides)
    return rows


def test_apogee_allstar(tmp_path):
    path = tmp_path / "allStar-dr17-test.fits"
    rows = allstar_rows()
    write_allstar(path, rows)
    ingest("apogee", path)
    got = ApogeeLabel.objects.order_by("apogee_id")
    assert [g.source_id for g in got] == [1000, 2000, 3000]
    assert got[2].aspcapflag == (1 << 7) | (1 << 40)
    assert got[1].teff == pytest.approx(float(rows["TEFF"][1]))
    ingest("apogee", path)  # idempotent
    assert ApogeeLabel.objects.count() == 3


def test_astrophysical_parameters_update_classlabel(tmp_path):
    make_sources([11, 12])
    path = tmp_path / "AstrophysicalParameters_test.csv.gz"
    with open_bulk_writer("astrophysical_parameters", path) as w:
        w.write({"source_id": np.array([11, 12]), "classlabel_espels": np.array(["TTauri", ""])})
    ingest("astrophysical-parameters", path)
    assert GaiaSource.objects.get(pk=11).classlabel_espels == "TTauri"
    assert GaiaSource.objects.get(pk=12).classlabel_espels == ""


# --- bad input -----------------------------------------------------------------------------


def gaia_file(path, ids, meta=None, **columns):
    """A gaia_source bulk file with every column the gaia-source product requires."""
    n = len(ids)
    data = {
        "source_id": np.asarray(ids, dtype=np.int64),
        "ra": np.linspace(1, 2, n),
        "dec": np.linspace(-1, 1, n),
        "parallax": np.full(n, 1.5),
        "parallax_error": np.full(n, 0.1, dtype=np.float32),
        "ruwe": np.full(n, 1.0, dtype=np.float32),
        "rvs_spec_sig_to_noise": np.full(n, 40.0, dtype=np.float32),
        "non_single_star": np.zeros(n, dtype=np.int64),
        "phot_variable_flag": np.full(n, "NOT_AVAILABLE"),
        "in_qso_candidates": np.zeros(n, dtype=bool),
        "in_galaxy_candidates": np.zeros(n, dtype=bool),
        "has_xp_continuous": np.ones(n, dtype=bool),
    }
    for band, mag in (("g", 11.0), ("bp", 11.4), ("rp", 10.5)):
        data[f"phot_{band}_mean_mag"] = np.full(n, mag, dtype=np.float32)
        data[f"phot_{band}_mean_flux_over_error"] = np.full(n, 900.0, dtype=np.float32)
    data.update(columns)
    with open_bulk_writer("gaia_source", path, meta=meta) as w:
        w.write({k: v for k, v in data.items() if v is not None})
    return path


def rvs_file(path, ids, rng):
    n = len(ids)
    with open_bulk_writer("rvs_mean_spectrum", path) as w:
        w.write(
            {
                "source_id": np.asarray(ids, dtype=np.int64),
                "combined_transits": np.full(n, 20, dtype=np.int16),
                "flux": (1 + 0.01 * rng.standard_normal((n, 2401))).astype(np.float32),
                "flux_error": np.full((n, 2401), 0.01, dtype=np.float32),
            }
        )
    return path


def expect_failure(product, path, row, field, match, **kw):
    before = snapshot()
    with pytest.raises(CommandError):
        ingest(product, path, **kw)
    assert snapshot() == before
    with pytest.raises(ReadError) as err:
        ingest_file(PRODUCTS[product], path)
    assert err.value.path.endswith(path.name) and str(path.name) in str(err.value)
    assert (err.value.row, err.value.field) == (row, field)
    assert match in err.value.message
    assert snapshot() == before
    return err.value


def test_bad_truncated_gzip_leaves_database_and_store_unchanged(tmp_path):
    rng = np.random.default_rng(3)
    make_sources(range(1, 301))
    ingest("rvs-spectra", rvs_file(tmp_path / "ok.csv.gz", [1], rng))
    full = rvs_file(tmp_path / "full.csv.gz", range(2, 301), rng).read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(full[: int(len(full) * 0.8)])  # several chunks read, then the end
    before = snapshot()
    with pytest.raises(ReadError) as err:
        ingest_file(PRODUCTS["rvs-spectra"], truncated)
    assert "truncated.csv.gz" in str(err.value) and err.value.row is not None
    assert snapshot() == before  # spectra appended before the failure were cut back


def test_big_rvs_files_are_parsed_in_a_child_process(tmp_path, monkeypatch):
    product = dataclasses.replace(PRODUCTS["rvs-spectra"], parse_in_process_bytes=0)
    parse, calls = io.iter_in_process, []
    monkeypatch.setattr(io, "iter_in_process", lambda *a, **kw: calls.append(a) or parse(*a, **kw))
    rng = np.random.default_rng(6)
    make_sources(range(1, 301))
    path = rvs_file(tmp_path / "RvsMeanSpectrum_big.csv.gz", range(1, 301), rng)
    report = ingest_file(product, path)
    assert calls == [(iter_rvs_spectra, path)]  # through the child, not in process
    assert (report.read, report.inserted) == (300, 300)
    expected = next(iter_rvs_spectra(path, chunk_stars=300))
    flux, _ = read_spectrum(250)
    np.testing.assert_array_equal(flux, expected.columns["flux"][249])
    truncated = tmp_path / "RvsMeanSpectrum_cut.csv.gz"
    truncated.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.8)])
    before = snapshot()
    with pytest.raises(ReadError, match="truncated") as err:
        ingest_file(product, truncated)
    assert "RvsMeanSpectrum_cut.csv.gz" in str(err.value) and err.value.row is not None
    assert snapshot() == before


def test_bad_missing_required_column(tmp_path):
    path = gaia_file(tmp_path / "GaiaSource_no_ra.csv.gz", [1, 2], ra=None)
    before = snapshot()
    with pytest.raises(ReadError, match="ra") as err:
        ingest_file(PRODUCTS["gaia-source"], path)
    assert err.value.field == "ra" and "GaiaSource_no_ra.csv.gz" in str(err.value)
    assert "required column missing: ra" in err.value.message
    assert snapshot() == before


def test_bad_file_without_what_the_cnn_needs_is_refused_naming_the_columns(tmp_path, capsys):
    """source_id, ra, dec, parallax only: no photometry, no selection flags: refused."""
    path = tmp_path / "GaiaSource_astrometry_only.csv.gz"
    with open_bulk_writer("gaia_source", path) as w:
        w.write({"source_id": np.array([1, 2]), "ra": np.zeros(2), "dec": np.zeros(2),
                 "parallax": np.ones(2)})  # fmt: skip
    before = snapshot()
    with pytest.raises(CommandError):
        ingest("gaia-source", path)
    err = capsys.readouterr().err
    assert "required columns missing: parallax_error, phot_g_mean_mag, phot_bp_mean_mag" in err
    for name in ("ruwe", "rvs_spec_sig_to_noise", "phot_variable_flag", "has_xp_continuous"):
        assert name in err
    assert "radial_velocity" not in err.split("(the file has")[0]  # optional: not required
    assert snapshot() == before and not IngestedFile.objects.exists()


def test_absent_optional_columns_are_reported(tmp_path, capsys):
    ingest("gaia-source", gaia_file(tmp_path / "GaiaSource_no_rv.csv.gz", [1, 2]))
    out = capsys.readouterr().out
    assert (
        "optional columns not in the file (left as they are in the table): "
        "radial_velocity, radial_velocity_error, classlabel_espels" in out
    )
    assert GaiaSource.objects.count() == 2


def test_bad_other_columns_are_named_not_an_unclosed_quote(tmp_path, capsys):
    path = tmp_path / "stars.csv"
    path.write_text("name,mag,colour\nVega,0.03,0.0\nSirius,-1.46,0.0\n")
    with pytest.raises(CommandError):
        ingest("gaia-source", path)
    err = capsys.readouterr().err
    assert "required columns missing: source_id, ra, dec, parallax" in err
    assert "the file has 3 columns: name, mag, colour" in err and "quote" not in err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "empty file"),
        (bytes(range(256)), "not a text file: binary content"),
        (b"source_id;ra;dec\n1;2.0;3.0\n", "separates its column names by semicolons (';')"),
    ],
)
def test_bad_file_kind_is_named(tmp_path, capsys, content, says):
    path = tmp_path / "GaiaSource_odd.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError):
        ingest("gaia-source", path)
    err = capsys.readouterr().err
    assert says in err and "unknown format" not in err and "GaiaSource_odd.csv" in err


def test_bad_wrong_pixel_count(tmp_path, data_dir):
    """A DataLink RVS_MEAN_SPECTRUM file with its last pixel line missing."""
    make_sources([RVS_STARS["gaiaspec_Kepler-93.csv"]])
    lines = (data_dir / "rvs_mean_spectrum" / "gaiaspec_Kepler-93.csv").read_text().splitlines()
    path = tmp_path / "RVS_MEAN_SPECTRUM-short.csv"
    path.write_text("\n".join(lines[:-1]) + "\n")
    before = snapshot()
    with pytest.raises(ReadError, match="2400") as err:
        ingest_file(PRODUCTS["rvs-spectra"], path)
    assert (err.value.row, err.value.field) == (2400, "wavelength")  # the star's last line
    assert "RVS_MEAN_SPECTRUM-short.csv" in str(err.value)
    assert snapshot() == before


def test_bad_non_numeric_value(tmp_path):
    path = gaia_file(tmp_path / "GaiaSource_text.csv.gz", [1, 2, 3])
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    header = [ln for ln in text if ln.startswith("#")]
    body = [ln for ln in text if not ln.startswith("#")]
    names = body[0].split(",")
    cells = body[2].split(",")
    cells[names.index("parallax")] = "abc"
    body[2] = ",".join(cells)
    path.write_bytes(gzip.compress("\n".join(header + body).encode() + b"\n"))
    expect_failure("gaia-source", path, row=2, field="parallax", match="abc")


def test_bad_integer_too_big_for_its_column(tmp_path):
    nss = np.array([0, 3, 40000, 1], dtype=np.int64)  # non_single_star is int2
    path = gaia_file(tmp_path / "GaiaSource_big.csv.gz", [1, 2, 3, 4], non_single_star=nss)
    expect_failure("gaia-source", path, row=3, field="non_single_star", match="40000 does not fit")


def test_bad_duplicate_id_inside_a_file(tmp_path):
    path = gaia_file(tmp_path / "GaiaSource_dup.csv.gz", [7, 8, 7])
    err = expect_failure("gaia-source", path, row=3, field="source_id", match="duplicate")
    assert "first at row 1" in err.message


def test_bad_duplicate_spectrum_in_a_later_chunk(tmp_path):
    # the reader hands 1 024 spectra per chunk; chunks are staged while the next is read
    ids = [*range(1, 1100), 5]
    make_sources(range(1, 1100))
    path = rvs_file(tmp_path / "RvsMeanSpectrum_dup.csv.gz", ids, np.random.default_rng(2))
    err = expect_failure("rvs-spectra", path, row=1100, field="source_id", match="duplicate 5")
    assert "first at row 5" in err.message


def test_a_failed_store_write_leaves_database_and_store_unchanged(tmp_path, monkeypatch):
    from labeling.spectrum_store import SpectrumStore

    make_sources(range(1, 2001))
    ingest("rvs-spectra", rvs_file(tmp_path / "first.csv.gz", [1], np.random.default_rng(4)))
    path = rvs_file(tmp_path / "more.csv.gz", range(2, 2001), np.random.default_rng(5))
    append, calls = SpectrumStore.append, []

    def failing_append(self, flux, flux_error):
        calls.append(len(flux))
        if len(calls) == 2:  # the first chunk is in the store, the second fails
            raise OSError("disk full")
        return append(self, flux, flux_error)

    monkeypatch.setattr(SpectrumStore, "append", failing_append)
    before = snapshot()
    with pytest.raises(OSError, match="disk full"):
        ingest_file(PRODUCTS["rvs-spectra"], path)
    assert calls == [1024, 975]
    assert snapshot() == before


@pytest.fixture
def second_session():
    """Another database session, as a concurrent writer of the store would have."""
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"],
        port=s["PORT"],
        dbname=s["NAME"],
        user=s["USER"],
        password=s["PASSWORD"],
        autocommit=True,
    ) as other:
        yield other


def other_writer_could_start(other) -> bool:
    got = other.execute("SELECT pg_try_advisory_lock(%s)", [STORE_LOCK]).fetchone()[0]
    if got:
        other.execute("SELECT pg_advisory_unlock(%s)", [STORE_LOCK])
    return got


@pytest.mark.django_db(transaction=True)  # the ingest's own transaction is the outermost
def test_a_failed_ingest_cuts_the_store_back_before_another_writer_can_append(
    tmp_path, monkeypatch, second_session
):
    """Once the failed transaction has rolled back, a writer waiting for the store would take
    its mark and append; the failed one must be done cutting back by then."""
    from labeling.spectrum_store import SpectrumStore

    make_sources(range(1, 1100))
    path = rvs_file(
        tmp_path / "RvsMeanSpectrum_dup.csv.gz", [*range(1, 1100), 5], np.random.default_rng(2)
    )
    rollback, seen = SpectrumStore.rollback, []

    def watched(self, mark):
        seen.append(other_writer_could_start(second_session))
        rollback(self, mark)

    monkeypatch.setattr(SpectrumStore, "rollback", watched)
    before = snapshot()
    with pytest.raises(ReadError, match="duplicate 5"):
        ingest_file(PRODUCTS["rvs-spectra"], path)
    assert seen == [False] and snapshot() == before
    assert other_writer_could_start(second_session)  # released afterwards


@pytest.mark.django_db(transaction=True)
def test_compaction_deletes_old_segments_before_another_writer_can_append(
    tmp_path, monkeypatch, second_session
):
    from labeling.spectrum_store import SpectrumStore

    rng = np.random.default_rng(5)
    make_sources([1, 2, 3])
    ingest("rvs-spectra", rvs_file(tmp_path / "v1.csv.gz", [1, 2, 3], rng))
    ingest("rvs-spectra", rvs_file(tmp_path / "v2.csv.gz", [2], rng))
    delete, seen = SpectrumStore.delete_segment, []

    def watched(self, name):
        seen.append(other_writer_could_start(second_session))
        delete(self, name)

    monkeypatch.setattr(SpectrumStore, "delete_segment", watched)
    assert compact_store().segments_deleted == len(seen) > 0
    assert not any(seen)
    assert other_writer_could_start(second_session)


def test_a_failed_compaction_leaves_references_and_store_as_they_were(tmp_path, monkeypatch):
    from archive.ingest import compaction

    rng = np.random.default_rng(5)
    make_sources([1, 2, 3])
    ingest("rvs-spectra", rvs_file(tmp_path / "v1.csv.gz", [1, 2, 3], rng))
    ingest("rvs-spectra", rvs_file(tmp_path / "v2.csv.gz", [2], rng))
    before = snapshot()

    def failing(cur, ids, new):
        raise OSError("lost the database")

    monkeypatch.setattr(compaction, "_point_at_copies", failing)
    with pytest.raises(OSError, match="lost the database"):
        compact_store()
    assert snapshot() == before  # the copies are gone again, the references unchanged


def test_bad_spectrum_for_unknown_source(tmp_path):
    make_sources([1])
    path = rvs_file(tmp_path / "RvsMeanSpectrum_unknown.csv.gz", [1, 99], np.random.default_rng(1))
    expect_failure("rvs-spectra", path, row=2, field="source_id", match="99 is not in gaia_source")


def test_bad_xp_for_unknown_source(data_dir):
    path = data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW.csv"
    expect_failure("xp-continuous", path, row=1, field="source_id", match="not in gaia_source")


def test_bad_apogee_row_without_gaia_id(tmp_path):
    path = tmp_path / "allStar-no-gaia.fits"
    write_allstar(path, allstar_rows(GAIAEDR3_SOURCE_ID=np.array([1000, 0, 3000])))
    expect_failure("apogee", path, row=2, field="GAIAEDR3_SOURCE_ID", match="no Gaia source id")


def test_skip_bad_rows_rejects_only_those(tmp_path, capsys):
    make_sources([1, 2])
    path = rvs_file(
        tmp_path / "RvsMeanSpectrum_mixed.csv.gz", [1, 99, 2, 1], np.random.default_rng(2)
    )
    ingest("rvs-spectra", path, skip_bad_rows=True)
    out = capsys.readouterr().out
    assert "2 inserted" in out and "2 rejected" in out
    assert "row 2, field source_id" in out and "row 4, field source_id: duplicate" in out
    assert set(RvsSpectrum.objects.values_list("pk", flat=True)) == {1, 2}
    flux, _ = read_spectrum(2)
    chunk = next(iter_rvs_spectra(path))
    np.testing.assert_array_equal(flux, chunk.columns["flux"][2])


def test_unreadable_file_names_it(tmp_path):
    path = tmp_path / "GaiaSource_garbage.csv.gz"
    path.write_bytes(b"this is not a gaia product\x00\x01")
    with pytest.raises(ReadError, match="GaiaSource_garbage.csv.gz"):
        ingest_file(PRODUCTS["gaia-source"], path)


def test_compact_reclaims_unreferenced_rows_and_keeps_spectra(tmp_path):
    rng = np.random.default_rng(5)
    make_sources([1, 2, 3])
    ingest("rvs-spectra", rvs_file(tmp_path / "v1.csv.gz", [1, 2, 3], rng))
    report = ingest_file(PRODUCTS["rvs-spectra"], rvs_file(tmp_path / "v2.csv.gz", [2], rng))
    assert (report.updated, report.spectra_written) == (1, 1)  # a corrected spectrum
    store = get_store()
    assert sum(store.rows(s) for s in store.segments()) == 4  # one row now unreferenced
    expected = {i: read_spectrum(i) for i in (1, 2, 3)}
    result = compact_store()
    assert (result.rows_reclaimed, result.rows_copied) == (1, 3)
    store = get_store()
    assert sum(store.rows(s) for s in store.segments()) == 3
    for i, (flux, error) in expected.items():
        got = read_spectrum(i)
        np.testing.assert_array_equal(got[0], flux)
        np.testing.assert_array_equal(got[1], error)
    assert compact_store().rows_reclaimed == 0  # nothing left to do


def test_skip_bad_rows_also_skips_rows_the_reader_cannot_parse(tmp_path, capsys):
    path = gaia_file(tmp_path / "GaiaSource_text2.csv.gz", [1, 2, 3, 4])
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    body_start = next(i for i, ln in enumerate(text) if not ln.startswith("#")) + 1
    for data_row, bad in [(2, "abc"), (4, "xyz")]:
        cells = text[body_start + data_row - 1].split(",")
        cells[3] = bad  # the parallax column
        text[body_start + data_row - 1] = ",".join(cells)
    path.write_bytes(gzip.compress("\n".join(text).encode() + b"\n"))
    ingest("gaia-source", path, skip_bad_rows=True)
    out = capsys.readouterr().out
    assert "2 inserted" in out and "2 rejected" in out
    assert "rejected row 2, field parallax" in out and "rejected row 4, field parallax" in out
    assert set(GaiaSource.objects.values_list("pk", flat=True)) == {1, 3}


# --- the same on an S3-compatible object store (moto) ------------------------------------------


@pytest.fixture
def store_on_s3(settings, s3_store):
    settings.RVS_SPECTRUM_STORE_URL, settings.RVS_SPECTRUM_STORE_OPTIONS = s3_store
    return s3_store


def test_s3_store_ingest_read_back_rollback_and_compact(store_on_s3, data_dir, tmp_path):
    assert get_store().url.startswith("s3://")
    make_sources([*RVS_STARS.values(), 1, 2, 3])
    paths = [data_dir / "rvs_mean_spectrum" / name for name in RVS_STARS]
    ingest("rvs-spectra", *paths)
    for name, source_id in RVS_STARS.items():
        table = read_table(data_dir / "rvs_mean_spectrum" / name)
        np.testing.assert_array_equal(read_spectrum(source_id)[0], as_float32(table["flux"]))
    # a file failing after its spectra were appended leaves the bucket as it was
    rng = np.random.default_rng(8)
    full = rvs_file(tmp_path / "full.csv.gz", range(1, 4), rng).read_bytes()
    truncated = tmp_path / "truncated.csv.gz"
    truncated.write_bytes(full[: int(len(full) * 0.8)])
    before = snapshot()
    with pytest.raises(ReadError):
        ingest_file(PRODUCTS["rvs-spectra"], truncated)
    assert snapshot() == before
    # a corrected spectrum leaves one unreferenced row, which compaction reclaims
    source_id = RVS_STARS["gaiaspec_Kepler-93.csv"]
    ingest("rvs-spectra", rvs_file(tmp_path / "fix.csv.gz", [source_id], rng))
    expected = {i: read_spectrum(i) for i in RVS_STARS.values()}
    assert compact_store().rows_reclaimed == 1
    for i, (flux, error) in expected.items():
        np.testing.assert_array_equal(read_spectrum(i)[1], error)
        np.testing.assert_array_equal(read_spectrum(i)[0], flux)


# --- what the summary says ---------------------------------------------------------------------


def test_read_counts_every_row_the_same_way_for_every_product(tmp_path):
    """read = inserted + updated + unchanged + rejected, whether a row was rejected by the reader
    (gaia-source: a parallax that is no number) or by validation (APOGEE: no Gaia id)."""
    path = gaia_file(tmp_path / "GaiaSource_mixed.csv.gz", [1, 2, 3, 4])
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    body_start = next(i for i, ln in enumerate(text) if not ln.startswith("#")) + 1
    names = text[body_start - 1].split(",")
    cells = text[body_start + 1].split(",")
    cells[names.index("parallax")] = "abc"  # data row 2: the reader cannot parse it
    text[body_start + 1] = ",".join(cells)
    path.write_bytes(gzip.compress("\n".join(text).encode() + b"\n"))
    gaia = ingest_file(PRODUCTS["gaia-source"], path, skip_bad_rows=True)
    allstar = tmp_path / "allStar-mixed.fits"
    write_allstar(allstar, allstar_rows(GAIAEDR3_SOURCE_ID=np.array([1000, 0, 3000])))
    apogee = ingest_file(PRODUCTS["apogee"], allstar, skip_bad_rows=True)
    for report, rows in ((gaia, 4), (apogee, 3)):
        assert len(report.rejected) == 1
        assert report.read == rows  # every data row of the file
        assert report.read == (
            report.inserted + report.updated + report.unchanged + len(report.rejected)
        )
        assert f"{rows} read" in report.summary()


def test_astrophysical_parameters_on_a_fresh_database_says_what_it_updated(tmp_path, capsys):
    ingest("gaia-source", gaia_file(tmp_path / "GaiaSource_3.csv.gz", [11, 12, 13]))
    capsys.readouterr()
    path = tmp_path / "AstrophysicalParameters_fresh.csv.gz"
    with open_bulk_writer("astrophysical_parameters", path) as w:
        w.write({"source_id": np.array([11, 12, 13]),
                 "classlabel_espels": np.array(["TTauri", "", ""])})  # fmt: skip
    ingest("astrophysical-parameters", path)
    out = capsys.readouterr().out
    assert "3 read, 1 updated, 2 unchanged, 0 rejected" in out
    assert "inserted" not in out.splitlines()[0]  # it never inserts: no "0 inserted"
    assert (
        "astrophysical-parameters inserts no rows: it sets classlabel_espels of gaia_source "
        "rows already loaded" in out
    )
    assert "on a fresh database, every row it gives a value" in out


def test_an_astrophysical_parameters_file_needs_its_class_label_column(tmp_path):
    make_sources([11])
    path = tmp_path / "AstrophysicalParameters_ids_only.csv"
    path.write_text("source_id\n11\n")
    with pytest.raises(ReadError, match="required column missing: classlabel_espels"):
        ingest_file(PRODUCTS["astrophysical-parameters"], path)


def test_makefile_shows_the_apogee_summary(tmp_path, capsys):
    """make demo's APOGEE line: run as written, it prints the summary (not only rejected rows)."""
    makefile = (REPO / "Makefile").read_text()
    line = next(ln for ln in makefile.splitlines() if "manage.py ingest apogee" in ln)
    assert "|" not in line  # nothing cuts its output
    args = line.split("manage.py ingest apogee", 1)[1].split()
    options = [a for a in args if not a.startswith("$(")]
    path = tmp_path / "allStar-dr17-synthetic.fits"
    ids = np.array([1000, 0, 0, 0, 0, 6000], dtype=np.int64)
    write_allstar(path, allstar_rows(6, GAIAEDR3_SOURCE_ID=ids, ASPCAPFLAG=np.zeros(6, np.int64)))
    call_command("ingest", "apogee", *options, str(path), "--no-progress")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: 6 read, 2 inserted, 0 updated, 0 unchanged, 4 rejected")
    assert any("more rejected rows" in ln for ln in out)
    assert len(out) <= 6


def test_every_ingested_file_is_recorded_with_the_synthetic_marker(tmp_path, capsys):
    real = gaia_file(tmp_path / "GaiaSource_real.csv.gz", [1, 2])
    ingest("gaia-source", real)
    assert not IngestedFile.stars_are_synthetic()
    marker = synthetic_sky_marker({"seed": 7, "n_stars": 2})
    synthetic = gaia_file(tmp_path / "GaiaSource_synthetic.csv.gz", [3, 4], meta=marker)
    ingest("gaia-source", synthetic)
    assert "marked as synthetic-sky data" in capsys.readouterr().out
    assert IngestedFile.stars_are_synthetic()
    first, second = IngestedFile.objects.order_by("id")
    assert (first.synthetic_sky, first.inserted, first.read) == (False, 2, 2)
    assert (second.synthetic_sky, second.provenance) == (True, marker)
    assert second.path == str(synthetic.resolve())
    # a refused file leaves no record, as it leaves no data
    with pytest.raises(CommandError):
        ingest("gaia-source", gaia_file(tmp_path / "GaiaSource_bad.csv.gz", [5], ruwe=None))
    assert IngestedFile.objects.count() == 2


def test_product_columns_are_the_models():
    """Ingest loads every column of the model (read off it, not retyped): a column added to
    GaiaSource or XpCoefficients is loaded from the file column of the same name."""
    from archive.catalogue.models import RvsSpectrum

    for product, model in (
        (PRODUCTS["gaia-source"], GaiaSource),
        (PRODUCTS["xp-continuous"], XpCoefficients),
    ):
        assert [f.column for f in product.fields] == [f.column for f in model._meta.concrete_fields]
    rvs = [f.column for f in PRODUCTS["rvs-spectra"].fields]
    assert rvs == ["source_id", "combined_transits", "combined_ccds", "deblended_ccds"]
    assert {f.column for f in RvsSpectrum._meta.concrete_fields} - set(rvs) == {
        "store_array",
        "store_row",
        "n_nan_pixels",
        "content_hash",
    }


def test_several_files_show_how_far_the_ingest_is_and_the_time_left(data_dir, capsys):
    fits_path = data_dir / "gaia_source" / "pyia_gdr3_sm.fits"
    vot_path = data_dir / "gaia_source" / "astroquery_1710099405832VAL-result.vot"
    kb = [round(p.stat().st_size / 1e3) for p in (fits_path, vot_path)]
    call_command("ingest", "gaia-source", str(fits_path), str(vot_path))
    lines = [line for line in capsys.readouterr().err.splitlines() if " kB (" in line]
    total = max(1, round((fits_path.stat().st_size + vot_path.stat().st_size) / 1e3))
    assert lines[0] == f"file 1/2: 0/{total} kB (0%), estimating"
    assert lines[1].startswith(f"file 2/2: {kb[0]}/{total} kB (")
    assert "kB/s" in lines[1]  # a rate once a file is in; the time left after 5 s
    assert lines[2].startswith(f"2 files: {total}/{total} kB (100%), ")
