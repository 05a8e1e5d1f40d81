"""The data model: complete migrations, VO metadata, round trips, constraints, publishing."""

import math

import numpy as np
import pytest
from django.core.management import call_command
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from archive.catalogue.models import (
    ApogeeLabel,
    CnnLabel,
    GaiaSource,
    ModelVersion,
    RvsSpectrum,
    XpCoefficients,
)
from archive.catalogue.vo import vo_columns

PUBLISHED_MODELS = [GaiaSource, RvsSpectrum, XpCoefficients, ApogeeLabel, CnnLabel]


@pytest.mark.django_db
def test_migrations_are_complete():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize("model", PUBLISHED_MODELS, ids=lambda m: m.__name__)
def test_every_catalogue_column_has_unit_ucd_description(model):
    columns = vo_columns(model)
    internal = {"id", "model_version_id"}
    expected = {f.column for f in model._meta.concrete_fields} - internal
    assert set(columns) == expected
    for name, meta in columns.items():
        assert meta.ucd and meta.description, name
        assert "  " not in meta.description and len(meta.description) < 140, name


@pytest.mark.django_db
def test_column_descriptions_reach_the_database():
    with connection.cursor() as cur:
        cur.execute(
            "SELECT col_description('gaia_source'::regclass, attnum) FROM pg_attribute "
            "WHERE attrelid = 'gaia_source'::regclass AND attname = 'parallax'"
        )
        assert cur.fetchone()[0] == "Parallax"


def make_source(source_id: int = 5853498713190525696) -> GaiaSource:
    return GaiaSource.objects.create(
        source_id=source_id,
        ra=217.4289,
        dec=-62.6795,
        parallax=768.07,
        parallax_error=0.05,
        phot_g_mean_mag=8.98,
        phot_bp_mean_mag=11.2,
        phot_rp_mean_mag=7.63,
        phot_g_mean_flux_over_error=5000.0,
        phot_bp_mean_flux_over_error=1200.0,
        phot_rp_mean_flux_over_error=3000.0,
        ruwe=1.1,
        rvs_spec_sig_to_noise=40.5,
        radial_velocity=-21.9,
        radial_velocity_error=0.3,
        non_single_star=0,
        phot_variable_flag="VARIABLE",
        in_qso_candidates=False,
        in_galaxy_candidates=False,
        has_xp_continuous=True,
        classlabel_espels="",
    )


@pytest.mark.django_db
def test_gaia_source_round_trip():
    make_source()
    got = GaiaSource.objects.get(pk=5853498713190525696)  # a real DR3 id needs 64 bits
    assert (got.ra, got.dec, got.parallax, got.phot_variable_flag) == (
        217.4289,
        -62.6795,
        768.07,
        "VARIABLE",
    )
    assert got.has_xp_continuous is True and got.in_qso_candidates is False


@pytest.mark.django_db
def test_spectrum_reference_and_xp_round_trip():
    source = make_source()
    RvsSpectrum.objects.create(
        source=source, store_array="rvs/000", store_row=12, n_nan_pixels=3, combined_transits=20
    )
    bp = [float(i) + 0.5 for i in range(55)]
    XpCoefficients.objects.create(
        source=source,
        bp_coefficients=bp,
        bp_coefficient_errors=[0.1] * 55,
        rp_coefficients=None,
        bp_n_relevant_bases=31,
        bp_standard_deviation=1.2,
    )
    got = GaiaSource.objects.select_related("rvs_spectrum", "xp").get(pk=source.pk)
    assert (got.rvs_spectrum.store_array, got.rvs_spectrum.store_row) == ("rvs/000", 12)
    assert got.xp.bp_coefficients == bp and got.xp.rp_coefficients is None
    with pytest.raises(IntegrityError), transaction.atomic():
        # two stars cannot point at the same row of the store
        RvsSpectrum.objects.create(source=make_source(1), store_array="rvs/000", store_row=12)


