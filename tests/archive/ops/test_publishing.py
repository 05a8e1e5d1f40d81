"""Publishing switches the catalogue atomically; rollback restores the previous version."""

import pytest
from django.conf import settings
from django.db import connection

from archive.catalogue.models import CnnLabel, GaiaSource, ModelVersion
from archive.ops.models import Publication
from archive.ops.publishing import PublishError, publish, rollback

pytestmark = pytest.mark.django_db


def version_with_labels(
    name: str, teff: float, status="ready", sources=(1, 2), **fields
) -> ModelVersion:
    v = ModelVersion.objects.create(name=name, status=status, **fields)
    for sid in sources:
        GaiaSource.objects.get_or_create(source_id=sid, defaults={"ra": sid, "dec": 0})
        CnnLabel.objects.create(
            model_version=v,
            source_id=sid,
            teff=teff,
            logg=2,
            m_h=0,
            alpha_m=0,
            fe_h=0,
            e_teff=1,
            e_logg=1,
            e_m_h=1,
            e_alpha_m=1,
            e_fe_h=1,
            sigma_teff=1,
            sigma_logg=1,
            sigma_m_h=1,
            sigma_alpha_m=1,
            sigma_fe_h=1,
            flag_boundary="00000000",
        )
    return v


def published_teff() -> set[float]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT teff FROM {settings.PUBLISHED_SCHEMA}.rvs_cnn")
        return {r[0] for r in cur.fetchall()}


def test_publish_switches_and_rollback_restores():
    a, b = version_with_labels("a", 4000.0), version_with_labels("b", 5000.0)
    publish(a)
    assert published_teff() == {4000.0}
    publish(b, note="new training")
    assert published_teff() == {5000.0}
    assert ModelVersion.objects.filter(is_published=True).get() == b
    back = rollback()
    assert published_teff() == {4000.0}
    assert back.model_version == a and back.previous == b
    assert Publication.objects.count() == 3


def test_refusals_change_nothing():
    a = version_with_labels("a", 4000.0)
    training = version_with_labels("t", 6000.0, status="training")
    empty = ModelVersion.objects.create(name="empty", status="ready")
    publish(a)
    with pytest.raises(PublishError, match="first published"):
        rollback()
    for bad, message in [(training, "not ready"), (empty, "no CNN labels"), (a, "already")]:
        with pytest.raises(PublishError, match=message):
            publish(bad)
        assert published_teff() == {4000.0}


def test_rollback_without_history():
    with pytest.raises(PublishError, match="nothing to roll back"):
        rollback()


def test_a_version_still_labelling_is_not_published_and_a_ready_one_takes_no_more_labels():
    import numpy as np

    from archive.catalogue.cnn_labels import LabelWriteError, write_labels
    from labeling.pipeline import Labelled

    half = version_with_labels("half", 4000.0, status="labelling")
    with pytest.raises(PublishError, match="half is labelling, not ready"):
        publish(half)
    one = Labelled(
        np.array([1]), np.full((1, 5), 1.0), np.ones((1, 5)), np.ones((1, 5)), np.array(["0" * 8])
    )
    assert write_labels(half.pk, one) == 1  # still labelling: chunks are upserted
    ready = version_with_labels("done", 5000.0)
    publish(ready)
    with pytest.raises(LabelWriteError, match="model version done is ready"):
        write_labels(ready.pk, one)
    assert published_teff() == {5000.0}
