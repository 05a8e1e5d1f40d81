"""A ready model version labelling stars spread over several HEALPix level-8 pixels."""

import numpy as np
import pytest

from archive.exports.partition import SHIFT

VERSION = "export-test-v1"
PIXELS = (0, 7, 8, 1000, 250_000, 786_431)  # level-8 pixels, the first and the last included


def source_ids(n: int) -> list[int]:
    rng = np.random.default_rng(19)
    pixels = rng.choice(PIXELS, size=n)
    return sorted({int(p << SHIFT) + int(rng.integers(0, 1 << SHIFT)) for p in pixels})


def make_version(n: int, name: str = VERSION):
    """``n`` stars (gaia_source and CNN labels of a ready version, not published)."""
    from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion

    ids = source_ids(n)
    rng = np.random.default_rng(7)
    GaiaSource.objects.bulk_create(
        GaiaSource(source_id=s, ra=float(rng.uniform(0, 360)), dec=float(rng.uniform(-90, 90)))
        for s in ids
    )
    version = ModelVersion.objects.create(name=name, status="ready", n_splits=1, n_members=2)
    errors = {f"{p}_{k}": 0.5 for p in ("e", "sigma") for k in LABELS}
    CnnLabel.objects.bulk_create(
        CnnLabel(
            model_version=version,
            source_id=s,
            teff=4000.0 + i,
            logg=2.5,
            m_h=-0.5,
            alpha_m=0.2,
            fe_h=-0.6,
            flag_boundary="00000000" if i % 3 else "10000001",
            **errors,
        )
        for i, s in enumerate(ids)
    )
    return version, ids


LABELS = ("teff", "logg", "m_h", "alpha_m", "fe_h")


@pytest.fixture
def version_stars(worker_settings, reader_connections_closed):
    """A 2000-star ready version; its export removed afterwards (a transactional test's flush
    deletes rows without the signal that removes it)."""
    from archive.exports.store import remove_export

    worker_settings.RVS_EXPORT_ON_PUBLISH = False
    version, ids = make_version(2000)
    yield version, ids
    remove_export(version.name)


@pytest.fixture
def reader():
    from archive.tap.service import open_reader

    conn = open_reader()
    yield conn
    conn.close()