@pytest.mark.django_db
def test_apogee_label_round_trip_and_identity():
    fields = dict(
        apogee_id="2M14294034-6240459",
        telescope="lco25m",
        field="PM_2",
        source_id=5853498713190525696,
        teff=3100.0,
        teff_err=55.0,
        logg=5.1,
        logg_err=0.05,
        m_h=0.1,
        m_h_err=0.02,
        fe_h=0.08,
        fe_h_err=0.02,
        alpha_m=0.02,
        alpha_m_err=0.03,
        aspcapflag=(1 << 23) | (1 << 40),
        aspcap_chi2=12.5,
        fe_h_flag=0,
        snr=180.0,
    )
    ApogeeLabel.objects.create(**fields)
    got = ApogeeLabel.objects.values(*fields).get()
    assert got == fields  # 64-bit ASPCAPFLAG survives
    with pytest.raises(IntegrityError), transaction.atomic():
        ApogeeLabel.objects.create(**fields)


def make_version(name: str, **kw) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name,
        status="ready",
        config={"epochs": 80},
        data_hash="ab" * 32,
        path=f"var/models/{name}",
        **kw,
    )


def make_label(version: ModelVersion, source: GaiaSource, teff: float, flag="00000000"):
    return CnnLabel.objects.create(
        model_version=version,
        source=source,
        teff=teff,
        logg=2.4,
        m_h=-0.2,
        alpha_m=0.1,
        fe_h=-0.25,
        e_teff=30.0,
        e_logg=0.05,
        e_m_h=0.03,
        e_alpha_m=0.01,
        e_fe_h=0.03,
        sigma_teff=math.hypot(30.0, 59.0),
        sigma_logg=0.12,
        sigma_m_h=0.08,
        sigma_alpha_m=0.04,
        sigma_fe_h=0.08,
        flag_boundary=flag,
    )


@pytest.mark.django_db
def test_cnn_label_round_trip_and_constraints():
    source, version = make_source(), make_version("v1")
    make_label(version, source, 4800.0, flag="00000101")
    got = CnnLabel.objects.get()
    # stored as float32 (labeling.labels.STORAGE_DTYPE): equal to the value's float32
    assert (got.teff, got.flag_boundary, np.float32(got.sigma_teff)) == (
        4800.0,
        "00000101",
        np.float32(math.hypot(30.0, 59.0)),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        make_label(version, source, 4900.0)  # one row per (version, star)
    for bad in ["0000000", "000000002", "0000a000"]:
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            make_label(make_version(f"bad-{bad}"), source, 4800.0, flag=bad)


@pytest.mark.django_db
def test_ready_model_version_is_immutable():
    version = make_version("v-immutable")
    version.config = {"epochs": 5}
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        version.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(data_hash="00" * 32)
    ModelVersion.objects.filter(pk=version.pk).update(
        is_published=True, published_at=timezone.now()
    )
    training = ModelVersion.objects.create(name="v-training")
    training.config = {"epochs": 7}
    training.save()  # still training: may change


@pytest.mark.django_db
def test_only_one_ready_version_is_published():
    a, b = make_version("a"), make_version("b")
    a.is_published = True
    a.save()
    b.is_published = True
    with pytest.raises(IntegrityError), transaction.atomic():
        b.save()
    training = ModelVersion.objects.create(name="t")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=training.pk).update(is_published=True)


@pytest.mark.django_db
def test_published_view_switches_versions_in_one_transaction(settings):
    s1, s2 = make_source(11), make_source(12)
    v1, v2 = make_version("v1"), make_version("v2")
    for s in (s1, s2):
        make_label(v1, s, 4000.0)
        make_label(v2, s, 5000.0)
    query = f"SELECT source_id, teff, ra FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn ORDER BY 1"
    with connection.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == []  # nothing published yet
        ModelVersion.objects.filter(pk=v1.pk).update(is_published=True)
        cur.execute(query)
        assert cur.fetchall() == [(11, 4000.0, s1.ra), (12, 4000.0, s2.ra)]
        with transaction.atomic():
            ModelVersion.objects.filter(pk=v1.pk).update(is_published=False)
            ModelVersion.objects.filter(pk=v2.pk).update(is_published=True)
        cur.execute(query)
        assert [r[1] for r in cur.fetchall()] == [5000.0, 5000.0]
        cur.execute(
            f"SELECT model_version, count(*) FROM {settings.PUBLISHED_SCHEMA}"
            ".rvs_cnn_versions GROUP BY 1 ORDER BY 1"
        )
        assert cur.fetchall() == [("v1", 2), ("v2", 2)]
