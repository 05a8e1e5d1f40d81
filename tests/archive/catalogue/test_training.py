"""The training sample of a version: written by the pipeline, published as training_sample."""

import numpy as np
import pytest
from django.conf import settings

from archive.catalogue.models import GaiaSource, ModelVersion, TrainingStar
from archive.catalogue.training import validation_split_mask, write_training_sample

pytestmark = pytest.mark.django_db


def test_validation_split_mask_sets_one_bit_per_validating_split():
    splits = [(np.array([1, 2]), np.array([0, 3])), (np.array([0, 3]), np.array([1, 3]))]
    assert validation_split_mask(4, splits).tolist() == [0b01, 0b10, 0b00, 0b11]
    with pytest.raises(ValueError, match="32 splits"):
        validation_split_mask(1, [(np.array([0]), np.array([0]))] * 32)


@pytest.mark.django_db(transaction=True)
def test_the_training_sample_is_written_once_and_published_for_ready_versions(reader_conn):
    ids = np.array([11, 12, 13, 14], dtype=np.int64)
    GaiaSource.objects.bulk_create(GaiaSource(source_id=i, ra=1.0, dec=2.0) for i in ids)
    version = ModelVersion.objects.create(name="v1", status=ModelVersion.Status.LABELLING)
    labels = np.array([[4800.0, 2.5, -0.1, 0.05, -0.12]] * 4) + np.arange(4)[:, None]
    errors = np.full((4, 5), 0.01)
    errors[2, 4] = np.nan
    train, holdout = np.array([0, 1, 3]), np.array([2])
    splits = [(np.array([1, 2]), np.array([0])), (np.array([0]), np.array([1, 2]))]
    for _ in range(2):  # a re-delivered task rewrites, never duplicates
        n = write_training_sample(version.pk, ids, labels, errors, holdout, train, splits)
    assert n == 4 and TrainingStar.objects.count() == 4
    star = TrainingStar.objects.get(source_id=14)
    assert (star.held_out, star.validation_splits, star.apogee_teff) == (False, 0b10, 4803.0)
    held = TrainingStar.objects.get(source_id=13)
    assert (held.held_out, held.validation_splits, held.apogee_e_fe_h) == (True, 0, None)

    query = (
        f"SELECT source_id, held_out, validation_splits FROM {settings.PUBLISHED_SCHEMA}"
        ".training_sample WHERE model_version = 'v1' ORDER BY source_id"
    )
    with reader_conn.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == []  # labelling: not shown yet
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.READY)
    with reader_conn.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == [(11, False, 1), (12, False, 2), (13, True, 0), (14, False, 2)]
