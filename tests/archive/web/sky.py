"""A small published catalogue for the web archive's tests: synthetic-sky stars with spectra, XP,
labels of two model versions (one published, with a validation report) and a training sample,
committed so gunicorn and the Celery worker of ``web_service`` see them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeling.labels import LABELS

N_STARS = 300
N_SPECTRA = 12


@dataclass
class Sky:
    source_ids: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    labels: dict[str, np.ndarray]  # published labels by name
    flags: np.ndarray
    snr: np.ndarray
    gmag: np.ndarray
    published: str
    older: str
    with_spectrum: list[int]
    training: dict[int, bool]  # source_id -> held out


def build(tmp: Path, store_url: str):
    """Create the catalogue; returns (Sky, teardown)."""
    from django.test import override_settings

    from archive.catalogue.models import (
        CnnLabel,
        GaiaSource,
        ModelVersion,
        RvsSpectrum,
        TrainingStar,
        XpCoefficients,
    )
    from archive.jobs.kinds import Kind
    from archive.jobs.models import Job
    from archive.ops.models import Publication
    from archive.ops.publishing import publish
    from labeling.spectrum_store import SpectrumStore
    from labeling.synthetic import SkyConfig, block_rng, generate_chunk

    from .helpers import published_version_with_report

    chunk = generate_chunk(block_rng(11, 0), N_STARS, 0, SkyConfig())
    g = chunk.gaia_source
    sids = g["source_id"].astype(np.int64)
    model_fields = {f.attname for f in GaiaSource._meta.concrete_fields}
    rows = []
    for i in range(N_STARS):
        values = {}
        for k, v in g.items():
            if k in model_fields:
                x = v[i]
                values[k] = x.item() if hasattr(x, "item") else x
        rows.append(GaiaSource(**values))
    GaiaSource.objects.bulk_create(rows)

    store = SpectrumStore(store_url)
    mark = store.mark()
    seg, first = store.append(chunk.rvs["flux"][:N_SPECTRA], chunk.rvs["flux_error"][:N_SPECTRA])
    RvsSpectrum.objects.bulk_create(
        RvsSpectrum(source_id=int(sids[i]), store_array=seg, store_row=first + i)
        for i in range(N_SPECTRA)
    )
    xp = chunk.xp
    XpCoefficients.objects.bulk_create(
        XpCoefficients(
            source_id=int(xp["source_id"][i]),
            bp_coefficients=[float(x) for x in xp["bp_coefficients"][i]],
            rp_coefficients=[float(x) for x in xp["rp_coefficients"][i]],
        )
        for i in range(min(20, len(xp["source_id"])))
    )

    rng = np.random.default_rng(3)
    truth = chunk.truth
    flags = np.array(
        ["".join("1" if rng.random() < 0.08 else "0" for _ in range(8)) for _ in range(N_STARS)]
    )
    older = ModelVersion.objects.create(name="web-v1", status="ready", n_splits=1, n_members=2)
    pub = published_version_with_report(tmp, "web-v2", published=False)
    labels = {}
    for version, shift in ((older, 0.05), (pub, 0.0)):
        values = {k: truth[k] + shift + 0.02 * rng.standard_normal(N_STARS) for k in LABELS}
        values["teff"] = truth["teff"] + 40 * shift + 30 * rng.standard_normal(N_STARS)
        if version is pub:
            labels = values
        CnnLabel.objects.bulk_create(
            CnnLabel(
                model_version=version,
                source_id=int(sids[i]),
                flag_boundary=flags[i],
                **{k: float(values[k][i]) for k in LABELS},
                **{f"e_{k}": 0.01 * (1 + (k == "teff") * 999) for k in LABELS},
                **{f"sigma_{k}": float(0.05 + 0.1 * rng.random()) for k in LABELS},
            )
            for i in range(N_STARS)
        )
    training = {int(sids[i]): i % 2 == 0 for i in range(6)}
    TrainingStar.objects.bulk_create(
        TrainingStar(
            model_version=pub,
            source_id=sid,
            held_out=held,
            validation_splits=0 if held else 1,
            **{f"apogee_{k}": float(truth[k][i]) for k in LABELS},
        )
        for i, (sid, held) in enumerate(training.items())
    )
    with override_settings(RVS_EXPORT_ON_PUBLISH=False):
        publish(pub)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE gaia_source; ANALYZE cnn_label; ANALYZE model_version")

    sky = Sky(
        source_ids=sids,
        ra=g["ra"],
        dec=g["dec"],
        labels=labels,
        flags=flags,
        snr=g["rvs_spec_sig_to_noise"].astype(float),
        gmag=g["phot_g_mean_mag"].astype(float),
        published=pub.name,
        older=older.name,
        with_spectrum=[int(s) for s in sids[:N_SPECTRA]],
        training=training,
    )

    def teardown():
        Publication.objects.all().delete()
        # publishing queued an export job, committed here: gone with its version
        Job.objects.of_kind(Kind.EXPORT).filter(
            parameters__version__in=[pub.name, older.name]
        ).delete()
        TrainingStar.objects.filter(model_version__in=[pub, older]).delete()
        CnnLabel.objects.filter(model_version__in=[pub, older]).delete()
        ModelVersion.objects.filter(pk__in=[pub.pk, older.pk]).delete()
        XpCoefficients.objects.filter(source_id__in=sids.tolist()).delete()
        RvsSpectrum.objects.filter(source_id__in=sids.tolist()).delete()
        GaiaSource.objects.filter(source_id__in=sids.tolist()).delete()
        store.rollback(mark)

    return sky, teardown


def sky_fixture(name: str):
    """A module-scoped ``sky`` fixture: the catalogue built once for the module, torn down
    after it (``sky = sky_fixture("websky")`` in a test module)."""
    import pytest

    @pytest.fixture(scope="module")
    def sky(
        django_db_setup, django_db_blocker, worker_dirs, reader_connections_closed, tmp_path_factory
    ):
        with django_db_blocker.unblock():
            data, teardown = build(
                tmp_path_factory.mktemp(name), worker_dirs["RVS_SPECTRUM_STORE_URL"]
            )
        yield data
        with django_db_blocker.unblock():
            teardown()

    return sky
