"""Real Gaia DR3 RVS spectra and XP coefficients ingested from ../shared/data into the store the
web service reads, labelled by a published version, committed so gunicorn sees them."""

import warnings

import pytest
from astropy.table import Table
from astropy.units import UnitsWarning
from django.core.management import call_command

from tests.conftest import RVS_STARS, XP_STARS

VERSION = "dl-test-v1"
TRAINING_STAR = 4268620287278693120


def read_table(path) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        return Table.read(path)


@pytest.fixture
def catalogue(worker_settings, data_dir, reader_connections_closed, tmp_path):
    """The RVS and XP stars in gaia_source (positions and S/N from the files), their spectra
    and coefficients ingested, CNN labels of the RVS stars from a published version, one of them
    a training star. Function-scoped: transactional tests flush the tables after each test."""
    from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion, TrainingStar
    from archive.ops.publishing import publish

    worker_settings.RVS_EXPORT_ON_PUBLISH = False  # the export jobs have tests of their own
    positions = {}
    for name, sid in RVS_STARS.items():
        t = read_table(data_dir / "rvs_mean_spectrum" / name)
        positions[sid] = (float(t["ra"][0]), float(t["dec"][0]))
    for k, sid in enumerate(XP_STARS):
        positions[sid] = (100.0 + k, -30.0)
    GaiaSource.objects.bulk_create(
        GaiaSource(source_id=sid, ra=ra, dec=dec, rvs_spec_sig_to_noise=40.0 + i)
        for i, (sid, (ra, dec)) in enumerate(positions.items())
    )
    paths = [str(data_dir / "rvs_mean_spectrum" / n) for n in RVS_STARS]
    call_command("ingest", "rvs-spectra", *paths, "--no-progress")
    xp = data_dir / "xp_continuous" / "gaiaxpy_XP_CONTINUOUS_RAW.csv"
    call_command("ingest", "xp-continuous", str(xp), "--no-progress")
    report = tmp_path / "version" / "files" / "validation"
    report.mkdir(parents=True)
    (report / "index.html").write_text("<html><body><h1>Validation</h1></body></html>")
    version = ModelVersion.objects.create(
        name=VERSION, status="ready", n_splits=1, n_members=2, path=str(tmp_path / "version")
    )
    errors = {f"{p}_{k}": 1.0 for p in ("e", "sigma") for k in LABELS}
    CnnLabel.objects.bulk_create(
        CnnLabel(
            model_version=version,
            source_id=sid,
            teff=5000.0 + i,
            logg=4.0,
            m_h=0.0,
            alpha_m=0.1,
            fe_h=0.0,
            flag_boundary="00000000",
            **errors,
        )
        for i, sid in enumerate(RVS_STARS.values())
    )
    TrainingStar.objects.create(
        model_version=version,
        source_id=TRAINING_STAR,
        apogee_teff=5100.0,
        apogee_logg=4.1,
        apogee_m_h=0.05,
        apogee_alpha_m=0.02,
        apogee_fe_h=0.04,
        held_out=True,
        validation_splits=0,
    )
    publish(version)
    return positions


LABELS = ("teff", "logg", "m_h", "alpha_m", "fe_h")
